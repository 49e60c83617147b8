//! Version discovery, the read-only catalog (services, endpoints, regions) and /metrics.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, Uri, header};
use axum::response::IntoResponse;
use serde::Serialize;
use serde_json::{Value, json};
use utoipa::{OpenApi, ToSchema};

use super::error::ApiError;
use super::extract::{ApiQuery, Caller};
use super::openapi::{list_schema, one_schema};
use super::views;
use crate::service::{Error, Services};

/// The one version this API offers, as Keystone describes v3.
#[derive(Serialize, ToSchema)]
pub struct VersionView {
    pub id: &'static str,
    pub links: [VersionLink; 1],
    #[serde(rename = "media-types")]
    pub media_types: [MediaType; 1],
    pub status: &'static str,
    pub updated: &'static str,
}

#[derive(Serialize, ToSchema)]
pub struct VersionLink {
    pub href: String,
    pub rel: &'static str,
}

#[derive(Serialize, ToSchema)]
pub struct MediaType {
    pub base: &'static str,
    #[serde(rename = "type")]
    pub media_type: &'static str,
}

fn v3(base: &str) -> VersionView {
    VersionView {
        id: "v3.6",
        links: [VersionLink {
            href: format!("{base}/v3/"),
            rel: "self",
        }],
        media_types: [MediaType {
            base: "application/json",
            media_type: "application/vnd.openstack.identity-v3+json",
        }],
        status: "stable",
        updated: "2016-04-04T00:00:00Z",
    }
}

#[derive(Serialize, ToSchema)]
pub struct Versions {
    pub versions: VersionValues,
}

#[derive(Serialize, ToSchema)]
pub struct VersionValues {
    pub values: [VersionView; 1],
}

#[derive(Serialize, ToSchema)]
pub struct VersionBody {
    pub version: VersionView,
}

/// Version discovery: the one version, v3. Served at `GET /` by `alibaba::root_get`, which
/// the document describes.
pub async fn versions(State(s): State<Arc<Services>>) -> (StatusCode, Json<Versions>) {
    (
        StatusCode::MULTIPLE_CHOICES,
        Json(Versions {
            versions: VersionValues {
                values: [v3(&s.config.public_url)],
            },
        }),
    )
}

/// Version v3.
#[utoipa::path(get, path = "/v3", tag = "versions",
    responses((status = 200, description = "Version v3.", body = VersionBody)))]
pub async fn version(State(s): State<Arc<Services>>) -> Json<VersionBody> {
    Json(VersionBody {
        version: v3(&s.config.public_url),
    })
}

/// The catalog's services.
#[utoipa::path(get, path = "/v3/services", tag = "catalog",
    params(("type" = Option<String>, Query, description = "Only services of this type.")),
    responses((status = 200, description = "The services.", body = ServiceList)),
    security(("token" = []), ("signature" = [])))]
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

/// One service of the catalog.
#[utoipa::path(get, path = "/v3/services/{id}", tag = "catalog",
    responses((status = 200, description = "The service.", body = ServiceBody)),
    security(("token" = []), ("signature" = [])))]
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

/// The catalog's endpoints.
#[utoipa::path(get, path = "/v3/endpoints", tag = "catalog",
    params(
        ("interface" = Option<String>, Query, description = "Only endpoints of this interface (public, internal, admin)."),
        ("service_id" = Option<String>, Query, description = "Only endpoints of this service."),
    ),
    responses((status = 200, description = "The endpoints.", body = EndpointList)),
    security(("token" = []), ("signature" = [])))]
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

/// One endpoint of the catalog.
#[utoipa::path(get, path = "/v3/endpoints/{id}", tag = "catalog",
    responses((status = 200, description = "The endpoint.", body = EndpointBody)),
    security(("token" = []), ("signature" = [])))]
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

/// The regions.
#[utoipa::path(get, path = "/v3/regions", tag = "catalog",
    responses((status = 200, description = "The regions.", body = RegionList)))]
pub async fn regions(State(s): State<Arc<Services>>, uri: Uri) -> Json<Value> {
    let base = &s.config.public_url;
    let items = s.catalog.regions.iter().map(|r| views::region(base, r));
    views::list("regions", items, views::list_links(base, uri.path())).into()
}

/// One region.
#[utoipa::path(get, path = "/v3/regions/{id}", tag = "catalog",
    responses((status = 200, description = "The region.", body = RegionBody)))]
pub async fn region(State(s): State<Arc<Services>>, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    let r = s
        .catalog
        .regions
        .iter()
        .find(|r| r.id == id)
        .ok_or_else(|| Error::not_found("region", &id))?;
    Ok(Json(json!({"region": views::region(&s.config.public_url, r)})))
}

/// Prometheus metrics: requests, latencies, federated sign-ins by provider and outcome.
#[utoipa::path(get, path = "/metrics", tag = "versions",
    responses((status = 200, description = "Prometheus text format.", content_type = "text/plain", body = String)))]
pub async fn metrics() -> impl IntoResponse {
    let body = crate::telemetry::metrics_handle()
        .map(|h| h.render())
        .unwrap_or_default();
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body)
}

/// `{"status"}`, and why not when not ready.
#[derive(Serialize, ToSchema)]
pub struct Health {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'static str>,
    /// `alive`, `ready` or `unavailable`.
    pub status: &'static str,
}

/// The process answers (liveness).
#[utoipa::path(get, path = "/healthz", tag = "versions",
    responses((status = 200, description = "Alive.", body = Health)))]
pub async fn healthz() -> Json<Health> {
    Json(Health {
        reason: None,
        status: "alive",
    })
}

/// The store answers and token keys are loaded (readiness); 503 otherwise, the reason in
/// the log.
#[utoipa::path(get, path = "/readyz", tag = "versions",
    responses(
        (status = 200, description = "Ready.", body = Health),
        (status = 503, description = "The store or the token keys are not available.", body = Health),
    ))]
pub async fn readyz(State(s): State<Arc<Services>>) -> (StatusCode, Json<Health>) {
    match s.readiness().await {
        Ok(()) => (
            StatusCode::OK,
            Json(Health {
                reason: None,
                status: "ready",
            }),
        ),
        Err(reason) => {
            tracing::warn!(%reason, "not ready");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(Health {
                    reason: Some("the store or the token keys are not available"),
                    status: "unavailable",
                }),
            )
        }
    }
}

list_schema!(ServiceList, services, views::ServiceView<'static>);
one_schema!(ServiceBody, service, views::ServiceView<'static>);
list_schema!(EndpointList, endpoints, views::EndpointView<'static>);
one_schema!(EndpointBody, endpoint, views::EndpointView<'static>);
list_schema!(RegionList, regions, views::RegionView<'static>);
one_schema!(RegionBody, region, views::RegionView<'static>);

#[derive(OpenApi)]
#[openapi(paths(
    version, metrics, healthz, readyz, services, service, endpoints, endpoint, regions, region
))]
pub(super) struct Doc;

pub async fn not_found(uri: Uri) -> ApiError {
    ApiError(Error::not_found("resource", uri.path()))
}
