//! Permanent access keys (`/v3.0/OS-CREDENTIAL/credentials`, reference L3834-4310): issue,
//! list, show, enable or disable, delete; and what signed-request verification needs from
//! them (`permanent_key`, `note_key_use`).
//!
//! Secrets are sealed under the credential key (`credential_key.rs`) before they reach the
//! store and appear in exactly one answer, the create. Verification reads keys through a cache
//! kept for the refresh interval (unknown ids too, so invented ones cost one store read per
//! interval), dropped on every local write. Last uses are kept in memory and written by the
//! background refresh (`flush_key_uses`), never once per request.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use serde::Deserialize;
use zeroize::Zeroizing;

use super::credential_key::CredentialKey;
use super::names::parse_description;
use super::ttl_cache::{Spoil, TtlCache};
use super::{AuthContext, Error, Result, Services, Sts};
use crate::audit::{Action, Resource};
use crate::model::StoredAccessKey;
use crate::store::Store;

/// The reference's quota: a user holds at most two permanent access keys.
pub const MAX_KEYS_PER_USER: i64 = 2;
const ACCESS_LEN: usize = 20;
const SECRET_LEN: usize = 40;
const ACCESS_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
const SECRET_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
/// Last uses waiting for the flush; only verified keys are noted, so this is a safety bound.
const MAX_PENDING_USES: usize = 100_000;

/// A permanent access key as signed-request verification needs it.
pub struct PermanentKey {
    pub access: String,
    pub user_id: String,
    /// The secret access key, decrypted.
    pub secret: String,
    pub active: bool,
}

impl std::fmt::Debug for PermanentKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PermanentKey")
            .field("access", &self.access)
            .field("user_id", &self.user_id)
            .field("secret", &"[redacted]")
            .field("active", &self.active)
            .finish()
    }
}

impl Drop for PermanentKey {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.secret);
    }
}

/// A key as the API shows it (never with its secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credential {
    pub access: String,
    pub user_id: String,
    pub active: bool,
    pub description: String,
    pub created_at_ms: i64,
    /// The latest use this replica knows of (stored, or noted and not yet flushed).
    pub last_used_at_ms: Option<i64>,
}

impl Credential {
    pub fn status(&self) -> &'static str {
        if self.active { "active" } else { "inactive" }
    }

    /// The reference: the creation time when the key was never used.
    pub fn last_use_ms(&self) -> i64 {
        self.last_used_at_ms.unwrap_or(self.created_at_ms)
    }
}

/// A secret access key in plain text: only in the create answer. Never printed.
pub struct SecretKey(Zeroizing<String>);

impl SecretKey {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey([redacted])")
    }
}

/// A key just created, with its secret.
#[derive(Debug)]
pub struct NewCredential {
    pub credential: Credential,
    pub secret: SecretKey,
}

/// The `credential` object of create and update bodies. Unknown fields are ignored.
#[derive(Debug, Deserialize, Default, utoipa::ToSchema)]
pub struct CredentialInput {
    pub user_id: Option<String>,
    pub description: Option<String>,
    pub status: Option<String>,
}

#[derive(Debug, Deserialize, Default, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CredentialListQuery {
    pub user_id: Option<String>,
}

/// The service's access-key state: the credential key, the verification caches and the
/// last uses waiting to be written.
pub struct AccessKeys {
    key: CredentialKey,
    found: TtlCache<String, Arc<PermanentKey>>,
    missing: TtlCache<String, ()>,
    uses: Mutex<HashMap<String, i64>>,
    /// Store writes of last uses so far (one per flush that had something to write).
    use_writes: AtomicU64,
}

