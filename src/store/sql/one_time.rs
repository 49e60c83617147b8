//! `OneTimeStore` for `SqlStore`; `remember_once` goes through `one_time_batch`.

use async_trait::async_trait;

use super::SqlStore;
use crate::store::one_time_batch::Pending;
use crate::store::{OneTimeStore, StoreError, StoreResult};

#[async_trait]
impl OneTimeStore for SqlStore {
    async fn remember_once(&self, namespace: &str, value: &str, expires_at_ms: i64, now_ms: i64) -> StoreResult<bool> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let closed = || StoreError::Database(sqlx::Error::PoolClosed);
        self.one_time
            .send(Pending {
                namespace: namespace.to_string(),
                value: value.to_string(),
                expires_at_ms,
                now_ms,
                reply,
            })
            .map_err(|_| closed())?;
        answer.await.map_err(|_| closed())?
    }

    async fn take_once(&self, namespace: &str, value: &str, now_ms: i64) -> StoreResult<bool> {
        let _queue = self.hot_write().await;
        let done = sqlx::query("DELETE FROM one_time_values WHERE namespace = $1 AND value = $2 AND expires_at > $3")
            .bind(namespace.to_string())
            .bind(value.to_string())
            .bind(now_ms)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn was_used(&self, namespace: &str, value: &str, now_ms: i64) -> StoreResult<bool> {
        let row = sqlx::query("SELECT 1 FROM one_time_values WHERE namespace = $1 AND value = $2 AND expires_at > $3")
            .bind(namespace.to_string())
            .bind(value.to_string())
            .bind(now_ms)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.is_some())
    }

    async fn prune_one_time_values(&self, now_ms: i64) -> StoreResult<u64> {
        let done = sqlx::query("DELETE FROM one_time_values WHERE expires_at <= $1")
            .bind(now_ms)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }
}
