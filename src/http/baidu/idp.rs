//! IAM-user federation (`/v1/subUser/idp/...`): the account's user SSO
//! (`service::user_sso`: its one `iam_user_sso` identity provider, the auxiliary domain as
//! the mapping's rule). The metadata file's name is kept as the provider's description. A new
//! configuration starts disabled (`updateStatus` enables it, as Baidu's console does);
//! metadata whose entityID differs from the provider's is refused: delete the configuration to
//! trust another identity provider.

use axum::Json;
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;

use super::super::error::ApiError;
use super::super::views::baidu::{Idp, status, time_ms};
use super::{Account, Body};
use crate::service::saml::MetadataImport;
use crate::service::saml_login::SamlIdpSettings;
use crate::service::user_sso::{UserSso, UserSsoInput, parse_auxiliary_domain};
use crate::service::{Error, now_ms};

type Answer = Result<Response, ApiError>;

/// `UpdateSubUserIdpRequest`: R002 names no fields; these are the query answer's own.
#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = BaiduIdpBody)]
pub struct IdpBody {
    /// The identity provider's SAML metadata document, in base64.
    encode_metadata: Option<String>,
    /// The domain of the users' names (`<user>@<domain>`).
    auxiliary_domain: Option<String>,
    /// The metadata file's name, kept as the provider's description.
    file_name: Option<String>,
}

/// The metadata document `encodeMetadata` carries in base64.
fn metadata(account: &Account, encoded: &str) -> Result<MetadataImport, Error> {
    let xml = STANDARD
        .decode(encoded.trim())
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .ok_or_else(|| Error::invalid("encodeMetadata", "must be the metadata document in base64"))?;
    Ok(MetadataImport {
        domain_id: account.id().to_string(),
        xaccount_type: String::new(),
        metadata: xml,
        settings: SamlIdpSettings {
            allow_idp_initiated: true,
            signed_part: Default::default(),
            allow_sha1: false,
        },
    })
}

/// `fileName`, kept as the provider's description.
fn file_name(text: &str) -> Result<String, Error> {
    if text.is_empty() || text.chars().count() > 255 || text.chars().any(char::is_control) {
        return Err(Error::invalid("fileName", "must be 1-255 characters"));
    }
    Ok(text.to_string())
}

fn view(sso: UserSso) -> Idp {
    let UserSso {
        provider,
        metadata,
        auxiliary_domain,
    } = sso;
    Idp {
        auxiliary_domain,
        create_time: time_ms(provider.created_at_ms),
        domain_id: provider.domain_id.clone(),
        encode_metadata: metadata.as_ref().map(|m| STANDARD.encode(&m.data)).unwrap_or_default(),
        file_name: provider.description.clone(),
        status: status(provider.enabled),
        update_time: time_ms(metadata.map_or(provider.created_at_ms, |m| m.updated_at_ms)),
    }
}

fn answer(sso: UserSso) -> Answer {
    Ok((StatusCode::OK, Json(view(sso))).into_response())
}

impl Account {
    async fn required_user_sso(&self) -> Result<UserSso, Error> {
        self.federation()
            .user_sso(&self.ctx)
            .await?
            .ok_or_else(|| Error::not_found("identity provider", "IAM user federation"))
    }
}

/// The account's IAM-user federation.
#[utoipa::path(get, path = "/v1/subUser/idp/query", tag = "baidu", operation_id = "baidu_idp_query",
    responses((status = 200, description = "The federation.", body = Idp)),
    security(("signature" = [])))]
pub async fn query(account: Account) -> Answer {
    for action in ["getIDPMetadata", "getMapping"] {
        account.check_also(&format!("iam:identityProviders:{action}"))?;
    }
    answer(account.required_user_sso().await?)
}

/// Configures the account's IAM-user federation, or changes what the body names.
///
/// A new configuration needs `encodeMetadata` and `auxiliaryDomain`, and starts disabled.
#[utoipa::path(post, path = "/v1/subUser/idp/update", tag = "baidu", operation_id = "baidu_idp_update",
    request_body(content = IdpBody, description = "What to set."),
    responses((status = 200, description = "The federation.", body = Idp)),
    security(("signature" = [])))]
pub async fn update(account: Account, Body(body): Body<IdpBody>) -> Answer {
    let fed = account.federation();
    let creating = fed.user_sso(&account.ctx).await?.is_none();
    // Every action the identity API would check for the same writes.
    if creating {
        for action in [
            "createIdentityProvider",
            "createMapping",
            "createProtocol",
            "createIDPMetadata",
        ] {
            account.check_also(&format!("iam:identityProviders:{action}"))?;
        }
        if body.encode_metadata.is_none() {
            return Err(Error::MissingField {
                field: "encodeMetadata".into(),
            }
            .into());
        }
        if body.auxiliary_domain.is_none() {
            return Err(Error::MissingField {
                field: "auxiliaryDomain".into(),
            }
            .into());
        }
    }
    if body.encode_metadata.is_some() {
        account.check_also("iam:identityProviders:createIDPMetadata")?;
    }
    if body.auxiliary_domain.is_some() {
        account.check_also("iam:identityProviders:updateMapping")?;
    }
    let input = UserSsoInput {
        metadata: body
            .encode_metadata
            .as_deref()
            .map(|m| metadata(&account, m))
            .transpose()?,
        auxiliary_domain: body
            .auxiliary_domain
            .as_deref()
            .map(|d| parse_auxiliary_domain("auxiliaryDomain", d))
            .transpose()?,
        description: body.file_name.as_deref().map(file_name).transpose()?,
        enabled: None,
    };
    answer(fed.set_user_sso(&account.ctx, input, now_ms()).await?)
}

/// Enables or disables the account's IAM-user federation.
#[utoipa::path(post, path = "/v1/subUser/idp/updateStatus", tag = "baidu", operation_id = "baidu_idp_update_status",
    params(("status" = String, Query, pattern = "^(enable|disable)$", description = "`enable` or `disable`.")),
    responses((status = 200, description = "The federation.", body = Idp)),
    security(("signature" = [])))]
pub async fn update_status(account: Account, uri: Uri) -> Answer {
    let enabled = match super::query_value(&uri, "status")?.as_deref() {
        None => return Err(Error::MissingField { field: "status".into() }.into()),
        Some("enable") => true,
        Some("disable") => false,
        Some(_) => return Err(Error::invalid("status", "must be enable or disable").into()),
    };
    account.required_user_sso().await?;
    let input = UserSsoInput {
        enabled: Some(enabled),
        ..UserSsoInput::default()
    };
    answer(account.federation().set_user_sso(&account.ctx, input, now_ms()).await?)
}

/// Deletes the account's IAM-user federation.
///
/// The provider, its protocol and metadata, and the mapping made for it; tokens it signed in
/// are revoked.
#[utoipa::path(post, path = "/v1/subUser/idp/delete", tag = "baidu", operation_id = "baidu_idp_delete",
    responses((status = 200, description = "Deleted.")),
    security(("signature" = [])))]
pub async fn delete(account: Account) -> Answer {
    account.check_also("iam:identityProviders:deleteMapping")?;
    account.federation().delete_user_sso(&account.ctx, now_ms()).await?;
    Ok(StatusCode::OK.into_response())
}