impl AccessKeys {
    /// Loads (or creates) the credential key and logs, once, when the store holds secrets
    /// sealed under another key: those keys fail verification but the replica serves.
    pub async fn load(store: &dyn Store, key_file: &std::path::Path, ttl_ms: i64) -> Result<Self> {
        let key = CredentialKey::load_or_create(key_file).map_err(Error::internal)?;
        let foreign: Vec<String> = store
            .access_key_fingerprints()
            .await?
            .into_iter()
            .filter(|f| f != key.fingerprint())
            .collect();
        if !foreign.is_empty() {
            tracing::error!(
                file = %key.path().display(),
                fingerprint = key.fingerprint(),
                stored = ?foreign,
                "the store holds access keys sealed under another credential key than this file's; \
                 they will fail verification until this replica is given the key file they were sealed with"
            );
        }
        Ok(Self {
            key,
            found: TtlCache::new(ttl_ms),
            missing: TtlCache::new(ttl_ms),
            uses: Mutex::new(HashMap::new()),
            use_writes: AtomicU64::new(0),
        })
    }

    /// For operator commands, which never seal or open a secret: a key drawn for this process
    /// alone, so no key file is read or created wherever the command happens to run.
    pub fn unused(ttl_ms: i64) -> Self {
        let mut key = Zeroizing::new([0u8; 32]);
        super::fill_random(key.as_mut());
        Self {
            key: CredentialKey::from_bytes(&key, std::path::PathBuf::new()),
            found: TtlCache::new(ttl_ms),
            missing: TtlCache::new(ttl_ms),
            uses: Mutex::new(HashMap::new()),
            use_writes: AtomicU64::new(0),
        }
    }

    /// Spoils what verification cached (a write here or elsewhere).
    pub fn spoil(&self, how: Spoil) {
        self.found.spoil(how);
        self.missing.spoil(how);
    }

    fn noted_use(&self, access: &str) -> Option<i64> {
        self.uses.lock().ok()?.get(access).copied()
    }

    fn credential(&self, k: &StoredAccessKey) -> Credential {
        let noted = self.noted_use(&k.access);
        Credential {
            access: k.access.clone(),
            user_id: k.user_id.clone(),
            active: k.enabled,
            description: k.description.clone(),
            created_at_ms: k.created_at_ms,
            last_used_at_ms: k.last_used_at_ms.max(noted),
        }
    }
}

/// True when `access` has the form of the ids this service issues.
fn looks_like_access_key(access: &str) -> bool {
    access.len() == ACCESS_LEN && access.bytes().all(|b| ACCESS_ALPHABET.contains(&b))
}

/// A new access key id, permanent or temporary: 20 upper-case letters and digits.
pub(super) fn new_access_key() -> String {
    random_text(ACCESS_ALPHABET, ACCESS_LEN)
}

/// A new secret access key: 40 letters and digits.
pub(super) fn new_secret_key() -> String {
    random_text(SECRET_ALPHABET, SECRET_LEN)
}

/// `len` characters drawn uniformly from `alphabet`: a random byte counts only below the
/// largest multiple of the alphabet's size, so no character is likelier than another.
fn random_text(alphabet: &[u8], len: usize) -> String {
    let limit = 256 - 256 % alphabet.len();
    let mut out = String::with_capacity(len);
    let mut bytes = [0u8; 64];
    while out.len() < len {
        super::fill_random(&mut bytes);
        for b in bytes.iter().map(|&b| usize::from(b)).filter(|&b| b < limit) {
            if out.len() == len {
                break;
            }
            out.push(char::from(alphabet[b % alphabet.len()]));
        }
    }
    out
}

fn parse_status(value: &str) -> Result<bool> {
    match value {
        "active" => Ok(true),
        "inactive" => Ok(false),
        _ => Err(Error::invalid("credential.status", "must be active or inactive")),
    }
}

/// A federated user signed in through a `virtual_user_sso` provider: no stored user row.
fn is_virtual_user(ctx: &AuthContext) -> bool {
    ctx.token.federation.as_ref().is_some_and(|f| !f.local_user)
}

