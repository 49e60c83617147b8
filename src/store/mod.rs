//! Persistence behind one trait per aggregate.
//!
//! `SqlStore` implements every trait once, in SQL that SQLite and PostgreSQL both accept
//! (through `sqlx::Any`); each backend keeps its own migrations. The conformance suite in
//! `tests/journeys/conformance.rs` runs against both. This module does not hash passwords,
//! check permissions, or decide what a revocation means: it stores plain records.

mod one_time_batch;
mod sql;

use crate::model::*;
pub use sql::{Backend, SSO_TYPE_CONFLICT, SqlStore, redact_url};

use async_trait::async_trait;

/// Errors a store can return. "Not found" is not an error: reads return `Option`, deletes
/// return whether a row went away.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A uniqueness or reference constraint refused the write.
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// The database could not be reached or could not write (already classified, as the
    /// one-time writer reports to every value of a failed batch).
    #[error("database unavailable: {0}")]
    Unavailable(String),
}

impl StoreError {
    /// The database is down, restarting, refusing connections, read-only or full: the request
    /// may succeed later unchanged, so it is no fault of fedgate's or the caller's.
    pub fn is_unavailable(&self) -> bool {
        match self {
            StoreError::Unavailable(_) => true,
            StoreError::Database(e) => database_unavailable(e),
            _ => false,
        }
    }
}

