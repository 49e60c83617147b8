//! `SpKeyStore` for `SqlStore`.

use async_trait::async_trait;
use sqlx::Row;

use super::{SqlStore, write_error};
use crate::model::StoredSpKey;
use crate::store::{SpKeyStore, StoreResult};

#[async_trait]
impl SpKeyStore for SqlStore {
    async fn get_sp_key(&self, usage: &str) -> StoreResult<Option<StoredSpKey>> {
        let row = sqlx::query("SELECT * FROM sp_keys WHERE usage = $1")
            .bind(usage.to_string())
            .fetch_optional(&self.pool)
            .await?;
        let Some(r) = row else { return Ok(None) };
        Ok(Some(StoredSpKey {
            usage: r.try_get("usage")?,
            private_key: r.try_get("private_key")?,
            certificate: r.try_get("certificate")?,
            created_at_ms: r.try_get("created_at")?,
        }))
    }

    async fn insert_sp_key(&self, k: &StoredSpKey) -> StoreResult<()> {
        sqlx::query("INSERT INTO sp_keys (usage, private_key, certificate, created_at) VALUES ($1, $2, $3, $4)")
            .bind(k.usage.clone())
            .bind(k.private_key.clone())
            .bind(k.certificate.clone())
            .bind(k.created_at_ms)
            .execute(&self.pool)
            .await
            .map_err(|e| write_error(e, "SP key"))?;
        Ok(())
    }
}
