//! Exchanging an external id_token for a federated token: the provider's configuration and
//! keys (cached; discovered keys refreshed when a token names an unknown kid, at most one
//! fetch in flight per provider, stale keys kept when a fetch fails), verification by the pure
//! `oidc` module, jti replay protection through the shared store, then the mapping.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use arc_swap::ArcSwap;

use super::auth::Issued;
use super::{Error, Refusal, Result, SignIn};
use crate::model::Protocol;
pub use crate::oidc::IdTokenUse;
use crate::oidc::{
    DEFAULT_MAX_TOKEN_AGE_SECS, DEFAULT_MAX_TOKEN_LIFETIME_SECS, Expectations, IdTokenError, KeySet, OidcConfig,
    key_set, verify_id_token,
};
use crate::store::Store;
use crate::upstream::Upstream;

/// A token naming an unknown kid refreshes discovered keys at most this often.
const MIN_REFETCH_MS: i64 = 5_000;
/// Discovered keys are re-read when older than this, even without an unknown kid.
const MAX_KEY_AGE_MS: i64 = 3_600_000;

pub struct Provider {
    pub config: OidcConfig,
    expect: Expectations,
    keys: ArcSwap<KeySet>,
    /// True when keys come from discovery rather than the configured JWKS.
    discovered: bool,
    loaded_at_ms: AtomicI64,
    /// `OidcProviders::generation` when the configuration was read: a write since (here, or
    /// announced) makes it old whatever its age.
    loaded_generation: AtomicU64,
    last_fetch_ms: AtomicI64,
    fetch_lock: tokio::sync::Mutex<()>,
    /// A refresh of keys past their age is running behind the requests that found them so.
    refreshing: std::sync::atomic::AtomicBool,
    /// Why the last discovery failed, while no later one succeeded (for the login's refusal).
    last_error: std::sync::Mutex<Option<String>>,
}

/// Fetches `p`'s keys by discovery, keeping the previous ones when that fails; the caller
/// holds `p.fetch_lock`.
async fn fetch_keys(upstream: &Upstream, p: &Provider, now_ms: i64) {
    match upstream.discover_keys(&p.config.idp_url, &p.config.fingerprints).await {
        Ok(keys) => {
            tracing::info!(issuer = %p.config.idp_url, keys = keys.keys().len(), "OpenID provider keys fetched");
            p.keys.store(Arc::new(keys));
            set_last_error(p, None);
        }
        Err(e) if p.keys.load().keys().is_empty() => {
            tracing::warn!(issuer = %p.config.idp_url, error = %e,
                "OpenID provider keys could not be fetched and none are known: its id_tokens are refused until the issuer answers");
            set_last_error(p, Some(e.to_string()));
        }
        Err(e) => {
            tracing::warn!(issuer = %p.config.idp_url, error = %e, "OpenID provider keys not refreshed; keeping the previous ones");
            set_last_error(p, Some(e.to_string()));
        }
    }
    p.last_fetch_ms.store(now_ms, Ordering::Release);
}

/// Providers by IdP id, re-read from the store after `ttl_ms` or a write.
pub struct OidcProviders {
    upstream: Upstream,
    ttl_ms: i64,
    skew_secs: i64,
    entries: RwLock<HashMap<String, Arc<Provider>>>,
    /// Bumped by every write: a configuration read before it is never fresh, however late
    /// its read ends (a read in flight as the write is heard must not be kept for `ttl_ms`).
    generation: AtomicU64,
}

impl OidcProviders {
    pub fn new(upstream: Upstream, ttl_ms: i64, skew_secs: i64) -> OidcProviders {
        OidcProviders {
            upstream,
            ttl_ms,
            skew_secs,
            entries: RwLock::new(HashMap::new()),
            generation: AtomicU64::new(0),
        }
    }

    /// A local write to `idp_id`'s provider or configuration.
    pub fn invalidate(&self, idp_id: &str) {
        self.expire();
        if let Ok(mut entries) = self.entries.write() {
            entries.remove(idp_id);
        }
    }

