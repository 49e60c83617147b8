//! The one place errors become HTTP: status, Keystone body (`{"error":{code,title,message}}`)
//! for /v3 paths, IAM body (`{"error_msg","error_code"}`) for /v3.0, /v3-ext and
//! /v3/OS-INHERIT (DESIGN.md decision 16). `ApiError::into_response` decides status and
//! messages; `render` (called by the observe middleware, which knows the path) writes the body
//! and logs the precise reason once, with the request id.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::service::Error;

/// What an error response says, carried to the rendering middleware in an extension.
#[derive(Debug, Clone)]
pub struct ErrorReport {
    pub status: StatusCode,
    pub message: String,
    pub iam_code: String,
    /// The precise reason, for the log only.
    pub detail: String,
}

#[derive(Debug)]
pub struct ApiError(pub Error);

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        ApiError(e)
    }
}

impl From<crate::store::StoreError> for ApiError {
    fn from(e: crate::store::StoreError) -> Self {
        ApiError(e.into())
    }
}

const NOT_AUTHENTICATED: &str = "The request you have made requires authentication.";

fn report(e: &Error) -> ErrorReport {
    let (status, message, iam_code): (StatusCode, String, &str) = match e {
        Error::InvalidField { field, reason } => (
            StatusCode::BAD_REQUEST,
            format!("Invalid input for field '{field}': {reason}."),
            "IAM.0073",
        ),
        Error::MissingField { field } => (
            StatusCode::BAD_REQUEST,
            format!("'{field}' is a required property."),
            "IAM.0072",
        ),
        Error::BadRequest(m) => (StatusCode::BAD_REQUEST, m.clone(), "IAM.0011"),
        Error::IamRule { code, message } => {
            let status = if code.starts_with("IAM.008") {
                StatusCode::FORBIDDEN
            } else {
                StatusCode::BAD_REQUEST
            };
            (status, message.clone(), code)
        }
        Error::Unauthenticated(_) | Error::Refused { .. } => {
            (StatusCode::UNAUTHORIZED, NOT_AUTHENTICATED.into(), "IAM.0001")
        }
        Error::Forbidden(_) => (
            StatusCode::FORBIDDEN,
            "You are not authorized to perform the requested action.".into(),
            "IAM.0002",
        ),
        Error::NotFound { kind, id } => (
            StatusCode::NOT_FOUND,
            format!("Could not find {kind}: {id}."),
            "IAM.0004",
        ),
        Error::SubjectTokenInvalid(_) => (
            StatusCode::NOT_FOUND,
            "X-Subject-Token is invalid in the request".into(),
            "IAM.0009",
        ),
        Error::Conflict(what) => (
            StatusCode::CONFLICT,
            format!("Conflict occurred attempting to store {what}."),
            "IAM.0005",
        ),
        Error::PayloadTooLarge { limit } => (
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("The request body is larger than {limit} bytes."),
            "IAM.1101",
        ),
        Error::UnsupportedMediaType { expected } => (
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!("Unsupported Content-Type: expected {expected}."),
            "IAM.0011",
        ),
        Error::Internal(_) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            "An unexpected error prevented the server from fulfilling your request.".into(),
            "IAM.0006",
        ),
    };
    ErrorReport {
        status,
        message,
        iam_code: iam_code.to_string(),
        detail: e.to_string(),
    }
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
    ErrorReport {
        status,
        message: message.into(),
        iam_code: iam_code.into(),
        detail: format!("{status} produced by the framework"),
    }
}

/// Paths whose errors use the IAM body shape.
pub fn uses_iam_shape(path: &str) -> bool {
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

/// Writes the error body for `path` and logs the reason.
pub fn render(report: &ErrorReport, path: &str, head_request: bool, request_id: &str) -> Response {
    if report.status.is_server_error() {
        tracing::error!(status = report.status.as_u16(), reason = %report.detail, "request failed");
    } else {
        tracing::info!(status = report.status.as_u16(), reason = %report.detail, "request refused");
    }
    if is_browser_path(path) && !head_request {
        return render_page(report, request_id);
    }
    let body = if uses_iam_shape(path) {
        serde_json::json!({"error_msg": report.message, "error_code": report.iam_code})
    } else {
        serde_json::json!({"error": {
            "code": report.status.as_u16(),
            "title": report.status.canonical_reason().unwrap_or("Error"),
            "message": report.message,
        }})
    };
    let mut response = if head_request {
        report.status.into_response()
    } else {
        (report.status, body.to_string()).into_response()
    };
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    if report.status == StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Keystone uri=\"/v3\""),
        );
    }
    response
}
