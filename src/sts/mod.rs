//! Temporary credentials and signed requests, pure: the canonical request of a request signed
//! the Huawei SDK way and its HMAC (`signing`), its Alibaba Cloud (`acs3`) and Baidu Cloud
//! (`bce`) siblings, and session policies (`policy`). Functions of
//! (request bytes, keys, `now`); this module does not look access keys up, read the clock,
//! draw randomness or log. The service layer finds the secret (a temporary credential's comes
//! sealed in its security token, a permanent key's from the store) and decides what the
//! verified caller may do.

/// Alibaba Cloud's `ACS3-HMAC-SHA256` request signatures (its SDKs' V3 default), verified.
pub mod acs3;
/// Baidu Cloud's `bce-auth-v1` request signatures, verified.
pub mod bce;
pub mod policy;
pub mod signing;

/// Why a signed request or a session policy is refused. The caller of a signed request learns
/// only "not authenticated"; the variant goes to the log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StsError {
    #[error("the Authorization header is not SDK-HMAC-SHA256")]
    NotSdkSigned,
    #[error("the Authorization header is malformed")]
    MalformedAuthorization,
    #[error("the signed headers leave out {0}")]
    UnsignedHeader(&'static str),
    #[error("the signed header {0} is missing")]
    MissingHeader(String),
    #[error("the header {0} appears more than once")]
    RepeatedHeader(String),
    #[error("X-Sdk-Date is not YYYYMMDDTHHMMSSZ")]
    BadDate,
    #[error("signed at {signed_at}, outside the window around {now}")]
    OutsideWindow { signed_at: i64, now: i64 },
    #[error("the signature does not match")]
    BadSignature,
    #[error("X-Sdk-Content-Sha256 is not the body's digest")]
    BodyMismatch,
    #[error("the request is ambiguous: {0}")]
    Ambiguous(&'static str),
    #[error("the Authorization header is not {0}")]
    WrongScheme(&'static str),
    #[error("{0} is not YYYY-MM-DDTHH:MM:SSZ")]
    BadTimestamp(&'static str),
    #[error("{0} is not the body's digest")]
    DigestMismatch(&'static str),
    #[error("{0} is not 1 to 128 printable ASCII characters")]
    BadHeaderValue(&'static str),
    #[error("x-acs-accesskey-id is not the access key of the Authorization header")]
    AccessKeyMismatch,
    #[error("the signature expired at {expires_at}, before {now}")]
    Expired { expires_at: i64, now: i64 },
    #[error("an expiration of {got} seconds is longer than the {max} allowed")]
    ExpirationTooLong { got: i64, max: i64 },
    #[error("the body is declared unsigned")]
    BodyUnsigned,
    #[error("no access key {0} is known")]
    UnknownKey(String),
    #[error("the signature nonce was used before")]
    NonceReused,
}
