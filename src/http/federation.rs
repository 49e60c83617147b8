//! /v3/OS-FEDERATION identity providers, mappings and protocols, and the mapping dry run.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, Uri};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::error::ApiError;
use super::extract::{ApiJson, Caller};
use super::openapi::{list_schema, one_schema};
use super::views;
use crate::service::federation::IdpInput;
use crate::service::{Error, FederationConfig, now_ms};

type JsonResult = Result<Json<Value>, ApiError>;
type Created = Result<(StatusCode, Json<Value>), ApiError>;

/// Named apart from Baidu's `IdpBody`.
#[derive(Deserialize, utoipa::ToSchema)]
#[schema(as = IdentityProviderBody)]
pub struct IdpBody {
    identity_provider: IdpInput,
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct MappingBody {
    /// The mapping document: `rules` (Keystone's mapping rules) and optionally `schema_version`.
    #[schema(value_type = Object)]
    mapping: Value,
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct ProtocolBody {
    protocol: ProtocolInput,
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct ProtocolInput {
    mapping_id: Option<String>,
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct TestBody {
    /// Attribute name to a string or a list of strings, as an identity provider asserts them.
    #[schema(value_type = Object)]
    assertion: Map<String, Value>,
}

/// List the identity providers.
#[utoipa::path(get, path = "/v3/OS-FEDERATION/identity_providers", tag = "federation",
    responses((status = 200, description = "The identity providers.", body = IdpList)),
    security(("token" = []), ("signature" = [])))]
pub async fn list_idps(State(s): State<FederationConfig>, Caller(c): Caller, uri: Uri) -> JsonResult {
    let base = &s.config.public_url;
    let idps = s.list_idps(&c).await?;
    let links = views::list_links(base, uri.path());
    Ok(views::list("identity_providers", idps.iter().map(|i| views::idp(base, i)), links).into())
}

/// Show an identity provider.
#[utoipa::path(get, path = "/v3/OS-FEDERATION/identity_providers/{id}", tag = "federation",
    responses((status = 200, description = "The identity provider.", body = IdpOne)),
    security(("token" = []), ("signature" = [])))]
pub async fn get_idp(State(s): State<FederationConfig>, Caller(c): Caller, Path(id): Path<String>) -> JsonResult {
    let idp = s.get_idp(&c, &id).await?;
    Ok(Json(
        json!({"identity_provider": views::idp(&s.config.public_url, &idp)}),
    ))
}

/// Create an identity provider under the id in the path.
#[utoipa::path(put, path = "/v3/OS-FEDERATION/identity_providers/{id}", tag = "federation", request_body = IdpBody,
    responses((status = 201, description = "Created.", body = IdpOne)),
    security(("token" = []), ("signature" = [])))]
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

/// Update an identity provider: the fields given.
#[utoipa::path(patch, path = "/v3/OS-FEDERATION/identity_providers/{id}", tag = "federation", request_body = IdpBody,
    responses((status = 200, description = "Updated.", body = IdpOne)),
    security(("token" = []), ("signature" = [])))]
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

/// Delete an identity provider with its protocols.
#[utoipa::path(delete, path = "/v3/OS-FEDERATION/identity_providers/{id}", tag = "federation",
    responses((status = 204, description = "Deleted.")),
    security(("token" = []), ("signature" = [])))]
pub async fn delete_idp(
    State(s): State<FederationConfig>,
    Caller(c): Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    s.delete_idp(&c, &id, now_ms()).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// List the mappings.
#[utoipa::path(get, path = "/v3/OS-FEDERATION/mappings", tag = "federation",
    responses((status = 200, description = "The mappings.", body = MappingList)),
    security(("token" = []), ("signature" = [])))]
pub async fn list_mappings(State(s): State<FederationConfig>, Caller(c): Caller, uri: Uri) -> JsonResult {
    let base = &s.config.public_url;
    let mappings = s.list_mappings(&c).await?;
    let links = views::list_links(base, uri.path());
    Ok(views::list("mappings", mappings.iter().map(|m| views::mapping(base, m)), links).into())
}

/// Show a mapping.
#[utoipa::path(get, path = "/v3/OS-FEDERATION/mappings/{id}", tag = "federation",
    responses((status = 200, description = "The mapping.", body = MappingOne)),
    security(("token" = []), ("signature" = [])))]
pub async fn get_mapping(State(s): State<FederationConfig>, Caller(c): Caller, Path(id): Path<String>) -> JsonResult {
    let m = s.get_mapping(&c, &id).await?;
    Ok(Json(json!({"mapping": views::mapping(&s.config.public_url, &m)})))
}

/// Create a mapping under the id in the path; its rules are checked first.
#[utoipa::path(put, path = "/v3/OS-FEDERATION/mappings/{id}", tag = "federation", request_body = MappingBody,
    responses((status = 201, description = "Created.", body = MappingOne)),
    security(("token" = []), ("signature" = [])))]
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

