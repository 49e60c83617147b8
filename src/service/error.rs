//! The service layer's error: what went wrong, in terms the HTTP layer maps to a status and a
//! Keystone or IAM body (`http::error`). Reasons for authentication failures are for the log.

use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A field failed validation. `field` is the JSON path of the offending value.
    #[error("invalid input for field '{field}': {reason}")]
    InvalidField { field: String, reason: String },
    /// A required field is absent.
    #[error("'{field}' is a required property")]
    MissingField { field: String },
    #[error("{0}")]
    BadRequest(String),
    /// An IAM rule with its own code (user APIs: "1109" and friends).
    #[error("{message}")]
    IamRule { code: &'static str, message: String },
    /// The caller is not authenticated. The reason goes to the log only.
    #[error("not authenticated: {0}")]
    Unauthenticated(String),
    /// Authenticated but not allowed. The reason goes to the log only.
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// Password login refused because the user is locked out after repeated failures
    /// (IAM.0061, "Account locked."). The user id and the time are for the log.
    #[error("user {user_id} is locked out until {until_ms}")]
    Locked { user_id: String, until_ms: i64 },
    /// Admission control refused the work (429); the client may retry after the given time.
    #[error("too many requests: {what}")]
    TooManyRequests { what: String, retry_after_secs: u64 },
    #[error("could not find {kind}: {id}")]
    NotFound { kind: &'static str, id: String },
    /// X-Subject-Token is invalid; the reason goes to the log only.
    #[error("subject token invalid: {0}")]
    SubjectTokenInvalid(String),
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("request body is larger than {limit} bytes")]
    PayloadTooLarge { limit: usize },
    #[error("unsupported media type: expected {expected}")]
    UnsupportedMediaType { expected: &'static str },
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::InvalidField {
            field: field.into(),
            reason: reason.into(),
        }
    }

    pub fn not_found(kind: &'static str, id: impl Into<String>) -> Self {
        Error::NotFound { kind, id: id.into() }
    }
}

impl From<StoreError> for Error {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(what) => Error::Conflict(what),
            other => Error::Internal(other.to_string()),
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
