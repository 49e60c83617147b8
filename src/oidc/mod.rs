//! OpenID Connect, relying-party side. Today: validation of a provider's configuration and of
//! the JWKS it is trusted with. Pure: no I/O (discovery and JWKS fetching belong to
//! `upstream`), no clock.

mod config;

pub use config::{AccessMode, OidcConfig, OidcConfigInput, parse_jwks};

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
