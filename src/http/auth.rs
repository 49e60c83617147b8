//! /v3/auth/*: issue, validate, check and revoke tokens; what a token can reach.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};

use super::error::ApiError;
use super::extract::{ApiJson, Caller, MaybeCaller, has_query_flag, header_text};
use super::openapi::list_schema;
use super::views;
use crate::service::auth::AuthBody;
use crate::service::{AuthContext, Error, Services, SignIn, now_ms};

pub(super) fn token_response(
    services: &Services,
    status: StatusCode,
    token: &str,
    ctx: &AuthContext,
    uri: &Uri,
) -> Response {
    let with_catalog = !has_query_flag(uri.query(), "nocatalog");
    let body = views::token(ctx, &services.catalog, with_catalog);
    let mut response = (status, Json(body)).into_response();
    if let Ok(v) = HeaderValue::from_str(token) {
        response.headers_mut().insert("x-subject-token", v);
    }
    response
}

/// 201 with a freshly issued token, as every token-issuing endpoint answers.
pub(super) fn created(services: &Services, issued: &crate::service::auth::Issued, uri: &Uri) -> Response {
    token_response(services, StatusCode::CREATED, &issued.token, &issued.ctx, uri)
}

/// Issue a token: a password (optionally scoped), a token to rescope, or `assume_role` for an
/// agency session (that one with the caller's credential).
#[utoipa::path(post, path = "/v3/auth/tokens", tag = "tokens",
    params(("nocatalog" = Option<String>, Query, description = "Leave the catalog out.")),
    request_body = AuthBody,
    responses((status = 201, description = "The token; its id in X-Subject-Token.", body = views::TokenBody,
        headers(("X-Subject-Token" = String, description = "The token.")))),
    security((), ("token" = []), ("signature" = [])))]
pub async fn issue(
    State(s): State<SignIn>,
    caller: MaybeCaller,
    uri: Uri,
    ApiJson(body): ApiJson<AuthBody>,
) -> Result<Response, ApiError> {
    // Only assume_role acts for the caller; password and token logins prove themselves.
    let caller = match body.auth.identity.methods.as_slice() {
        [m] if m == "assume_role" => caller.resolve(&s).await?,
        _ => None,
    };
    let issued = s.issue_token(caller, body, now_ms()).await?;
    Ok(created(&s, &issued, &uri))
}

fn subject(headers: &HeaderMap) -> Result<&str, ApiError> {
    header_text(headers, "x-subject-token")
        .ok_or_else(|| ApiError(Error::SubjectTokenInvalid("no X-Subject-Token".into())))
}

/// GET and HEAD (axum answers HEAD with the GET handler, without the body).
#[utoipa::path(get, path = "/v3/auth/tokens", tag = "tokens",
    params(
        ("X-Subject-Token" = String, Header, description = "The token to validate."),
        ("nocatalog" = Option<String>, Query, description = "Leave the catalog out."),
    ),
    responses((status = 200, description = "The token.", body = views::TokenBody,
        headers(("X-Subject-Token" = String, description = "The token.")))),
    security(("token" = []), ("signature" = [])))]
pub async fn validate(
    State(s): State<SignIn>,
    Caller(caller): Caller,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, ApiError> {
    let token = subject(&headers)?;
    let ctx = s.check_subject(&caller, token, now_ms()).await?;
    Ok(token_response(&s, StatusCode::OK, token, &ctx, &uri))
}

/// Revoke a token and everything derived from it.
#[utoipa::path(delete, path = "/v3/auth/tokens", tag = "tokens",
    params(("X-Subject-Token" = String, Header, description = "The token to revoke.")),
    responses((status = 204, description = "Revoked.")),
    security(("token" = []), ("signature" = [])))]
pub async fn revoke(
    State(s): State<SignIn>,
    Caller(caller): Caller,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    s.revoke_subject(&caller, subject(&headers)?, now_ms()).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The projects the caller's token can be scoped to.
#[utoipa::path(get, path = "/v3/auth/projects", tag = "tokens",
    responses((status = 200, description = "The projects.", body = ProjectList)),
    security(("token" = []), ("signature" = [])))]
pub async fn projects(
    State(s): State<SignIn>,
    Caller(caller): Caller,
    uri: Uri,
) -> Result<Json<serde_json::Value>, ApiError> {
    let base = &s.config.public_url;
    let projects = s.auth_projects(&caller).await?;
    let links = views::list_links(base, uri.path());
    Ok(views::list("projects", projects.iter().map(|p| views::project(base, p)), links).into())
}

/// The domains (accounts) the caller's token can be scoped to.
#[utoipa::path(get, path = "/v3/auth/domains", tag = "tokens",
    responses((status = 200, description = "The domains.", body = DomainList)),
    security(("token" = []), ("signature" = [])))]
pub async fn domains(
    State(s): State<SignIn>,
    Caller(caller): Caller,
    uri: Uri,
) -> Result<Json<serde_json::Value>, ApiError> {
    let base = &s.config.public_url;
    let domains = s.auth_domains(&caller).await?;
    let links = views::list_links(base, uri.path());
    Ok(views::list("domains", domains.iter().map(|d| views::domain(base, d)), links).into())
}

/// The catalog of the caller's scope: needs a scoped token.
#[utoipa::path(get, path = "/v3/auth/catalog", tag = "tokens",
    responses((status = 200, description = "The catalog.", body = CatalogList)),
    security(("token" = []), ("signature" = [])))]
pub async fn catalog(
    State(s): State<SignIn>,
    Caller(caller): Caller,
    uri: Uri,
) -> Result<Json<serde_json::Value>, ApiError> {
    let project_id = match &caller.identity.scope {
        crate::service::ScopeView::Unscoped => {
            return Err(Error::Forbidden("the catalog needs a scoped token".into()).into());
        }
        crate::service::ScopeView::Project { id, .. } => Some(id.as_str()),
        crate::service::ScopeView::Domain(_) => None,
    };
    let links = views::list_links(&s.config.public_url, uri.path());
    Ok(views::list("catalog", views::catalog_entries(&s.catalog, project_id), links).into())
}

list_schema!(ProjectList, projects, views::ProjectView<'static>);
list_schema!(DomainList, domains, views::DomainView<'static>);
list_schema!(CatalogList, catalog, views::CatalogEntry<'static>);

/// HEAD /v3/auth/tokens: validate without the body.
#[utoipa::path(head, path = "/v3/auth/tokens", tag = "tokens",
    params(("X-Subject-Token" = String, Header, description = "The token to check.")),
    responses((status = 200, description = "The token is valid.")),
    security(("token" = []), ("signature" = [])))]
#[allow(dead_code)]
fn check() {}

#[derive(utoipa::OpenApi)]
#[openapi(paths(issue, validate, check, revoke, projects, domains, catalog))]
pub(super) struct Doc;
