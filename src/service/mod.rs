//! Use cases: authentication and token issue, validation, administration of the identity
//! store. Owns policy (who may do what) and the clock; delegates protocol work to the pure
//! modules and persistence to `store`. Knows nothing of HTTP.

pub mod access_keys;
pub mod admin;
pub mod admission;
pub mod assignments;
pub mod audit;
pub mod auth;
pub mod bootstrap;
pub mod catalog;
pub mod config_code;
pub mod credential_key;
pub mod domains;
pub mod error;
pub mod federated_login;
pub mod federated_users;
pub mod federation;
mod lockout;
pub mod login_cache;
pub mod names;
pub mod oidc_login;
pub mod password;
pub mod policy;
mod resolve;
pub mod saml;
pub mod saml_login;
pub mod sts;
pub mod tokens;
mod ttl_cache;
pub mod user_sso;
pub mod websso;
pub mod xmlsec_log;

use std::sync::Arc;

pub use error::{Error, IamCode, Refusal, Result};
pub use resolve::{AuthContext, Identity, NameRef, ScopeView, UserView};
pub use ttl_cache::Spoil;

use crate::config::Config;
use crate::store::Store;
use catalog::Catalog;
use tokens::TokenService;

/// Wall-clock milliseconds since the Unix epoch: the single place the service reads time.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Fills `buf` from the operating system's random source: the one source of randomness for
/// every id, secret, key, nonce and salt fedgate draws.
pub fn fill_random(buf: &mut [u8]) {
    // As rand's OsRng did: without a working random source nothing can be issued safely.
    if let Err(e) = getrandom::fill(buf) {
        panic!("the operating system's random source failed: {e}");
    }
}

/// A fresh audit id for a token, credential or login token.
pub fn new_audit_id() -> crate::token::AuditId {
    let mut id = [0u8; 16];
    fill_random(&mut id);
    id
}

/// A fresh 32-hex-digit id (Keystone's id form).
pub fn new_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// Counts a federated sign-in (`fedgate_federated_logins_total`) by provider (`unknown` until
/// a configured one is found: clients name providers, and labels must stay few), protocol,
/// outcome and the class of a refusal (the refusal's variant, never its text).
pub(crate) fn count_sign_in<T>(protocol: crate::model::Protocol, idp: Option<&str>, result: &Result<T>) {
    let (outcome, reason) = match result {
        Ok(_) => ("success", "none".to_string()),
        Err(Error::Refused { reason, .. }) => ("refused", refusal_class(reason)),
        Err(Error::Unauthenticated(_)) => ("refused", "Mapping".to_string()),
        Err(Error::Forbidden(_) | Error::ForbiddenNow(_)) => ("refused", "Forbidden".to_string()),
        Err(Error::TooManyRequests { .. }) => ("throttled", "Admission".to_string()),
        Err(_) => ("failed", "Error".to_string()),
    };
    metrics::counter!(
        "fedgate_federated_logins_total",
        "idp" => idp.unwrap_or("unknown").to_string(),
        "protocol" => protocol.as_str(),
        "outcome" => outcome,
        "reason" => reason,
    )
    .increment(1);
}

/// `IdToken.Expired`, `Saml.SignatureInvalid`, `Replayed`: the refusal's variant names, read
/// from its `Debug` form up to the first field, so the set of labels is the set of variants.
fn refusal_class(reason: &error::Refusal) -> String {
    let debug = format!("{reason:?}");
    let mut names = debug
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|s| !s.is_empty());
    let outer = names.next().unwrap_or("Unknown");
    match (outer, names.next()) {
        ("IdToken" | "Saml", Some(inner)) if inner.starts_with(|c: char| c.is_ascii_uppercase()) => {
            format!("{outer}.{inner}")
        }
        _ => outer.to_string(),
    }
}

/// Declares a use-case service: a handle on the shared core that carries one area's use cases
/// (`impl Accounts { ... }` in that area's files). Handlers take the one they need
/// (`State<Sts>`, through axum's `FromRef`); the core's fields and helpers are reached through
/// `Deref` inside the use cases, while another area's use cases are not on it at all.
macro_rules! use_case_service {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Clone)]
        pub struct $name(Arc<Services>);

        impl $name {
            pub fn new(core: Arc<Services>) -> Self {
                Self(core)
            }
        }

        impl std::ops::Deref for $name {
            type Target = Services;

            fn deref(&self) -> &Services {
                &self.0
            }
        }
    };
}

