//! /v3/OS-FEDERATION identity providers, mappings and protocols, and the mapping dry run.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, Uri};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::error::ApiError;
use super::extract::{ApiJson, Caller};
use super::views;
use crate::service::federation::IdpInput;
use crate::service::{Error, FederationConfig, now_ms};

type JsonResult = Result<Json<Value>, ApiError>;
type Created = Result<(StatusCode, Json<Value>), ApiError>;

#[derive(Deserialize)]
pub struct IdpBody {
    identity_provider: IdpInput,
}

#[derive(Deserialize)]
pub struct MappingBody {
    mapping: Value,
}

#[derive(Deserialize)]
pub struct ProtocolBody {
    protocol: ProtocolInput,
}

#[derive(Deserialize)]
pub struct ProtocolInput {
    mapping_id: Option<String>,
}

#[derive(Deserialize)]
pub struct TestBody {
    assertion: Map<String, Value>,
}

pub async fn list_idps(State(s): State<FederationConfig>, Caller(c): Caller, uri: Uri) -> JsonResult {
    let base = &s.config.public_url;
    let idps = s.list_idps(&c).await?;
    let links = views::list_links(base, uri.path());
    Ok(views::list("identity_providers", idps.iter().map(|i| views::idp(base, i)), links).into())
}

pub async fn get_idp(State(s): State<FederationConfig>, Caller(c): Caller, Path(id): Path<String>) -> JsonResult {
    let idp = s.get_idp(&c, &id).await?;
    Ok(Json(
        json!({"identity_provider": views::idp(&s.config.public_url, &idp)}),
    ))
}

pub async fn create_idp(
    State(s): State<FederationConfig>,
    Caller(c): Caller,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<IdpBody>,
) -> Created {
    let idp = s.create_idp(&c, &id, b.identity_provider, now_ms()).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"identity_provider": views::idp(&s.config.public_url, &idp)})),
    ))
}

pub async fn update_idp(
    State(s): State<FederationConfig>,
    Caller(c): Caller,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<IdpBody>,
) -> JsonResult {
    let idp = s.update_idp(&c, &id, b.identity_provider, now_ms()).await?;
    Ok(Json(
        json!({"identity_provider": views::idp(&s.config.public_url, &idp)}),
    ))
}

pub async fn delete_idp(
    State(s): State<FederationConfig>,
    Caller(c): Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    s.delete_idp(&c, &id, now_ms()).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn list_mappings(State(s): State<FederationConfig>, Caller(c): Caller, uri: Uri) -> JsonResult {
    let base = &s.config.public_url;
    let mappings = s.list_mappings(&c).await?;
    let links = views::list_links(base, uri.path());
    Ok(views::list("mappings", mappings.iter().map(|m| views::mapping(base, m)), links).into())
}

pub async fn get_mapping(State(s): State<FederationConfig>, Caller(c): Caller, Path(id): Path<String>) -> JsonResult {
    let m = s.get_mapping(&c, &id).await?;
    Ok(Json(json!({"mapping": views::mapping(&s.config.public_url, &m)})))
}

pub async fn create_mapping(
    State(s): State<FederationConfig>,
    Caller(c): Caller,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<MappingBody>,
) -> Created {
    let m = s.create_mapping(&c, &id, b.mapping, now_ms()).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"mapping": views::mapping(&s.config.public_url, &m)})),
    ))
}

pub async fn update_mapping(
    State(s): State<FederationConfig>,
    Caller(c): Caller,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<MappingBody>,
) -> JsonResult {
    let m = s.update_mapping(&c, &id, b.mapping, now_ms()).await?;
    Ok(Json(json!({"mapping": views::mapping(&s.config.public_url, &m)})))
}

pub async fn delete_mapping(
    State(s): State<FederationConfig>,
    Caller(c): Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    s.delete_mapping(&c, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn test_mapping(
    State(s): State<FederationConfig>,
    Caller(c): Caller,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<TestBody>,
) -> JsonResult {
    Ok(Json(s.test_mapping(&c, &id, &b.assertion, now_ms()).await?))
}

pub async fn list_protocols(
    State(s): State<FederationConfig>,
    Caller(c): Caller,
    Path(idp): Path<String>,
    uri: Uri,
) -> JsonResult {
    let base = &s.config.public_url;
    let protocols = s.list_protocols(&c, &idp).await?;
    let links = views::list_links(base, uri.path());
    Ok(views::list("protocols", protocols.iter().map(|p| views::protocol(base, p)), links).into())
}

pub async fn get_protocol(
    State(s): State<FederationConfig>,
    Caller(c): Caller,
    Path((idp, id)): Path<(String, String)>,
) -> JsonResult {
    let p = s.get_protocol(&c, &idp, &id).await?;
    Ok(Json(json!({"protocol": views::protocol(&s.config.public_url, &p)})))
}

pub async fn create_protocol(
    State(s): State<FederationConfig>,
    Caller(c): Caller,
    Path((idp, id)): Path<(String, String)>,
    ApiJson(b): ApiJson<ProtocolBody>,
) -> Created {
    let p = s.create_protocol(&c, &idp, &id, b.protocol.mapping_id).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"protocol": views::protocol(&s.config.public_url, &p)})),
    ))
}