    /// A write (here or on another replica): each provider's configuration is read again at
    /// its next use, its discovered keys kept while the configuration is unchanged.
    pub fn expire(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
    }

    fn cached(&self, idp_id: &str) -> Option<Arc<Provider>> {
        self.entries.read().ok().and_then(|e| e.get(idp_id).cloned())
    }

    fn build(&self, config: OidcConfig, now_ms: i64, generation: u64) -> Result<Provider> {
        let keys = match &config.signing_key {
            Some(text) => key_set(text).map_err(|e| Error::internal(format!("stored JWKS: {e}")))?,
            None => KeySet::new(Vec::new()),
        };
        let expect = Expectations {
            issuer: config.idp_url.clone(),
            client_id: config.client_id.clone(),
            other_client_ids: config.other_client_ids.clone(),
            skew_secs: self.skew_secs,
            max_age_secs: config.max_token_age.unwrap_or(DEFAULT_MAX_TOKEN_AGE_SECS),
            max_lifetime_secs: config.max_token_lifetime.unwrap_or(DEFAULT_MAX_TOKEN_LIFETIME_SECS),
        };
        Ok(Provider {
            discovered: config.signing_key.is_none(),
            config,
            expect,
            keys: ArcSwap::from_pointee(keys),
            loaded_at_ms: AtomicI64::new(now_ms),
            loaded_generation: AtomicU64::new(generation),
            last_fetch_ms: AtomicI64::new(0),
            fetch_lock: tokio::sync::Mutex::new(()),
            refreshing: std::sync::atomic::AtomicBool::new(false),
            last_error: std::sync::Mutex::new(None),
        })
    }

    /// The provider's current configuration, from the cache while it is fresh.
    pub async fn provider(&self, store: &dyn Store, idp_id: &str, now_ms: i64) -> Result<Option<Arc<Provider>>> {
        let generation = self.generation.load(Ordering::SeqCst);
        let cached = self.cached(idp_id);
        if let Some(p) = &cached
            && p.loaded_generation.load(Ordering::SeqCst) == generation
            && now_ms - p.loaded_at_ms.load(Ordering::Relaxed) < self.ttl_ms
        {
            return Ok(cached);
        }
        let Some(text) = store.get_oidc_config(idp_id).await? else {
            self.invalidate(idp_id);
            return Ok(None);
        };
        let config: OidcConfig =
            serde_json::from_str(&text).map_err(|e| Error::internal(format!("stored OIDC config of {idp_id}: {e}")))?;
        if let Some(p) = cached
            && p.config == config
        {
            // Unchanged: keep the discovered keys.
            p.loaded_at_ms.store(now_ms, Ordering::Relaxed);
            p.loaded_generation.store(generation, Ordering::SeqCst);
            return Ok(Some(p));
        }
        let fresh = Arc::new(self.build(config, now_ms, generation)?);
        if let Ok(mut entries) = self.entries.write() {
            entries.insert(idp_id.to_string(), fresh.clone());
        }
        Ok(Some(fresh))
    }

