//! Extractors whose rejections are our `ApiError`, so malformed input gets the API's error
//! body naming the offending field instead of axum's plain text.

use axum::body::Bytes;
use axum::extract::{FromRef, FromRequest, FromRequestParts, MatchedPath, Request};
use axum::http::header::CONTENT_TYPE;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;
use std::sync::Arc;

use super::error::ApiError;
use crate::service::sts::{ScopeHint, SignedBy, SignedOutcome};
use crate::service::{AuthContext, Error, IamCode, Services, now_ms};

/// JSON body; `application/json` with any parameters, or no Content-Type at all.
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    Arc<Services>: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = json_body(req, state).await?;
        parse_json(&bytes).map(ApiJson).map_err(ApiError)
    }
}

/// The bytes of a body that says it is JSON (`application/json` with any parameters, or no
/// Content-Type at all), within the body limit.
pub async fn json_body<S>(req: Request, state: &S) -> Result<Bytes, Error>
where
    Arc<Services>: FromRef<S>,
    S: Send + Sync,
{
    if let Some(ct) = req.headers().get(CONTENT_TYPE) {
        let ct = ct.to_str().unwrap_or("").to_ascii_lowercase();
        let essence = ct.split(';').next().unwrap_or("").trim();
        if essence != "application/json" && !essence.ends_with("+json") {
            return Err(Error::UnsupportedMediaType {
                expected: "application/json",
            });
        }
    }
    let limit = Arc::<Services>::from_ref(state).config.body_limit;
    Bytes::from_request(req, state).await.map_err(|rejection| {
        if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
            Error::PayloadTooLarge { limit }
        } else {
            Error::BadRequest("The request body could not be read.".into())
        }
    })
}

/// How every answer about a body that is not JSON at all begins (Baidu's `MalformedJSON`).
pub const UNREADABLE_BODY: &str = "The request body is invalid";

/// Parses JSON, naming the JSON path of the first offending element.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Error> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(Error::BadRequest(format!("{UNREADABLE_BODY}: it is empty.")));
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        match inner.classify() {
            serde_json::error::Category::Data => {
                let msg = inner.to_string();
                match msg.strip_prefix("missing field `").and_then(|m| m.split('`').next()) {
                    Some(field) => Error::MissingField {
                        field: join_path(&path, field),
                    },
                    None => Error::invalid(
                        if path == "." { "body".to_string() } else { path },
                        strip_position(&msg),
                    ),
                }
            }
            _ => Error::BadRequest(format!("{UNREADABLE_BODY}: {}.", strip_position(&inner.to_string()))),
        }
    })?;
    de.end()
        .map_err(|_| Error::BadRequest(format!("{UNREADABLE_BODY}: trailing characters after the JSON value.")))?;
    Ok(value)
}

fn join_path(path: &str, field: &str) -> String {
    if path.is_empty() || path == "." {
        field.to_string()
    } else {
        format!("{path}.{field}")
    }
}

fn strip_position(msg: &str) -> String {
    match msg.find(" at line ") {
        Some(i) => msg[..i].to_string(),
        None => msg.to_string(),
    }
}

/// Query string parsed with serde; errors name the parameter.
pub struct ApiQuery<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiQuery<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or("");
        serde_urlencoded::from_str(query)
            .map(ApiQuery)
            .map_err(|e| ApiError(Error::invalid("query", e.to_string())))
    }
}

/// `page` and `per_page` (API.md §0): both or neither, `page` from 1, `per_page` from 1 to
/// the endpoint's maximum.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Paging {
    pub page: usize,
    pub per_page: usize,
}

impl Paging {
    pub fn from_query(query: Option<&str>, max_per_page: usize) -> Result<Option<Paging>, Error> {
        let pairs: Vec<(String, String)> =
            serde_urlencoded::from_str(query.unwrap_or("")).map_err(|e| Error::invalid("query", e.to_string()))?;
        let find = |name: &str| pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
        let number = |name: &str, value: &str, max: usize| {
            value
                .parse::<usize>()
                .ok()
                .filter(|n| (1..=max).contains(n))
                .ok_or_else(|| Error::invalid(name, format!("must be an integer from 1 to {max}")))
        };
        match (find("page"), find("per_page")) {
            (None, None) => Ok(None),
            (Some(page), Some(per_page)) => Ok(Some(Paging {
                page: number("page", page, u32::MAX as usize)?,
                per_page: number("per_page", per_page, max_per_page)?,
            })),
            (Some(_), None) => Err(Error::invalid("per_page", "must be given with page")),
            (None, Some(_)) => Err(Error::invalid("page", "must be given with per_page")),
        }
    }

    /// This page of `items`, and whether more follow it.
    pub fn apply<T>(paging: Option<Paging>, items: Vec<T>) -> (Vec<T>, bool) {
        let Some(p) = paging else { return (items, false) };
        let start = (p.page - 1).saturating_mul(p.per_page);
        let more = items.len() > start.saturating_add(p.per_page);
        (items.into_iter().skip(start).take(p.per_page).collect(), more)
    }
}

/// True when the query string carries `name`, with or without a value (`?nocatalog`).
pub fn has_query_flag(parts_query: Option<&str>, name: &str) -> bool {
    parts_query
        .unwrap_or("")
        .split('&')
        .any(|kv| kv.split('=').next() == Some(name))
}

