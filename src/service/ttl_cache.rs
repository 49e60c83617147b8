//! A map whose entries live for a fixed time and are all spoiled by a write. Spoiling bumps a
//! generation instead of clearing: a load that started before the write carries the old
//! generation and its result is never served as fresh, however late it is put. A write that
//! only added rows ([`Spoil::Freshness`]) leaves entries good enough to ride out an outage with;
//! any other ([`Spoil::All`]) raises the floor below which nothing is served at all.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::RwLock;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicUsize, Ordering};

use super::{Error, Result};

/// Bounded: a flood of distinct keys empties the map rather than growing it.
const MAX_ENTRIES: usize = 100_000;

/// What a write does to the entries cached before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Spoil {
    /// Rows were only added (fedgate's grants only allow, so what a view allows can only have
    /// grown): entries are reloaded, yet may still answer while the store cannot.
    Freshness,
    /// Something changed or went: entries never answer again.
    All,
}

pub struct TtlCache<K, V> {
    ttl_ms: i64,
    generation: AtomicU64,
    /// Entries put under an older generation than this do not answer even past their time.
    floor: AtomicU64,
    map: RwLock<HashMap<K, (i64, u64, V)>>,
    /// At this many entries, `put` first drops those no read can use any more.
    sweep_at: AtomicUsize,
}

/// The first sweep; after each, the next comes at twice what is left (amortized O(1) per put).
const FIRST_SWEEP: usize = 1_024;

impl<K: Eq + Hash, V: Clone> TtlCache<K, V> {
    pub fn new(ttl_ms: i64) -> Self {
        Self {
            ttl_ms,
            generation: AtomicU64::new(0),
            floor: AtomicU64::new(0),
            map: RwLock::new(HashMap::new()),
            sweep_at: AtomicUsize::new(FIRST_SWEEP),
        }
    }

    /// Read before loading; hand to `put` with the loaded value.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    pub fn spoil(&self, how: Spoil) {
        let generation = self.generation.fetch_add(1, Ordering::SeqCst) + 1;
        if how == Spoil::All {
            self.floor.fetch_max(generation, Ordering::SeqCst);
        }
    }

    pub fn get(&self, key: &K, now_ms: i64) -> Option<V> {
        let generation = self.generation();
        let map = self.map.read().ok()?;
        let (at, entry_generation, value) = map.get(key)?;
        (*entry_generation == generation && now_ms - at < self.ttl_ms).then(|| value.clone())
    }

    /// An entry past its time or only spoiled for freshness, cached less than `max_age_ms`
    /// ago: what a read may answer while the store cannot.
    pub fn get_stale(&self, key: &K, now_ms: i64, max_age_ms: i64) -> Option<V> {
        let floor = self.floor.load(Ordering::SeqCst);
        let map = self.map.read().ok()?;
        let (at, entry_generation, value) = map.get(key)?;
        (*entry_generation >= floor && now_ms - at < max_age_ms).then(|| value.clone())
    }

    pub fn put(&self, key: K, value: V, generation: u64, now_ms: i64) {
        if let Ok(mut map) = self.map.write() {
            if map.len() >= self.sweep_at.load(Ordering::Relaxed) {
                // Many distinct keys (a stream of new federated users, say) must not keep
                // memory after their entries expired: drop what even a stale read would not use.
                let floor = self.floor.load(Ordering::SeqCst);
                let keep_ms = self.ttl_ms.max(SERVE_STALE_MS);
                map.retain(|_, (at, g, _)| *g >= floor && now_ms - *at < keep_ms);
                self.sweep_at.store((map.len() * 2).max(FIRST_SWEEP), Ordering::Relaxed);
            }
            if map.len() >= MAX_ENTRIES {
                map.clear();
            }
            map.insert(key, (now_ms, generation, value));
        }
    }
}