pub async fn update_protocol(
    State(s): State<FederationConfig>,
    Caller(c): Caller,
    Path((idp, id)): Path<(String, String)>,
    ApiJson(b): ApiJson<ProtocolBody>,
) -> JsonResult {
    if b.protocol.mapping_id.is_none() {
        return Err(Error::MissingField {
            field: "protocol.mapping_id".into(),
        }
        .into());
    }
    let p = s.update_protocol(&c, &idp, &id, b.protocol.mapping_id).await?;
    Ok(Json(json!({"protocol": views::protocol(&s.config.public_url, &p)})))
}

pub async fn delete_protocol(
    State(s): State<FederationConfig>,
    Caller(c): Caller,
    Path((idp, id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    s.delete_protocol(&c, &idp, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
pub struct OidcConfigBody {
    openid_connect_config: crate::oidc::OidcConfigInput,
}

pub async fn create_oidc_config(
    State(s): State<FederationConfig>,
    Caller(c): Caller,
    Path(idp): Path<String>,
    ApiJson(b): ApiJson<OidcConfigBody>,
) -> Created {
    let (config, warnings) = s
        .create_oidc_config(&c, &idp, b.openid_connect_config, now_ms())
        .await?;
    Ok((StatusCode::CREATED, Json(oidc_config_answer(config, warnings))))
}

pub async fn update_oidc_config(
    State(s): State<FederationConfig>,
    Caller(c): Caller,
    Path(idp): Path<String>,
    ApiJson(b): ApiJson<OidcConfigBody>,
) -> JsonResult {
    let (config, warnings) = s
        .update_oidc_config(&c, &idp, b.openid_connect_config, now_ms())
        .await?;
    Ok(Json(oidc_config_answer(config, warnings)))
}

/// The configuration, with `warnings` beside it when there are any (an issuer that cannot be
/// reached now).
fn oidc_config_answer(config: crate::oidc::OidcConfig, warnings: Vec<String>) -> Value {
    let mut answer = json!({"openid_connect_config": config});
    if !warnings.is_empty() {
        answer["warnings"] = json!(warnings);
    }
    answer
}

pub async fn get_oidc_config(
    State(s): State<FederationConfig>,
    Caller(c): Caller,
    Path(idp): Path<String>,
) -> JsonResult {
    let config = s.get_oidc_config(&c, &idp).await?;
    Ok(Json(json!({"openid_connect_config": config})))
}

/// GET /v3-ext/auth/OS-FEDERATION/SSO/metadata: no authentication. `unsigned=true` as a query
/// parameter (or, as the reference lists it, a header) gives the document without signature.
pub async fn sp_metadata(
    State(s): State<FederationConfig>,
    headers: axum::http::HeaderMap,
    uri: Uri,
) -> Result<axum::response::Response, ApiError> {
    use axum::response::IntoResponse;
    let query_unsigned = uri
        .query()
        .unwrap_or("")
        .split('&')
        .any(|kv| kv.eq_ignore_ascii_case("unsigned=true") || kv.eq_ignore_ascii_case("unsigned"));
    let header_unsigned =
        super::extract::header_text(&headers, "unsigned").is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let xml = s.sp_metadata(!(query_unsigned || header_unsigned)).await?;
    Ok(([(axum::http::header::CONTENT_TYPE, "application/xml")], xml).into_response())
}

pub async fn import_metadata(
    State(s): State<FederationConfig>,
    Caller(c): Caller,
    Path((idp, protocol)): Path<(String, String)>,
    ApiJson(b): ApiJson<crate::service::saml::MetadataImport>,
) -> Created {
    s.import_saml_metadata(&c, &idp, &protocol, b, now_ms()).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"message": "Import metadata successful"})),
    ))
}

pub async fn get_metadata(
    State(s): State<FederationConfig>,
    Caller(c): Caller,
    Path((idp, protocol)): Path<(String, String)>,
) -> JsonResult {
    let m = s.get_saml_metadata(&c, &idp, &protocol).await?;
    Ok(Json(json!(views::saml_metadata(&m))))
}