/// The authenticated caller: from a verified request signature (`SDK-HMAC-SHA256`, see
/// `signed.rs`), else from X-Auth-Token. A temporary credential's session policies must allow
/// the route's action (`actions.rs`); a route without one is refused to such a caller.
pub struct Caller(pub AuthContext);

impl<S> FromRequestParts<S> for Caller
where
    Arc<Services>: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let services = Arc::<Services>::from_ref(state);
        let maybe = MaybeCaller::from_request_parts(parts, state).await?;
        let Some(ctx) = maybe.resolve(&services).await? else {
            return Err(Error::Unauthenticated("no X-Auth-Token header or request signature".into()).into());
        };
        if !ctx.session_policies.is_empty() {
            let route = parts.extensions.get::<MatchedPath>().map(|m| m.as_str()).unwrap_or("");
            let action = super::actions::action(&parts.method, route).ok_or_else(|| Error::IamRule {
                code: IamCode::PolicyDenies,
                message: format!("Policy doesn't allow {} {route} to be performed.", parts.method),
            })?;
            services.check_session_policies(&ctx, action)?;
        }
        Ok(Caller(ctx))
    }
}

/// Who the request says is calling (a signature by a known key, or X-Auth-Token), resolved
/// only when the handler needs it: where the body may prove the caller instead (password
/// tokens, securitytokens with a token in the body), a stale X-Auth-Token or a signature by an
/// unknown key must not stand in the way. The Huawei SDK signs every request with whatever key
/// it holds, so an unknown key's signature is ignored.
pub struct MaybeCaller {
    signed: Option<(SignedBy, Result<Option<ScopeHint>, Error>)>,
    token: Option<String>,
}

impl MaybeCaller {
    /// The caller, if the request names one; an invalid one is an error.
    pub async fn resolve(self, services: &Services) -> Result<Option<AuthContext>, Error> {
        let now = now_ms();
        if let Some((by, hint)) = self.signed {
            return Ok(Some(services.signed_context(&by, hint?, now).await?));
        }
        match self.token {
            Some(token) => Ok(Some(services.authenticate(&token, now).await?)),
            None => Ok(None),
        }
    }
}

impl<S> FromRequestParts<S> for MaybeCaller
where
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let signed = match parts.extensions.get::<SignedOutcome>() {
            Some(SignedOutcome::Verified { by, signed_headers, .. }) => {
                Some((by.clone(), super::signed::scope_hint(&parts.headers, signed_headers)))
            }
            _ => None,
        };
        let token = header_text(&parts.headers, "x-auth-token").map(str::to_string);
        Ok(MaybeCaller { signed, token })
    }
}

/// A required header's value as text.
pub fn header_text<'a>(parts: &'a axum::http::HeaderMap, name: &str) -> Option<&'a str> {
    parts
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Outer {
        user: Inner,
    }

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Inner {
        name: String,
        enabled: Option<bool>,
    }

    #[test]
    fn paging_comes_in_pairs_within_range() {
        let ok = |q: &str| Paging::from_query(Some(q), 50);
        assert_eq!(ok("").ok(), Some(None));
        assert_eq!(ok("name=x").ok(), Some(None));
        assert_eq!(
            ok("page=2&per_page=50").ok(),
            Some(Some(Paging { page: 2, per_page: 50 }))
        );
        for (q, field) in [
            ("page=1", "per_page"),
            ("per_page=5", "page"),
            ("page=0&per_page=5", "page"),
            ("page=x&per_page=5", "page"),
            ("page=1&per_page=51", "per_page"),
            ("page=1&per_page=0", "per_page"),
            ("page=1&per_page=-1", "per_page"),
        ] {
            match ok(q) {
                Err(Error::InvalidField { field: f, .. }) => assert_eq!(f, field, "{q}"),
                other => panic!("{q}: {other:?}"),
            }
        }
        let items: Vec<u32> = (1..=5).collect();
        assert_eq!(Paging::apply(None, items.clone()), (items.clone(), false));
        let page = |page, per_page| Some(Paging { page, per_page });
        assert_eq!(Paging::apply(page(1, 2), items.clone()), (vec![1, 2], true));
        assert_eq!(Paging::apply(page(3, 2), items.clone()), (vec![5], false));
        assert_eq!(Paging::apply(page(2, 5), items.clone()), (vec![], false));
        assert_eq!(Paging::apply(page(usize::MAX, usize::MAX), items), (vec![], false));
    }

    #[test]
    fn json_errors_name_the_offending_field() {
        let cases: Vec<(&str, &str)> = vec![
            (r#"{"user": {"name": "a", "enabled": "yes"}}"#, "user.enabled"),
            (r#"{"user": {"enabled": true}}"#, "'user.name' is a required property"),
            (r#"{"user": {"name": 5}}"#, "user.name"),
            (r#"{"usr": {}}"#, "'user' is a required property"),
            (r#"{"user": "#, "The request body is invalid"),
            (r#"{"user": {"name": "a"}} x"#, "trailing characters"),
            ("", "empty"),
            ("[]", "body"),
        ];
        for (body, want) in cases {
            let err = parse_json::<Outer>(body.as_bytes()).unwrap_err();
            let report = format!("{err}");
            let shown = match &err {
                Error::MissingField { field } => format!("'{field}' is a required property"),
                _ => report.clone(),
            };
            assert!(shown.contains(want), "{body:?}: got {shown:?}, want {want:?}");
        }
    }
}
