//! The one place errors become HTTP: status, Keystone body (`{"error":{code,title,message}}`)
//! for /v3 paths, IAM body (`{"error_msg","error_code"}`) for /v3.0, /v3-ext and
//! /v3/OS-INHERIT (DESIGN.md decision 16). `ApiError::into_response` decides status and
//! messages; `render` (called by the observe middleware, which knows the path) writes the body
//! and logs the precise reason once, with the request id.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::service::Error;

/// What an error response says, carried to the rendering middleware in an extension.
#[derive(Debug, Clone)]
pub struct ErrorReport {
    pub status: StatusCode,
    pub message: String,
    pub iam_code: String,
    /// The precise reason, for the log only.
    pub detail: String,
    /// Sent as Retry-After (429).
    pub retry_after_secs: Option<u64>,
    /// The reference's access-key quota body (L3915), whatever the path:
    /// `{"error":{"message","code","title","error_msg":null,"error_code":null}}`.
    pub quota_body: bool,
    /// The code Alibaba Cloud's API would give (`EntityNotExist.User`, ...), for its dialect.
    pub alibaba_code: &'static str,
    /// The code Baidu Cloud's API would give (`AccessDenied`, `NoSuchObject`, ...).
    pub baidu_code: &'static str,
}

#[derive(Debug)]
pub struct ApiError(pub Error);

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        ApiError(e)
    }
}

const NOT_AUTHENTICATED: &str = "The request you have made requires authentication.";

fn report(e: &Error) -> ErrorReport {
    // The status is the error's own (`Error::status`, which the audit log records too); the
    // messages and codes are this module's.
    let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let (message, iam_code): (String, &str) = match e {
        Error::InvalidField { field, reason } => (format!("Invalid input for field '{field}': {reason}."), "IAM.0073"),
        Error::MissingField { field } => (format!("'{field}' is a required property."), "IAM.0072"),
        Error::BadRequest(m) => (m.clone(), "IAM.0011"),
        Error::IamRule { code, message } => (message.clone(), code.as_str()),
        Error::Unauthenticated(_) | Error::Refused { .. } => (NOT_AUTHENTICATED.into(), "IAM.0001"),
        // The reference's answer for a locked user (L22328). /v3/auth/tokens is a Keystone
        // path, so it arrives as Keystone's body with this message; IAM paths carry the code.
        Error::Locked { .. } => ("Account locked.".into(), "IAM.0061"),
        // The reference's throttling answer (L22192, L22349), with Retry-After.
        Error::TooManyRequests { .. } => ("The throttling threshold has been reached.".into(), "IAM.0012"),
        Error::Forbidden(_) => (
            "You are not authorized to perform the requested action.".into(),
            "IAM.0002",
        ),
        Error::ForbiddenNow(m) => (m.clone(), "IAM.0002"),
        Error::AccessKeyQuota { .. } => ("akSkNumExceed".into(), "IAM.0011"),
        Error::NotFound { kind, id } => (format!("Could not find {kind}: {id}."), "IAM.0004"),
        Error::SubjectTokenInvalid(_) => ("X-Subject-Token is invalid in the request".into(), "IAM.0009"),
        Error::Conflict(what) => (format!("Conflict occurred attempting to store {what}."), "IAM.0005"),
        Error::PayloadTooLarge { limit } => (format!("The request body is larger than {limit} bytes."), "IAM.1101"),
        Error::UnsupportedMediaType { expected } => {
            (format!("Unsupported Content-Type: expected {expected}."), "IAM.0011")
        }
        // The reference lists 503 "Service unavailable." without a code of its own.
        Error::Unavailable(_) => ("Service unavailable. Try again shortly.".into(), "IAM.0006"),
        Error::Internal(_) => (
            "An unexpected error prevented the server from fulfilling your request.".into(),
            "IAM.0006",
        ),
    };
    ErrorReport {
        status,
        message,
        iam_code: iam_code.to_string(),
        detail: with_causes(e),
        retry_after_secs: match e {
            Error::TooManyRequests { retry_after_secs, .. } => Some(*retry_after_secs),
            Error::Unavailable(_) => Some(1),
            _ => None,
        },
        quota_body: matches!(e, Error::AccessKeyQuota { .. }),
        alibaba_code: alibaba_code(e),
        baidu_code: baidu_code(e),
    }
}

