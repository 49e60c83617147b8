//! Admission control for work an unauthenticated caller can make us do: a fixed number of
//! permits, a short queue behind them, and an immediate refusal (429 with Retry-After) beyond
//! that, so a flood costs bounded memory and threads instead of a blocking-pool thread and an
//! argon2 buffer per request. Three pools: password hashing (argon2 holds 19 MiB per hash, one
//! core each), sign-in starts (SAML AuthnRequests, OIDC browser starts, Responses whose
//! Issuer is not cached), which write to the shared store or read every provider, and SAML
//! Response checks (signatures and decryption on the blocking pool, each holding its XML).
//!
//! This bounds concurrency, not rate: it does not count requests per client or per user (the
//! login lockout does that for passwords).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::{Semaphore, SemaphorePermit};

use super::{Error, Result};
use crate::config::{Limits, PoolLimits};

/// How long a queued request waits for a permit before it is refused after all.
const MAX_WAIT: Duration = Duration::from_secs(2);
/// What a refused client is told to wait: the queue drains well within a second.
const RETRY_AFTER_SECS: u64 = 1;

/// One pool: `permits` run at once, up to `queue` more wait, the rest are refused.
pub struct Admission {
    name: &'static str,
    permits: Semaphore,
    /// Requests running or waiting; never above `capacity`.
    admitted: AtomicUsize,
    capacity: usize,
    max_wait: Duration,
}

/// Held while the admitted work runs; dropping it frees the permit and the place.
pub struct Admitted<'a> {
    _permit: SemaphorePermit<'a>,
    _place: Place<'a>,
}

/// A place among the running and waiting requests, given back on drop (also when a waiting
/// request is cancelled because its client went away).
struct Place<'a>(&'a AtomicUsize);

impl Drop for Place<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Admission {
    pub fn new(name: &'static str, limits: PoolLimits) -> Self {
        Self::with_wait(name, limits, MAX_WAIT)
    }

    fn with_wait(name: &'static str, limits: PoolLimits, max_wait: Duration) -> Self {
        let permits = limits.permits.max(1);
        Admission {
            name,
            permits: Semaphore::new(permits),
            admitted: AtomicUsize::new(0),
            capacity: permits + limits.queue,
            max_wait,
        }
    }

    /// Waits for a permit if there is room in the queue; refuses at once when there is none,
    /// and after `max_wait` in the queue.
    pub async fn admit(&self) -> Result<Admitted<'_>> {
        let place = self
            .take_place()
            .ok_or_else(|| self.refuse("permits and queue are full"))?;
        if let Ok(permit) = self.permits.try_acquire() {
            return Ok(Admitted {
                _permit: permit,
                _place: place,
            });
        }
        match tokio::time::timeout(self.max_wait, self.permits.acquire()).await {
            Ok(Ok(permit)) => Ok(Admitted {
                _permit: permit,
                _place: place,
            }),
            Ok(Err(_closed)) => Err(self.refuse("the pool is closed")),
            Err(_elapsed) => Err(self.refuse("waited too long in the queue")),
        }
    }

    /// Requests running or queued now.
    pub fn in_use(&self) -> usize {
        self.admitted.load(Ordering::Acquire)
    }

    fn take_place(&self) -> Option<Place<'_>> {
        self.admitted
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < self.capacity).then_some(n + 1)
            })
            .ok()
            .map(|_| Place(&self.admitted))
    }

    fn refuse(&self, why: &str) -> Error {
        metrics::counter!("fedgate_admission_refused_total", "pool" => self.name).increment(1);
        Error::TooManyRequests {
            what: format!("{}: {why}", self.name),
            retry_after_secs: RETRY_AFTER_SECS,
        }
    }
}

/// The pools the services share.
pub struct Pools {
    /// argon2 verifications and hashes.
    pub hashing: Admission,
    /// SAML and OIDC sign-in starts, and Responses whose Issuer is not cached.
    pub sign_in: Admission,
    /// SAML Responses of known providers: signature checks and decryption.
    pub signatures: Admission,
}

impl Pools {
    pub fn new(limits: &Limits) -> Self {
        Pools {
            hashing: Admission::new("password hashing", limits.hashing),
            sign_in: Admission::new("sign-in starts", limits.sign_in),
            signatures: Admission::new("SAML response checks", limits.signatures),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool(permits: usize, queue: usize, wait_ms: u64) -> Admission {
        Admission::with_wait("test", PoolLimits { permits, queue }, Duration::from_millis(wait_ms))
    }

    fn is_refusal(r: &Result<Admitted<'_>>) -> bool {
        matches!(
            r,
            Err(Error::TooManyRequests {
                retry_after_secs: RETRY_AFTER_SECS,
                ..
            })
        )
    }

    #[tokio::test]
    async fn permits_then_queue_then_immediate_refusal() {
        let p = pool(2, 1, 10_000);
        let a = p.admit().await.unwrap();
        let b = p.admit().await.unwrap();
        // The third waits in the queue; the fourth finds no room and is refused at once.
        let mut queued = Box::pin(p.admit());
        assert!(futures::poll!(&mut queued).is_pending());
        assert_eq!(p.in_use(), 3);
        let started = std::time::Instant::now();
        assert!(is_refusal(&p.admit().await));
        assert!(
            started.elapsed() < Duration::from_millis(100),
            "refused without waiting"
        );
        // A permit given back goes to the queued request.
        drop(a);
        let c = queued.await.unwrap();
        assert_eq!(p.in_use(), 2);
        drop((b, c));
        assert_eq!(p.in_use(), 0);
        assert!(p.admit().await.is_ok());
    }

    #[tokio::test]
    async fn a_queued_request_is_refused_after_the_longest_wait() {
        let p = pool(1, 4, 50);
        let _held = p.admit().await.unwrap();
        let started = std::time::Instant::now();
        assert!(is_refusal(&p.admit().await));
        assert!(started.elapsed() >= Duration::from_millis(50));
        assert_eq!(p.in_use(), 1, "the refused request gave its place back");
    }

    #[tokio::test]
    async fn a_cancelled_waiter_gives_its_place_back() {
        let p = pool(1, 1, 10_000);
        let held = p.admit().await.unwrap();
        {
            let mut queued = Box::pin(p.admit());
            assert!(futures::poll!(&mut queued).is_pending());
            assert!(is_refusal(&p.admit().await), "queue full");
        }
        assert_eq!(p.in_use(), 1);
        let mut queued = Box::pin(p.admit());
        assert!(futures::poll!(&mut queued).is_pending(), "the place is free again");
        drop(held);
        assert!(queued.await.is_ok());
    }

    #[tokio::test]
    async fn no_queue_means_refusal_as_soon_as_permits_are_taken() {
        let p = pool(1, 0, 10_000);
        let held = p.admit().await.unwrap();
        assert!(is_refusal(&p.admit().await));
        drop(held);
        assert!(p.admit().await.is_ok());
    }
}
