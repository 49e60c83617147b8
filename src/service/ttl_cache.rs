//! A map whose entries live for a fixed time and are all dropped on a local write. Dropping
//! bumps a generation instead of clearing: a load that started before the write carries the
//! old generation and its result is never served, however late it is put.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::RwLock;
use std::sync::atomic::{AtomicU64, Ordering};

/// Bounded: a flood of distinct keys empties the map rather than growing it.
const MAX_ENTRIES: usize = 100_000;

pub struct TtlCache<K, V> {
    ttl_ms: i64,
    generation: AtomicU64,
    map: RwLock<HashMap<K, (i64, u64, V)>>,
}

impl<K: Eq + Hash, V: Clone> TtlCache<K, V> {
    pub fn new(ttl_ms: i64) -> Self {
        Self {
            ttl_ms,
            generation: AtomicU64::new(0),
            map: RwLock::new(HashMap::new()),
        }
    }

    /// Read before loading; hand to `put` with the loaded value.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    pub fn invalidate(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
    }

    pub fn get(&self, key: &K, now_ms: i64) -> Option<V> {
        let generation = self.generation();
        let map = self.map.read().ok()?;
        let (at, entry_generation, value) = map.get(key)?;
        (*entry_generation == generation && now_ms - at < self.ttl_ms).then(|| value.clone())
    }

    pub fn put(&self, key: K, value: V, generation: u64, now_ms: i64) {
        if let Ok(mut map) = self.map.write() {
            if map.len() >= MAX_ENTRIES {
                map.clear();
            }
            map.insert(key, (now_ms, generation, value));
        }
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
        cache.invalidate();
        cache.put("b", 2, before_write, 0);
        assert_eq!(cache.get(&"b", 1), None, "a stale load stays unseen");
        cache.put("b", 3, cache.generation(), 0);
        assert_eq!(cache.get(&"b", 1), Some(3));
    }
}