/// Alibaba Cloud's error code for `e` (its API's own names where one exists).
fn alibaba_code(e: &Error) -> &'static str {
    match e {
        Error::InvalidField { field, .. } if field == "Version" => "InvalidVersion",
        Error::InvalidField { .. } | Error::BadRequest(_) | Error::UnsupportedMediaType { .. } => "InvalidParameter",
        Error::MissingField { .. } => "MissingParameter",
        Error::IamRule { code, .. } if code.is_refusal() => "NoPermission",
        Error::IamRule { .. } => "InvalidParameter",
        // One code for every authentication failure: the reason is for the log only.
        Error::Unauthenticated(_) | Error::Refused { .. } | Error::SubjectTokenInvalid(_) => "InvalidAuthentication",
        Error::Locked { .. } => "Account.Locked",
        Error::TooManyRequests { .. } => "Throttling",
        Error::Forbidden(_) | Error::ForbiddenNow(_) => "NoPermission",
        Error::AccessKeyQuota { .. } => "LimitExceeded.User.AccessKey",
        Error::NotFound { kind, .. } => match *kind {
            "action" => "InvalidAction.NotFound",
            "user" => "EntityNotExist.User",
            "group" => "EntityNotExist.Group",
            "membership" => "EntityNotExist.User.Group",
            "login profile" => "EntityNotExist.User.LoginProfile",
            "credential" => "EntityNotExist.User.AccessKey",
            "agency" => "EntityNotExist.Role",
            "identity provider" | "protocol" | "openid connect config" | "metadata" => "EntityNotExist.Provider",
            _ => "EntityNotExist",
        },
        Error::Conflict(_) => "EntityAlreadyExists",
        Error::PayloadTooLarge { .. } => "InvalidParameter.TooLarge",
        Error::Unavailable(_) => "ServiceUnavailable",
        Error::Internal(_) => "InternalError",
    }
}

/// Baidu Cloud's error code for `e`: the BCE common codes where one fits (AccessDenied,
/// MalformedJSON, InternalError, ServiceUnavailable, ...), IAM's own names otherwise.
fn baidu_code(e: &Error) -> &'static str {
    match e {
        Error::BadRequest(m) if m.starts_with(super::extract::UNREADABLE_BODY) => "MalformedJSON",
        Error::InvalidField { .. } | Error::MissingField { .. } | Error::BadRequest(_) => "InvalidParameter",
        Error::IamRule { code, .. } if code.is_refusal() => "AccessDenied",
        Error::IamRule { .. } => "InvalidParameter",
        Error::UnsupportedMediaType { .. } | Error::PayloadTooLarge { .. } => "InvalidHTTPRequest",
        // One code for every authentication failure (unsigned, unknown key, wrong secret,
        // expired, tampered): the reason is for the log only.
        Error::Unauthenticated(_) | Error::Refused { .. } | Error::SubjectTokenInvalid(_) => "SignatureDoesNotMatch",
        Error::Locked { .. } | Error::Forbidden(_) | Error::ForbiddenNow(_) => "AccessDenied",
        Error::TooManyRequests { .. } => "RequestLimitExceeded",
        Error::AccessKeyQuota { .. } => "AccessKeyLimitExceeded",
        // The router's fallback: a path Baidu's API may have and fedgate does not serve.
        Error::NotFound { kind: "resource", .. } => "InvalidURI",
        Error::NotFound { .. } => "NoSuchObject",
        Error::Conflict(_) => "EntityAlreadyExists",
        Error::Unavailable(_) => "ServiceUnavailable",
        Error::Internal(_) => "InternalError",
    }
}

/// The error and each cause under it, for the log: `a: b: c`.
fn with_causes(e: &Error) -> String {
    let mut text = e.to_string();
    let mut cause = std::error::Error::source(e);
    // `Internal` shows its cause in its own message already.
    if matches!(e, Error::Internal(_) | Error::Unavailable(_)) {
        cause = cause.and_then(std::error::Error::source);
    }
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let report = report(&self.0);
        let mut response = report.status.into_response();
        response.extensions_mut().insert(report);
        response
    }
}

