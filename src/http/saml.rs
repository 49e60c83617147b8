//! SAML endpoints: the IdP-initiated token API, the two assertion consumers our metadata
//! advertises (HTTP-POST and PAOS), and the SP-initiated start at `…/protocols/saml/auth`
//! (a browser redirect, or the PAOS envelope for ECP clients). Reading the form or envelope,
//! and validation, live in the service.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};

use super::auth::created;
use super::error::ApiError;
use super::extract::header_text;
use super::websso::{SAML_BINDING_COOKIE, cookie, post_token_to_dashboard, send_authn_request, set_binding_cookie};
use crate::saml::request::PAOS_CONTENT_TYPE;
use crate::saml::sp_metadata::ACS_POST_PATH;
use crate::service::saml_login::{Acs, SamlStart, StartFor};
use crate::service::{Error, SignIn, now_ms};

fn content_type_is(headers: &HeaderMap, expected: &str) -> bool {
    header_text(headers, "content-type")
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case(expected))
}

/// The consumers of a form post take only `application/x-www-form-urlencoded`; the service
/// reads the form.
fn require_form(headers: &HeaderMap) -> Result<(), ApiError> {
    const FORM: &str = "application/x-www-form-urlencoded";
    if !content_type_is(headers, FORM) {
        return Err(Error::UnsupportedMediaType { expected: FORM }.into());
    }
    Ok(())
}

/// IdP-initiated sign-in: a SAMLResponse for an unscoped federated token.
///
/// POST /v3.0/OS-FEDERATION/tokens (reference §5.13.6.1): X-Idp-Id and a form SAMLResponse.
#[utoipa::path(post, path = "/v3.0/OS-FEDERATION/tokens", tag = "federated-sign-in",
    params(
        ("X-Idp-Id" = String, Header, description = "The identity provider that issued the Response."),
        ("nocatalog" = Option<String>, Query, description = "Leave the catalog out."),
    ),
    request_body(content = crate::service::saml_login::SamlForm, content_type = "application/x-www-form-urlencoded"),
    responses((status = 201, description = "The federated token; its id in X-Subject-Token.", body = super::views::TokenBody,
        headers(("X-Subject-Token" = String, description = "The token.")))),
    security(()))]
pub async fn idp_initiated_tokens(
    State(s): State<SignIn>,
    headers: HeaderMap,
    uri: Uri,
    body: Bytes,
) -> Result<Response, ApiError> {
    let idp_id = header_text(&headers, "x-idp-id").ok_or_else(|| Error::MissingField {
        field: "X-Idp-Id".into(),
    })?;
    require_form(&headers)?;
    let signed_in = s
        .finish_saml_post(Acs::Tokens, Some(idp_id), body, None, now_ms())
        .await?;
    Ok(created(&s, &signed_in.issued, &uri))
}

/// The SAML assertion consumer (HTTP-POST binding): a WebSSO sign-in ends on the dashboard,
/// any other answers with the token.
///
/// POST {public}/v3-ext/auth/OS-FEDERATION/SSO/SAML2/POST, the browser's form post.
#[utoipa::path(post, path = "/v3-ext/auth/OS-FEDERATION/SSO/SAML2/POST", tag = "federated-sign-in",
    params(
        ("nocatalog" = Option<String>, Query, description = "Leave the catalog out."),
        ("Cookie" = Option<String>, Header, description = "`fedgate_websso_saml`: the browser binding of a WebSSO sign-in."),
    ),
    request_body(content = crate::service::saml_login::SamlForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "A WebSSO sign-in: a page that posts the token to the dashboard.", content_type = "text/html", body = String),
        (status = 201, description = "The federated token; its id in X-Subject-Token.", body = super::views::TokenBody,
        headers(("X-Subject-Token" = String, description = "The token."))),
    ),
    security(()))]
pub async fn acs_post(
    State(s): State<SignIn>,
    headers: HeaderMap,
    uri: Uri,
    body: Bytes,
) -> Result<Response, ApiError> {
    require_form(&headers)?;
    let binding = cookie(&headers, SAML_BINDING_COOKIE);
    let signed_in = s.finish_saml_post(Acs::Post, None, body, binding, now_ms()).await?;
    match &signed_in.dashboard {
        Some(origin) => {
            let mut page = post_token_to_dashboard(origin, &signed_in.issued.token)?;
            // The binding is spent.
            set_binding_cookie(&mut page, &s.config.public_url, SAML_BINDING_COOKIE, ACS_POST_PATH, "");
            Ok(page)
        }
        None => Ok(created(&s, &signed_in.issued, &uri)),
    }
}

/// The SAML assertion consumer for ECP clients (PAOS binding): the token.
///
/// POST {public}/v3-ext/auth/OS-FEDERATION/SSO/SAML2/ECP: the IdP's SOAP response relayed by
/// an ECP client, with our RelayState header; the token as keystoneauth1 expects it.
#[utoipa::path(post, path = "/v3-ext/auth/OS-FEDERATION/SSO/SAML2/ECP", tag = "federated-sign-in",
    params(("nocatalog" = Option<String>, Query, description = "Leave the catalog out.")),
    request_body(content = String, content_type = "application/vnd.paos+xml",
        description = "The SOAP envelope: the identity provider's Response, and the RelayState header of our PAOS request."),
    responses((status = 201, description = "The federated token; its id in X-Subject-Token.", body = super::views::TokenBody,
        headers(("X-Subject-Token" = String, description = "The token.")))),
    security(()))]
pub async fn acs_ecp(State(s): State<SignIn>, uri: Uri, body: Bytes) -> Result<Response, ApiError> {
    let signed_in = s.finish_ecp_login(&body, now_ms()).await?;
    Ok(created(&s, &signed_in.issued, &uri))
}

/// An ECP client announces itself by accepting the PAOS media type (anywhere in Accept, as
/// keystoneauth1 puts it after `*/*`) or by a PAOS header.
pub fn wants_paos(headers: &HeaderMap) -> bool {
    headers.contains_key("paos")
        || headers
            .get_all(header::ACCEPT)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .any(|t| {
                t.split(';')
                    .next()
                    .is_some_and(|t| t.trim().eq_ignore_ascii_case(PAOS_CONTENT_TYPE))
            })
}

/// GET|POST …/identity_providers/{idp}/protocols/saml/auth without a bearer token: starts
/// SP-initiated sign-in.
pub async fn start(s: &SignIn, idp_id: &str, headers: &HeaderMap) -> Result<Response, ApiError> {
    if wants_paos(headers) {
        let SamlStart::Paos(envelope) = s.start_saml_login(idp_id, StartFor::Ecp, now_ms()).await? else {
            return Err(Error::internal("ECP start did not give a PAOS request").into());
        };
        let mut response = (StatusCode::OK, envelope).into_response();
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(PAOS_CONTENT_TYPE));
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        return Ok(response);
    }
    send_authn_request(s.start_saml_login(idp_id, StartFor::Browser, now_ms()).await?)
}
