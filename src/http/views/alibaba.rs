//! Alibaba Cloud's shapes (IMS 2019-08-15, STS 2015-04-01): PascalCase fields, times as
//! `2015-01-23T12:33:18Z`, ARNs `acs:ram::<account>:<kind>/<name>`.

use serde::Serialize;

use crate::model::{Group, User};
use crate::service::access_keys::Credential;

/// `2015-01-23T12:33:18Z`.
pub fn time(ms: i64) -> String {
    let full = super::token_time(ms);
    format!("{}Z", &full[..19])
}

/// `Active` or `Inactive`.
pub fn status(active: bool) -> &'static str {
    if active { "Active" } else { "Inactive" }
}

/// An account's default domain: the suffix of its users' principal names.
pub fn principal_suffix(account_name: &str) -> String {
    format!("{}.onaliyun.com", account_name.to_ascii_lowercase())
}

/// `<name>@<account>.onaliyun.com`.
pub fn principal_name(user: &User, account_name: &str) -> String {
    format!("{}@{}", user.name, principal_suffix(account_name))
}

pub fn arn(account_id: &str, kind: &str, name: &str) -> String {
    format!("acs:ram::{account_id}:{kind}/{name}")
}

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "PascalCase")]
pub struct RamUser {
    pub comments: String,
    pub create_date: String,
    pub display_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_login_date: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mobile_phone: Option<String>,
    pub status: &'static str,
    pub update_date: String,
    pub user_id: String,
    pub user_name: String,
    pub user_principal_name: String,
}

impl RamUser {
    pub fn of(user: &User, account_name: &str) -> RamUser {
        RamUser {
            comments: user.description.clone(),
            create_date: time(user.created_at_ms),
            display_name: user.display_name.clone().unwrap_or_else(|| user.name.clone()),
            email: user.email.clone(),
            last_login_date: user.last_login_at_ms.map(time),
            mobile_phone: match (&user.areacode, &user.phone) {
                (Some(cc), Some(number)) => Some(format!("{cc}-{number}")),
                _ => None,
            },
            status: status(user.enabled),
            update_date: time(user.updated_at_ms),
            user_id: user.id.clone(),
            user_name: user.name.clone(),
            user_principal_name: principal_name(user, account_name),
        }
    }
}

/// A user in `ListUserBasicInfos` and `ListUsersForGroup`.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "PascalCase")]
pub struct UserBasicInfo {
    pub display_name: String,
    pub status: &'static str,
    pub user_id: String,
    pub user_principal_name: String,
}

impl UserBasicInfo {
    pub fn of(user: &User, account_name: &str) -> UserBasicInfo {
        UserBasicInfo {
            display_name: user.display_name.clone().unwrap_or_else(|| user.name.clone()),
            status: status(user.enabled),
            user_id: user.id.clone(),
            user_principal_name: principal_name(user, account_name),
        }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "PascalCase")]
pub struct RamGroup {
    pub comments: String,
    pub create_date: String,
    pub display_name: String,
    pub group_id: String,
    pub group_name: String,
    /// Groups keep no time of their own change.
    pub update_date: String,
}

impl RamGroup {
    pub fn of(group: &Group) -> RamGroup {
        RamGroup {
            comments: group.description.clone(),
            create_date: time(group.created_at_ms),
            display_name: group.display_name.clone().unwrap_or_else(|| group.name.clone()),
            group_id: group.id.clone(),
            group_name: group.name.clone(),
            update_date: time(group.created_at_ms),
        }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "PascalCase")]
#[schema(as = AlibabaAccessKey)]
pub struct AccessKey {
    pub access_key_id: String,
    /// Only in `CreateAccessKey`'s answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_key_secret: Option<String>,
    pub create_date: String,
    pub status: &'static str,
}

impl AccessKey {
    pub fn of(key: &Credential, secret: Option<String>) -> AccessKey {
        AccessKey {
            access_key_id: key.access.clone(),
            access_key_secret: secret,
            create_date: time(key.created_at_ms),
            status: status(key.active),
        }
    }
}

/// STS `Credentials`.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "PascalCase")]
#[schema(as = AlibabaCredentials)]
pub struct Credentials {
    pub access_key_id: String,
    pub access_key_secret: String,
    pub expiration: String,
    pub security_token: String,
}
