//! Password login lockout (the reference's login policy, L14380-14390; Keystone's
//! `[security_compliance] lockout_failure_attempts` / `lockout_duration`): `max_failures`
//! failed logins within the window lock the user for the lockout duration, on every replica,
//! because the count lives in the shared store. A locked user is refused (IAM.0061) before a
//! password hash is spent; a successful login clears the count.
//!
//! Unknown users have no record and never get one (a flood of invented names cannot grow the
//! table), but they cost the same store work as a known user: one read before the hash and
//! one write after a failure, on a key no user has, so timing does not tell them apart.
//! This module does not hash passwords or decide what a failure is (`auth.rs` does).

use super::{Error, Result, Services};
use crate::store::StoreError;

/// The key unknown users' look-ups go to: no user id is empty.
const NO_USER: &str = "";

impl Services {
    /// Refuses a locked user; otherwise says whether failures are on record (a success then
    /// clears them).
    pub(super) async fn check_lockout(&self, user_id: Option<&str>, now_ms: i64) -> Result<bool> {
        let Some(failures) = self.store.get_login_failures(user_id.unwrap_or(NO_USER)).await? else {
            return Ok(false);
        };
        if let Some(until_ms) = failures.locked_until_ms.filter(|_| failures.locked_at(now_ms)) {
            metrics::counter!("fedgate_password_logins_locked_total").increment(1);
            return Err(Error::Locked {
                user_id: failures.user_id,
                until_ms,
            });
        }
        Ok(true)
    }

    /// Counts a failed password login against a known user; locks it at the limit.
    pub(super) async fn count_login_failure(&self, user_id: Option<&str>, now_ms: i64) -> Result<()> {
        let Some(user_id) = user_id else {
            // The write a known user's failure costs, on a key that matches nothing.
            self.store.clear_login_failures(NO_USER).await?;
            return Ok(());
        };
        let policy = self.config.lockout;
        let recorded = match self.store.record_login_failure(user_id, now_ms, &policy).await {
            Ok(recorded) => recorded,
            // Deleted since it was read: nothing left to lock.
            Err(StoreError::Conflict(_)) => return Ok(()),
            Err(e) => return Err(e.into()),
        };
        tracing::debug!(user.id = %user_id, failures = recorded.failures, "failed password login counted");
        if recorded.failures == policy.max_failures && recorded.locked_until_ms.is_some() {
            tracing::warn!(
                user.id = %user_id,
                failures = recorded.failures,
                locked_until_ms = recorded.locked_until_ms,
                "user locked out after repeated failed password logins"
            );
        }
        Ok(())
    }

    /// A successful login forgets earlier failures.
    pub(super) async fn clear_login_failures(&self, user_id: &str) -> Result<()> {
        if self.store.clear_login_failures(user_id).await? {
            tracing::debug!(user.id = %user_id, "failed password logins cleared by a successful login");
        }
        Ok(())
    }
}
