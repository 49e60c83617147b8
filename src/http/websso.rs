//! Browser sign-in pages (Keystone's WebSSO): the provider chooser, the redirect to the
//! identity provider, the OpenID Connect callback, and the auto-submitting form that hands the
//! token to a trusted dashboard. Every page is an askama template, HTML-escaped, served with a
//! strict Content-Security-Policy whose only script is the page's own, by nonce.

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;

use super::error::ApiError;
use crate::model::Protocol;
use crate::saml::sp_metadata::ACS_POST_PATH;
use crate::service::saml_login::SamlStart;
use crate::service::websso::OIDC_CALLBACK_PATH;
use crate::service::{Error, SignIn, fill_random, now_ms};

const BINDING_COOKIE: &str = "fedgate_websso";
/// The SAML dashboard sign-in's binding: its own name, sent only to the HTTP-POST ACS.
pub const SAML_BINDING_COOKIE: &str = "fedgate_websso_saml";

pub fn page_nonce() -> String {
    let mut bytes = [0u8; 16];
    fill_random(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// An HTML page with the headers every sign-in page carries. `form_action` names where the
/// page may post besides itself.
pub fn html_page(status: StatusCode, body: String, nonce: &str, form_action: Option<&str>) -> Response {
    let csp = format!(
        "default-src 'none'; script-src 'nonce-{nonce}'; style-src 'nonce-{nonce}'; base-uri 'none'; \
         frame-ancestors 'none'; form-action 'self'{}",
        form_action.map(|a| format!(" {a}")).unwrap_or_default()
    );
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    if let Ok(v) = HeaderValue::from_str(&csp) {
        headers.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    response
}

fn render<T: Template>(t: &T) -> Result<String, ApiError> {
    t.render()
        .map_err(|e| ApiError(Error::internal(format!("template: {e}"))))
}

#[derive(Template)]
#[template(path = "sso_error.html")]
pub struct ErrorPage<'a> {
    pub nonce: &'a str,
    pub heading: &'a str,
    pub message: &'a str,
    pub request_id: &'a str,
}

#[derive(Template)]
#[template(path = "sso_post.html")]
struct PostPage<'a> {
    nonce: &'a str,
    title: &'a str,
    action: &'a str,
    fields: Vec<(&'a str, &'a str)>,
}

/// A page that posts `fields` to `action` at once (with a button when scripts are off).
pub fn auto_post(title: &str, action: &str, fields: Vec<(&str, &str)>) -> Result<Response, ApiError> {
    let nonce = page_nonce();
    let body = render(&PostPage {
        nonce: &nonce,
        title,
        action,
        fields,
    })?;
    Ok(html_page(StatusCode::OK, body, &nonce, Some(action)))
}

/// Hands a federated token to a trusted dashboard, as Keystone's WebSSO does.
pub fn post_token_to_dashboard(origin: &str, token: &str) -> Result<Response, ApiError> {
    auto_post("Signing you in", origin, vec![("token", token)])
}

#[derive(Template)]
#[template(path = "oidc_fragment.html")]
struct FragmentPage<'a> {
    nonce: &'a str,
    callback: &'a str,
}

struct ChooserEntry {
    href: String,
    label: String,
}

#[derive(Template)]
#[template(path = "sso_chooser.html")]
struct ChooserPage<'a> {
    nonce: &'a str,
    protocol: &'a str,
    providers: Vec<ChooserEntry>,
}

#[derive(Debug, Deserialize)]
pub struct OriginQuery {
    origin: Option<String>,
}

fn origin(q: &OriginQuery) -> Result<&str, ApiError> {
    q.origin
        .as_deref()
        .ok_or_else(|| ApiError(Error::MissingField { field: "origin".into() }))
}

/// The providers to choose from for browser sign-in with a protocol.
///
/// GET /v3/auth/OS-FEDERATION/websso/{protocol}?origin=URL.
#[utoipa::path(get, path = "/v3/auth/OS-FEDERATION/websso/{protocol}", tag = "websso",
    params(("origin" = String, Query, description = "The trusted dashboard the token goes to.")),
    responses((status = 200, description = "The chooser page.", content_type = "text/html", body = String)),
    security(()))]