use_case_service! {
    /// Users, groups, projects, accounts (domains), roles, grants and assignments, agencies,
    /// federated (shadow) users: `admin/`, `domains.rs`, `assignments.rs`, `federated_users.rs`.
    Accounts
}

use_case_service! {
    /// Identity providers, mappings, protocols, OIDC settings, IdP metadata and the SP's own
    /// metadata: `federation.rs`, `saml.rs`.
    FederationConfig
}

use_case_service! {
    /// Getting a token: passwords and tokens (`auth.rs`), SAML (`saml_login.rs`), OIDC
    /// id_tokens (`oidc_login.rs`), browser sign-in (`websso.rs`), mapped logins
    /// (`federated_login.rs`); checking and revoking tokens.
    SignIn
}

use_case_service! {
    /// Temporary credentials, agency sessions, login tokens (`sts.rs`) and permanent access
    /// keys (`access_keys.rs`).
    Sts
}

/// The shared core every use-case service stands on: the store, token keys, caches, admission
/// pools, configuration; and what every request needs (authenticating the caller, resolving
/// a token, policy checks). Use cases live on the services above.
pub struct Services {
    /// Private to the services: the HTTP layer reaches records only through use cases.
    store: Arc<dyn Store>,
    pub tokens: Arc<TokenService>,
    pub catalog: Arc<Catalog>,
    pub config: Arc<Config>,
    resolver: resolve::Resolver,
    mappings: federation::MappingCache,
    pub sp: saml::SpKeys,
    pub oidc: oidc_login::OidcProviders,
    login_cache: login_cache::LoginCache,
    saml: saml_login::SamlProviders,
    /// Admission control for password hashing and sign-in starts.
    pub admission: admission::Pools,
    password_checks: lockout::PasswordChecks,
    /// Permanent access keys: the credential key, verification caches, pending last uses.
    access_keys: access_keys::AccessKeys,
    /// Whether the store was just found down, so cached views answer meanwhile.
    outage: ttl_cache::Outage,
    /// Where audit events go (`audit.rs`).
    audit_log: audit::AuditLog,
}

impl Services {
    pub async fn build(store: Arc<dyn Store>, config: Arc<Config>) -> Result<Self> {
        let access_keys = access_keys::AccessKeys::load(
            store.as_ref(),
            &config.credential_key_file,
            config.refresh_interval.as_millis() as i64,
        )
        .await?;
        Self::build_with(store, config, access_keys).await
    }

    /// The services an operator command (`fedgate config`) runs its use cases on: as `build`,
    /// but without the credential key file, since such a command never touches access keys.
    pub async fn build_for_command(store: Arc<dyn Store>, config: Arc<Config>) -> Result<Self> {
        let access_keys = access_keys::AccessKeys::unused(config.refresh_interval.as_millis() as i64);
        Self::build_with(store, config, access_keys).await
    }

    async fn build_with(
        store: Arc<dyn Store>,
        config: Arc<Config>,
        access_keys: access_keys::AccessKeys,
    ) -> Result<Self> {
        let audit_log = audit::AuditLog::open(config.audit_log.as_deref(), &config.public_url)?;
        let tokens = Arc::new(TokenService::load(store.clone(), config.token_ttl_secs, now_ms()).await?);
        let catalog = Arc::new(Catalog::from_config(&config));
        let resolver = resolve::Resolver::new(config.refresh_interval.as_millis() as i64);
        // Before any signature work: xmlsec's reports go to the log, not stderr.
        xmlsec_log::install();
        let sp = saml::load_sp_keys(store.as_ref(), &config.public_url, now_ms()).await?;
        let upstream = crate::upstream::Upstream::new(config.egress.clone()).map_err(Error::internal)?;
        let config_ttl = config.refresh_interval.as_millis() as i64;
        let login_cache = login_cache::LoginCache::new(config_ttl);
        let admission = admission::Pools::new(&config.limits);
        let oidc = oidc_login::OidcProviders::new(
            upstream,
            config.refresh_interval.as_millis() as i64,
            config.clock_skew_secs,
        );
        // Views may outlive their time in an outage only where every write elsewhere is heard:
        // SQLite (one process) at once; PostgreSQL once its change feed has heard itself.
        let serve_stale = !config.database_url.starts_with("postgres");
        Ok(Self {
            store,
            tokens,
            catalog,
            config,
            resolver,
            mappings: federation::MappingCache::default(),
            sp,
            oidc,
            login_cache,
            saml: saml_login::SamlProviders::new(config_ttl),
            admission,
            password_checks: lockout::PasswordChecks::default(),
            access_keys,
            outage: ttl_cache::Outage::new(serve_stale),
            audit_log,
        })
    }

