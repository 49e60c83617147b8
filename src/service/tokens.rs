//! Token keys and revocation events, loaded from the shared store and cached in memory.
//!
//! Where keys live: in the store's `token_keys` table, so every replica pointed at the same
//! database (PostgreSQL for several replicas) has the same ring without copying files. A
//! replica re-reads the ring every refresh interval, and at once (rate-limited) when it meets a
//! token sealed with a key it does not know yet, so a rotation elsewhere is picked up before
//! any client notices. Revocation events are polled by sequence number on the same interval
//! (with late commits of lower numbers picked up, see `PollState`); revocations made by this
//! replica apply immediately. An event made on another replica therefore applies here within
//! one refresh interval plus one poll of its commit.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use arc_swap::ArcSwap;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use tokio::sync::Mutex;

use super::error::{Error, Result};
use crate::model::{StoredKey, StoredRevocation};
use crate::store::{Store, StoreError};
use crate::token::{
    AuditId, KeyRing, LoginToken, RevocationEvent, RevocationList, TemporaryCredential, TokenError, TokenKey,
    TokenPayload,
};

/// Minimum time between two on-demand key reloads triggered by unknown key ids, so forged
/// tokens naming random keys cannot hammer the store.
const RELOAD_COOLDOWN_MS: i64 = 1_000;

/// Where revocation polling stands.
#[derive(Default)]
struct PollState {
    loaded: bool,
    /// Highest sequence number applied.
    last_seq: i64,
    /// Numbers below `last_seq` not seen yet, with when they were first missed. On PostgreSQL
    /// a transaction that drew its number first can commit after one that drew a later number,
    /// so the polls re-read from the oldest gap until it fills, or until it has waited long
    /// enough to be a rolled-back insert.
    gaps: BTreeMap<i64, i64>,
    last_pruned_ms: i64,
}

/// How long a missing sequence number is waited for. Far above any transaction fedgate runs
/// (one INSERT); a gap older than this is a rollback.
const GAP_WAIT_MS: i64 = 10 * 60 * 1000;
/// At most this many gaps are tracked (a burst of rollbacks cannot grow the set).
const MAX_GAPS: usize = 4096;
/// Before a replica has seen any event, numbers this close below the first one it sees are
/// watched as possible late commits (the lower ones belong to expired or pruned events).
const START_WINDOW: i64 = 64;
/// The in-memory list drops expired events at most this often.
const PRUNE_EVERY_MS: i64 = 60_000;
/// Audit-id revocations of one user, within a token lifetime on one replica, before they turn
/// into one revocation of all the user's tokens.
pub const MAX_AUDIT_EVENTS_PER_USER: u32 = 10_000;
/// Replicas' clocks differ by up to this much; events outlive their tokens by it.
const CLOCK_SKEW_MS: i64 = 60_000;

pub struct TokenService {
    store: Arc<dyn Store>,
    ring: ArcSwap<KeyRing>,
    /// Read on every validation, written on a revoke or a poll that found events: a revoke
    /// inserts one entry instead of copying the list.
    revocations: RwLock<RevocationList>,
    audit_budget: std::sync::Mutex<AuditBudget>,
    poll: Mutex<PollState>,
    last_reload_ms: Mutex<i64>,
    ttl_ms: i64,
}

/// Why a presented token is not accepted.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error(transparent)]
    Token(#[from] TokenError),
    #[error("token has been revoked")]
    Revoked,
}

impl TokenService {
    /// Loads the key ring (creating the first key on a fresh store) and the revocation events.
    pub async fn load(store: Arc<dyn Store>, ttl_secs: i64, now_ms: i64) -> Result<Self> {
        ensure_first_key(store.as_ref(), now_ms).await?;
        let ring = load_ring(store.as_ref()).await?;
        let svc = Self {
            store,
            ring: ArcSwap::from_pointee(ring),
            revocations: RwLock::new(RevocationList::default()),
            audit_budget: std::sync::Mutex::new(AuditBudget::new(MAX_AUDIT_EVENTS_PER_USER, ttl_secs * 1000)),
            poll: Mutex::new(PollState::default()),
            last_reload_ms: Mutex::new(now_ms),
            ttl_ms: ttl_secs * 1000,
        };
        let _ = svc.poll_revocations(now_ms).await?;
        Ok(svc)
    }