pub async fn chooser(
    State(s): State<SignIn>,
    Path(protocol): Path<String>,
    Query(q): Query<OriginQuery>,
) -> Result<Response, ApiError> {
    let origin = origin(&q)?;
    s.check_dashboard(origin)?;
    let query = serde_urlencoded::to_string([("origin", origin)]).unwrap_or_default();
    let offered = match Protocol::parse(&protocol) {
        Some(known) => s.websso_providers(known, now_ms()).await?,
        None => Vec::new(),
    };
    let providers = offered
        .into_iter()
        .map(|idp| ChooserEntry {
            href: format!("/v3/auth/OS-FEDERATION/identity_providers/{idp}/protocols/{protocol}/websso?{query}"),
            label: idp,
        })
        .collect();
    let nonce = page_nonce();
    let body = render(&ChooserPage {
        nonce: &nonce,
        protocol: &protocol,
        providers,
    })?;
    Ok(html_page(StatusCode::OK, body, &nonce, None))
}

/// Start browser sign-in: off to the identity provider.
///
/// GET /v3/auth/OS-FEDERATION/identity_providers/{idp}/protocols/{protocol}/websso?origin=URL
/// (and Keystone's /v3/OS-FEDERATION/... spelling).
#[utoipa::path(get, path = "/v3/auth/OS-FEDERATION/identity_providers/{id}/protocols/{protocol}/websso", tag = "websso",
    params(("origin" = String, Query, description = "The trusted dashboard the token goes to.")),
    responses(
        (status = 302, description = "To the identity provider: OpenID Connect, or SAML's HTTP-Redirect binding. Sets the browser-binding cookie.",
            headers(
                ("Location" = String, description = "The identity provider's sign-in URL."),
                ("Set-Cookie" = String, description = "The browser binding, sent back only to the endpoint that finishes the sign-in."),
            )),
        (status = 200, description = "SAML's HTTP-POST binding: a page that posts the AuthnRequest to the identity provider.",
            content_type = "text/html", body = String,
            headers(("Set-Cookie" = String, description = "The browser binding, sent back only to the assertion consumer."))),
    ),
    security(()))]
pub async fn start(
    State(s): State<SignIn>,
    Path((idp_id, protocol)): Path<(String, String)>,
    Query(q): Query<OriginQuery>,
) -> Result<Response, ApiError> {
    let origin = origin(&q)?;
    let Some(known) = Protocol::parse(&protocol) else {
        return Err(Error::invalid("protocol", format!("browser sign-in with {protocol} is not available")).into());
    };
    if known == Protocol::Saml {
        let started = s.start_saml_websso(&idp_id, origin, now_ms()).await?;
        let mut response = send_authn_request(started.send)?;
        set_binding_cookie(
            &mut response,
            &s.config.public_url,
            SAML_BINDING_COOKIE,
            ACS_POST_PATH,
            &started.binding,
        );
        return Ok(response);
    }
    let started = s.start_oidc_websso(&idp_id, origin, now_ms()).await?;
    let mut response = found(&started.redirect_to)?;
    set_binding_cookie(
        &mut response,
        &s.config.public_url,
        BINDING_COOKIE,
        OIDC_CALLBACK_PATH,
        &started.binding,
    );
    Ok(response)
}

/// The browser-binding cookie, sent back only to the endpoint that finishes the sign-in.
/// SameSite=None: the provider's answer (form_post, SAML HTTP-POST) is a cross-site POST.
/// An empty `value` expires it.
/// The path a browser sees for one of ours: under the public URL's own path (a proxy may serve
/// fedgate at `https://example.com/iam`).
fn cookie_path(public_url: &str, path: &str) -> String {
    let prefix = public_url
        .split_once("://")
        .and_then(|(_, rest)| rest.find('/').map(|i| &rest[i..]))
        .unwrap_or("")
        .trim_end_matches('/');
    format!("{prefix}{path}")
}

pub fn set_binding_cookie(response: &mut Response, public_url: &str, name: &str, path: &str, value: &str) {
    let max_age = if value.is_empty() { 0 } else { 600 };
    let path = cookie_path(public_url, path);
    let cookie = format!("{name}={value}; Path={path}; Max-Age={max_age}; HttpOnly; Secure; SameSite=None");
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
}

/// A 302 to `url`, never cached. A URL that cannot be a header is an error, so no 302 goes out
/// without its Location.
fn found(url: &str) -> Result<Response, ApiError> {
    let location = HeaderValue::from_str(url).map_err(|e| Error::internal_in(format!("redirect to {url:?}"), e))?;
    let mut response = StatusCode::FOUND.into_response();
    let headers = response.headers_mut();
    headers.insert(header::LOCATION, location);
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// Sends the browser to the identity provider with an AuthnRequest.
pub fn send_authn_request(started: SamlStart) -> Result<Response, ApiError> {
    match started {
        SamlStart::Redirect(url) => found(&url),
        SamlStart::Post {
            url,
            saml_request,
            relay_state,
        } => auto_post(
            "Continuing to your identity provider",
            &url,
            vec![("SAMLRequest", &saml_request), ("RelayState", &relay_state)],
        ),
        SamlStart::Paos(_) => Err(ApiError(Error::internal("a PAOS request is not a browser page"))),
    }
}

/// OpenID Connect callback, GET: response_mode=fragment lands here; the page posts the fragment back.
#[utoipa::path(get, path = "/v3-ext/auth/OS-FEDERATION/SSO/OIDC/callback", tag = "websso",
    responses((status = 200, description = "A page that posts the URL fragment back to this callback.", content_type = "text/html", body = String)),
    security(()))]