    /// The keys to verify with. Discovered keys are fetched when missing or old, or when
    /// `unknown_kid` and the last fetch is not too recent; waiters share one fetch.
    async fn keys(&self, p: &Arc<Provider>, now_ms: i64, unknown_kid: bool) -> Result<Arc<KeySet>> {
        if !p.discovered {
            return Ok(p.keys.load_full());
        }
        // Keys past their age only: the ones held still verify, so the request does not wait
        // on the provider (down or slow); one refresh runs behind it.
        let held = p.last_fetch_ms.load(Ordering::Acquire);
        let stale_only =
            held != 0 && now_ms - held >= MAX_KEY_AGE_MS && !unknown_kid && !p.keys.load().keys().is_empty();
        if stale_only {
            if !p.refreshing.swap(true, Ordering::AcqRel) {
                let (provider, upstream) = (p.clone(), self.upstream.clone());
                tokio::spawn(async move {
                    let _guard = provider.fetch_lock.lock().await;
                    fetch_keys(&upstream, &provider, now_ms).await;
                    provider.refreshing.store(false, Ordering::Release);
                });
            }
            return Ok(p.keys.load_full());
        }
        // Never fetched, too old, or missing keys / an unknown kid - but the last two at most
        // every MIN_REFETCH_MS, so a provider that is down is not asked on every request.
        let due = |last: i64, have_keys: bool| {
            last == 0
                || now_ms - last >= MAX_KEY_AGE_MS
                || ((unknown_kid || !have_keys) && now_ms - last >= MIN_REFETCH_MS)
        };
        let before = p.last_fetch_ms.load(Ordering::Acquire);
        if !due(before, !p.keys.load().keys().is_empty()) {
            return Ok(p.keys.load_full());
        }
        let _guard = p.fetch_lock.lock().await;
        let last = p.last_fetch_ms.load(Ordering::Acquire);
        if last != before || !due(last, !p.keys.load().keys().is_empty()) {
            // Another request fetched while this one waited.
            return Ok(p.keys.load_full());
        }
        fetch_keys(&self.upstream, p, now_ms).await;
        Ok(p.keys.load_full())
    }

    /// At configuration time, for a provider whose keys are discovered: fetches them now and
    /// caches the provider with them, so the first login needs no fetch. None when that
    /// worked; else a warning for the answer (the configuration is stored all the same, since
    /// the issuer may come up later, and logins retry at most every MIN_REFETCH_MS).
    pub async fn probe(&self, idp_id: &str, config: &OidcConfig, now_ms: i64) -> Result<Option<String>> {
        let p = self.build(config.clone(), now_ms, self.generation.load(Ordering::SeqCst))?;
        let warning = match self.upstream.discover_keys(&config.idp_url, &config.fingerprints).await {
            Ok(keys) => {
                tracing::info!(issuer = %config.idp_url, keys = keys.keys().len(), "OpenID provider keys fetched");
                p.keys.store(Arc::new(keys));
                None
            }
            Err(e) => {
                tracing::warn!(issuer = %config.idp_url, error = %e,
                    "OpenID provider keys could not be fetched and none are known: its id_tokens are refused until the issuer answers");
                set_last_error(&p, Some(e.to_string()));
                Some(format!(
                    "the keys of {} could not be discovered now ({e}); its id_tokens are refused until they can be",
                    config.idp_url
                ))
            }
        };
        p.last_fetch_ms.store(now_ms, Ordering::Release);
        if let Ok(mut entries) = self.entries.write() {
            entries.insert(idp_id.to_string(), Arc::new(p));
        }
        Ok(warning)
    }
}

fn set_last_error(p: &Provider, error: Option<String>) {
    if let Ok(mut last) = p.last_error.lock() {
        *last = error;
    }
}

impl SignIn {
    /// Keystone's `.../protocols/{protocol}/auth` with a bearer id_token (keystoneauth1's
    /// v3oidcaccesstoken): only the `oidc` protocol takes one.
    pub async fn keystone_bearer_login(
        &self,
        idp_id: &str,
        protocol_id: &str,
        id_token: &str,
        now_ms: i64,
    ) -> Result<Issued> {
        if Protocol::parse(protocol_id) != Some(Protocol::Oidc) {
            let refused = Error::Refused {
                via: format!("id_token for {idp_id}/{protocol_id}"),
                reason: Refusal::NotOidc(protocol_id.to_string()),
            };
            self.audit_federated_sign_in(Protocol::Oidc, None, Err(&refused));
            return Err(refused);
        }
        self.oidc_login(idp_id, id_token, None, IdTokenUse::KeystoneBearer, now_ms)
            .await
    }