/// A report for an error response produced outside our handlers (routing, limits, timeouts).
pub fn report_for_status(status: StatusCode) -> ErrorReport {
    let (message, iam_code) = match status {
        StatusCode::NOT_FOUND => ("The resource could not be found.", "IAM.0004"),
        StatusCode::METHOD_NOT_ALLOWED => ("The method is not allowed for the requested URL.", "IAM.0007"),
        StatusCode::PAYLOAD_TOO_LARGE => ("The request body is too large.", "IAM.1101"),
        StatusCode::REQUEST_TIMEOUT | StatusCode::SERVICE_UNAVAILABLE => {
            ("The request took too long to process.", "IAM.0006")
        }
        s if s.is_server_error() => (
            "An unexpected error prevented the server from fulfilling your request.",
            "IAM.0006",
        ),
        _ => ("The request is invalid.", "IAM.0011"),
    };
    let alibaba_code = match status {
        StatusCode::NOT_FOUND => "InvalidAction.NotFound",
        StatusCode::PAYLOAD_TOO_LARGE => "InvalidParameter.TooLarge",
        s if s.is_server_error() => "InternalError",
        _ => "InvalidParameter",
    };
    let baidu_code = match status {
        StatusCode::NOT_FOUND | StatusCode::METHOD_NOT_ALLOWED => "InvalidURI",
        StatusCode::SERVICE_UNAVAILABLE => "ServiceUnavailable",
        s if s.is_server_error() => "InternalError",
        _ => "InvalidHTTPRequest",
    };
    ErrorReport {
        status,
        message: message.into(),
        iam_code: iam_code.into(),
        detail: format!("{status} produced by the framework"),
        retry_after_secs: None,
        quota_body: false,
        alibaba_code,
        baidu_code,
    }
}

/// The body an error answer takes, decided by the request (`Shape::of`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// `{"error":{code,title,message}}`.
    Keystone,
    /// `{"error_msg","error_code"}`.
    Iam,
    /// An HTML page (browser sign-in paths).
    Page,
    /// Alibaba Cloud's RPC answer: `{"RequestId","HostId","Code","Message"}`.
    Alibaba,
    /// Baidu Cloud's answer (paths under `/v1/`): `{"requestId","code","message"}`, and every
    /// answer there carries `x-bce-request-id`.
    Baidu,
}

impl Shape {
    pub fn of(path: &str, query: Option<&str>, headers: &axum::http::HeaderMap) -> Shape {
        if super::alibaba::is_rpc(path, query, headers) {
            Shape::Alibaba
        } else if super::baidu::is_dialect_path(path) {
            Shape::Baidu
        } else if is_browser_path(path) {
            Shape::Page
        } else if uses_iam_shape(path) {
            Shape::Iam
        } else {
            Shape::Keystone
        }
    }
}

/// Paths whose errors use the IAM body shape. The ECP consumer is under /v3-ext but its client
/// is keystoneauth1 (`v3samlpassword`), which reads only Keystone's body.
pub fn uses_iam_shape(path: &str) -> bool {
    if path == crate::saml::sp_metadata::ACS_ECP_PATH {
        return false;
    }
    path.starts_with("/v3.0/") || path.starts_with("/v3-ext/") || path.starts_with("/v3/OS-INHERIT/")
}

/// Paths a person reaches in a browser: their errors are HTML pages.
pub fn is_browser_path(path: &str) -> bool {
    path.ends_with("/websso")
        || path.starts_with("/v3/auth/OS-FEDERATION/websso/")
        || path.starts_with(crate::service::websso::OIDC_CALLBACK_PATH)
        || path == crate::saml::sp_metadata::ACS_POST_PATH
}

/// The error page of browser sign-in: what failed in words, and the request id.
fn render_page(report: &ErrorReport, request_id: &str) -> Response {
    use askama::Template;
    let (heading, message) = match report.status {
        StatusCode::UNAUTHORIZED => (
            "Sign-in failed",
            "Your identity provider's answer could not be accepted: it may have expired, been used \
             already, or been meant for another service."
                .to_string(),
        ),
        StatusCode::FORBIDDEN => (
            "Not allowed",
            "You are signed in but not allowed to go there.".to_string(),
        ),
        StatusCode::TOO_MANY_REQUESTS => (
            "Too many sign-ins at once",
            "The sign-in service is busy. Wait a moment and try again.".to_string(),
        ),
        s if s.is_server_error() => (
            "Something went wrong",
            "The sign-in service failed; try again later.".to_string(),
        ),
        _ => ("This sign-in link is not valid", report.message.clone()),
    };
    let nonce = super::websso::page_nonce();
    let page = super::websso::ErrorPage {
        nonce: &nonce,
        heading,
        message: &message,
        request_id,
    };
    let body = page.render().unwrap_or_else(|_| heading.to_string());
    super::websso::html_page(report.status, body, &nonce, None)
}

