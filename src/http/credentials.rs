//! /v3.0/OS-CREDENTIAL/credentials: permanent access keys (reference L3834-4310).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::ToSchema;

use super::error::ApiError;
use super::extract::{ApiJson, ApiQuery, Caller};
use super::openapi::one_schema;
use super::views;
use crate::service::access_keys::{CredentialInput, CredentialListQuery};
use crate::service::{Sts, now_ms};

#[derive(Deserialize, ToSchema)]
pub struct CredentialBody {
    credential: CredentialInput,
}

/// Create a permanent access key; its secret is shown this once.
#[utoipa::path(post, path = "/v3.0/OS-CREDENTIAL/credentials", tag = "credentials", operation_id = "credentials_create",
    request_body = CredentialBody,
    responses(
        (status = 201, description = "The access key, with `secret`.", body = CredentialResponse),
        (status = 400, description = "Bad input in the IAM body, or the user has all the access keys it may: the reference's own body for that.", body = CreateCredentialError),
    ),
    security(("token" = []), ("signature" = [])))]
pub async fn create(
    State(s): State<Sts>,
    Caller(c): Caller,
    ApiJson(b): ApiJson<CredentialBody>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let created = s.create_credential(&c, b.credential, now_ms()).await?;
    let view = views::credential(&created.credential).with_secret(created.secret.expose());
    Ok((StatusCode::CREATED, Json(json!({ "credential": view }))))
}

/// The permanent access keys of a user.
#[utoipa::path(get, path = "/v3.0/OS-CREDENTIAL/credentials", tag = "credentials", operation_id = "credentials_list",
    params(CredentialListQuery),
    responses((status = 200, description = "The access keys.", body = CredentialList)),
    security(("token" = []), ("signature" = [])))]
pub async fn list(
    State(s): State<Sts>,
    Caller(c): Caller,
    ApiQuery(q): ApiQuery<CredentialListQuery>,
) -> Result<Json<Value>, ApiError> {
    let keys = s.list_credentials(&c, q).await?;
    let views: Vec<_> = keys.iter().map(views::credential).collect();
    Ok(Json(json!({ "credentials": views })))
}

/// One permanent access key, with when it was last used.
#[utoipa::path(get, path = "/v3.0/OS-CREDENTIAL/credentials/{access}", tag = "credentials", operation_id = "credentials_get",
    responses((status = 200, description = "The access key, with `last_use_time`.", body = CredentialResponse)),
    security(("token" = []), ("signature" = [])))]
pub async fn get(State(s): State<Sts>, Caller(c): Caller, Path(access): Path<String>) -> Result<Json<Value>, ApiError> {
    let key = s.get_credential(&c, &access).await?;
    let view = views::credential(&key).with_last_use(key.last_use_ms());
    Ok(Json(json!({ "credential": view })))
}

/// Enable, disable or describe a permanent access key.
#[utoipa::path(put, path = "/v3.0/OS-CREDENTIAL/credentials/{access}", tag = "credentials", operation_id = "credentials_update",
    request_body = CredentialBody,
    responses((status = 200, description = "The access key.", body = CredentialResponse)),
    security(("token" = []), ("signature" = [])))]
pub async fn update(
    State(s): State<Sts>,
    Caller(c): Caller,
    Path(access): Path<String>,
    ApiJson(b): ApiJson<CredentialBody>,
) -> Result<Json<Value>, ApiError> {
    let key = s.update_credential(&c, &access, b.credential, now_ms()).await?;
    Ok(Json(json!({ "credential": views::credential(&key) })))
}

/// Delete a permanent access key.
#[utoipa::path(delete, path = "/v3.0/OS-CREDENTIAL/credentials/{access}", tag = "credentials", operation_id = "credentials_delete",
    responses((status = 204, description = "Deleted.")),
    security(("token" = []), ("signature" = [])))]
pub async fn delete(
    State(s): State<Sts>,
    Caller(c): Caller,
    Path(access): Path<String>,
) -> Result<StatusCode, ApiError> {
    s.delete_credential(&c, &access, now_ms()).await?;
    Ok(StatusCode::NO_CONTENT)
}

one_schema!(CredentialResponse, credential, views::CredentialView<'static>);

/// `{"credentials": [...]}`: the listing has no `links`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct CredentialList {
    pub credentials: Vec<views::CredentialView<'static>>,
}

/// A 400 from create: the path's IAM body, or the quota body (`error::ErrorReport::quota_body`).
#[derive(serde::Serialize, ToSchema)]
#[serde(untagged)]
#[allow(dead_code)]
pub enum CreateCredentialError {
    Iam(super::error::IamErrorBody<'static>),
    Quota(AccessKeyQuotaBody),
}

/// The reference's answer when a user has all the access keys it may (L3915): Keystone's
/// body with the IAM fields present and null.
#[derive(serde::Serialize, ToSchema)]
#[allow(dead_code)]
pub struct AccessKeyQuotaBody {
    pub error: AccessKeyQuotaError,
}

#[derive(serde::Serialize, ToSchema)]
#[allow(dead_code)]
pub struct AccessKeyQuotaError {
    /// 400.
    pub code: u16,
    /// Always null.
    pub error_code: Option<String>,
    /// Always null.
    pub error_msg: Option<String>,
    /// `akSkNumExceed`.
    pub message: String,
    pub title: String,
}

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(list, create, get, update, delete),
    tags((name = "credentials", description = "Permanent access keys, for signed requests.")),
)]
pub(super) struct Doc;
