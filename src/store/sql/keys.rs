//! `KeyStore` for `SqlStore`: the token key ring.

use async_trait::async_trait;
use sqlx::Row;

use super::{SqlStore, write_error};
use crate::model::StoredKey;
use crate::store::{KeyStore, StoreError, StoreResult};

#[async_trait]
impl KeyStore for SqlStore {
    async fn list_token_keys(&self) -> StoreResult<Vec<StoredKey>> {
        let rows = sqlx::query("SELECT id, secret, created_at FROM token_keys ORDER BY id")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                let id: i64 = r.try_get("id")?;
                Ok(StoredKey {
                    id: u32::try_from(id).map_err(|_| StoreError::Corrupt(format!("token key id {id}")))?,
                    secret: r.try_get("secret")?,
                    created_at_ms: r.try_get("created_at")?,
                })
            })
            .collect()
    }

    async fn insert_token_key(&self, k: &StoredKey) -> StoreResult<()> {
        sqlx::query("INSERT INTO token_keys (id, secret, created_at) VALUES ($1, $2, $3)")
            .bind(i64::from(k.id))
            .bind(k.secret.clone())
            .bind(k.created_at_ms)
            .execute(&self.pool)
            .await
            .map_err(|e| write_error(e, "token key"))?;
        Ok(())
    }

    async fn delete_token_keys_before(&self, keep_from: u32) -> StoreResult<u64> {
        let done = sqlx::query("DELETE FROM token_keys WHERE id < $1 AND id < (SELECT MAX(id) FROM token_keys)")
            .bind(i64::from(keep_from))
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }
}
