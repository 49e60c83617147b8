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

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};

use super::{Error, Result, Services};
use crate::store::StoreError;

/// One password check at a time per user on this replica: attempts that arrive together would
/// otherwise all read "not locked" before any of them is counted, and a burst would get more
/// guesses than the limit. Across replicas the overshoot is at most one attempt per replica.
/// A few attempts may wait their turn (parallel `openstack` commands with one password); more,
/// or a wait longer than `MAX_WAIT`, get 429 like any other overload.
#[derive(Default)]
pub struct PasswordChecks {
    running: Mutex<HashMap<String, Weak<UserTurn>>>,
}

#[derive(Default)]
struct UserTurn {
    lock: Arc<tokio::sync::Mutex<()>>,
    waiting: std::sync::atomic::AtomicUsize,
}

/// Held while a user's password is checked and its outcome counted. It keeps the user's turn
/// alive: the registry holds it weakly, and the next attempt must find this one's lock.
pub struct PasswordCheck {
    _guard: tokio::sync::OwnedMutexGuard<()>,
    _turn: Arc<UserTurn>,
}

const MAX_WAITING_PER_USER: usize = 8;
const MAX_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

impl PasswordChecks {
    pub async fn enter(&self, user_id: &str) -> Result<PasswordCheck> {
        use std::sync::atomic::Ordering;
        let turn = {
            let mut running = self.running.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            if running.len() >= 1024 {
                running.retain(|_, weak| weak.strong_count() > 0);
            }
            match running.get(user_id).and_then(Weak::upgrade) {
                Some(turn) => turn,
                None => {
                    let turn = Arc::new(UserTurn::default());
                    running.insert(user_id.to_string(), Arc::downgrade(&turn));
                    turn
                }
            }
        };
        let busy = |why: &str| Error::TooManyRequests {
            what: format!("password checks of user {user_id}: {why}"),
            retry_after_secs: 1,
        };
        if turn.waiting.fetch_add(1, Ordering::SeqCst) >= MAX_WAITING_PER_USER {
            turn.waiting.fetch_sub(1, Ordering::SeqCst);
            return Err(busy("too many waiting"));
        }
        let acquired = tokio::time::timeout(MAX_WAIT, turn.lock.clone().lock_owned()).await;
        turn.waiting.fetch_sub(1, Ordering::SeqCst);
        match acquired {
            Ok(guard) => Ok(PasswordCheck {
                _guard: guard,
                _turn: turn,
            }),
            Err(_) => Err(busy("waited too long")),
        }
    }
}

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
