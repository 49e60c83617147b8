//! What every federated login reads but rarely changes: the provider, its protocol's compiled
//! mapping, mapped group names resolved to ids, when a shadow user was last recorded, and
//! scope names resolved to ids.
//! Entries live for the refresh interval and are dropped on every local write
//! (`Services::invalidate_cache`), as the identity views are. Callers read a cache's `generation()`
//! before loading and pass it to `put`.

use std::sync::Arc;

use super::ttl_cache::{Spoil, TtlCache};

use crate::mapping::Mapping;
use crate::model::IdentityProvider;
use crate::token::Scope;

/// A provider with the mapping of one of its protocols.
pub struct LoginConfig {
    pub idp: IdentityProvider,
    pub mapping: Arc<Mapping>,
}

pub struct LoginCache {
    /// (idp, protocol) -> provider and compiled mapping.
    pub configs: TtlCache<(String, crate::model::Protocol), Arc<LoginConfig>>,
    /// (account, group domain id or name, group name) -> group id, or why it does not count.
    pub groups: TtlCache<(String, String, String), Result<String, super::federated_login::GroupMiss>>,
    /// Shadow user ids recorded (and enabled) within the interval.
    pub shadows: TtlCache<String, ()>,
    /// A scope request's names -> the scope's ids.
    pub scopes: TtlCache<String, Scope>,
}

impl LoginCache {
    pub fn new(ttl_ms: i64) -> LoginCache {
        LoginCache {
            configs: TtlCache::new(ttl_ms),
            groups: TtlCache::new(ttl_ms),
            shadows: TtlCache::new(ttl_ms),
            scopes: TtlCache::new(ttl_ms),
        }
    }

    pub fn spoil(&self, how: Spoil) {
        self.configs.spoil(how);
        self.groups.spoil(how);
        self.shadows.spoil(how);
        self.scopes.spoil(how);
    }
}