impl Sts {
    /// A user manages its own keys; its domain's admins and cloud admins manage them too.
    /// `NotFound` when the user does not exist and is not the caller.
    /// The user itself, or an admin of its account; to change an account owner's keys, only
    /// the owner or a cloud admin: a key is a credential, and the account's IAM admins must
    /// not be able to sign as its owner (or lock it out).
    async fn authorize_keys_of(&self, ctx: &AuthContext, user_id: &str, write: bool) -> Result<()> {
        if ctx.user_id() == user_id {
            return Ok(());
        }
        let user = self
            .store
            .get_user(user_id)
            .await?
            .ok_or_else(|| Error::not_found("user", user_id))?;
        self.require_domain_admin(ctx, &user.domain_id)?;
        if write && user.is_domain_owner && !self.is_cloud_admin(ctx) {
            return Err(Error::Forbidden(format!(
                "user {} cannot change the access keys of the account owner {user_id}",
                ctx.user_id()
            )));
        }
        Ok(())
    }

    /// The key, if the caller may read it (or, with `write`, change it); `NotFound` when it
    /// does not exist.
    async fn managed_key(&self, ctx: &AuthContext, access: &str, write: bool) -> Result<StoredAccessKey> {
        let key = self
            .store
            .get_access_key(access)
            .await?
            .ok_or_else(|| Error::not_found("credential", access))?;
        self.authorize_keys_of(ctx, &key.user_id, write).await?;
        Ok(key)
    }

    pub async fn create_credential(
        &self,
        ctx: &AuthContext,
        input: CredentialInput,
        now_ms: i64,
    ) -> Result<NewCredential> {
        let result = self.create_credential_unaudited(ctx, input, now_ms).await;
        let access = result.as_ref().ok().map(|new| new.credential.access.as_str());
        self.audit_change(ctx, Action::Created(Resource::Credential), access, &result);
        result
    }

    /// [`Self::create_credential`] without its audit event.
    async fn create_credential_unaudited(
        &self,
        ctx: &AuthContext,
        input: CredentialInput,
        now_ms: i64,
    ) -> Result<NewCredential> {
        let user_id = input.user_id.ok_or_else(|| Error::MissingField {
            field: "credential.user_id".into(),
        })?;
        let description = parse_description("credential.description", input.description.as_deref().unwrap_or(""))?;
        if ctx.user_id() == user_id && is_virtual_user(ctx) {
            // 403, not 404: the caller exists, as a federated identity, but such users only
            // ever use tokens (reference L3642); there is no stored user to hold a key.
            return Err(Error::Forbidden(format!(
                "federated user {user_id} has no stored user and cannot hold permanent access keys"
            )));
        }
        self.authorize_keys_of(ctx, &user_id, true).await?;
        let access = new_access_key();
        let secret = SecretKey(Zeroizing::new(new_secret_key()));
        let keys = &self.access_keys;
        let sealed = keys
            .key
            .seal(&access, secret.expose())
            .ok_or_else(|| Error::internal("sealing an access key's secret failed"))?;
        let stored = StoredAccessKey {
            access,
            user_id,
            secret_sealed: sealed,
            key_id: keys.key.fingerprint().to_string(),
            enabled: true,
            description,
            created_at_ms: now_ms,
            last_used_at_ms: None,
        };
        if !self.store.create_access_key(&stored, MAX_KEYS_PER_USER).await? {
            return Err(Error::AccessKeyQuota {
                user_id: stored.user_id,
            });
        }
        keys.spoil(Spoil::All);
        tracing::info!(user.id = %stored.user_id, access = %stored.access, "access key created");
        Ok(NewCredential {
            credential: keys.credential(&stored),
            secret,
        })
    }

    /// The keys of `user_id`, or the caller's own.
    pub async fn list_credentials(&self, ctx: &AuthContext, q: CredentialListQuery) -> Result<Vec<Credential>> {
        let user_id = q.user_id.unwrap_or_else(|| ctx.user_id().to_string());
        self.authorize_keys_of(ctx, &user_id, false).await?;
        let keys = self.store.list_access_keys(&user_id).await?;
        Ok(keys.iter().map(|k| self.access_keys.credential(k)).collect())
    }

    pub async fn get_credential(&self, ctx: &AuthContext, access: &str) -> Result<Credential> {
        let key = self.managed_key(ctx, access, false).await?;
        Ok(self.access_keys.credential(&key))
    }