fn database_unavailable(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => {
            let code = db.code();
            let code = code.as_deref().unwrap_or("");
            if code.len() == 5 {
                // PostgreSQL SQLSTATE: connection exceptions (08), shutting down or starting
                // (57P01-57P03), too many connections, a database not accepting connections
                // (55000, ALLOW_CONNECTIONS false), a read-only transaction (standby).
                code.starts_with("08") || matches!(code, "57P01" | "57P02" | "57P03" | "53300" | "55000" | "25006")
            } else {
                // SQLite result codes (the primary code is the low byte of an extended one):
                // BUSY, LOCKED, READONLY, IOERR, FULL, CANTOPEN.
                code.parse::<i32>()
                    .is_ok_and(|c| matches!(c & 0xff, 5 | 6 | 8 | 10 | 13 | 14))
            }
        }
        _ => false,
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

#[async_trait]
pub trait DomainStore: Send + Sync {
    /// Conflict when the id or name exists.
    async fn create_domain(&self, domain: &Domain) -> StoreResult<()>;
    async fn get_domain(&self, id: &str) -> StoreResult<Option<Domain>>;
    async fn get_domain_by_name(&self, name: &str) -> StoreResult<Option<Domain>>;
    async fn list_domains(&self) -> StoreResult<Vec<Domain>>;
    /// Sets name, description and enabled. Conflict when the name is taken; false when the
    /// domain is gone.
    async fn update_domain(&self, domain: &Domain) -> StoreResult<bool>;
    /// Removes a disabled domain with everything in it (Keystone's delete): its users with
    /// their memberships, access keys and login failures; its groups, projects, agencies and
    /// the grants on or of any of them; its identity providers with their protocols,
    /// settings and shadow users; its mappings. One transaction. False, with nothing
    /// removed, when the domain is gone or enabled. Agencies of other accounts that trust it
    /// stay (their owners' records), trusting no one that can sign in.
    async fn delete_domain(&self, id: &str) -> StoreResult<bool>;
}

#[async_trait]
pub trait ProjectStore: Send + Sync {
    /// Conflict when the name exists in the domain or the parent is missing.
    async fn create_project(&self, project: &Project) -> StoreResult<()>;
    async fn get_project(&self, id: &str) -> StoreResult<Option<Project>>;
    async fn get_project_by_name(&self, domain_id: &str, name: &str) -> StoreResult<Option<Project>>;
    async fn list_projects(&self, filter: &ProjectFilter) -> StoreResult<Vec<Project>>;
    /// Conflict when the new name is taken. Returns false when the project is gone.
    async fn update_project(&self, project: &Project) -> StoreResult<bool>;
}

#[async_trait]
pub trait UserStore: Send + Sync {
    /// Conflict when the name (or external identity) exists in the domain.
    async fn create_user(&self, user: &User) -> StoreResult<()>;
    async fn get_user(&self, id: &str) -> StoreResult<Option<User>>;
    async fn get_user_by_name(&self, domain_id: &str, name: &str) -> StoreResult<Option<User>>;
    /// The user bound to an external identity (`xuser_type`, `xuser_id`) in a domain.
    async fn get_user_by_external_id(
        &self,
        domain_id: &str,
        xuser_type: &str,
        xuser_id: &str,
    ) -> StoreResult<Option<User>>;
    async fn list_users(&self, filter: &UserFilter) -> StoreResult<Vec<User>>;
    /// Conflict when the new name is taken. Returns false when the user is gone.
    async fn update_user(&self, user: &User) -> StoreResult<bool>;
    /// Removes the user and its memberships.
    async fn delete_user(&self, id: &str) -> StoreResult<bool>;
}

#[async_trait]
pub trait GroupStore: Send + Sync {
    async fn create_group(&self, group: &Group) -> StoreResult<()>;
    async fn get_group(&self, id: &str) -> StoreResult<Option<Group>>;
    async fn list_groups(&self, filter: &GroupFilter) -> StoreResult<Vec<Group>>;
    async fn update_group(&self, group: &Group) -> StoreResult<bool>;
    /// Removes the group, its memberships and its grants.
    async fn delete_group(&self, id: &str) -> StoreResult<bool>;
    /// Idempotent. Conflict when the group or user does not exist.
    async fn add_member(&self, group_id: &str, user_id: &str) -> StoreResult<()>;
    async fn remove_member(&self, group_id: &str, user_id: &str) -> StoreResult<bool>;
    async fn is_member(&self, group_id: &str, user_id: &str) -> StoreResult<bool>;
    async fn list_members(&self, group_id: &str) -> StoreResult<Vec<User>>;
    async fn list_groups_of_user(&self, user_id: &str) -> StoreResult<Vec<Group>>;
}

#[async_trait]
pub trait RoleStore: Send + Sync {
    /// Conflict when the id or name exists.
    async fn create_role(&self, role: &Role) -> StoreResult<()>;
    async fn get_role(&self, id: &str) -> StoreResult<Option<Role>>;
    async fn get_role_by_name(&self, name: &str) -> StoreResult<Option<Role>>;
    async fn list_roles(&self) -> StoreResult<Vec<Role>>;
}

#[async_trait]
pub trait GrantStore: Send + Sync {
    /// Idempotent: returns false when the grant already existed.
    async fn create_grant(&self, grant: &Grant) -> StoreResult<bool>;
    async fn delete_grant(&self, grant: &Grant) -> StoreResult<bool>;
    async fn grant_exists(&self, grant: &Grant) -> StoreResult<bool>;
    async fn list_grants(&self, filter: &GrantFilter) -> StoreResult<Vec<Grant>>;
}

#[async_trait]
pub trait AgencyStore: Send + Sync {
    async fn create_agency(&self, agency: &Agency) -> StoreResult<()>;
    async fn get_agency(&self, id: &str) -> StoreResult<Option<Agency>>;
    async fn list_agencies(&self, filter: &AgencyFilter) -> StoreResult<Vec<Agency>>;
    async fn update_agency(&self, agency: &Agency) -> StoreResult<bool>;
    /// Removes the agency and its grants.
    async fn delete_agency(&self, id: &str) -> StoreResult<bool>;
}

#[async_trait]
pub trait RevocationStore: Send + Sync {
    /// Returns the event's sequence number.
    async fn insert_revocation(&self, event: &StoredRevocation) -> StoreResult<i64>;
    /// Events with a sequence number above `after`, oldest first, not yet expired at `now_ms`.
    async fn list_revocations(&self, after: i64, now_ms: i64) -> StoreResult<Vec<(i64, StoredRevocation)>>;
    async fn prune_revocations(&self, now_ms: i64) -> StoreResult<u64>;
}

#[async_trait]
pub trait KeyStore: Send + Sync {
    async fn list_token_keys(&self) -> StoreResult<Vec<StoredKey>>;
    /// Conflict when the id exists (another replica rotated at the same moment).
    async fn insert_token_key(&self, key: &StoredKey) -> StoreResult<()>;
    /// Deletes keys with `id < keep_from` except the newest; returns how many went away.
    async fn delete_token_keys_before(&self, keep_from: u32) -> StoreResult<u64>;
}

/// Identity providers with their remote ids (the Issuers or entityIDs they answer as).
#[async_trait]
pub trait IdentityProviderStore: Send + Sync {
    /// Conflict when the id or one of the remote ids exists, and `Conflict(SSO_TYPE_CONFLICT)`
    /// when the account already has providers of the other `sso_type` or an `iam_user_sso` one.
    async fn create_idp(&self, idp: &IdentityProvider) -> StoreResult<()>;
    async fn get_idp(&self, id: &str) -> StoreResult<Option<IdentityProvider>>;
    async fn list_idps(&self) -> StoreResult<Vec<IdentityProvider>>;
    /// Replaces description, enabled and remote ids, if the provider is still `was_enabled`
    /// (as the caller read it: a concurrent disable is never undone by a stale write). False
    /// when the provider is gone or its status changed; Conflict when a remote id is taken.
    async fn update_idp(&self, idp: &IdentityProvider, was_enabled: bool) -> StoreResult<bool>;
    /// Removes the provider with its remote ids and protocols.
    async fn delete_idp(&self, id: &str) -> StoreResult<bool>;
}

/// Mapping documents (the rules as written; compiling them is the service's work).
#[async_trait]
pub trait MappingStore: Send + Sync {
    async fn create_mapping(&self, mapping: &MappingRecord) -> StoreResult<()>;
    async fn get_mapping(&self, id: &str) -> StoreResult<Option<MappingRecord>>;
    async fn list_mappings(&self) -> StoreResult<Vec<MappingRecord>>;
    async fn update_mapping(&self, mapping: &MappingRecord) -> StoreResult<bool>;
    /// Conflict while a protocol uses the mapping.
    async fn delete_mapping(&self, id: &str) -> StoreResult<bool>;
}

/// A provider's protocols, each naming the mapping its logins go through.
#[async_trait]
pub trait ProtocolStore: Send + Sync {
    /// Conflict when the protocol exists or the IdP or mapping is missing.
    async fn create_protocol(&self, protocol: &ProtocolRecord) -> StoreResult<()>;
    async fn get_protocol(&self, idp_id: &str, id: Protocol) -> StoreResult<Option<ProtocolRecord>>;
    async fn list_protocols(&self, idp_id: &str) -> StoreResult<Vec<ProtocolRecord>>;
    /// Conflict when the mapping is missing.
    async fn update_protocol(&self, protocol: &ProtocolRecord) -> StoreResult<bool>;
    async fn delete_protocol(&self, idp_id: &str, id: Protocol) -> StoreResult<bool>;
}

/// What a provider says about itself: its OpenID Connect configuration and SAML metadata.
#[async_trait]
pub trait ProviderConfigStore: Send + Sync {
    /// Conflict when the IdP already has a configuration or does not exist.
    async fn create_oidc_config(&self, idp_id: &str, config: &str, now_ms: i64) -> StoreResult<()>;
    async fn update_oidc_config(&self, idp_id: &str, config: &str, now_ms: i64) -> StoreResult<bool>;
    async fn get_oidc_config(&self, idp_id: &str) -> StoreResult<Option<String>>;
    /// Creates or replaces; Conflict when the protocol does not exist.
    async fn put_saml_metadata(&self, metadata: &StoredSamlMetadata) -> StoreResult<()>;
    async fn get_saml_metadata(&self, idp_id: &str, protocol_id: Protocol) -> StoreResult<Option<StoredSamlMetadata>>;
}

/// Our SAML service provider's key pairs, shared by every replica.
#[async_trait]
pub trait SpKeyStore: Send + Sync {
    async fn get_sp_key(&self, usage: &str) -> StoreResult<Option<StoredSpKey>>;
    /// Conflict when another replica stored one first.
    async fn insert_sp_key(&self, key: &StoredSpKey) -> StoreResult<()>;
}

/// Shadow records of federated users, written by their logins.
#[async_trait]
pub trait FederatedUserStore: Send + Sync {
    /// Records a login: creates the shadow user, or updates its protocol and last login.
    /// Returns the stored record (whose `enabled` an admin may have turned off).
    async fn record_federated_login(&self, user: &FederatedUser) -> StoreResult<FederatedUser>;
    /// Shadow records of one provider's users, by name.
    async fn list_federated_users(&self, idp_id: &str) -> StoreResult<Vec<FederatedUser>>;
    async fn get_federated_user(&self, id: &str) -> StoreResult<Option<FederatedUser>>;
    /// Returns false when the shadow user does not exist.
    async fn set_federated_user_enabled(&self, id: &str, enabled: bool) -> StoreResult<bool>;
}

/// Failed password logins (the login policy's lockout), shared by every replica so a lock holds
/// wherever the next attempt lands. Only existing users have records.
#[async_trait]
pub trait LoginFailureStore: Send + Sync {
    async fn get_login_failures(&self, user_id: &str) -> StoreResult<Option<LoginFailures>>;
    /// Counts one failure at `now_ms` in one atomic statement and returns the record after it.
    /// A window older than `policy.window_ms` or a lock that has run out starts a new count;
    /// reaching `policy.max_failures` locks the user for `policy.lockout_ms`; a running lock is
    /// never extended. Conflict when the user does not exist.
    async fn record_login_failure(
        &self,
        user_id: &str,
        now_ms: i64,
        policy: &LockoutPolicy,
    ) -> StoreResult<LoginFailures>;
    /// Forgets the user's failures (a successful login); false when there were none.
    async fn clear_login_failures(&self, user_id: &str) -> StoreResult<bool>;
}

/// Values that may be used once, shared by every replica. `namespace` keeps kinds apart
/// (`saml-assertion:<idp>`, `oidc-jti:<idp>`, `authn-request`, ...).
#[async_trait]
pub trait OneTimeStore: Send + Sync {
    /// Records `value` until `expires_at_ms`; true the first time, false while an unexpired
    /// record exists (a replay). An expired record counts as absent.
    async fn remember_once(&self, namespace: &str, value: &str, expires_at_ms: i64, now_ms: i64) -> StoreResult<bool>;
    /// Consumes a value stored by `remember_once`: true exactly once, and only before it expires.
    async fn take_once(&self, namespace: &str, value: &str, now_ms: i64) -> StoreResult<bool>;
    /// Whether `remember_once` recorded `value` and the record has not expired (it reads,
    /// records nothing).
    async fn was_used(&self, namespace: &str, value: &str, now_ms: i64) -> StoreResult<bool>;
    async fn prune_one_time_values(&self, now_ms: i64) -> StoreResult<u64>;
}

/// Permanent access keys (AK/SK). The store keeps the sealed secret it is given; it never sees
/// the plain secret or the key that seals it.
#[async_trait]
pub trait AccessKeyStore: Send + Sync {
    /// Inserts the key unless its user already has `max_per_user` keys (then false), in one
    /// step that concurrent creates on any replica cannot both pass. Conflict when the user
    /// does not exist or the access key id is taken.
    async fn create_access_key(&self, key: &StoredAccessKey, max_per_user: i64) -> StoreResult<bool>;
    async fn get_access_key(&self, access: &str) -> StoreResult<Option<StoredAccessKey>>;
    /// The user's keys, oldest first.
    async fn list_access_keys(&self, user_id: &str) -> StoreResult<Vec<StoredAccessKey>>;
    /// Sets status and description; false when the key is gone.
    async fn update_access_key(&self, access: &str, enabled: bool, description: &str) -> StoreResult<bool>;
    async fn delete_access_key(&self, access: &str) -> StoreResult<bool>;
    /// Records last uses: each key's `last_used_at` becomes the later of the stored and the
    /// given instant. Keys that are gone are skipped. Returns how many rows changed.
    async fn record_access_key_uses(&self, uses: &[(String, i64)]) -> StoreResult<u64>;
    /// The distinct fingerprints of the credential keys that sealed stored secrets.
    async fn access_key_fingerprints(&self) -> StoreResult<Vec<String>>;
}

/// What the database tells the replicas sharing it (PostgreSQL's 0010 migration: a trigger on
/// every table views are read from sends the announcement inside the writing transaction), so
/// they act now rather than at their next poll.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// Names, roles, status or configuration changed: drop cached views.
    Views,
    /// Rows were only added (0011's `additions`): cached views are reloaded, yet may still
    /// answer while the store cannot.
    Additions,
    /// A revocation event was stored: read the new events.
    Revocations,
    /// The feed's connection dropped and announcements may have been lost: do both.
    Missed,
    /// The feed heard its own probe: announcements arrive, so cached views may be trusted
    /// past their time while the store cannot answer.
    Heard,
    /// A probe sent did not come back: announcements may not arrive; trust views no longer
    /// than their time until the feed is `Heard` again.
    Deaf,
}