/// Replace a mapping's rules.
#[utoipa::path(patch, path = "/v3/OS-FEDERATION/mappings/{id}", tag = "federation", request_body = MappingBody,
    responses((status = 200, description = "Updated.", body = MappingOne)),
    security(("token" = []), ("signature" = [])))]
pub async fn update_mapping(
    State(s): State<FederationConfig>,
    Caller(c): Caller,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<MappingBody>,
) -> JsonResult {
    let m = s.update_mapping(&c, &id, b.mapping, now_ms()).await?;
    Ok(Json(json!({"mapping": views::mapping(&s.config.public_url, &m)})))
}

/// Delete a mapping no protocol uses.
#[utoipa::path(delete, path = "/v3/OS-FEDERATION/mappings/{id}", tag = "federation",
    responses((status = 204, description = "Deleted.")),
    security(("token" = []), ("signature" = [])))]
pub async fn delete_mapping(
    State(s): State<FederationConfig>,
    Caller(c): Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    s.delete_mapping(&c, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Dry run: map an assertion with a stored mapping and explain each rule's outcome.
#[utoipa::path(post, path = "/v3-ext/OS-FEDERATION/mappings/{id}/test", tag = "federation", request_body = TestBody,
    responses((status = 200, description = "What the assertion maps to, or why it does not, with the trace.", body = MappingTestResult)),
    security(("token" = []), ("signature" = [])))]
pub async fn test_mapping(
    State(s): State<FederationConfig>,
    Caller(c): Caller,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<TestBody>,
) -> JsonResult {
    Ok(Json(s.test_mapping(&c, &id, &b.assertion, now_ms()).await?))
}

/// List an identity provider's protocols.
#[utoipa::path(get, path = "/v3/OS-FEDERATION/identity_providers/{id}/protocols", tag = "federation",
    responses((status = 200, description = "The protocols.", body = ProtocolList)),
    security(("token" = []), ("signature" = [])))]
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

/// Show a protocol of an identity provider.
#[utoipa::path(get, path = "/v3/OS-FEDERATION/identity_providers/{id}/protocols/{protocol}", tag = "federation",
    responses((status = 200, description = "The protocol.", body = ProtocolOne)),
    security(("token" = []), ("signature" = [])))]
pub async fn get_protocol(
    State(s): State<FederationConfig>,
    Caller(c): Caller,
    Path((idp, id)): Path<(String, String)>,
) -> JsonResult {
    let p = s.get_protocol(&c, &idp, &id).await?;
    Ok(Json(json!({"protocol": views::protocol(&s.config.public_url, &p)})))
}

/// Add a protocol (`saml` or `oidc`) to an identity provider, with its mapping.
#[utoipa::path(put, path = "/v3/OS-FEDERATION/identity_providers/{id}/protocols/{protocol}", tag = "federation", request_body = ProtocolBody,
    responses((status = 201, description = "Created.", body = ProtocolOne)),
    security(("token" = []), ("signature" = [])))]
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

/// Change the mapping a protocol uses.
#[utoipa::path(patch, path = "/v3/OS-FEDERATION/identity_providers/{id}/protocols/{protocol}", tag = "federation", request_body = ProtocolBody,
    responses((status = 200, description = "Updated.", body = ProtocolOne)),
    security(("token" = []), ("signature" = [])))]
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

/// Remove a protocol from an identity provider.
#[utoipa::path(delete, path = "/v3/OS-FEDERATION/identity_providers/{id}/protocols/{protocol}", tag = "federation",
    responses((status = 204, description = "Deleted.")),
    security(("token" = []), ("signature" = [])))]
pub async fn delete_protocol(
    State(s): State<FederationConfig>,
    Caller(c): Caller,
    Path((idp, id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    s.delete_protocol(&c, &idp, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct OidcConfigBody {
    openid_connect_config: crate::oidc::OidcConfigInput,
}

/// Create an identity provider's OpenID Connect configuration.
#[utoipa::path(post, path = "/v3.0/OS-FEDERATION/identity-providers/{id}/openid-connect-config", tag = "federation", request_body = OidcConfigBody,
    responses((status = 201, description = "Created; `warnings` when the issuer cannot be reached now.", body = OidcConfigAnswer)),
    security(("token" = []), ("signature" = [])))]
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

/// Modify an identity provider's OpenID Connect configuration: the fields given.
#[utoipa::path(put, path = "/v3.0/OS-FEDERATION/identity-providers/{id}/openid-connect-config", tag = "federation", request_body = OidcConfigBody,
    responses((status = 200, description = "Updated; `warnings` when the issuer cannot be reached now.", body = OidcConfigAnswer)),
    security(("token" = []), ("signature" = [])))]
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