/// Writes the error body in `shape` and logs the reason. `host` is the Host the client named.
pub fn render(report: &ErrorReport, shape: Shape, host: &str, head_request: bool, request_id: &str) -> Response {
    // The reason may quote what the client sent (a name in a path): no control or
    // reordering character of it reaches the log as it is.
    let reason = crate::service::names::escaped(&report.detail);
    if report.status.is_server_error() {
        tracing::error!(status = report.status.as_u16(), reason = %reason, "request failed");
    } else {
        tracing::info!(status = report.status.as_u16(), reason = %reason, "request refused");
    }
    let mut response = match shape {
        Shape::Page if !head_request => render_page(report, request_id),
        _ => render_json(report, shape, host, head_request, request_id),
    };
    if let Some(secs) = report.retry_after_secs {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    response
}

/// `{"error":{"code","message","title"}}`: Keystone's error body (fields in the wire's order).
#[derive(Serialize, utoipa::ToSchema)]
pub struct KeystoneErrorBody<'a> {
    pub error: KeystoneError<'a>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct KeystoneError<'a> {
    /// The HTTP status.
    pub code: u16,
    pub message: &'a str,
    /// The status's reason phrase.
    pub title: &'a str,
}

/// `{"error_code","error_msg"}`: the IAM reference's error body (`/v3.0/`, `/v3-ext/`).
#[derive(Serialize, utoipa::ToSchema)]
pub struct IamErrorBody<'a> {
    /// The reference's code, such as `IAM.0001`.
    pub error_code: &'a str,
    pub error_msg: &'a str,
}

/// Alibaba Cloud's RPC error body.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "PascalCase")]
pub struct AlibabaErrorBody<'a> {
    pub code: &'a str,
    pub host_id: &'a str,
    pub message: &'a str,
    pub request_id: &'a str,
}

/// Baidu Cloud's error body (under `/v1/`).
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BaiduErrorBody<'a> {
    pub code: &'a str,
    pub message: &'a str,
    pub request_id: &'a str,
}