/// Cached views may answer this long past their time while the store cannot be reached or
/// is slow: enough to ride out a database restart or failover. Safe only because a view is
/// dropped whenever the database announces a write (`store::ChangeFeed`, sent as the write
/// commits and reported `Missed` when the feed may have lost one), however slow reads are; a
/// replica cut off from the feed and the store alike serves what it holds at most this long.
pub const SERVE_STALE_MS: i64 = 60 * 1000;
/// A read with a stale answer at hand waits this long for the store.
const STALE_WAIT: std::time::Duration = std::time::Duration::from_millis(500);
/// After a read found the store down, reads with a stale answer skip it this long, so they
/// do not each wait out a connection attempt.
const OUTAGE_BACKOFF_MS: i64 = 1_000;

/// Whether the store was recently found unreachable, and whether views may then answer past
/// their time at all.
pub struct Outage {
    until_ms: AtomicI64,
    serve_stale: AtomicBool,
}

impl Default for Outage {
    fn default() -> Self {
        Outage::new(true)
    }
}

impl Outage {
    /// `serve_stale`: false where writes elsewhere may go unheard (PostgreSQL without the
    /// change feed, or with one not yet `Heard`): there a view is never used past its time,
    /// since a store made to look slow (a flood of requests) would otherwise keep a removed
    /// grant alive.
    pub fn new(serve_stale: bool) -> Self {
        Outage {
            until_ms: AtomicI64::new(0),
            serve_stale: AtomicBool::new(serve_stale),
        }
    }

    /// The change feed proved itself (`Heard`) or stopped doing so (`Deaf`).
    pub fn set_serve_stale(&self, serve_stale: bool) {
        self.serve_stale.store(serve_stale, Ordering::Relaxed);
    }

    /// `load`'s value; or, when the store cannot answer (unreachable, or slower than
    /// `STALE_WAIT`) and `stale` holds an older answer, that one. The bool: fresh.
    pub async fn fresh_or_stale<V>(
        &self,
        now_ms: i64,
        stale: Option<V>,
        load: impl Future<Output = Result<V>>,
    ) -> Result<(V, bool)> {
        let Some(stale) = stale.filter(|_| self.serve_stale.load(Ordering::Relaxed)) else {
            return match load.await {
                Err(Error::Unavailable(e)) => {
                    self.note(now_ms);
                    Err(Error::Unavailable(e))
                }
                other => other.map(|v| (v, true)),
            };
        };
        if now_ms < self.until_ms.load(Ordering::Relaxed) {
            return Ok((stale, false));
        }
        match tokio::time::timeout(STALE_WAIT, load).await {
            Ok(Ok(v)) => Ok((v, true)),
            Ok(Err(Error::Unavailable(e))) => {
                tracing::warn!(error = %e, "the store cannot be reached; answering from cached views");
                self.note(now_ms);
                Ok((stale, false))
            }
            Err(_) => {
                tracing::warn!("the store is slow to answer; answering from cached views");
                self.note(now_ms);
                Ok((stale, false))
            }
            Ok(Err(e)) => Err(e),
        }
    }

