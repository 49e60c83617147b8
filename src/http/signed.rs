//! Requests signed the Huawei SDK way (`Authorization: SDK-HMAC-SHA256 …`): the signature
//! covers the body, so a signed request's body is read here (within the body limit), checked,
//! and handed on unchanged with what the signature established as an extension, which the
//! `Caller` extractors turn into the caller's identity. Requests without such a header pass
//! through untouched.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::ApiError;
use super::extract::header_text;
use crate::service::sts::ScopeHint;
use crate::service::{Error, Services, now_ms};
use crate::sts::signing::{ALGORITHM, Received};

pub async fn verify(State(services): State<Arc<Services>>, req: Request, next: Next) -> Response {
    let signed = req
        .headers()
        .get(header::AUTHORIZATION)
        .is_some_and(|v| v.as_bytes().starts_with(ALGORITHM.as_bytes()));
    if !signed {
        return next.run(req).await;
    }
    let (mut parts, body) = req.into_parts();
    let limit = services.config.body_limit;
    let Ok(bytes) = axum::body::to_bytes(body, limit).await else {
        return ApiError(Error::PayloadTooLarge { limit }).into_response();
    };
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
        let security_token = header_text(&parts.headers, "x-security-token");
        services
            .verify_signed_request(&request, authorization, security_token, now_ms())
            .await
    };
    match outcome {
        Ok(outcome) => {
            parts.extensions.insert(outcome);
            next.run(Request::from_parts(parts, Body::from(bytes))).await
        }
        Err(e) => ApiError(e).into_response(),
    }
}

/// The scope a signed request names: `X-Project-Id`, else `X-Domain-Id`.
pub fn scope_hint(headers: &HeaderMap) -> Option<ScopeHint> {
    if let Some(project) = header_text(headers, "x-project-id") {
        return Some(ScopeHint::Project(project.to_string()));
    }
    header_text(headers, "x-domain-id").map(|d| ScopeHint::Domain(d.to_string()))
}

/// The action a request performs on fedgate, as session policies name actions:
/// `iam:<resource>:<verb>`, the resource being the route's last literal segment (lower case,
/// without `-` and `_`) and the verb `get` (one object), `list`, `create`, `update` or
/// `delete`. `GET /v3/projects` is `iam:projects:list`; `POST
/// /v3.0/OS-CREDENTIAL/securitytokens` is `iam:securitytokens:create`.
pub fn action(method: &Method, route: &str) -> String {
    let segments: Vec<&str> = route.split('/').filter(|s| !s.is_empty()).collect();
    let one_object = segments.last().is_some_and(|s| s.starts_with('{'));
    let resource = segments
        .iter()
        .rev()
        .find(|s| !s.starts_with('{') && !s.starts_with("v3"))
        .map(|s| s.to_ascii_lowercase().replace(['-', '_'], ""))
        .unwrap_or_else(|| "versions".into());
    let verb = match *method {
        Method::GET | Method::HEAD if one_object => "get",
        Method::GET | Method::HEAD => "list",
        Method::POST => "create",
        Method::PUT | Method::PATCH => "update",
        Method::DELETE => "delete",
        _ => "call",
    };
    format!("iam:{resource}:{verb}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_name_resource_and_verb() {
        for (method, route, want) in [
            (Method::GET, "/v3/projects", "iam:projects:list"),
            (Method::GET, "/v3/projects/{id}", "iam:projects:get"),
            (Method::PATCH, "/v3/projects/{id}", "iam:projects:update"),
            (
                Method::POST,
                "/v3.0/OS-CREDENTIAL/securitytokens",
                "iam:securitytokens:create",
            ),
            (
                Method::DELETE,
                "/v3.0/OS-CREDENTIAL/credentials/{access}",
                "iam:credentials:delete",
            ),
            (Method::GET, "/v3/users/{id}/groups", "iam:groups:list"),
            (Method::PUT, "/v3/groups/{group_id}/users/{user_id}", "iam:users:update"),
            (Method::HEAD, "/v3/auth/tokens", "iam:tokens:list"),
            (Method::GET, "/v3", "iam:versions:list"),
            (
                Method::GET,
                "/v3.0/OS-PERMISSION/role-assignments",
                "iam:roleassignments:list",
            ),
        ] {
            assert_eq!(action(&method, route), want, "{method} {route}");
        }
    }
}
