//! Version discovery, the read-only catalog (services, endpoints, regions) and /metrics.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, Uri, header};
use axum::response::IntoResponse;
use serde_json::{Value, json};

use super::error::ApiError;
use super::extract::{ApiQuery, Caller};
use super::views;
use crate::service::{Error, Services};

fn v3(base: &str) -> Value {
    json!({
        "id": "v3.6",
        "status": "stable",
        "updated": "2016-04-04T00:00:00Z",
        "links": [{"rel": "self", "href": format!("{base}/v3/")}],
        "media-types": [{"base": "application/json", "type": "application/vnd.openstack.identity-v3+json"}],
    })
}

pub async fn versions(State(s): State<Arc<Services>>) -> (StatusCode, Json<Value>) {
    (
        StatusCode::MULTIPLE_CHOICES,
        Json(json!({"versions": {"values": [v3(&s.config.public_url)]}})),
    )
}

pub async fn version(State(s): State<Arc<Services>>) -> Json<Value> {
    Json(json!({"version": v3(&s.config.public_url)}))
}

pub async fn services(
    State(s): State<Arc<Services>>,
    Caller(_): Caller,
    ApiQuery(q): ApiQuery<HashMap<String, String>>,
    uri: Uri,
) -> Json<Value> {
    let base = &s.config.public_url;
    let items = s
        .catalog
        .services
        .iter()
        .filter(|svc| q.get("type").is_none_or(|t| *t == svc.service_type))
        .map(|svc| views::service(base, svc));
    views::list("services", items, views::list_links(base, uri.path())).into()
}

pub async fn service(
    State(s): State<Arc<Services>>,
    Caller(_): Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let svc = s
        .catalog
        .services
        .iter()
        .find(|svc| svc.id == id)
        .ok_or_else(|| Error::not_found("service", &id))?;
    Ok(Json(json!({"service": views::service(&s.config.public_url, svc)})))
}

pub async fn endpoints(
    State(s): State<Arc<Services>>,
    Caller(_): Caller,
    ApiQuery(q): ApiQuery<HashMap<String, String>>,
    uri: Uri,
) -> Json<Value> {
    let base = &s.config.public_url;
    let items = s
        .catalog
        .endpoints()
        .filter(|e| q.get("interface").is_none_or(|i| *i == e.interface))
        .filter(|e| q.get("service_id").is_none_or(|i| *i == e.service_id))
        .map(|e| views::endpoint(base, e));
    views::list("endpoints", items, views::list_links(base, uri.path())).into()
}

pub async fn endpoint(
    State(s): State<Arc<Services>>,
    Caller(_): Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let e = s
        .catalog
        .endpoints()
        .find(|e| e.id == id)
        .ok_or_else(|| Error::not_found("endpoint", &id))?;
    Ok(Json(json!({"endpoint": views::endpoint(&s.config.public_url, e)})))
}

pub async fn regions(State(s): State<Arc<Services>>, uri: Uri) -> Json<Value> {
    let base = &s.config.public_url;
    let items = s.catalog.regions.iter().map(|r| views::region(base, r));
    views::list("regions", items, views::list_links(base, uri.path())).into()
}

pub async fn region(State(s): State<Arc<Services>>, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    let r = s
        .catalog
        .regions
        .iter()
        .find(|r| r.id == id)
        .ok_or_else(|| Error::not_found("region", &id))?;
    Ok(Json(json!({"region": views::region(&s.config.public_url, r)})))
}

pub async fn metrics() -> impl IntoResponse {
    let body = crate::telemetry::metrics_handle()
        .map(|h| h.render())
        .unwrap_or_default();
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body)
}

/// GET /healthz: the process answers (liveness).
pub async fn healthz() -> Json<Value> {
    Json(json!({"status": "alive"}))
}

/// GET /readyz: the store answers and token keys are loaded (readiness); 503 otherwise, the
/// reason in the log.
pub async fn readyz(State(s): State<Arc<Services>>) -> (StatusCode, Json<Value>) {
    match s.readiness().await {
        Ok(()) => (StatusCode::OK, Json(json!({"status": "ready"}))),
        Err(reason) => {
            tracing::warn!(%reason, "not ready");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({"status": "unavailable", "reason": "the store or the token keys are not available"})),
            )
        }
    }
}

pub async fn not_found(uri: Uri) -> ApiError {
    ApiError(Error::not_found("resource", uri.path()))
}