    pub async fn update_credential(
        &self,
        ctx: &AuthContext,
        access: &str,
        input: CredentialInput,
        now_ms: i64,
    ) -> Result<Credential> {
        let result = self.update_credential_unaudited(ctx, access, input, now_ms).await;
        self.audit_change(ctx, Action::Updated(Resource::Credential), Some(access), &result);
        result
    }

    /// [`Self::update_credential`] without its audit event.
    async fn update_credential_unaudited(
        &self,
        ctx: &AuthContext,
        access: &str,
        input: CredentialInput,
        now_ms: i64,
    ) -> Result<Credential> {
        if input.status.is_none() && input.description.is_none() {
            return Err(Error::invalid("credential", "names neither status nor description"));
        }
        let enabled = input.status.as_deref().map(parse_status).transpose()?;
        let description = input
            .description
            .as_deref()
            .map(|d| parse_description("credential.description", d))
            .transpose()?;
        let mut key = self.managed_key(ctx, access, true).await?;
        let deactivated = key.enabled && enabled == Some(false);
        key.enabled = enabled.unwrap_or(key.enabled);
        key.description = description.unwrap_or(key.description);
        if !self
            .store
            .update_access_key(access, key.enabled, &key.description)
            .await?
        {
            return Err(Error::not_found("credential", access));
        }
        if deactivated {
            // The temporary credentials the key obtained end with it.
            self.tokens
                .revoke_root(super::sts::access_key_root(access), now_ms)
                .await?;
        }
        self.access_keys.spoil(Spoil::All);
        tracing::info!(access = %access, active = key.enabled, "access key updated");
        Ok(self.access_keys.credential(&key))
    }

    pub async fn delete_credential(&self, ctx: &AuthContext, access: &str, now_ms: i64) -> Result<()> {
        let result = self.delete_credential_unaudited(ctx, access, now_ms).await;
        self.audit_change(ctx, Action::Deleted(Resource::Credential), Some(access), &result);
        result
    }

    /// [`Self::delete_credential`] without its audit event.
    async fn delete_credential_unaudited(&self, ctx: &AuthContext, access: &str, now_ms: i64) -> Result<()> {
        self.managed_key(ctx, access, true).await?;
        if !self.store.delete_access_key(access).await? {
            return Err(Error::not_found("credential", access));
        }
        self.tokens
            .revoke_root(super::sts::access_key_root(access), now_ms)
            .await?;
        self.access_keys.spoil(Spoil::All);
        if let Ok(mut uses) = self.access_keys.uses.lock() {
            uses.remove(access);
        }
        tracing::info!(access = %access, "access key deleted");
        Ok(())
    }

    /// How many times last uses were written to the store (each a single transaction).
    pub fn key_use_writes(&self) -> u64 {
        self.access_keys.use_writes.load(Ordering::Relaxed)
    }

    /// The fingerprint of this replica's credential key.
    pub fn credential_key_fingerprint(&self) -> &str {
        self.access_keys.key.fingerprint()
    }
}

