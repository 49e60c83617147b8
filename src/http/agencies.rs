//! /v3.0/OS-AGENCY/agencies: cross-account trust records that `assume_role` will use.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, Uri};
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::ToSchema;

use super::error::ApiError;
use super::extract::{ApiJson, ApiQuery, Caller, Paging};
use super::openapi::{list_schema, one_schema};
use super::views;
use crate::service::admin::{AgencyInput, AgencyListQuery};
use crate::service::{Accounts, now_ms};

#[derive(Deserialize, ToSchema)]
pub struct AgencyBody {
    agency: AgencyInput,
}

/// Create an agency: trust from this account to another.
#[utoipa::path(post, path = "/v3.0/OS-AGENCY/agencies", tag = "agencies", operation_id = "agencies_create",
    request_body = AgencyBody,
    responses((status = 201, description = "The agency.", body = AgencyResponse)),
    security(("token" = []), ("signature" = [])))]
pub async fn create(
    State(s): State<Accounts>,
    Caller(c): Caller,
    ApiJson(b): ApiJson<AgencyBody>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let agency = s.create_agency(&c, b.agency, now_ms()).await?;
    let trust = s.domain_name(&agency.trust_domain_id).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"agency": views::agency(&agency, &trust)})),
    ))
}

/// The agencies of an account.
#[utoipa::path(get, path = "/v3.0/OS-AGENCY/agencies", tag = "agencies", operation_id = "agencies_list",
    params(AgencyListQuery,
        ("page" = Option<u32>, Query, minimum = 1, description = "Page number, from 1; with `per_page`."),
        ("per_page" = Option<u32>, Query, minimum = 1, maximum = 500, description = "Agencies per page; with `page`."),
    ),
    responses((status = 200, description = "The agencies, each with its URN.", body = AgencyList)),
    security(("token" = []), ("signature" = [])))]
pub async fn list(
    State(s): State<Accounts>,
    Caller(c): Caller,
    ApiQuery(q): ApiQuery<AgencyListQuery>,
    uri: Uri,
) -> Result<Json<Value>, ApiError> {
    let paging = Paging::from_query(uri.query(), 500)?;
    let (agencies, more) = Paging::apply(paging, s.list_agencies(&c, q).await?);
    let mut out = Vec::with_capacity(agencies.len());
    for a in &agencies {
        out.push(views::agency(a, &s.domain_name(&a.trust_domain_id).await?).with_urn());
    }
    let links = views::paged_links(&s.config.public_url, &uri, paging, more);
    Ok(views::list("agencies", out, links).into())
}

/// One agency.
#[utoipa::path(get, path = "/v3.0/OS-AGENCY/agencies/{id}", tag = "agencies", operation_id = "agencies_get",
    responses((status = 200, description = "The agency.", body = AgencyResponse)),
    security(("token" = []), ("signature" = [])))]
pub async fn get(
    State(s): State<Accounts>,
    Caller(c): Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let agency = s.get_agency(&c, &id).await?;
    let trust = s.domain_name(&agency.trust_domain_id).await?;
    Ok(Json(json!({"agency": views::agency(&agency, &trust)})))
}

/// Update an agency: its trusted account, description or duration.
#[utoipa::path(put, path = "/v3.0/OS-AGENCY/agencies/{id}", tag = "agencies", operation_id = "agencies_update",
    request_body = AgencyBody,
    responses((status = 200, description = "The agency.", body = AgencyResponse)),
    security(("token" = []), ("signature" = [])))]
pub async fn update(
    State(s): State<Accounts>,
    Caller(c): Caller,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<AgencyBody>,
) -> Result<Json<Value>, ApiError> {
    let agency = s.update_agency(&c, &id, b.agency, now_ms()).await?;
    let trust = s.domain_name(&agency.trust_domain_id).await?;
    Ok(Json(json!({"agency": views::agency(&agency, &trust)})))
}

/// Delete an agency and its grants.
#[utoipa::path(delete, path = "/v3.0/OS-AGENCY/agencies/{id}", tag = "agencies", operation_id = "agencies_delete",
    responses((status = 204, description = "Deleted.")),
    security(("token" = []), ("signature" = [])))]
pub async fn delete(
    State(s): State<Accounts>,
    Caller(c): Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    s.delete_agency(&c, &id, now_ms()).await?;
    Ok(StatusCode::NO_CONTENT)
}

one_schema!(AgencyResponse, agency, views::AgencyView<'static>);
list_schema!(AgencyList, agencies, views::AgencyView<'static>);

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(list, create, get, update, delete),
    tags((name = "agencies", description = "Agencies: the trust one account gives another to act in it, and the roles granted to them.")),
)]
pub(super) struct Doc;
