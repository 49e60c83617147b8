//! /v3.0/OS-CREDENTIAL/credentials: permanent access keys (reference L3834-4310).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

use super::error::ApiError;
use super::extract::{ApiJson, ApiQuery, Caller};
use super::views;
use crate::service::access_keys::{CredentialInput, CredentialListQuery};
use crate::service::{Sts, now_ms};

#[derive(Deserialize)]
pub struct CredentialBody {
    credential: CredentialInput,
}

pub async fn create(
    State(s): State<Sts>,
    Caller(c): Caller,
    ApiJson(b): ApiJson<CredentialBody>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let created = s.create_credential(&c, b.credential, now_ms()).await?;
    let view = views::credential(&created.credential).with_secret(created.secret.expose());
    Ok((StatusCode::CREATED, Json(json!({ "credential": view }))))
}

pub async fn list(
    State(s): State<Sts>,
    Caller(c): Caller,
    ApiQuery(q): ApiQuery<CredentialListQuery>,
) -> Result<Json<Value>, ApiError> {
    let keys = s.list_credentials(&c, q).await?;
    let views: Vec<_> = keys.iter().map(views::credential).collect();
    Ok(Json(json!({ "credentials": views })))
}

pub async fn get(State(s): State<Sts>, Caller(c): Caller, Path(access): Path<String>) -> Result<Json<Value>, ApiError> {
    let key = s.get_credential(&c, &access).await?;
    let view = views::credential(&key).with_last_use(key.last_use_ms());
    Ok(Json(json!({ "credential": view })))
}

pub async fn update(
    State(s): State<Sts>,
    Caller(c): Caller,
    Path(access): Path<String>,
    ApiJson(b): ApiJson<CredentialBody>,
) -> Result<Json<Value>, ApiError> {
    let key = s.update_credential(&c, &access, b.credential, now_ms()).await?;
    Ok(Json(json!({ "credential": views::credential(&key) })))
}

pub async fn delete(
    State(s): State<Sts>,
    Caller(c): Caller,
    Path(access): Path<String>,
) -> Result<StatusCode, ApiError> {
    s.delete_credential(&c, &access, now_ms()).await?;
    Ok(StatusCode::NO_CONTENT)
}