/// Show an identity provider's OpenID Connect configuration.
#[utoipa::path(get, path = "/v3.0/OS-FEDERATION/identity-providers/{id}/openid-connect-config", tag = "federation",
    responses((status = 200, description = "The configuration.", body = OidcConfigAnswer)),
    security(("token" = []), ("signature" = [])))]
pub async fn get_oidc_config(
    State(s): State<FederationConfig>,
    Caller(c): Caller,
    Path(idp): Path<String>,
) -> JsonResult {
    let config = s.get_oidc_config(&c, &idp).await?;
    Ok(Json(json!({"openid_connect_config": config})))
}

/// This service provider's SAML metadata.
///
/// GET /v3-ext/auth/OS-FEDERATION/SSO/metadata: no authentication. `unsigned=true` as a query
/// parameter (or, as the reference lists it, a header) gives the document without signature.
#[utoipa::path(get, path = "/v3-ext/auth/OS-FEDERATION/SSO/metadata", tag = "federation",
    params(
        ("unsigned" = Option<String>, Query, description = "`true` (or the bare flag): the document without its signature."),
        ("unsigned" = Option<String>, Header, description = "`true`: as the query parameter."),
    ),
    responses((status = 200, description = "The SAML 2.0 metadata (EntityDescriptor), signed unless asked otherwise.", content_type = "application/xml", body = String)),
    security(()))]
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

/// Import an identity provider's SAML metadata for a protocol.
#[utoipa::path(post, path = "/v3-ext/OS-FEDERATION/identity_providers/{id}/protocols/{protocol}/metadata", tag = "federation", request_body = crate::service::saml::MetadataImport,
    responses((status = 201, description = "Imported.", body = MetadataImported)),
    security(("token" = []), ("signature" = [])))]
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

/// Show the SAML metadata imported for an identity provider's protocol.
#[utoipa::path(get, path = "/v3-ext/OS-FEDERATION/identity_providers/{id}/protocols/{protocol}/metadata", tag = "federation",
    responses((status = 200, description = "The imported metadata.", body = views::SamlMetadataView<'static>)),
    security(("token" = []), ("signature" = [])))]
pub async fn get_metadata(
    State(s): State<FederationConfig>,
    Caller(c): Caller,
    Path((idp, protocol)): Path<(String, String)>,
) -> JsonResult {
    let m = s.get_saml_metadata(&c, &idp, &protocol).await?;
    Ok(Json(json!(views::saml_metadata(&m))))
}

list_schema!(IdpList, identity_providers, views::IdpView<'static>);
one_schema!(IdpOne, identity_provider, views::IdpView<'static>);
list_schema!(MappingList, mappings, views::MappingView<'static>);
one_schema!(MappingOne, mapping, views::MappingView<'static>);
list_schema!(ProtocolList, protocols, views::ProtocolView<'static>);
one_schema!(ProtocolOne, protocol, views::ProtocolView<'static>);

/// `oidc_config_answer`'s body.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct OidcConfigAnswer {
    pub openid_connect_config: crate::oidc::OidcConfig,
    /// Only when there are any.
    #[schema(required = false)]
    pub warnings: Vec<String>,
}

/// `import_metadata`'s body.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct MetadataImported {
    pub message: String,
}

/// The mapping dry run's answer (`mapping::report`): the mapped properties, or `error` when
/// no rule matched or the result is invalid; `trace` always, `groups_dropped` when mapped.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct MappingTestResult {
    #[schema(required = false)]
    pub group_ids: Vec<String>,
    /// `{"name", "domain"}` objects, as the rules wrote them.
    #[schema(required = false)]
    pub group_names: Vec<Value>,
    #[schema(required = false)]
    pub projects: Vec<Value>,
    #[schema(required = false, value_type = Object)]
    pub user: Value,
    /// `{"code": 400|401, "message"}`.
    #[schema(required = false, value_type = Object)]
    pub error: Value,
    /// One entry per rule: `rule`, `matched`, and `failed`, `values`, `backtrack_limit` when they apply.
    #[schema(required = false, value_type = Vec<Object>)]
    pub trace: Vec<Value>,
    /// Groups the rules name outside the mapping's own account, which a sign-in would drop.
    #[schema(required = false, value_type = Vec<Object>)]
    pub groups_dropped: Vec<Value>,
}

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(
        list_idps, get_idp, create_idp, update_idp, delete_idp,
        list_protocols, get_protocol, create_protocol, update_protocol, delete_protocol,
        list_mappings, get_mapping, create_mapping, update_mapping, delete_mapping, test_mapping,
        get_oidc_config, create_oidc_config, update_oidc_config,
        get_metadata, import_metadata, sp_metadata,
    ),
    tags((name = "federation", description = "Federation configuration: identity providers, their protocols, mappings, OpenID Connect configurations and SAML metadata.")),
)]
pub(super) struct Doc;
