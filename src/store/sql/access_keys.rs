//! `AccessKeyStore` for `SqlStore`.

use async_trait::async_trait;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Backend, SqlStore, flag, write_error};
use crate::model::StoredAccessKey;
use crate::store::{AccessKeyStore, StoreError, StoreResult};

const COLUMNS: &str = "access, user_id, secret_sealed, key_id, enabled, description, created_at, last_used_at";

fn access_key_from(row: &AnyRow) -> Result<StoredAccessKey, sqlx::Error> {
    Ok(StoredAccessKey {
        access: row.try_get("access")?,
        user_id: row.try_get("user_id")?,
        secret_sealed: row.try_get("secret_sealed")?,
        key_id: row.try_get("key_id")?,
        enabled: flag(row, "enabled")?,
        description: row.try_get("description")?,
        created_at_ms: row.try_get("created_at")?,
        last_used_at_ms: row.try_get("last_used_at")?,
    })
}

#[async_trait]
impl AccessKeyStore for SqlStore {
    async fn create_access_key(&self, k: &StoredAccessKey, max_per_user: i64) -> StoreResult<bool> {
        // SQLite: the statement below takes the write lock before it counts, and writes queue
        // behind `hot_write`. PostgreSQL: the user's row is locked first, so concurrent
        // creates for one user count one after the other, each seeing the others' commits
        // (READ COMMITTED takes a new snapshot per statement).
        let _queue = self.hot_write().await;
        let mut tx = self.write_tx().await?;
        if self.backend == Backend::Postgres {
            let user = sqlx::query("SELECT id FROM users WHERE id = $1 FOR UPDATE")
                .bind(k.user_id.clone())
                .fetch_optional(&mut *tx)
                .await?;
            if user.is_none() {
                return Err(StoreError::Conflict("access key of a missing user".into()));
            }
        }
        let done = sqlx::query(
            "INSERT INTO access_keys (access, user_id, secret_sealed, key_id, enabled, description, created_at, last_used_at) \
             SELECT $1, $2, $3, $4, $5, $6, $7, $8 \
             WHERE (SELECT COUNT(*) FROM access_keys WHERE user_id = $2) < $9",
        )
        .bind(k.access.clone())
        .bind(k.user_id.clone())
        .bind(k.secret_sealed.clone())
        .bind(k.key_id.clone())
        .bind(k.enabled as i64)
        .bind(k.description.clone())
        .bind(k.created_at_ms)
        .bind(k.last_used_at_ms)
        .bind(max_per_user)
        .execute(&mut *tx)
        .await
        .map_err(|e| write_error(e, "access key"))?;
        tx.commit().await?;
        Ok(done.rows_affected() > 0)
    }

    async fn get_access_key(&self, access: &str) -> StoreResult<Option<StoredAccessKey>> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM access_keys WHERE access = $1"
        )))
        .bind(access.to_string())
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(access_key_from).transpose()?)
    }

    async fn list_access_keys(&self, user_id: &str) -> StoreResult<Vec<StoredAccessKey>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM access_keys WHERE user_id = $1 ORDER BY created_at, access"
        )))
        .bind(user_id.to_string())
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(access_key_from).collect::<Result<_, _>>()?)
    }

    async fn update_access_key(&self, access: &str, enabled: bool, description: &str) -> StoreResult<bool> {
        let done = sqlx::query("UPDATE access_keys SET enabled = $2, description = $3 WHERE access = $1")
            .bind(access.to_string())
            .bind(enabled as i64)
            .bind(description.to_string())
            .execute(&self.pool)
            .await
            .map_err(|e| write_error(e, "access key"))?;
        Ok(done.rows_affected() > 0)
    }

    async fn delete_access_key(&self, access: &str) -> StoreResult<bool> {
        let done = sqlx::query("DELETE FROM access_keys WHERE access = $1")
            .bind(access.to_string())
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn record_access_key_uses(&self, uses: &[(String, i64)]) -> StoreResult<u64> {
        if uses.is_empty() {
            return Ok(0);
        }
        let _queue = self.hot_write().await;
        let mut tx = self.write_tx().await?;
        let mut changed = 0;
        for (access, at) in uses {
            let done = sqlx::query(
                "UPDATE access_keys SET last_used_at = $2 \
                 WHERE access = $1 AND (last_used_at IS NULL OR last_used_at < $2)",
            )
            .bind(access.clone())
            .bind(*at)
            .execute(&mut *tx)
            .await?;
            changed += done.rows_affected();
        }
        tx.commit().await?;
        Ok(changed)
    }

    async fn access_key_fingerprints(&self) -> StoreResult<Vec<String>> {
        let rows = sqlx::query("SELECT DISTINCT key_id FROM access_keys ORDER BY key_id")
            .fetch_all(&self.pool)
            .await?;
        Ok(rows
            .iter()
            .map(|r| r.try_get::<String, _>("key_id"))
            .collect::<Result<_, _>>()?)
    }
}