pub async fn callback_page(State(s): State<SignIn>) -> Result<Response, ApiError> {
    let nonce = page_nonce();
    let callback = s.oidc_callback_url();
    let body = render(&FragmentPage {
        nonce: &nonce,
        callback: &callback,
    })?;
    Ok(html_page(StatusCode::OK, body, &nonce, None))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct CallbackForm {
    #[serde(default)]
    id_token: String,
    #[serde(default)]
    state: String,
    #[serde(default)]
    error: String,
}

/// The value of the request's first cookie called `name`, from all its Cookie headers (HTTP/2
/// may split them); pairs that do not parse are skipped.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(::cookie::Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|c| c.name() == name)
        .and_then(|c| c.value_raw())
}

/// OpenID Connect callback, POST: checks the provider's answer and hands the token to the dashboard.
///
/// form_post, or the fragment page's relay.
#[utoipa::path(post, path = "/v3-ext/auth/OS-FEDERATION/SSO/OIDC/callback", tag = "websso",
    params(("Cookie" = Option<String>, Header, description = "`fedgate_websso`: the browser binding set when the sign-in started.")),
    request_body(content = CallbackForm, content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, description = "A page that posts the token to the dashboard; the binding cookie expires.",
        content_type = "text/html", body = String,
        headers(("Set-Cookie" = String, description = "The spent browser binding, expired.")))),
    security(()))]
pub async fn callback(
    State(s): State<SignIn>,
    headers: HeaderMap,
    Form(form): Form<CallbackForm>,
) -> Result<Response, ApiError> {
    if !form.error.is_empty() {
        return Err(Error::Unauthenticated(format!("the identity provider answered {:?}", form.error)).into());
    }
    let (issued, origin) = s
        .finish_oidc_websso(&form.state, &form.id_token, cookie(&headers, BINDING_COOKIE), now_ms())
        .await?;
    let mut response = post_token_to_dashboard(&origin, &issued.token)?;
    // The binding is spent.
    set_binding_cookie(
        &mut response,
        &s.config.public_url,
        BINDING_COOKIE,
        OIDC_CALLBACK_PATH,
        "",
    );
    Ok(response)
}

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(chooser, start, callback_page, callback),
    tags((name = "websso", description = "Browser sign-in (Keystone's WebSSO): HTML pages and redirects to and from the identity provider.")),
)]
pub(super) struct Doc;

#[cfg(test)]
mod tests {
    use super::{HeaderMap, HeaderValue, cookie, cookie_path, header};

    #[test]
    fn cookies_are_read_from_every_cookie_header() {
        let cases: [(&[&str], Option<&str>); 8] = [
            (&["fedgate_websso=abc"], Some("abc")),
            (&["a=1; fedgate_websso=abc;b=2"], Some("abc")),
            (&["a=1", "fedgate_websso=abc"], Some("abc")),
            (&["junk; =x; fedgate_websso=abc"], Some("abc")),
            (&["fedgate_websso=first; fedgate_websso=second"], Some("first")),
            (&["fedgate_websso="], Some("")),
            (&["fedgate_websso_saml=abc"], None),
            (&[], None),
        ];
        for (values, want) in cases {
            let mut headers = HeaderMap::new();
            for v in values {
                headers.append(header::COOKIE, HeaderValue::from_static(v));
            }
            assert_eq!(cookie(&headers, "fedgate_websso"), want, "{values:?}");
        }
    }

    #[test]
    fn binding_cookies_live_under_the_public_path() {
        let acs = "/v3-ext/auth/OS-FEDERATION/SSO/SAML2/POST";
        for (public_url, want) in [
            ("https://iam.example.com", acs.to_string()),
            ("https://iam.example.com/", acs.to_string()),
            ("https://example.com/iam", format!("/iam{acs}")),
            ("http://127.0.0.1:5000/a/b/", format!("/a/b{acs}")),
        ] {
            assert_eq!(cookie_path(public_url, acs), want, "{public_url}");
        }
    }
}
