//! Baidu Cloud's shapes (IAM and STS under `/v1`): camelCase fields, times as
//! `2019-06-06T03:42:13Z` (`lastUsedTime` and the federation's times with milliseconds, as
//! the reference writes them).

use serde::Serialize;

use crate::model::{Group, User};
use crate::service::access_keys::Credential;

/// `2019-06-06T03:42:13Z`.
pub fn time(ms: i64) -> String {
    super::alibaba::time(ms)
}

/// `2024-10-25T08:27:43.000Z`.
pub fn time_ms(ms: i64) -> String {
    let full = super::token_time(ms);
    format!("{}Z", &full[..23])
}

/// `enable` or `disable`, as the federation's `status` is written.
pub fn status(enabled: bool) -> &'static str {
    if enabled { "enable" } else { "disable" }
}

/// `UserModel`.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserModel {
    pub create_time: String,
    pub description: String,
    pub enabled: bool,
    pub id: String,
    pub name: String,
}

impl UserModel {
    pub fn of(user: &User) -> UserModel {
        UserModel {
            create_time: time(user.created_at_ms),
            description: user.description.clone(),
            enabled: user.enabled,
            id: user.id.clone(),
            name: user.name.clone(),
        }
    }
}

/// `GroupModel`.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct GroupModel {
    pub create_time: String,
    pub description: String,
    pub id: String,
    pub name: String,
}

impl GroupModel {
    pub fn of(group: &Group) -> GroupModel {
        GroupModel {
            create_time: time(group.created_at_ms),
            description: group.description.clone(),
            id: group.id.clone(),
            name: group.name.clone(),
        }
    }
}

/// `AccessKey`: the secret only in the answer that creates it.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AccessKeyModel {
    pub create_time: String,
    pub description: String,
    pub enabled: bool,
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_used_time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

impl AccessKeyModel {
    pub fn of(key: &Credential, secret: Option<String>) -> AccessKeyModel {
        AccessKeyModel {
            create_time: time(key.created_at_ms),
            description: key.description.clone(),
            enabled: key.active,
            id: key.access.clone(),
            last_used_time: key.last_used_at_ms.map(time_ms),
            secret,
        }
    }
}

/// `LoginProfile`: console sign-in; MFA and third-party accounts are not offered.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = BaiduLoginProfile)]
pub struct LoginProfile {
    pub enabled_login: bool,
    pub enabled_login_mfa: bool,
    pub need_reset_password: bool,
}

/// `Idp`: the account's IAM-user federation.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = BaiduIdp)]
pub struct Idp {
    pub auxiliary_domain: String,
    pub create_time: String,
    pub domain_id: String,
    pub encode_metadata: String,
    pub file_name: String,
    /// `enable` or `disable`.
    pub status: &'static str,
    pub update_time: String,
}

/// STS `GetSessionToken`'s answer, as bce-python-sdk and bce-sdk-go read it.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = BaiduSessionToken)]
pub struct SessionToken {
    pub access_key_id: String,
    pub create_time: String,
    pub expiration: String,
    pub secret_access_key: String,
    pub session_token: String,
    pub user_id: String,
}