    fn note(&self, now_ms: i64) {
        self.until_ms.store(now_ms + OUTAGE_BACKOFF_MS, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_expire_and_loads_begun_before_an_invalidation_are_not_served() {
        let cache: TtlCache<&str, u32> = TtlCache::new(100);
        let g = cache.generation();
        cache.put("a", 1, g, 0);
        assert_eq!(cache.get(&"a", 99), Some(1));
        assert_eq!(cache.get(&"a", 100), None, "expired");
        let before_write = cache.generation();
        cache.spoil(Spoil::All);
        cache.put("b", 2, before_write, 0);
        assert_eq!(cache.get(&"b", 1), None, "a stale load stays unseen");
        cache.put("b", 3, cache.generation(), 0);
        assert_eq!(cache.get(&"b", 1), Some(3));
    }

    #[test]
    fn a_stale_entry_answers_only_within_its_age_and_generation() {
        let cache: TtlCache<&str, u32> = TtlCache::new(100);
        cache.put("a", 1, cache.generation(), 0);
        assert_eq!(cache.get(&"a", 500), None);
        assert_eq!(cache.get_stale(&"a", 500, 1_000), Some(1));
        assert_eq!(cache.get_stale(&"a", 1_000, 1_000), None, "too old");
        cache.spoil(Spoil::Freshness);
        assert_eq!(cache.get(&"a", 50), None, "rows added elsewhere: reloaded");
        assert_eq!(cache.get_stale(&"a", 500, 1_000), Some(1), "yet good for an outage");
        cache.put("b", 2, cache.generation(), 0);
        cache.spoil(Spoil::All);
        assert_eq!(cache.get_stale(&"a", 500, 1_000), None, "a change drops it");
        assert_eq!(cache.get_stale(&"b", 500, 1_000), None, "and everything else");
        cache.spoil(Spoil::Freshness);
        cache.put("c", 3, cache.generation() - 1, 0);
        assert_eq!(cache.get(&"c", 1), None, "loaded before rows were added");
        assert_eq!(cache.get_stale(&"c", 1, 1_000), Some(3), "yet after the last change");
    }

    fn unavailable() -> Error {
        Error::Unavailable("connection refused".into())
    }

    #[tokio::test]
    async fn the_store_down_answers_from_the_stale_value_and_skips_the_store_for_a_moment() {
        let outage = Outage::default();
        // Down, nothing cached: the caller gets the 503.
        let r = outage
            .fresh_or_stale(0, None::<u32>, async { Err(unavailable()) })
            .await;
        assert!(matches!(r, Err(Error::Unavailable(_))), "{r:?}");
        // Down with a stale value: that value, and within the backoff the store is not asked.
        let r = outage.fresh_or_stale(10, Some(1), async { Err(unavailable()) }).await;
        assert_eq!(r.ok(), Some((1, false)));
        let r = outage
            .fresh_or_stale(20, Some(1), async {
                panic!("the store is not asked during the backoff")
            })
            .await;
        assert_eq!(r.ok(), Some((1, false)));
        // After the backoff it is asked again, and a fresh answer wins.
        let r = outage
            .fresh_or_stale(10 + OUTAGE_BACKOFF_MS, Some(1), async { Ok(2) })
            .await;
        assert_eq!(r.ok(), Some((2, true)));
        // Any other error is the caller's, stale value or not.
        let r = outage
            .fresh_or_stale(10_000, Some(1), async {
                Err(Error::Unauthenticated("user disabled".into()))
            })
            .await;
        assert!(matches!(r, Err(Error::Unauthenticated(_))), "{r:?}");
    }

    #[tokio::test]
    async fn without_the_change_feed_no_stale_value_answers() {
        let outage = Outage::new(false);
        let r = outage.fresh_or_stale(0, Some(1), async { Err(unavailable()) }).await;
        assert!(matches!(r, Err(Error::Unavailable(_))), "{r:?}");
        let slow = async {
            tokio::time::sleep(std::time::Duration::from_millis(700)).await;
            Ok(2)
        };
        assert_eq!(
            outage.fresh_or_stale(0, Some(1), slow).await.ok(),
            Some((2, true)),
            "waited for"
        );
    }

    #[tokio::test]
    async fn a_slow_store_is_not_waited_for_when_a_stale_value_exists() {
        let outage = Outage::default();
        let slow = async {
            tokio::time::sleep(std::time::Duration::from_secs(30)).await;
            Ok(2)
        };
        let started = std::time::Instant::now();
        let r = outage.fresh_or_stale(0, Some(1), slow).await;
        assert_eq!(r.ok(), Some((1, false)));
        let waited = started.elapsed();
        assert!(waited >= STALE_WAIT && waited < STALE_WAIT * 4, "{waited:?}");
    }

    #[test]
    fn expired_entries_are_swept_as_new_keys_arrive() {
        let cache: TtlCache<u32, u32> = TtlCache::new(100);
        let g = cache.generation();
        for key in 0..FIRST_SWEEP as u32 {
            cache.put(key, key, g, 0);
        }
        // Long after: every earlier entry is past even the stale allowance.
        let later = SERVE_STALE_MS + 1;
        cache.put(u32::MAX, 1, g, later);
        let len = cache.map.read().map(|m| m.len()).unwrap_or_default();
        assert_eq!(len, 1, "only the new entry is left");
        assert_eq!(cache.get(&u32::MAX, later), Some(1));
    }
}