fn render_json(report: &ErrorReport, shape: Shape, host: &str, head_request: bool, request_id: &str) -> Response {
    let title = report.status.canonical_reason().unwrap_or("Error");
    let body = if shape == Shape::Alibaba {
        serde_json::to_string(&AlibabaErrorBody {
            code: report.alibaba_code,
            host_id: host,
            message: &report.message,
            request_id,
        })
    } else if shape == Shape::Baidu {
        serde_json::to_string(&BaiduErrorBody {
            code: report.baidu_code,
            message: &report.message,
            request_id,
        })
    } else if report.quota_body {
        Ok(serde_json::json!({"error": {
            "message": report.message,
            "code": report.status.as_u16(),
            "title": title,
            "error_msg": null,
            "error_code": null,
        }})
        .to_string())
    } else if shape == Shape::Iam {
        serde_json::to_string(&IamErrorBody {
            error_code: &report.iam_code,
            error_msg: &report.message,
        })
    } else {
        serde_json::to_string(&KeystoneErrorBody {
            error: KeystoneError {
                code: report.status.as_u16(),
                message: &report.message,
                title,
            },
        })
    }
    .unwrap_or_default();
    let mut response = if head_request {
        report.status.into_response()
    } else {
        (report.status, body).into_response()
    };
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    if report.status == StatusCode::UNAUTHORIZED && !matches!(shape, Shape::Alibaba | Shape::Baidu) {
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Keystone uri=\"/v3\""),
        );
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn rendered(e: Error, path: &str, head: bool) -> (StatusCode, Option<String>, String) {
        let shape = Shape::of(path, None, &axum::http::HeaderMap::new());
        let response = render(&report(&e), shape, "iam.example.com", head, "req-1");
        let retry_after = response
            .headers()
            .get(header::RETRY_AFTER)
            .map(|v| v.to_str().unwrap().to_string());
        let body = axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap();
        let status = report(&e).status;
        (status, retry_after, String::from_utf8(body.to_vec()).unwrap())
    }

    fn throttled() -> Error {
        Error::TooManyRequests {
            what: "password hashing: permits and queue are full".into(),
            retry_after_secs: 1,
        }
    }

    fn locked() -> Error {
        Error::Locked {
            user_id: "u1".into(),
            until_ms: 1,
        }
    }

    #[tokio::test]
    async fn throttling_lockout_quota_and_baidu_errors_answer_in_their_shapes() {
        let keystone = |code: u16, title: &str, message: &str| {
            serde_json::json!({"error": {"code": code, "title": title, "message": message}}).to_string()
        };
        let iam = |message: &str, code: &str| serde_json::json!({"error_msg": message, "error_code": code}).to_string();
        let throttle = "The throttling threshold has been reached.";
        let baidu = |code: &str, message: &str| {
            serde_json::json!({"requestId": "req-1", "code": code, "message": message}).to_string()
        };
        let cases = [
            (
                Error::Unauthenticated("signed request: the signature does not match".into()),
                "/v1/user",
                false,
                StatusCode::UNAUTHORIZED,
                None,
                baidu("SignatureDoesNotMatch", NOT_AUTHENTICATED),
            ),
            (
                Error::BadRequest(format!(
                    "{}: EOF while parsing.",
                    super::super::extract::UNREADABLE_BODY
                )),
                "/v1/user",
                false,
                StatusCode::BAD_REQUEST,
                None,
                baidu("MalformedJSON", "The request body is invalid: EOF while parsing."),
            ),
            (
                Error::not_found("user", "nobody"),
                "/v1/user/nobody",
                false,
                StatusCode::NOT_FOUND,
                None,
                baidu("NoSuchObject", "Could not find user: nobody."),
            ),
            (
                Error::Unavailable("pool timed out while waiting for an open connection".into()),
                "/v1/sessionToken",
                false,
                StatusCode::SERVICE_UNAVAILABLE,
                Some("1"),
                baidu("ServiceUnavailable", "Service unavailable. Try again shortly."),
            ),
            (
                throttled(),
                "/v3/auth/tokens",
                false,
                StatusCode::TOO_MANY_REQUESTS,
                Some("1"),
                keystone(429, "Too Many Requests", throttle),
            ),
            (
                throttled(),
                "/v3.0/OS-FEDERATION/tokens",
                false,
                StatusCode::TOO_MANY_REQUESTS,
                Some("1"),
                iam(throttle, "IAM.0012"),
            ),
            (
                throttled(),
                "/v3/auth/tokens",
                true,
                StatusCode::TOO_MANY_REQUESTS,
                Some("1"),
                String::new(),
            ),
            (
                locked(),
                "/v3/auth/tokens",
                false,
                StatusCode::UNAUTHORIZED,
                None,
                keystone(401, "Unauthorized", "Account locked."),
            ),
            (
                locked(),
                "/v3.0/OS-USER/users",
                false,
                StatusCode::UNAUTHORIZED,
                None,
                iam("Account locked.", "IAM.0061"),
            ),
            (
                Error::Unauthenticated("the mapping rejected the user".into()),
                crate::saml::sp_metadata::ACS_ECP_PATH,
                false,
                StatusCode::UNAUTHORIZED,
                None,
                keystone(401, "Unauthorized", NOT_AUTHENTICATED),
            ),
            (
                Error::Unavailable("pool timed out while waiting for an open connection".into()),
                "/v3/groups",
                false,
                StatusCode::SERVICE_UNAVAILABLE,
                Some("1"),
                keystone(503, "Service Unavailable", "Service unavailable. Try again shortly."),
            ),
            (
                Error::Unavailable("pool timed out while waiting for an open connection".into()),
                "/v3.0/OS-USER/users",
                false,
                StatusCode::SERVICE_UNAVAILABLE,
                Some("1"),
                iam("Service unavailable. Try again shortly.", "IAM.0006"),
            ),
            (
                Error::AccessKeyQuota { user_id: "u1".into() },
                "/v3.0/OS-CREDENTIAL/credentials",
                false,
                StatusCode::BAD_REQUEST,
                None,
                // The reference's body, exactly (L3915).
                serde_json::json!({"error": {"message": "akSkNumExceed", "code": 400, "title": "Bad Request",
                    "error_msg": null, "error_code": null}})
                .to_string(),
            ),
        ];
        for (error, path, head, status, retry_after, body) in cases {
            let name = format!("{error} at {path} (HEAD: {head})");
            let got = rendered(error, path, head).await;
            assert_eq!(got, (status, retry_after.map(str::to_string), body), "{name}");
        }
        let (status, retry_after, page) = rendered(throttled(), crate::saml::sp_metadata::ACS_POST_PATH, false).await;
        assert_eq!(
            (status, retry_after.as_deref()),
            (StatusCode::TOO_MANY_REQUESTS, Some("1"))
        );
        assert!(
            page.contains("The sign-in service is busy") && page.contains("req-1"),
            "{page}"
        );
    }
}
