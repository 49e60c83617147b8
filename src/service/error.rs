//! The service layer's error: what went wrong, in terms the HTTP layer maps to a status and a
//! Keystone or IAM body (`http::error`). Reasons for authentication failures are for the log.

use crate::oidc::IdTokenError;
use crate::saml::SamlError;
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
    IamRule { code: IamCode, message: String },
    /// The caller is not authenticated. The reason goes to the log only.
    #[error("not authenticated: {0}")]
    Unauthenticated(String),
    /// A federated sign-in (an id_token or a SAML Response) was refused: answered like
    /// `Unauthenticated`; `via` and the typed reason go to the log, and tests match the reason.
    #[error("not authenticated: {via}: {reason}")]
    Refused { via: String, reason: Refusal },
    /// Authenticated but not allowed. The reason goes to the log only.
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// Not allowed in the resource's present state, with a message the caller may see
    /// (Keystone's ForbiddenNotSecurity: deleting an enabled domain).
    #[error("{0}")]
    ForbiddenNow(String),
    /// Password login refused because the user is locked out after repeated failures
    /// (IAM.0061, "Account locked."). The user id and the time are for the log.
    #[error("user {user_id} is locked out until {until_ms}")]
    Locked { user_id: String, until_ms: i64 },
    /// Admission control refused the work (429); the client may retry after the given time.
    #[error("too many requests: {what}")]
    TooManyRequests { what: String, retry_after_secs: u64 },
    /// The user already holds the most permanent access keys allowed (reference L3915:
    /// answered with its own body, `akSkNumExceed`).
    #[error("user {user_id} already holds the most access keys allowed")]
    AccessKeyQuota { user_id: String },
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
    /// The store cannot be reached or cannot write now (503): the request may be retried as
    /// it is. The cause is for the log.
    #[error("store unavailable: {0}")]
    Unavailable(#[source] BoxError),
    /// fedgate or something under it failed; the cause (with its own sources) is for the log.
    #[error("internal error: {0}")]
    Internal(#[source] BoxError),
}

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A cause with what fedgate was doing when it happened.
#[derive(Debug, thiserror::Error)]
#[error("{context}")]
pub struct Context {
    context: String,
    #[source]
    source: BoxError,
}

/// The reference's codes for rules that answer with their own code and message. The code, not
/// its text, decides the status: a refusal is 403, a rule of the input 400.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IamCode {
    /// 1101: the user name's form.
    InvalidUserName,
    /// 1102
    InvalidEmail,
    /// 1103: the old password of a password change.
    IncorrectPassword,
    /// 1104
    InvalidMobile,
    /// 1106: country code and number go together.
    MobileWithoutCountryCode,
    /// 1107: an account's owner stays.
    OwnerUndeletable,
    /// 1108
    PasswordUnchanged,
    /// 1109: on the OS-USER paths (Keystone's answer elsewhere is 409).
    UserNameTaken,
    /// 1117
    InvalidDescription,
    /// 1118
    WeakPassword,
    /// IAM.0003: a session policy does not allow the action (§8.2).
    PolicyDenies,
    /// IAM.0081: a console-only user asked for an API token.
    ConsoleOnly,
    /// IAM.1102: a session policy that would allow what the credential's does not.
    PolicyWidens,
    /// IAM.1020-1059: a session policy's grammar (`sts::policy` names the code).
    InvalidPolicy(&'static str),
}

impl IamCode {
    pub fn as_str(self) -> &'static str {
        match self {
            IamCode::InvalidUserName => "1101",
            IamCode::InvalidEmail => "1102",
            IamCode::IncorrectPassword => "1103",
            IamCode::InvalidMobile => "1104",
            IamCode::MobileWithoutCountryCode => "1106",
            IamCode::OwnerUndeletable => "1107",
            IamCode::PasswordUnchanged => "1108",
            IamCode::UserNameTaken => "1109",
            IamCode::InvalidDescription => "1117",
            IamCode::WeakPassword => "1118",
            IamCode::PolicyDenies => "IAM.0003",
            IamCode::ConsoleOnly => "IAM.0081",
            IamCode::PolicyWidens => "IAM.1102",
            IamCode::InvalidPolicy(code) => code,
        }
    }

    /// True when the rule refuses an authenticated caller (403) rather than its input (400).
    pub fn is_refusal(self) -> bool {
        matches!(self, IamCode::PolicyDenies | IamCode::ConsoleOnly)
    }
}

