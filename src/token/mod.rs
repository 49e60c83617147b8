//! Self-contained tokens: a compact binary payload sealed with AES-256-GCM under a key ring.
//!
//! Validation needs no database: `KeyRing::open` decrypts, authenticates and checks expiry
//! against the `now` it is given; `RevocationList::is_revoked` checks the in-memory events.
//! This module does not read the clock, generate randomness (nonces and audit ids come in as
//! arguments), load keys (the service loads them from the store), or resolve names and roles.

mod credential;
mod keyring;
mod payload;
mod revocation;

pub use credential::{LoginToken, MAX_POLICIES, MAX_SECURITY_TOKEN_CHARS, TemporaryCredential};
pub use keyring::{KeyRing, Sealed, TokenKey};
pub use payload::{
    AgencySession, AuditId, Federation, MAX_AUDIT_CHAIN, Methods, Scope, TokenPayload, derived_audit_chain,
};
pub use revocation::{RevocationEvent, RevocationList};

/// Why a token was refused. The caller only ever learns "not authenticated"; the variant goes
/// to the log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("token is not valid base64url")]
    NotBase64,
    #[error("token is too short or too long ({len} bytes)")]
    BadLength { len: usize },
    #[error("unsupported token version {0}")]
    UnsupportedVersion(u8),
    #[error("token was sealed with unknown key {0}")]
    UnknownKey(u32),
    #[error("token failed authentication")]
    Forged,
    #[error("token payload is malformed: {0}")]
    Malformed(&'static str),
    #[error("token expired at {expires_at_ms} (now {now_ms})")]
    Expired { expires_at_ms: i64, now_ms: i64 },
    #[error("token issued in the future at {issued_at_ms} (now {now_ms})")]
    NotYetValid { issued_at_ms: i64, now_ms: i64 },
    #[error("key ring is empty")]
    EmptyKeyRing,
}
