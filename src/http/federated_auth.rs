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

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdTokenAuthBody {
    auth: IdTokenAuth,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct IdTokenAuth {
    id_token: IdTokenSection,
    scope: Option<ScopeSection>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct IdTokenSection {
    id: String,
}

impl std::fmt::Debug for IdTokenSection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("IdTokenSection([redacted])")
    }
}

/// POST /v3.0/OS-AUTH/id-token/tokens: X-Idp-Id names the provider; with a scope, a scoped
/// token, without one an unscoped federated token.
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

/// POST (and GET) /v3/OS-FEDERATION/identity_providers/{idp}/protocols/{protocol}/auth with
/// `Authorization: Bearer <id_token>`: an unscoped federated token, as keystoneauth1's
/// v3oidcaccesstoken plugin asks for it.
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