/// Why a federated sign-in was refused: a check of the protocol module, or one the service
/// makes around it (provider set-up, request state, replay).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Refusal {
    #[error("{0}")]
    IdToken(#[from] IdTokenError),
    #[error("{0}")]
    Saml(#[from] SamlError),
    #[error("the protocol {0:?} is not oidc")]
    NotOidc(String),
    /// The identity provider has no configuration for the protocol.
    #[error("no {0} for this identity provider")]
    NotConfigured(&'static str),
    #[error("{0} is not base64")]
    NotBase64(&'static str),
    #[error("{0} is not UTF-8")]
    NotUtf8(&'static str),
    /// No identity provider lists the Issuer among its remote ids.
    #[error("no identity provider has the entity id {0:?}")]
    UnknownIssuer(String),
    /// InResponseTo is not in the form of fedgate's request IDs.
    #[error("InResponseTo {0:?} is not a request of ours")]
    ForeignRequest(String),
    /// The request was sent to `expected`, the answer came from `got`.
    #[error("answer for {expected} came from {got}")]
    OtherProvider { expected: String, got: String },
    #[error("the answer arrived at the wrong assertion consumer")]
    WrongConsumer,
    #[error("InResponseTo {0:?} with this RelayState is unknown, expired or already answered")]
    RequestUnknown(String),
    #[error("unsolicited responses are not accepted")]
    Unsolicited,
    /// A dashboard sign-in's answer reached a browser without the cookie of the one that
    /// started it.
    #[error("the browser that started the sign-in did not finish it")]
    OtherBrowser,
    /// The provider's keys are discovered, and discovery has failed with none known yet.
    #[error("the OpenID provider {issuer} could not be reached for its keys: {error}")]
    NoProviderKeys { issuer: String, error: String },
    /// A single-use value (`what`: assertion, jti) seen before.
    #[error("{what} {id} was already used")]
    Replayed { what: &'static str, id: String },
}

impl Error {
    /// The HTTP status the caller gets (`http::error` writes the body; the audit log records
    /// the status with the failure).
    pub fn status(&self) -> u16 {
        match self {
            Error::InvalidField { .. }
            | Error::MissingField { .. }
            | Error::BadRequest(_)
            | Error::AccessKeyQuota { .. } => 400,
            Error::IamRule { code, .. } if code.is_refusal() => 403,
            Error::IamRule { .. } => 400,
            Error::Unauthenticated(_) | Error::Refused { .. } | Error::Locked { .. } => 401,
            Error::Forbidden(_) | Error::ForbiddenNow(_) => 403,
            Error::NotFound { .. } | Error::SubjectTokenInvalid(_) => 404,
            Error::Conflict(_) => 409,
            Error::PayloadTooLarge { .. } => 413,
            Error::UnsupportedMediaType { .. } => 415,
            Error::TooManyRequests { .. } => 429,
            Error::Internal(_) => 500,
            Error::Unavailable(_) => 503,
        }
    }

    /// What kind of failure this is, for the audit log: the variant's name (with the rule's
    /// code for `IamRule`), and for a refused federated sign-in the refusal's variant
    /// (`IdToken.Expired`, `Replayed`). Never the message, which may quote the request.
    pub fn class(&self) -> String {
        let name = match self {
            Error::InvalidField { .. } => "InvalidField",
            Error::MissingField { .. } => "MissingField",
            Error::BadRequest(_) => "BadRequest",
            Error::IamRule { code, .. } => return format!("IamRule.{}", code.as_str()),
            Error::Unauthenticated(_) => "Unauthenticated",
            Error::Refused { reason, .. } => return super::refusal_class(reason),
            Error::Forbidden(_) => "Forbidden",
            Error::ForbiddenNow(_) => "ForbiddenNow",
            Error::Locked { .. } => "Locked",
            Error::TooManyRequests { .. } => "TooManyRequests",
            Error::AccessKeyQuota { .. } => "AccessKeyQuota",
            Error::NotFound { .. } => "NotFound",
            Error::SubjectTokenInvalid(_) => "SubjectTokenInvalid",
            Error::Conflict(_) => "Conflict",
            Error::PayloadTooLarge { .. } => "PayloadTooLarge",
            Error::UnsupportedMediaType { .. } => "UnsupportedMediaType",
            Error::Unavailable(_) => "Unavailable",
            Error::Internal(_) => "Internal",
        };
        name.to_string()
    }

    /// The typed reason of a refused federated sign-in.
    pub fn refusal(&self) -> Option<&Refusal> {
        match self {
            Error::Refused { reason, .. } => Some(reason),
            _ => None,
        }
    }

    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::InvalidField {
            field: field.into(),
            reason: reason.into(),
        }
    }

    /// An internal failure; the cause keeps its own sources for the log.
    pub fn internal(cause: impl Into<BoxError>) -> Self {
        Error::Internal(cause.into())
    }

    /// An internal failure while doing `context`.
    pub fn internal_in(context: impl Into<String>, cause: impl Into<BoxError>) -> Self {
        Error::Internal(Box::new(Context {
            context: context.into(),
            source: cause.into(),
        }))
    }

    pub fn not_found(kind: &'static str, id: impl Into<String>) -> Self {
        Error::NotFound { kind, id: id.into() }
    }
}

impl From<StoreError> for Error {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(what) => Error::Conflict(what),
            other if other.is_unavailable() => Error::Unavailable(Box::new(other)),
            other => Error::Internal(Box::new(other)),
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