    /// Verifies `id_token` as issued by `idp_id`'s OpenID provider and maps its claims with
    /// the protocol's mapping into an unscoped federated token. `nonce` is the browser flow's;
    /// `at` says where the token was presented, which decides whether it is single-use.
    pub async fn oidc_login(
        &self,
        idp_id: &str,
        id_token: &str,
        nonce: Option<&str>,
        at: IdTokenUse,
        now_ms: i64,
    ) -> Result<Issued> {
        let mut provider_found = false;
        let result = self
            .check_id_token(idp_id, id_token, nonce, at, &mut provider_found, now_ms)
            .await;
        let counted = provider_found.then_some(idp_id);
        super::count_sign_in(Protocol::Oidc, counted, &result);
        self.audit_federated_sign_in(Protocol::Oidc, counted, result.as_ref().map(|issued| &issued.ctx));
        result
    }

    /// As [`oidc_login`]; `provider_found` is set once `idp_id` is known to be configured (a
    /// label for the sign-in count that no client can invent).
    async fn check_id_token(
        &self,
        idp_id: &str,
        id_token: &str,
        nonce: Option<&str>,
        at: IdTokenUse,
        provider_found: &mut bool,
        now_ms: i64,
    ) -> Result<Issued> {
        let refuse = |reason: Refusal| Error::Refused {
            via: format!("id_token for {idp_id}/oidc"),
            reason,
        };
        let provider = self
            .oidc
            .provider(self.store.as_ref(), idp_id, now_ms)
            .await?
            .ok_or_else(|| refuse(Refusal::NotConfigured("OpenID Connect configuration")))?;
        *provider_found = true;
        let now_secs = now_ms.div_euclid(1000);
        let keys = self.oidc.keys(&provider, now_ms, false).await?;
        if provider.discovered && keys.keys().is_empty() {
            // Not the token's fault: discovery failed and no keys are known.
            let error = provider.last_error.lock().ok().and_then(|e| e.clone());
            return Err(refuse(Refusal::NoProviderKeys {
                issuer: provider.config.idp_url.clone(),
                error: error.unwrap_or_else(|| "no usable key".into()),
            }));
        }
        let verified = match verify_id_token(id_token, &keys, &provider.expect, now_secs, nonce) {
            Err(IdTokenError::UnknownKey(kid)) if provider.discovered => {
                tracing::debug!(idp.id = %idp_id, kid = %kid, "unknown kid; refreshing discovered keys");
                let keys = self.oidc.keys(&provider, now_ms, true).await?;
                verify_id_token(id_token, &keys, &provider.expect, now_secs, nonce)
            }
            other => other,
        }
        .map_err(|e| refuse(e.into()))?;
        // The jti names the token; without one, the digest of what was signed does (not of
        // the whole token: ECDSA signatures are malleable, (r, n - s) verifies too).
        let signed_part = id_token.rsplit_once('.').map_or(id_token, |(signed, _)| signed);
        let (what, namespace, key) = match &verified.jti {
            Some(jti) => ("jti", format!("oidc-jti:{idp_id}"), jti.clone()),
            None => (
                "id_token digest",
                format!("oidc-token:{idp_id}"),
                super::websso::digest(signed_part),
            ),
        };
        let expires_ms = (verified.expires_at_secs + provider.expect.skew_secs).saturating_mul(1000);
        let spent = if provider.config.single_use(at) {
            !self.store.remember_once(&namespace, &key, expires_ms, now_ms).await?
        } else {
            // Reusable here (v3oidcaccesstoken), but not once a single-use endpoint took it:
            // a browser's id_token, spent at the callback, stays spent.
            self.store.was_used(&namespace, &key, now_ms).await?
        };
        if spent {
            return Err(refuse(Refusal::Replayed { what, id: key }));
        }
        let attributes = verified.attributes().map_err(|e| refuse(e.into()))?;
        self.federated_login(idp_id, Protocol::Oidc, &attributes, now_ms).await
    }
}
