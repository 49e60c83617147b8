//! OpenID Connect, relying-party side: validation of a provider's configuration and of the
//! JWKS it is trusted with, and verification of the id_tokens it issues. Pure: no I/O
//! (discovery and JWKS fetching belong to `upstream`), no clock (`now` is a parameter).

pub mod ci;
mod config;
mod id_token;
mod jwk;

pub use config::{
    AccessMode, DEFAULT_MAX_TOKEN_AGE_SECS, DEFAULT_MAX_TOKEN_LIFETIME_SECS, IdTokenUse, MAX_FINGERPRINTS, OidcConfig,
    OidcConfigInput, parse_fingerprint, parse_jwks,
};
pub use id_token::{
    Expectations, IdTokenError, JwsPart, MAX_ID_TOKEN_BYTES, MAX_JSON_DEPTH, VerifiedIdToken, claims_to_attributes,
    verify_id_token,
};
pub use jwk::{Jwk, KeySet, RawJwk};

/// Parses JWKS text into verification keys; entries outside the allow-list are skipped.
pub fn key_set(jwks_text: &str) -> Result<KeySet, OidcError> {
    serde_json::from_str(jwks_text).map_err(|e| invalid("signing_key", format!("is not a usable JWKS: {e}")))
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OidcError {
    #[error("{field}: {reason}")]
    InvalidField { field: String, reason: String },
}

fn invalid(field: &str, reason: impl Into<String>) -> OidcError {
    OidcError::InvalidField {
        field: field.to_string(),
        reason: reason.into(),
    }
}
