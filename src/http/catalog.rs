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

fn service_json(base: &str, svc: &crate::service::catalog::CatalogService) -> Value {
    json!({
        "id": svc.id, "name": svc.name, "type": svc.service_type, "enabled": true,
        "description": svc.description,
        "links": {"self": format!("{base}/v3/services/{}", svc.id)},
    })
}

fn endpoint_json(base: &str, e: &crate::service::catalog::CatalogEndpoint) -> Value {
    json!({
        "id": e.id, "service_id": e.service_id, "region": e.region, "region_id": e.region,
        "interface": e.interface, "url": e.url, "enabled": true,
        "links": {"self": format!("{base}/v3/endpoints/{}", e.id)},
    })
}

pub async fn services(
    State(s): State<Arc<Services>>,
    Caller(_): Caller,
    ApiQuery(q): ApiQuery<HashMap<String, String>>,
    uri: Uri,
) -> Json<Value> {
    let base = &s.config.public_url;
    let items: Vec<Value> = s
        .catalog
        .services
        .iter()
        .filter(|svc| q.get("type").is_none_or(|t| *t == svc.service_type))
        .map(|svc| service_json(base, svc))
        .collect();
    Json(json!({"services": items, "links": views::list_links(base, uri.path())}))
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
    Ok(Json(json!({"service": service_json(&s.config.public_url, svc)})))
}

pub async fn endpoints(
    State(s): State<Arc<Services>>,
    Caller(_): Caller,
    ApiQuery(q): ApiQuery<HashMap<String, String>>,
    uri: Uri,
) -> Json<Value> {
    let base = &s.config.public_url;
    let items: Vec<Value> = s
        .catalog
        .endpoints()
        .filter(|e| q.get("interface").is_none_or(|i| *i == e.interface))
        .filter(|e| q.get("service_id").is_none_or(|i| *i == e.service_id))
        .map(|e| endpoint_json(base, e))
        .collect();
    Json(json!({"endpoints": items, "links": views::list_links(base, uri.path())}))
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
    Ok(Json(json!({"endpoint": endpoint_json(&s.config.public_url, e)})))
}

fn region_json(base: &str, r: &crate::service::catalog::Region) -> Value {
    json!({
        "id": r.id, "type": "public", "description": r.description, "parent_region_id": null,
        "locales": {"en-us": r.id, "zh-cn": r.id, "pt-br": r.id, "es-us": r.id, "es-es": r.id},
        "links": {"self": format!("{base}/v3/regions/{}", r.id)},
    })
}

pub async fn regions(State(s): State<Arc<Services>>, uri: Uri) -> Json<Value> {
    let base = &s.config.public_url;
    let items: Vec<Value> = s.catalog.regions.iter().map(|r| region_json(base, r)).collect();
    Json(json!({"regions": items, "links": views::list_links(base, uri.path())}))
}

pub async fn region(State(s): State<Arc<Services>>, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    let r = s
        .catalog
        .regions
        .iter()
        .find(|r| r.id == id)
        .ok_or_else(|| Error::not_found("region", &id))?;
    Ok(Json(json!({"region": region_json(&s.config.public_url, r)})))
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