    pub fn ttl_ms(&self) -> i64 {
        self.ttl_ms
    }

    pub fn primary_key_id(&self) -> u32 {
        self.ring.load().primary_id()
    }

    pub fn seal(&self, payload: &TokenPayload) -> String {
        self.ring.load().seal(payload, fresh_nonce())
    }

    /// Decrypts, authenticates, time-checks and revocation-checks a token. No store access
    /// unless the token names a key this replica has not loaded yet.
    pub async fn open(&self, token: &str, now_ms: i64) -> Result<TokenPayload, OpenError> {
        let payload = self.open_reloading(now_ms, |ring| ring.open(token, now_ms)).await?;
        self.check_revoked(&payload)?;
        Ok(payload)
    }

    /// Opens a security token and checks the token it carries for revocation.
    pub async fn open_credential(&self, security_token: &str, now_ms: i64) -> Result<TemporaryCredential, OpenError> {
        let credential = self
            .open_reloading(now_ms, |ring| ring.open_credential(security_token, now_ms))
            .await?;
        self.check_revoked(&credential.token)?;
        Ok(credential)
    }

    pub fn seal_credential(&self, credential: &TemporaryCredential) -> String {
        self.ring.load().seal_credential(credential, fresh_nonce())
    }

    pub fn seal_login_token(&self, login: &LoginToken) -> String {
        self.ring.load().seal_login_token(login, fresh_nonce())
    }

    pub async fn open_login_token(&self, login_token: &str, now_ms: i64) -> Result<LoginToken, OpenError> {
        let login = self
            .open_reloading(now_ms, |ring| ring.open_login_token(login_token, now_ms))
            .await?;
        self.check_revoked(&login.token)?;
        Ok(login)
    }

    /// `open` with the ring, reloading it once when the value names a key not loaded yet.
    async fn open_reloading<T>(
        &self,
        now_ms: i64,
        open: impl Fn(&KeyRing) -> Result<T, TokenError>,
    ) -> Result<T, TokenError> {
        match open(&self.ring.load()) {
            Err(TokenError::UnknownKey(id)) => {
                self.reload_ring_for(id, now_ms).await;
                open(&self.ring.load())
            }
            other => other,
        }
    }

    /// The in-memory part of `open`, for callers (and benchmarks) that already hold the ring.
    pub fn open_cached(&self, token: &str, now_ms: i64) -> Result<TokenPayload, OpenError> {
        let payload = self.ring.load().open(token, now_ms)?;
        self.check_revoked(&payload)?;
        Ok(payload)
    }

    /// Whether a payload (a token's, or one about to be sealed) is revoked by a known event.
    pub fn check_revoked(&self, payload: &TokenPayload) -> Result<(), OpenError> {
        if self.list().is_revoked(payload) {
            return Err(OpenError::Revoked);
        }
        Ok(())
    }

    fn list(&self) -> std::sync::RwLockReadGuard<'_, RevocationList> {
        // A panic while holding the lock cannot leave the list half-written (inserts are
        // single map operations), so a poisoned lock is still usable.
        self.revocations.read().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn list_mut(&self) -> std::sync::RwLockWriteGuard<'_, RevocationList> {
        self.revocations
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    async fn reload_ring_for(&self, key_id: u32, now_ms: i64) {
        let mut last = self.last_reload_ms.lock().await;
        if self.ring.load().contains(key_id) || now_ms - *last < RELOAD_COOLDOWN_MS {
            return;
        }
        *last = now_ms;
        match load_ring(self.store.as_ref()).await {
            Ok(ring) => self.ring.store(Arc::new(ring)),
            Err(e) => tracing::warn!(error = %e, "reloading token keys failed; keeping the current ring"),
        }
    }

    /// Revokes one token and what was derived from it: the event lasts as long as the token.
    /// A user whose tokens are revoked one by one more than `MAX_AUDIT_EVENTS_PER_USER` times
    /// within a token lifetime (deriving costs nothing, so a script could grow the list) gets
    /// one event for all of its tokens instead, and the count starts again.
    pub async fn revoke_token(&self, token: &TokenPayload, now_ms: i64) -> Result<()> {
        let audit = token
            .audit_id()
            .copied()
            .ok_or_else(|| Error::internal("token without audit id"))?;
        if self.count_audit_revocation(&token.user_id, now_ms) {
            tracing::warn!(user.id = %token.user_id, "many tokens revoked one by one; revoking all of the user's tokens at once");
            return self.revoke_user(&token.user_id, now_ms).await;
        }
        self.revoke(RevocationEvent::AuditId(audit), token.expires_at_ms + CLOCK_SKEW_MS)
            .await
    }