    /// Ready to serve: the store answers within 2 s and the token key ring is loaded.
    pub async fn readiness(&self) -> std::result::Result<(), String> {
        let probe = tokio::time::timeout(std::time::Duration::from_secs(2), self.store.list_token_keys()).await;
        match probe {
            Err(_) => Err("the store did not answer within 2 s".into()),
            Ok(Err(e)) => Err(format!("the store failed: {e}")),
            Ok(Ok(keys)) if keys.is_empty() || self.tokens.primary_key_id() == 0 => Err("no token keys".into()),
            Ok(Ok(_)) => Ok(()),
        }
    }

    /// Forgets revocation events and one-time values no token or request can match any more.
    pub async fn prune_expired(&self, now_ms: i64) {
        if let Err(e) = self.store.prune_revocations(now_ms).await {
            tracing::warn!(error = %e, "pruning expired revocation events failed");
        }
        if let Err(e) = self.store.prune_one_time_values(now_ms).await {
            tracing::warn!(error = %e, "pruning expired one-time values failed");
        }
    }

    /// Forget cached identity views after a write that can change names, roles or status. The
    /// other replicas hear of the write from the database (`store::ChangeFeed`).
    pub fn invalidate_cache(&self) {
        self.drop_cached_views();
    }

    /// Re-reads token keys and revocation events (`TokenService::refresh`). New events drop
    /// the cached views as well: each records a disable, delete, deactivation or password
    /// change, and a permanent access key is judged by the views alone (its requests are
    /// authenticated now, after any cutoff), so an announcement lost on the way, or a replica
    /// without the feed, must not leave such a change to the views' age, which a store that
    /// looks slow stretches to `ttl_cache::SERVE_STALE_MS`.
    pub async fn refresh_from_store(&self, now_ms: i64) -> Result<()> {
        if self.tokens.refresh(now_ms).await? {
            self.drop_cached_views();
        }
        Ok(())
    }

    /// Whether cached views may answer past their time while the store cannot (the change
    /// feed's verdict on itself).
    pub fn trust_views_in_outage(&self, trusted: bool) {
        if trusted {
            tracing::info!("the change feed hears every write: cached views may ride out a store outage");
        }
        self.outage.set_serve_stale(trusted);
    }

    /// Forget cached identity views here only: another replica wrote.
    pub fn drop_cached_views(&self) {
        self.spoil_cached_views(Spoil::All);
    }

    /// Cached identity views here only, as far as a write (`how`) spoils them.
    pub fn spoil_cached_views(&self, how: Spoil) {
        self.resolver.spoil(how);
        self.login_cache.spoil(how);
        self.saml.spoil(how);
        self.access_keys.spoil(how);
        // A provider is cached only once its configuration exists: an insert changes none.
        if how == Spoil::All {
            self.oidc.expire();
        }
    }
}

#[cfg(test)]
mod sign_in_count_tests {
    use super::error::Refusal;
    use super::refusal_class;
    use crate::oidc::IdTokenError;

    #[test]
    fn refusal_classes_are_variant_names_never_text() {
        let cases = [
            (Refusal::IdToken(IdTokenError::Expired { exp: 5 }), "IdToken.Expired"),
            (
                Refusal::IdToken(IdTokenError::MalformedHeader("evil \u{202e} text".into())),
                "IdToken.MalformedHeader",
            ),
            (
                Refusal::UnknownIssuer("https://attacker.example/Anything".into()),
                "UnknownIssuer",
            ),
            (
                Refusal::Replayed {
                    what: "assertion",
                    id: "_abc".into(),
                },
                "Replayed",
            ),
            (Refusal::NotConfigured("SAML metadata"), "NotConfigured"),
        ];
        for (refusal, class) in cases {
            assert_eq!(refusal_class(&refusal), class, "{refusal:?}");
        }
    }
}
