//! /v3.0/OS-AGENCY/agencies: cross-account trust records that `assume_role` will use.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, Uri};
use serde::Deserialize;
use serde_json::{Value, json};

use super::error::ApiError;
use super::extract::{ApiJson, ApiQuery, Caller, Paging};
use super::views;
use crate::service::admin::{AgencyInput, AgencyListQuery};
use crate::service::{Accounts, now_ms};

#[derive(Deserialize)]
pub struct AgencyBody {
    agency: AgencyInput,
}

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

pub async fn get(
    State(s): State<Accounts>,
    Caller(c): Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let agency = s.get_agency(&c, &id).await?;
    let trust = s.domain_name(&agency.trust_domain_id).await?;
    Ok(Json(json!({"agency": views::agency(&agency, &trust)})))
}

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

pub async fn delete(
    State(s): State<Accounts>,
    Caller(c): Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    s.delete_agency(&c, &id, now_ms()).await?;
    Ok(StatusCode::NO_CONTENT)
}