    fn count_audit_revocation(&self, user_id: &str, now_ms: i64) -> bool {
        let mut budget = self
            .audit_budget
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        budget.spend(user_id, now_ms)
    }

    /// Revokes every token of a user whose authentication was at or before `now_ms`.
    pub async fn revoke_user(&self, user_id: &str, now_ms: i64) -> Result<()> {
        let event = RevocationEvent::User {
            user_id: user_id.to_string(),
            authenticated_before_ms: now_ms,
        };
        self.revoke(event, self.outlives_every_token(now_ms)).await
    }

    /// Revokes every token through an identity provider authenticated at or before `now_ms`.
    pub async fn revoke_identity_provider(&self, idp_id: &str, now_ms: i64) -> Result<()> {
        let event = RevocationEvent::IdentityProvider {
            idp_id: idp_id.to_string(),
            authenticated_before_ms: now_ms,
        };
        self.revoke(event, self.outlives_every_token(now_ms)).await
    }

    /// Revokes every token and credential acting as an agency, assumed at or before `now_ms`.
    pub async fn revoke_agency(&self, agency_id: &str, now_ms: i64) -> Result<()> {
        let event = RevocationEvent::Agency {
            agency_id: agency_id.to_string(),
            authenticated_before_ms: now_ms,
        };
        self.revoke(event, self.outlives_every_token(now_ms)).await
    }

    /// Revokes what descends from `root` (a permanent access key's requests) authenticated at
    /// or before `now_ms`; later uses of the same root stay valid.
    pub async fn revoke_root(&self, root: AuditId, now_ms: i64) -> Result<()> {
        let event = RevocationEvent::Root {
            audit_id: root,
            authenticated_before_ms: now_ms,
        };
        self.revoke(event, self.outlives_every_token(now_ms)).await
    }

    /// Every token authenticated by `now_ms` has expired by this instant: derived tokens keep
    /// their parent's expiry, so none lives longer than the token lifetime after it.
    fn outlives_every_token(&self, now_ms: i64) -> i64 {
        now_ms + self.ttl_ms + CLOCK_SKEW_MS
    }

    /// Records a revocation in the store and applies it here at once.
    async fn revoke(&self, event: RevocationEvent, expires_at_ms: i64) -> Result<()> {
        self.store.insert_revocation(&to_stored(&event, expires_at_ms)).await?;
        self.list_mut().insert(event, expires_at_ms);
        Ok(())
    }

    /// Re-reads keys and new revocation events: what other replicas did since the last call.
    /// True when new events were applied.
    pub async fn refresh(&self, now_ms: i64) -> Result<bool> {
        let ring = load_ring(self.store.as_ref()).await?;
        if ring.key_ids() != self.ring.load().key_ids() {
            tracing::info!(primary = ring.primary_id(), "token key ring changed");
            self.ring.store(Arc::new(ring));
        }
        self.poll_revocations(now_ms).await
    }

