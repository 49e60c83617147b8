//! Signed requests: the Huawei SDK's (`Authorization: SDK-HMAC-SHA256 …`), Alibaba Cloud's
//! (`ACS3-HMAC-SHA256 …`) and Baidu Cloud's (`bce-auth-v1/…`). The first two cover the body,
//! so a signed request's body is read here (within the body limit), checked, and handed on
//! unchanged with what the signature established as an extension, which the `Caller`
//! extractors (and the cloud dialects) turn into the caller's identity. Requests without such
//! a header pass through untouched.
//!
//! `bce-auth-v1` covers a body only through `x-bce-content-sha256`, which Baidu's SDKs never
//! send, and has no nonce (its expiration, at most an hour, is the replay window): it is
//! admitted on the Baidu dialect's paths (`/v1/...`) only, and refused elsewhere, where a
//! signature must cover the body.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::ApiError;
use super::extract::header_text;
use crate::service::sts::ScopeHint;
use crate::service::{Error, Services, now_ms};
use crate::sts::signing::{ALGORITHM, Received, check_unambiguous};
use crate::sts::{acs3, bce};

/// Whose signature a request carries.
#[derive(Clone, Copy)]
enum Scheme {
    Huawei,
    Alibaba,
    Baidu,
}

impl Scheme {
    fn of(headers: &HeaderMap) -> Option<Scheme> {
        let value = headers.get(header::AUTHORIZATION)?.as_bytes();
        if value.starts_with(ALGORITHM.as_bytes()) {
            Some(Scheme::Huawei)
        } else if value.starts_with(acs3::ALGORITHM.as_bytes()) {
            Some(Scheme::Alibaba)
        } else if value.starts_with(bce::PREFIX.as_bytes()) {
            Some(Scheme::Baidu)
        } else {
            None
        }
    }
}

pub async fn verify(State(services): State<Arc<Services>>, req: Request, next: Next) -> Response {
    let Some(scheme) = Scheme::of(req.headers()) else {
        return next.run(req).await;
    };
    let (mut parts, body) = req.into_parts();
    let limit = services.config.body_limit;
    let Ok(bytes) = axum::body::to_bytes(body, limit).await else {
        return ApiError(Error::PayloadTooLarge { limit }).into_response();
    };
    // Alibaba's canonical query reads `+` as a space, as its SDK and this dialect do, and
    // refuses repeated names itself; `bce::verify` runs `check_unambiguous` itself.
    let checked: Result<(), String> = match scheme {
        Scheme::Huawei => check_unambiguous(parts.uri.path(), parts.uri.query()).map_err(|e| e.to_string()),
        Scheme::Alibaba => Ok(()),
        Scheme::Baidu if !super::baidu::is_dialect_path(parts.uri.path()) => {
            Err("bce-auth-v1 is accepted on the Baidu dialect's paths (/v1/...) only".into())
        }
        Scheme::Baidu => Ok(()),
    };
    if let Err(e) = checked {
        return ApiError(Error::Unauthenticated(format!("signed request: {e}"))).into_response();
    }
    let outcome = {
        let headers: Vec<(&str, &[u8])> = parts.headers.iter().map(|(k, v)| (k.as_str(), v.as_bytes())).collect();
        let request = Received {
            method: parts.method.as_str(),
            path: parts.uri.path(),
            query: parts.uri.query(),
            headers: &headers,
            body: &bytes,
            body_sha256: None,
        };
        let authorization = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        match scheme {
            Scheme::Huawei => {
                let security_token = header_text(&parts.headers, "x-security-token");
                services
                    .verify_signed_request(&request, authorization, security_token, now_ms())
                    .await
            }
            Scheme::Alibaba => {
                let security_token = header_text(&parts.headers, "x-acs-security-token");
                services
                    .verify_acs3_request(&request, authorization, security_token, now_ms())
                    .await
            }
            Scheme::Baidu => {
                let security_token = header_text(&parts.headers, "x-bce-security-token");
                services
                    .verify_bce_request(
                        &request,
                        authorization,
                        security_token,
                        super::baidu::body_sensitive(parts.method.as_str(), parts.uri.path()),
                        now_ms(),
                    )
                    .await
            }
        }
    };
    match outcome {
        Ok(outcome) => {
            parts.extensions.insert(outcome);
            next.run(Request::from_parts(parts, Body::from(bytes))).await
        }
        Err(e) => ApiError(e).into_response(),
    }
}

/// The scope a signed request names: `X-Project-Id`, else `X-Domain-Id`. Such a header counts
/// only when the signature covers it: otherwise anyone replaying a captured request could move
/// it to another scope of the signer.
pub fn scope_hint(headers: &HeaderMap, signed_headers: &[String]) -> Result<Option<ScopeHint>, Error> {
    let signed = |name: &str| signed_headers.iter().any(|h| h == name);
    for name in ["x-project-id", "x-domain-id"] {
        if header_text(headers, name).is_some() && !signed(name) {
            return Err(Error::Unauthenticated(format!("signed request: {name} is not signed")));
        }
    }
    if let Some(project) = header_text(headers, "x-project-id") {
        return Ok(Some(ScopeHint::Project(project.to_string())));
    }
    Ok(header_text(headers, "x-domain-id").map(|d| ScopeHint::Domain(d.to_string())))
}
