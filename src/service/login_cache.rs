//! What every federated login reads but rarely changes: the provider, its protocol's compiled
//! mapping, mapped group names resolved to ids, when a shadow user was last recorded, and
//! scope names resolved to ids.
//! Entries live for the refresh interval and are dropped on every local write
//! (`Services::invalidate_cache`), as the identity views are.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, RwLock};

use crate::mapping::Mapping;
use crate::store::IdentityProvider;
use crate::token::Scope;

/// A provider with the mapping of one of its protocols.
pub struct LoginConfig {
    pub idp: IdentityProvider,
    pub mapping: Arc<Mapping>,
}

struct Timed<K, V>(RwLock<HashMap<K, (i64, V)>>);

impl<K: Eq + Hash, V: Clone> Timed<K, V> {
    fn new() -> Self {
        Timed(RwLock::new(HashMap::new()))
    }

    fn get(&self, key: &K, now_ms: i64, ttl_ms: i64) -> Option<V> {
        let map = self.0.read().ok()?;
        let (at, v) = map.get(key)?;
        (now_ms - at < ttl_ms).then(|| v.clone())
    }

    fn put(&self, key: K, value: V, now_ms: i64) {
        if let Ok(mut map) = self.0.write() {
            // Bounded: a flood of distinct keys cannot grow it without limit.
            if map.len() >= 100_000 {
                map.clear();
            }
            map.insert(key, (now_ms, value));
        }
    }

    fn clear(&self) {
        if let Ok(mut map) = self.0.write() {
            map.clear();
        }
    }
}

pub struct LoginCache {
    ttl_ms: i64,
    configs: Timed<(String, String), Arc<LoginConfig>>,
    /// (account, group domain id or name, group name) -> group id, or None when absent.
    groups: Timed<(String, String, String), Option<String>>,
    /// Shadow user id -> recorded (and enabled) at.
    shadows: Timed<String, ()>,
    /// A scope request's names -> the scope's ids.
    scopes: Timed<String, Scope>,
}

impl LoginCache {
    pub fn new(ttl_ms: i64) -> LoginCache {
        LoginCache {
            ttl_ms,
            configs: Timed::new(),
            groups: Timed::new(),
            shadows: Timed::new(),
            scopes: Timed::new(),
        }
    }

    pub fn clear(&self) {
        self.configs.clear();
        self.groups.clear();
        self.shadows.clear();
        self.scopes.clear();
    }

    pub fn scope(&self, key: &String, now_ms: i64) -> Option<Scope> {
        self.scopes.get(key, now_ms, self.ttl_ms)
    }

    pub fn put_scope(&self, key: String, scope: Scope, now_ms: i64) {
        self.scopes.put(key, scope, now_ms);
    }

    pub fn config(&self, idp_id: &str, protocol_id: &str, now_ms: i64) -> Option<Arc<LoginConfig>> {
        self.configs
            .get(&(idp_id.to_string(), protocol_id.to_string()), now_ms, self.ttl_ms)
    }

    pub fn put_config(&self, idp_id: &str, protocol_id: &str, config: Arc<LoginConfig>, now_ms: i64) {
        self.configs
            .put((idp_id.to_string(), protocol_id.to_string()), config, now_ms);
    }

    pub fn group(&self, key: &(String, String, String), now_ms: i64) -> Option<Option<String>> {
        self.groups.get(key, now_ms, self.ttl_ms)
    }

    pub fn put_group(&self, key: (String, String, String), id: Option<String>, now_ms: i64) {
        self.groups.put(key, id, now_ms);
    }

    /// Whether the shadow user was recorded, enabled, within the refresh interval.
    pub fn shadow_fresh(&self, user_id: &str, now_ms: i64) -> bool {
        self.shadows.get(&user_id.to_string(), now_ms, self.ttl_ms).is_some()
    }

    pub fn put_shadow(&self, user_id: &str, now_ms: i64) {
        self.shadows.put(user_id.to_string(), (), now_ms);
    }
}