    /// Applies events committed since the last poll, including ones that committed after a
    /// later-numbered event this replica has already seen. True when there were any.
    async fn poll_revocations(&self, now_ms: i64) -> Result<bool> {
        let mut poll = self.poll.lock().await;
        poll.gaps.retain(|_, missed_at| now_ms - *missed_at < GAP_WAIT_MS);
        let from = match poll.gaps.keys().next() {
            Some(oldest_gap) => oldest_gap - 1,
            None => poll.last_seq,
        };
        let events = self.store.list_revocations(from, now_ms).await?;
        let mut fresh = Vec::new();
        for (seq, stored) in events {
            if seq > poll.last_seq {
                // Until a first event is seen, the numbers below it are expired or pruned events,
                // except for those a concurrent transaction may still commit, just below.
                let skipped_from = if poll.loaded && poll.last_seq > 0 {
                    poll.last_seq + 1
                } else {
                    (seq - START_WINDOW).max(poll.last_seq + 1)
                };
                // Nearest first: at the cap, the numbers just below `seq` are the ones a late
                // commit can still fill (a replica that loaded no event starts from 0).
                for missing in (skipped_from..seq).rev() {
                    if poll.gaps.len() >= MAX_GAPS {
                        break;
                    }
                    poll.gaps.insert(missing, now_ms);
                }
                poll.last_seq = seq;
            } else if poll.gaps.remove(&seq).is_none() {
                // Applied before: re-read because an older gap is still open.
                continue;
            }
            match from_stored(&stored) {
                Some(event) => fresh.push((event, stored.expires_at_ms)),
                None => tracing::warn!(seq, kind = %stored.kind, "ignoring unreadable revocation event"),
            }
        }
        poll.loaded = true;
        let prune = now_ms - poll.last_pruned_ms >= PRUNE_EVERY_MS;
        let any = !fresh.is_empty();
        if !any && !prune {
            return Ok(false);
        }
        let mut list = self.list_mut();
        for (event, expires_at_ms) in fresh {
            list.insert(event, expires_at_ms);
        }
        if prune {
            list.prune(now_ms);
            poll.last_pruned_ms = now_ms;
        }
        Ok(any)
    }

    pub fn revocation_count(&self) -> usize {
        self.list().len()
    }

    /// Sequence numbers this replica still waits for (tests and diagnostics).
    pub async fn revocation_gaps(&self) -> Vec<i64> {
        self.poll.lock().await.gaps.keys().copied().collect()
    }
}

/// Audit-id revocations per user within a window (a token lifetime).
struct AuditBudget {
    limit: u32,
    window_ms: i64,
    /// User -> (window start, revocations in it).
    counts: std::collections::HashMap<String, (i64, u32)>,
}

impl AuditBudget {
    fn new(limit: u32, window_ms: i64) -> Self {
        AuditBudget {
            limit,
            window_ms,
            counts: std::collections::HashMap::new(),
        }
    }

    /// Counts one revocation of the user's; true when that reaches the limit (the count then
    /// starts again).
    fn spend(&mut self, user_id: &str, now_ms: i64) -> bool {
        let window = self.window_ms;
        if self.counts.len() >= 10_000 {
            self.counts.retain(|_, (since, _)| now_ms - *since < window);
        }
        let entry = self.counts.entry(user_id.to_string()).or_insert((now_ms, 0));
        if now_ms - entry.0 >= window {
            *entry = (now_ms, 0);
        }
        entry.1 += 1;
        if entry.1 >= self.limit {
            self.counts.remove(user_id);
            return true;
        }
        false
    }
}

fn to_stored(event: &RevocationEvent, expires_at_ms: i64) -> StoredRevocation {
    let (kind, subject, before_ms) = match event {
        RevocationEvent::AuditId(id) => ("audit", hex::encode(id), 0),
        RevocationEvent::User {
            user_id,
            authenticated_before_ms,
        } => ("user", user_id.clone(), *authenticated_before_ms),
        RevocationEvent::IdentityProvider {
            idp_id,
            authenticated_before_ms,
        } => ("idp", idp_id.clone(), *authenticated_before_ms),
        RevocationEvent::Agency {
            agency_id,
            authenticated_before_ms,
        } => ("agency", agency_id.clone(), *authenticated_before_ms),
        RevocationEvent::Root {
            audit_id,
            authenticated_before_ms,
        } => ("root", hex::encode(audit_id), *authenticated_before_ms),
    };
    StoredRevocation {
        kind: kind.into(),
        subject,
        authenticated_before_ms: before_ms,
        expires_at_ms,
    }
}

fn from_stored(s: &StoredRevocation) -> Option<RevocationEvent> {
    match s.kind.as_str() {
        "audit" => {
            let mut id = [0u8; 16];
            hex::decode_to_slice(&s.subject, &mut id).ok()?;
            Some(RevocationEvent::AuditId(id))
        }
        "user" => Some(RevocationEvent::User {
            user_id: s.subject.clone(),
            authenticated_before_ms: s.authenticated_before_ms,
        }),
        "idp" => Some(RevocationEvent::IdentityProvider {
            idp_id: s.subject.clone(),
            authenticated_before_ms: s.authenticated_before_ms,
        }),
        "root" => {
            let mut id = [0u8; 16];
            hex::decode_to_slice(&s.subject, &mut id).ok()?;
            Some(RevocationEvent::Root {
                audit_id: id,
                authenticated_before_ms: s.authenticated_before_ms,
            })
        }
        "agency" => Some(RevocationEvent::Agency {
            agency_id: s.subject.clone(),
            authenticated_before_ms: s.authenticated_before_ms,
        }),
        _ => None,
    }
}