impl Services {
    // Shared with other use-case services.
    /// Writes the noted last uses in one store transaction (the background refresh calls
    /// this every interval). What was written leaves memory; uses noted meanwhile stay.
    /// Returns how many keys changed.
    pub async fn flush_key_uses(&self) -> Result<u64> {
        let keys = &self.access_keys;
        let batch: Vec<(String, i64)> = match keys.uses.lock() {
            Ok(uses) => uses.iter().map(|(k, v)| (k.clone(), *v)).collect(),
            Err(_) => return Ok(0),
        };
        if batch.is_empty() {
            return Ok(0);
        }
        let changed = self.store.record_access_key_uses(&batch).await?;
        keys.use_writes.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut uses) = keys.uses.lock() {
            for (access, at) in &batch {
                if uses.get(access).is_some_and(|now| now <= at) {
                    uses.remove(access);
                }
            }
        }
        Ok(changed)
    }

    /// Notes that a request signed with `access` verified at `now_ms`. Kept in memory;
    /// `flush_key_uses` writes it.
    pub fn note_key_use(&self, access: &str, now_ms: i64) {
        let Ok(mut uses) = self.access_keys.uses.lock() else {
            return;
        };
        if let Some(at) = uses.get_mut(access) {
            *at = (*at).max(now_ms);
        } else if uses.len() < MAX_PENDING_USES {
            uses.insert(access.to_string(), now_ms);
        }
    }

    /// The permanent key with this access key id, or None when there is none. A key whose
    /// secret does not open (sealed under another credential key, or damaged) is None too.
    pub async fn permanent_key(&self, access: &str, now_ms: i64) -> Result<Option<Arc<PermanentKey>>> {
        if !looks_like_access_key(access) {
            return Ok(None);
        }
        let keys = &self.access_keys;
        let access_owned = access.to_string();
        if let Some(hit) = keys.found.get(&access_owned, now_ms) {
            return Ok(Some(hit));
        }
        if keys.missing.get(&access_owned, now_ms).is_some() {
            return Ok(None);
        }
        let (found_generation, missing_generation) = (keys.found.generation(), keys.missing.generation());
        let load = async {
            Ok(match self.store.get_access_key(access).await? {
                None => None,
                Some(stored) => match keys.key.open(&stored.access, &stored.key_id, &stored.secret_sealed) {
                    Ok(secret) => Some(Arc::new(PermanentKey {
                        access: stored.access,
                        user_id: stored.user_id,
                        secret: secret.to_string(),
                        active: stored.enabled,
                    })),
                    Err(e) => {
                        // Cached as missing below, so this is logged once per interval and key.
                        tracing::warn!(access = %access, reason = %e, "access key cannot be opened; it fails verification");
                        None
                    }
                },
            })
        };
        let stale = keys
            .found
            .get_stale(&access_owned, now_ms, super::ttl_cache::SERVE_STALE_MS)
            .map(Some);
        let (opened, fresh) = self.outage.fresh_or_stale(now_ms, stale, load).await?;
        if !fresh {
            return Ok(opened);
        }
        match opened {
            Some(key) => {
                keys.found.put(access_owned, key.clone(), found_generation, now_ms);
                Ok(Some(key))
            }
            None => {
                keys.missing.put(access_owned, (), missing_generation, now_ms);
                Ok(None)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_and_secrets_have_the_reference_form() {
        for _ in 0..100 {
            let access = new_access_key();
            assert!(looks_like_access_key(&access), "{access}");
            let secret = new_secret_key();
            assert_eq!(secret.len(), 40);
            assert!(secret.bytes().all(|b| b.is_ascii_alphanumeric()));
        }
        assert!(!looks_like_access_key("abcdefghijklmnopqrst"));
        assert!(!looks_like_access_key("ABC"));
        let shown = format!(
            "{:?}",
            PermanentKey {
                access: "A".into(),
                user_id: "u".into(),
                secret: "plain".into(),
                active: true
            }
        );
        assert!(!shown.contains("plain"));
        assert!(!format!("{:?}", SecretKey(Zeroizing::new("plain".into()))).contains("plain"));
    }

    /// Every character of each alphabet is drawn, and nothing else.
    #[test]
    fn generators_draw_the_whole_alphabet() {
        for (alphabet, len) in [(ACCESS_ALPHABET, ACCESS_LEN), (SECRET_ALPHABET, SECRET_LEN)] {
            let drawn: String = (0..400).map(|_| random_text(alphabet, len)).collect();
            assert_eq!(drawn.len(), 400 * len);
            for c in alphabet {
                assert!(drawn.as_bytes().contains(c), "{} never drawn", char::from(*c));
            }
            assert!(drawn.bytes().all(|b| alphabet.contains(&b)));
        }
    }

    #[test]
    fn status_is_active_or_inactive() {
        assert_eq!(parse_status("active").ok(), Some(true));
        assert_eq!(parse_status("inactive").ok(), Some(false));
        assert!(
            matches!(parse_status("Active"), Err(Error::InvalidField { field, .. }) if field == "credential.status")
        );
    }
}