/// Announcements between replicas (PostgreSQL NOTIFY/LISTEN), sent by the database as each
/// write commits, whichever process wrote; an announcement cannot be lost without the feed
/// saying so (`Missed`). Polling stays behind it.
#[async_trait]
pub trait ChangeFeed: Send + Sync {
    /// Other replicas' announcements, or None where no other replica can share the store.
    async fn subscribe(&self) -> StoreResult<Option<tokio::sync::mpsc::Receiver<Change>>>;
}

/// Everything the services need, as one object.
pub trait Store:
    DomainStore
    + ProjectStore
    + UserStore
    + GroupStore
    + RoleStore
    + GrantStore
    + AgencyStore
    + RevocationStore
    + KeyStore
    + IdentityProviderStore
    + MappingStore
    + ProtocolStore
    + ProviderConfigStore
    + SpKeyStore
    + FederatedUserStore
    + OneTimeStore
    + LoginFailureStore
    + AccessKeyStore
    + ChangeFeed
{
}

impl<T> Store for T where
    T: DomainStore
        + ProjectStore
        + UserStore
        + GroupStore
        + RoleStore
        + GrantStore
        + AgencyStore
        + RevocationStore
        + KeyStore
        + IdentityProviderStore
        + MappingStore
        + ProtocolStore
        + ProviderConfigStore
        + SpKeyStore
        + FederatedUserStore
        + OneTimeStore
        + LoginFailureStore
        + AccessKeyStore
        + ChangeFeed
{
}

#[cfg(test)]
mod tests {
    use super::StoreError;

    #[test]
    fn only_reachability_failures_count_as_unavailable() {
        let io = || std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        let cases = [
            (StoreError::Database(sqlx::Error::PoolTimedOut), true),
            (StoreError::Database(sqlx::Error::PoolClosed), true),
            (StoreError::Database(sqlx::Error::Io(io())), true),
            (StoreError::Database(sqlx::Error::WorkerCrashed), true),
            (StoreError::Unavailable("batch failed".into()), true),
            (StoreError::Database(sqlx::Error::RowNotFound), false),
            (StoreError::Database(sqlx::Error::Protocol("bad".into())), false),
            (StoreError::Conflict("user".into()), false),
            (StoreError::Corrupt("row".into()), false),
        ];
        for (error, unavailable) in cases {
            assert_eq!(error.is_unavailable(), unavailable, "{error}");
        }
    }
}
