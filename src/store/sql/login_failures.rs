//! `LoginFailureStore` for `SqlStore`: the password lockout's counts.

use async_trait::async_trait;
use sqlx::any::AnyRow;
use sqlx::{AssertSqlSafe, Row};

use super::{SqlStore, write_error};
use crate::model::{LockoutPolicy, LoginFailures};
use crate::store::{LoginFailureStore, StoreResult};

fn login_failures_from(row: &AnyRow) -> Result<LoginFailures, sqlx::Error> {
    Ok(LoginFailures {
        user_id: row.try_get("user_id")?,
        failures: row.try_get("failures")?,
        window_started_at_ms: row.try_get("window_started_at")?,
        locked_until_ms: row.try_get("locked_until")?,
    })
}

/// A new count starts when the window has passed or a lock has run out ($2 now, $3 window).
const FAILURE_COUNT_RESETS: &str = "(login_failures.window_started_at <= $2 - $3 OR login_failures.locked_until <= $2)";

#[async_trait]
impl LoginFailureStore for SqlStore {
    async fn get_login_failures(&self, user_id: &str) -> StoreResult<Option<LoginFailures>> {
        let row = sqlx::query(
            "SELECT user_id, failures, window_started_at, locked_until FROM login_failures WHERE user_id = $1",
        )
        .bind(user_id.to_string())
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(login_failures_from).transpose()?)
    }

    async fn record_login_failure(
        &self,
        user_id: &str,
        now_ms: i64,
        policy: &LockoutPolicy,
    ) -> StoreResult<LoginFailures> {
        // One statement, so replicas counting the same user at once never lose a failure. The
        // SET expressions all read the row as it was before the update (SQLite and PostgreSQL).
        let reset = FAILURE_COUNT_RESETS;
        let counted = format!("(CASE WHEN {reset} THEN 1 ELSE login_failures.failures + 1 END)");
        let sql = format!(
            "INSERT INTO login_failures (user_id, failures, window_started_at, locked_until) \
             VALUES ($1, 1, $2, CASE WHEN 1 >= $4 THEN $2 + $5 ELSE NULL END) \
             ON CONFLICT (user_id) DO UPDATE SET \
             failures = {counted}, \
             window_started_at = CASE WHEN {reset} THEN $2 ELSE login_failures.window_started_at END, \
             locked_until = CASE WHEN login_failures.locked_until > $2 THEN login_failures.locked_until \
             WHEN {counted} >= $4 THEN $2 + $5 ELSE NULL END \
             RETURNING user_id, failures, window_started_at, locked_until"
        );
        let _queue = self.hot_write().await;
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(user_id.to_string())
            .bind(now_ms)
            .bind(policy.window_ms)
            .bind(policy.max_failures)
            .bind(policy.lockout_ms)
            .fetch_one(&self.pool)
            .await
            .map_err(|e| write_error(e, "login failure"))?;
        Ok(login_failures_from(&row)?)
    }

    async fn clear_login_failures(&self, user_id: &str) -> StoreResult<bool> {
        let _queue = self.hot_write().await;
        let done = sqlx::query("DELETE FROM login_failures WHERE user_id = $1")
            .bind(user_id.to_string())
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }
}
