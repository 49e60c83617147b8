//! Federated token endpoints for OIDC: an id_token in, a federated token out (the same /auth
//! URL starts SAML sign-in when the protocol is saml). Verification, mapping and scoping live in the service.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, Uri};
use axum::response::Response;
use serde::Deserialize;

use super::auth::created;
use super::error::ApiError;
use super::extract::{ApiJson, header_text};
use crate::model::Protocol;
use crate::service::auth::ScopeSection;
use crate::service::oidc_login::IdTokenUse;
use crate::service::{Error, SignIn, now_ms};

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IdTokenAuthBody {
    auth: IdTokenAuth,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct IdTokenAuth {
    id_token: IdTokenSection,
    scope: Option<ScopeSection>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct IdTokenSection {
    id: String,
}

impl std::fmt::Debug for IdTokenSection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("IdTokenSection([redacted])")
    }
}

/// Exchange an OpenID Connect id_token for a federated token.
///
/// POST /v3.0/OS-AUTH/id-token/tokens: X-Idp-Id names the provider; with a scope, a scoped
/// token, without one an unscoped federated token.
#[utoipa::path(post, path = "/v3.0/OS-AUTH/id-token/tokens", tag = "federated-sign-in",
    params(
        ("X-Idp-Id" = String, Header, description = "The identity provider that issued the id_token."),
        ("nocatalog" = Option<String>, Query, description = "Leave the catalog out."),
    ),
    request_body = IdTokenAuthBody,
    responses((status = 201, description = "The federated token; its id in X-Subject-Token.", body = super::views::TokenBody,
        headers(("X-Subject-Token" = String, description = "The token.")))),
    security(()))]
pub async fn id_token_tokens(
    State(s): State<SignIn>,
    headers: HeaderMap,
    uri: Uri,
    ApiJson(body): ApiJson<IdTokenAuthBody>,
) -> Result<Response, ApiError> {
    let idp_id = header_text(&headers, "x-idp-id").ok_or_else(|| Error::MissingField {
        field: "X-Idp-Id".into(),
    })?;
    let now = now_ms();
    let IdTokenAuth { id_token, scope } = body.auth;
    let issued = s
        .oidc_login(idp_id, &id_token.id, None, IdTokenUse::Exchange, now)
        .await?;
    let issued = match scope {
        Some(scope) => s.scope_issued(issued, scope, now).await?,
        None => issued,
    };
    Ok(created(&s, &issued, &uri))
}

/// Sign in through a protocol: a bearer id_token for a token, or (SAML) start SP-initiated sign-in.
///
/// POST (and GET) /v3/OS-FEDERATION/identity_providers/{idp}/protocols/{protocol}/auth with
/// `Authorization: Bearer <id_token>`: an unscoped federated token, as keystoneauth1's
/// v3oidcaccesstoken plugin asks for it.
#[utoipa::path(post, path = "/v3/OS-FEDERATION/identity_providers/{id}/protocols/{protocol}/auth",
    operation_id = "protocol_auth_post", tag = "federated-sign-in",
    params(
        ("Authorization" = Option<String>, Header, description = "`Bearer <id_token>` (OIDC); absent for SAML to start sign-in."),
        ("PAOS" = Option<String>, Header, description = "An ECP client's PAOS header (SAML): answers with the PAOS request."),
        ("nocatalog" = Option<String>, Query, description = "Leave the catalog out."),
    ),
    responses(
        (status = 201, description = "With a bearer id_token: an unscoped federated token; its id in X-Subject-Token.",
            body = super::views::TokenBody, headers(("X-Subject-Token" = String, description = "The token."))),
        (status = 200, description = "SAML without a bearer token: the PAOS AuthnRequest for an ECP client (one that accepts \
            `application/vnd.paos+xml` or sends PAOS), else a page that posts the AuthnRequest to the identity provider.",
            content(
                (String = "application/vnd.paos+xml"),
                (String = "text/html"),
            )),
        (status = 302, description = "SAML, HTTP-Redirect binding: off to the identity provider.",
            headers(("Location" = String, description = "The identity provider's sign-in URL with the AuthnRequest."))),
    ),
    security(()))]
pub async fn protocol_auth(
    State(s): State<SignIn>,
    Path((idp_id, protocol_id)): Path<(String, String)>,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, ApiError> {
    let bearer = header_text(&headers, "authorization")
        .and_then(|v| {
            let (scheme, rest) = v.split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
        })
        .filter(|t| !t.is_empty());
    let bearer = match bearer {
        Some(b) => b,
        None if Protocol::parse(&protocol_id) == Some(Protocol::Saml) => {
            return super::saml::start(&s, &idp_id, &headers).await;
        }
        None => {
            return Err(
                Error::Unauthenticated(format!("{idp_id}/{protocol_id}/auth without a bearer id_token")).into(),
            );
        }
    };
    let issued = s.keystone_bearer_login(&idp_id, &protocol_id, bearer, now_ms()).await?;
    Ok(created(&s, &issued, &uri))
}

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(id_token_tokens, protocol_auth, super::saml::idp_initiated_tokens, super::saml::acs_post, super::saml::acs_ecp),
    tags((name = "federated-sign-in", description = "Federated tokens: an OpenID Connect id_token or a SAML Response in, a token out.")),
)]
pub(super) struct Doc;
