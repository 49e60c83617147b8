//! Cross-cutting request handling: request id (generated, echoed as X-Request-Id), one span per
//! request carrying it, the request as audit events see it, metrics by route and status, and
//! the final error body for the path.

use std::net::SocketAddr;
use std::time::Instant;

use axum::extract::{ConnectInfo, MatchedPath, Request};
use axum::http::{HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

use super::error::{ErrorReport, Shape, render, report_for_status};

/// The request's id, for handlers whose answers carry it (Alibaba's `RequestId`).
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// The route template that matched, passed from the inner route layer to `observe`.
#[derive(Debug, Clone)]
struct RouteName(String);

pub async fn capture_route(matched: Option<MatchedPath>, req: Request, next: Next) -> Response {
    let mut response = next.run(req).await;
    if let Some(m) = matched {
        response.extensions_mut().insert(RouteName(m.as_str().to_string()));
    }
    response
}

pub async fn observe(mut req: Request, next: Next) -> Response {
    let request_id = format!("req-{}", uuid::Uuid::new_v4());
    let method = req.method().clone();
    let shape = Shape::of(req.uri().path(), req.uri().query(), req.headers());
    // Only Alibaba's error body names the host.
    let host = match shape {
        Shape::Alibaba => req
            .headers()
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("")
            .to_string(),
        _ => String::new(),
    };
    req.extensions_mut().insert(RequestId(request_id.clone()));
    let audited = audit_request(&req, &request_id);
    // Only the route template is logged: raw paths and queries can carry tokens.
    let span =
        tracing::info_span!("request", request_id = %request_id, method = %method, route = tracing::field::Empty);
    let started = Instant::now();
    // A NUL anywhere in the path or query reaches no handler: PostgreSQL refuses it in text,
    // and no name or id of ours holds one.
    let nul = |text: &str| text.as_bytes().windows(3).any(|w| w == b"%00");
    let mut response = if nul(req.uri().path()) || req.uri().query().is_some_and(nul) {
        let refused = super::error::ApiError(crate::service::Error::BadRequest(
            "The request contains a NUL character.".into(),
        ));
        axum::response::IntoResponse::into_response(refused)
    } else {
        crate::service::audit::within(audited, next.run(req).instrument(span.clone())).await
    };
    let route = response
        .extensions()
        .get::<RouteName>()
        .map(|r| r.0.clone())
        .unwrap_or_else(|| "unmatched".to_string());
    span.record("route", route.as_str());
    let status = response.status();
    span.in_scope(|| {
        if status.is_client_error() || status.is_server_error() {
            let is_json = response
                .headers()
                .get(header::CONTENT_TYPE)
                .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
            let report = response.extensions().get::<ErrorReport>().cloned();
            let report = match report {
                Some(r) => Some(r),
                None if !is_json => Some(report_for_status(status)),
                None => None,
            };
            if let Some(report) = report {
                let extensions = std::mem::take(response.extensions_mut());
                response = render(&report, shape, &host, method == Method::HEAD, &request_id);
                *response.extensions_mut() = extensions;
            }
        }
        let latency = started.elapsed();
        tracing::info!(
            status = status.as_u16(),
            latency_ms = latency.as_secs_f64() * 1000.0,
            "request finished"
        );
        let labels = [
            ("route", route.clone()),
            ("method", method.to_string()),
            ("status", status.as_u16().to_string()),
        ];
        metrics::counter!("fedgate_http_requests_total", &labels).increment(1);
        metrics::histogram!("fedgate_http_request_duration_seconds", &labels).record(latency.as_secs_f64());
    });
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        // Baidu's SDKs read the request id of every answer, success or error, from this one.
        if shape == Shape::Baidu {
            response.headers_mut().insert("x-bce-request-id", v.clone());
        }
        response.headers_mut().insert("x-request-id", v.clone());
        response.headers_mut().insert("x-openstack-request-id", v);
    }
    response
}

/// Enough of a User-Agent to tell clients apart, so no client grows the audit log at will.
const MAX_AGENT_CHARS: usize = 256;

/// The request as its audit events name it: the id this middleware gave it, the peer's
/// address (the socket's: a proxy in front is what it shows) and the User-Agent.
fn audit_request(req: &Request, request_id: &str) -> crate::audit::Request {
    crate::audit::Request {
        id: request_id.to_string(),
        address: req
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip().to_string()),
        agent: req.headers().get(header::USER_AGENT).map(|v| {
            String::from_utf8_lossy(v.as_bytes())
                .chars()
                .take(MAX_AGENT_CHARS)
                .collect()
        }),
    }
}