fn fresh_nonce() -> [u8; 12] {
    let mut nonce = [0u8; 12];
    super::fill_random(&mut nonce);
    nonce
}

fn new_secret() -> String {
    let mut secret = [0u8; 32];
    super::fill_random(&mut secret);
    STANDARD.encode(secret)
}

async fn ensure_first_key(store: &dyn Store, now_ms: i64) -> Result<()> {
    if !store.list_token_keys().await?.is_empty() {
        return Ok(());
    }
    let key = StoredKey {
        id: 1,
        secret: new_secret(),
        created_at_ms: now_ms,
    };
    match store.insert_token_key(&key).await {
        // Another replica created it first: use theirs.
        Ok(()) | Err(StoreError::Conflict(_)) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

async fn load_ring(store: &dyn Store) -> Result<KeyRing> {
    let keys = store
        .list_token_keys()
        .await?
        .into_iter()
        .map(|k| {
            let bytes = STANDARD
                .decode(&k.secret)
                .map_err(|_| Error::internal(format!("token key {} is not base64", k.id)))?;
            let secret: [u8; 32] = bytes
                .try_into()
                .map_err(|_| Error::internal(format!("token key {} is not 32 bytes", k.id)))?;
            Ok(TokenKey::new(k.id, secret))
        })
        .collect::<Result<Vec<_>>>()?;
    KeyRing::new(&keys).map_err(Error::internal)
}

/// Outcome of `rotate_keys`.
#[derive(Debug)]
pub struct Rotation {
    pub new_primary: u32,
    pub retired: u64,
}

/// Adds a new primary key. Older keys stay until every token they sealed has expired (the
/// token lifetime after the key was superseded, plus a minute of clock skew).
pub async fn rotate_keys(store: &dyn Store, ttl_secs: i64, now_ms: i64) -> Result<Rotation> {
    ensure_first_key(store, now_ms).await?;
    let keys = store.list_token_keys().await?;
    let newest = keys.iter().map(|k| k.id).max().unwrap_or(0);
    let new_primary = newest
        .checked_add(1)
        .ok_or_else(|| Error::internal("token key ids exhausted"))?;
    store
        .insert_token_key(&StoredKey {
            id: new_primary,
            secret: new_secret(),
            created_at_ms: now_ms,
        })
        .await?;
    // Key k was superseded when key k+1 was created; it may go once that is a lifetime ago.
    let retire_before = now_ms - ttl_secs * 1000 - 60_000;
    let mut keep_from = new_primary;
    for pair in keys.windows(2) {
        if pair[1].created_at_ms > retire_before {
            keep_from = keep_from.min(pair[0].id);
        }
    }
    if let Some(last) = keys.last() {
        // The previous primary was superseded just now.
        keep_from = keep_from.min(last.id);
    }
    let retired = store.delete_token_keys_before(keep_from).await?;
    Ok(Rotation { new_primary, retired })
}

#[cfg(test)]
mod tests {
    use super::AuditBudget;

    #[test]
    fn revoking_one_by_one_turns_into_one_event_at_the_limit() {
        let mut budget = AuditBudget::new(3, 1_000);
        let spent: Vec<bool> = (0..7).map(|i| budget.spend("u1", i)).collect();
        assert_eq!(
            spent,
            [false, false, true, false, false, true, false],
            "every third, then again"
        );
        assert!(!budget.spend("u2", 7), "users count apart");
        // A new window starts the count again.
        let mut budget = AuditBudget::new(3, 1_000);
        assert!(!budget.spend("u1", 0));
        assert!(!budget.spend("u1", 1));
        assert!(!budget.spend("u1", 1_001), "the window passed");
        assert!(!budget.spend("u1", 1_002));
        assert!(budget.spend("u1", 1_003));
    }
}
