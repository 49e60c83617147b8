//! `RevocationStore` for `SqlStore`: revocation events, numbered by the database.

use async_trait::async_trait;
use sqlx::Row;

use super::SqlStore;
use crate::model::StoredRevocation;
use crate::store::{RevocationStore, StoreError, StoreResult};

#[async_trait]
impl RevocationStore for SqlStore {
    async fn insert_revocation(&self, e: &StoredRevocation) -> StoreResult<i64> {
        let row = sqlx::query(
            "INSERT INTO revocation_events (kind, subject, issued_before, expires_at) VALUES ($1, $2, $3, $4) RETURNING id",
        )
        .bind(e.kind.clone())
        .bind(e.subject.clone())
        .bind(e.authenticated_before_ms)
        .bind(e.expires_at_ms)
        .fetch_one(&self.pool)
        .await?;
        Ok(row.try_get("id")?)
    }

    async fn list_revocations(&self, after: i64, now_ms: i64) -> StoreResult<Vec<(i64, StoredRevocation)>> {
        let rows = sqlx::query(
            "SELECT id, kind, subject, issued_before, expires_at FROM revocation_events \
             WHERE id > $1 AND expires_at > $2 ORDER BY id",
        )
        .bind(after)
        .bind(now_ms)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get("id")?,
                    StoredRevocation {
                        kind: r.try_get("kind")?,
                        subject: r.try_get("subject")?,
                        authenticated_before_ms: r.try_get("issued_before")?,
                        expires_at_ms: r.try_get("expires_at")?,
                    },
                ))
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(StoreError::from)
    }

    async fn prune_revocations(&self, now_ms: i64) -> StoreResult<u64> {
        let done = sqlx::query("DELETE FROM revocation_events WHERE expires_at <= $1")
            .bind(now_ms)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }
}
