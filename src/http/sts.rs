//! Temporary credentials, login tokens and signature checks for services.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use super::error::ApiError;
use super::extract::{ApiJson, Caller, MaybeCaller, header_text};
use super::views;
use crate::service::sts::{LoginTokenBody, SecurityTokenBody, SignedBy, SignedOutcome};
use crate::service::{Error, Sts, now_ms};
use crate::sts::signing::Received;

/// Issue a temporary access key: from a token, or by assuming an agency.
#[utoipa::path(post, path = "/v3.0/OS-CREDENTIAL/securitytokens", tag = "sts",
    request_body = SecurityTokenBody,
    responses((status = 201, description = "The temporary credential.", body = SecurityTokenAnswer)),
    security((), ("token" = []), ("signature" = [])))]
pub async fn security_tokens(
    State(s): State<Sts>,
    caller: MaybeCaller,
    ApiJson(body): ApiJson<SecurityTokenBody>,
) -> Result<Response, ApiError> {
    let caller = caller.resolve(&s).await?;
    let issued = s.issue_security_token(caller, body, now_ms()).await?;
    let body = json!({"credential": {
        "access": issued.access,
        "secret": issued.secret,
        "securitytoken": issued.security_token,
        "expires_at": views::token_time(issued.expires_at_ms),
    }});
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

/// Issue a login token for a temporary access key, for a console sign-in.
#[utoipa::path(post, path = "/v3.0/OS-AUTH/securitytoken/logintokens", tag = "sts",
    request_body = LoginTokenBody,
    responses((status = 201, description = "The login token; its id in X-Subject-LoginToken.", body = views::LoginTokenBody,
        headers(("X-Subject-LoginToken" = String, description = "The login token.")))),
    security(()))]
pub async fn login_tokens(State(s): State<Sts>, ApiJson(body): ApiJson<LoginTokenBody>) -> Result<Response, ApiError> {
    let issued = s.issue_login_token(body, now_ms()).await?;
    let mut response = (StatusCode::CREATED, Json(views::login_token(&issued.ctx))).into_response();
    if let Ok(v) = HeaderValue::from_str(&issued.token) {
        response.headers_mut().insert("x-subject-logintoken", v);
    }
    Ok(response)
}

/// Check a login token: a relying console asks whom `X-Subject-LoginToken` signs in.
#[utoipa::path(get, path = "/v3-ext/auth/logintokens", tag = "sts",
    params(("X-Subject-LoginToken" = String, Header, description = "The login token to check.")),
    responses((status = 200, description = "The login token.", body = views::LoginTokenBody)),
    security(("token" = []), ("signature" = [])))]
pub async fn check_login_token(
    State(s): State<Sts>,
    Caller(caller): Caller,
    headers: HeaderMap,
) -> Result<Json<serde_json::Value>, ApiError> {
    let token = header_text(&headers, "x-subject-logintoken")
        .ok_or_else(|| Error::SubjectTokenInvalid("no X-Subject-LoginToken".into()))?;
    let ctx = s.check_login_token(&caller, token, now_ms()).await?;
    Ok(Json(json!(views::login_token(&ctx))))
}

/// What a service received and wants checked.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct SignedRequestBody {
    pub signed_request: SignedRequestParts,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct SignedRequestParts {
    pub method: String,
    /// The path as received, percent-encoded as the client sent it.
    pub path: String,
    pub query: Option<String>,
    /// Every header the client sent (Authorization, X-Sdk-Date, Host, X-Security-Token, the
    /// signed ones); names in any case.
    pub headers: BTreeMap<String, String>,
    /// SHA-256 of the body, hex; absent for an empty body.
    pub body_sha256: Option<String>,
}

/// Check a signed request a service received: who signed it, with what scope and policies.
///
/// POST /v3-ext/auth/signed-requests: Keystone's `/v3/ec2tokens` for the SDK's scheme. A
/// service that received a signed request asks who signed it; the answer is a token body with
/// the caller's identity, scope and roles, and the session policies the service must apply.
/// The asking service must be a cloud admin (a service account), so a captured request
/// cannot be turned into an identity by anyone else.
#[utoipa::path(post, path = "/v3-ext/auth/signed-requests", tag = "sts",
    params(("nocatalog" = Option<String>, Query, description = "Leave the catalog out.")),
    request_body = SignedRequestBody,
    responses((status = 200, description = "The signer's token body, with `access` and `session_policies`.", body = views::TokenBody)),
    security(("token" = []), ("signature" = [])))]
pub async fn check_signed_request(
    State(s): State<Sts>,
    Caller(caller): Caller,
    uri: Uri,
    ApiJson(body): ApiJson<SignedRequestBody>,
) -> Result<Json<serde_json::Value>, ApiError> {
    s.require_cloud_admin(&caller)?;
    let parts = body.signed_request;
    let find = |name: &str| {
        parts
            .headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim())
            .filter(|v| !v.is_empty())
    };
    let authorization = find("authorization").ok_or_else(|| Error::MissingField {
        field: "signed_request.headers.Authorization".into(),
    })?;
    if let Some(h) = &parts.body_sha256
        && (h.len() != 64 || !h.bytes().all(|b| b.is_ascii_hexdigit()))
    {
        return Err(Error::invalid("signed_request.body_sha256", "must be 64 hex digits").into());
    }
    let now = now_ms();
    let headers: Vec<(&str, &[u8])> = parts.headers.iter().map(|(k, v)| (k.as_str(), v.as_bytes())).collect();
    let received = Received {
        method: &parts.method,
        path: &parts.path,
        query: parts.query.as_deref(),
        headers: &headers,
        body: b"",
        body_sha256: parts.body_sha256.as_deref(),
    };
    let outcome = s
        .verify_signed_request(&received, authorization, find("x-security-token"), now)
        .await?;
    let (by, signed_headers) = match outcome {
        SignedOutcome::Verified { by, signed_headers, .. } => (by, signed_headers),
        SignedOutcome::UnknownKey { access } => {
            return Err(Error::Unauthenticated(format!("signed request: unknown access key {access}")).into());
        }
    };
    let mut scope_headers = HeaderMap::new();
    for name in ["x-project-id", "x-domain-id"] {
        if let Some(v) = find(name).and_then(|v| HeaderValue::from_str(v).ok()) {
            scope_headers.insert(name, v);
        }
    }
    let hint = super::signed::scope_hint(&scope_headers, &signed_headers)?;
    let ctx = s.signed_context(&by, hint, now).await?;
    let mut body = views::token(
        &ctx,
        &s.catalog,
        !super::extract::has_query_flag(uri.query(), "nocatalog"),
    );
    let access = match &by {
        SignedBy::Temporary(c) => c.access.clone(),
        SignedBy::Permanent { access, .. } => access.clone(),
    };
    body.token.access = Some(access);
    body.token.session_policies = Some(views::session_policies(&ctx));
    Ok(Json(json!(body)))
}

/// `security_tokens`'s body.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct SecurityTokenAnswer {
    pub credential: TemporaryCredentialView,
}

#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct TemporaryCredentialView {
    pub access: String,
    pub secret: String,
    pub securitytoken: String,
    pub expires_at: String,
}

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(security_tokens, login_tokens, check_login_token, check_signed_request),
    tags((name = "sts", description = "Temporary access keys, login tokens, and signature checks for services.")),
)]
pub(super) struct Doc;
