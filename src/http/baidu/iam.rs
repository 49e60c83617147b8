//! IAM users, login profiles, passwords, access keys, groups and their members in the caller's
//! account, keyed by name as Baidu's paths name them (fedgate keys them by id).
//!
//! A login profile is the user's console sign-in: a password and an access mode that allows
//! the console (`default`); deleting it makes the user `programmatic` (API and SDK only). The
//! password stays for API sign-in either way. Login MFA and third-party account binding are
//! not offered: a profile asking for them is refused, not stored without them.

use axum::Json;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::http::Uri;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::super::error::ApiError;
use super::super::views::baidu::{AccessKeyModel, GroupModel, LoginProfile, UserModel};
use super::{Account, Body, required};
use crate::model::User;
use crate::service::access_keys::{CredentialInput, CredentialListQuery};
use crate::service::admin::{
    GrantOp, GroupInput, LoginProfileInput, ProfileWrite, Secret, UserInput, UserListQuery, login_profile,
};
use crate::service::{Error, now_ms};

type Answer = Result<Response, ApiError>;

fn answer<T: Serialize>(status: StatusCode, body: T) -> Answer {
    Ok((status, Json(body)).into_response())
}

fn no_content() -> Answer {
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `{"name","description"}` of users and groups.
#[derive(Deserialize, Default)]
pub struct Named {
    name: Option<String>,
    description: Option<String>,
}

/// `LoginProfile` as a request.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct LoginProfileBody {
    password: Option<Secret>,
    need_reset_password: Option<bool>,
    enabled_login_mfa: Option<bool>,
    login_mfa_type: Option<String>,
    third_party_type: Option<String>,
    third_party_account: Option<String>,
}

#[derive(Deserialize, Default)]
pub struct PasswordBody {
    password: Option<Secret>,
}

// ---- users ----

/// POST /v1/user.
pub async fn create_user(account: Account, Body(body): Body<Named>) -> Answer {
    let input = UserInput {
        name: Some(required(body.name, "name")?),
        domain_id: Some(account.id().to_string()),
        description: body.description,
        ..UserInput::default()
    };
    let user = account.accounts().create_user(&account.ctx, input, now_ms()).await?;
    answer(StatusCode::CREATED, UserModel::of(&user))
}

/// GET /v1/user/{userName}.
pub async fn get_user(account: Account, Path(name): Path<String>) -> Answer {
    let user = account.user_named(&name).await?;
    answer(StatusCode::OK, UserModel::of(&user))
}

/// PUT /v1/user/{userName}: a new name, a new description.
pub async fn update_user(account: Account, Path(name): Path<String>, Body(body): Body<Named>) -> Answer {
    let user = account.user_named(&name).await?;
    let input = UserInput {
        name: body.name,
        description: body.description,
        ..UserInput::default()
    };
    let user = account
        .accounts()
        .update_user(&account.ctx, &user.id, input, now_ms())
        .await?;
    answer(StatusCode::OK, UserModel::of(&user))
}

/// DELETE /v1/user/{userName}. Its memberships and keys go with it (Baidu refuses until they
/// are removed; fedgate's users are deleted as Keystone's are).
pub async fn delete_user(account: Account, Path(name): Path<String>) -> Answer {
    let user = account.user_named(&name).await?;
    account.accounts().delete_user(&account.ctx, &user.id, now_ms()).await?;
    no_content()
}

/// GET /v1/user.
pub async fn list_users(account: Account) -> Answer {
    let query = UserListQuery {
        domain_id: Some(account.id().to_string()),
        ..UserListQuery::default()
    };
    let users = account.accounts().list_users(&account.ctx, query).await?;
    let users: Vec<UserModel> = users.iter().map(UserModel::of).collect();
    answer(StatusCode::OK, json!({ "users": users }))
}

/// PUT /v1/subUser/{userName}/update: an admin sets the user's password, leaving its console
/// sign-in as it is.
pub async fn set_password(account: Account, Path(name): Path<String>, Body(body): Body<PasswordBody>) -> Answer {
    let user = account.user_named(&name).await?;
    let Some(password) = body.password else {
        return answer(StatusCode::OK, UserModel::of(&user));
    };
    let input = UserInput {
        password: Some(password),
        ..UserInput::default()
    };
    let user = account
        .accounts()
        .update_user(&account.ctx, &user.id, input, now_ms())
        .await?;
    answer(StatusCode::OK, UserModel::of(&user))
}

// ---- login profiles ----

/// The user's login profile (`service::admin::login_profile`) in Baidu's shape.
fn login_profile_of(user: &User) -> Result<LoginProfile, Error> {
    let profile = login_profile(user).ok_or_else(|| Error::not_found("login profile", &user.name))?;
    Ok(LoginProfile {
        enabled_login: true,
        enabled_login_mfa: false,
        need_reset_password: profile.reset_required,
    })
}

/// What a login profile asks for that fedgate does not offer.
fn unoffered(body: &LoginProfileBody) -> Result<(), Error> {
    let given = |v: &Option<String>| v.as_deref().is_some_and(|s| !s.is_empty());
    if body.enabled_login_mfa == Some(true) || given(&body.login_mfa_type) {
        return Err(Error::invalid("enabledLoginMfa", "MFA is not offered by this service"));
    }
    if given(&body.third_party_type) || given(&body.third_party_account) {
        return Err(Error::invalid(
            "thirdPartyType",
            "third-party account binding is not offered by this service",
        ));
    }
    Ok(())
}

/// PUT /v1/user/{userName}/loginProfile: console sign-in, with a new password or the one the
/// user has.
pub async fn put_login_profile(
    account: Account,
    Path(name): Path<String>,
    Body(body): Body<LoginProfileBody>,
) -> Answer {
    unoffered(&body)?;
    let user = account.user_named(&name).await?;
    let input = LoginProfileInput {
        password: body.password,
        reset_required: body.need_reset_password,
        console: Some(true),
    };
    let user = account
        .accounts()
        .write_login_profile(&account.ctx, &user.id, ProfileWrite::Put, input, now_ms())
        .await?;
    answer(StatusCode::OK, login_profile_of(&user)?)
}

/// GET /v1/user/{userName}/loginProfile.
pub async fn get_login_profile(account: Account, Path(name): Path<String>) -> Answer {
    let user = account.user_named(&name).await?;
    answer(StatusCode::OK, login_profile_of(&user)?)
}

/// DELETE /v1/user/{userName}/loginProfile: the user keeps API access only.
pub async fn delete_login_profile(account: Account, Path(name): Path<String>) -> Answer {
    let user = account.user_named(&name).await?;
    account
        .accounts()
        .delete_login_profile(&account.ctx, &user.id, now_ms())
        .await?;
    Ok(StatusCode::OK.into_response())
}

// ---- access keys ----

/// POST /v1/user/{userName}/accesskey.
pub async fn create_access_key(account: Account, Path(name): Path<String>) -> Answer {
    let user = account.user_named(&name).await?;
    let input = CredentialInput {
        user_id: Some(user.id),
        ..CredentialInput::default()
    };
    let created = account.sts().create_credential(&account.ctx, input, now_ms()).await?;
    let secret = created.secret.expose().to_string();
    answer(
        StatusCode::CREATED,
        AccessKeyModel::of(&created.credential, Some(secret)),
    )
}

/// GET /v1/user/{userName}/accesskey.
pub async fn list_access_keys(account: Account, Path(name): Path<String>) -> Answer {
    let user = account.user_named(&name).await?;
    let query = CredentialListQuery { user_id: Some(user.id) };
    let keys = account.sts().list_credentials(&account.ctx, query).await?;
    let keys: Vec<AccessKeyModel> = keys.iter().map(|k| AccessKeyModel::of(k, None)).collect();
    answer(StatusCode::OK, json!({ "accessKeys": keys }))
}

/// `?enable` or `?disable` (the SDK writes `disable=`): exactly one, without a value.
fn enable_or_disable(uri: &Uri) -> Result<bool, Error> {
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    match pairs.as_slice() {
        [(name, value)] if name == "enable" && value.is_empty() => Ok(true),
        [(name, value)] if name == "disable" && value.is_empty() => Ok(false),
        _ => Err(Error::invalid("query", "must be ?enable or ?disable")),
    }
}

/// PUT /v1/user/{userName}/accesskey/{accessKeyId}?enable|?disable.
pub async fn enable_access_key(account: Account, Path((name, access)): Path<(String, String)>, uri: Uri) -> Answer {
    let enable = enable_or_disable(&uri)?;
    let user = account.user_named(&name).await?;
    let key = account.key_of(&user, &access).await?;
    let input = CredentialInput {
        status: Some(if enable { "active" } else { "inactive" }.to_string()),
        ..CredentialInput::default()
    };
    let key = account
        .sts()
        .update_credential(&account.ctx, &key.access, input, now_ms())
        .await?;
    answer(StatusCode::OK, AccessKeyModel::of(&key, None))
}

/// DELETE /v1/user/{userName}/accesskey/{accessKeyId}.
pub async fn delete_access_key(account: Account, Path((name, access)): Path<(String, String)>) -> Answer {
    let user = account.user_named(&name).await?;
    let key = account.key_of(&user, &access).await?;
    account
        .sts()
        .delete_credential(&account.ctx, &key.access, now_ms())
        .await?;
    no_content()
}

/// GET /v1/accesskey/{accessKeyId}/lastusedtime: a key of the caller's account (its owner's
/// or, for an admin, any user's); never used is `""`.
pub async fn access_key_last_used(account: Account, Path(access): Path<String>) -> Answer {
    let key = account.credential(&access).await?;
    let owner = account.accounts().get_user(&account.ctx, &key.user_id).await?;
    if owner.domain_id != account.id() {
        return Err(Error::not_found("credential", access).into());
    }
    let last = key.last_used_at_ms.map(super::super::views::baidu::time_ms);
    answer(
        StatusCode::OK,
        json!({"accessKeyId": key.access, "lastUsedTime": last.unwrap_or_default()}),
    )
}

// ---- groups ----

/// POST /v1/group.
pub async fn create_group(account: Account, Body(body): Body<Named>) -> Answer {
    let input = GroupInput {
        name: Some(required(body.name, "name")?),
        description: body.description,
        domain_id: Some(account.id().to_string()),
        display_name: None,
    };
    let group = account.accounts().create_group(&account.ctx, input, now_ms()).await?;
    answer(StatusCode::CREATED, GroupModel::of(&group))
}

/// GET /v1/group/{groupName}.
pub async fn get_group(account: Account, Path(name): Path<String>) -> Answer {
    let group = account.group_named(&name).await?;
    answer(StatusCode::OK, GroupModel::of(&group))
}

/// PUT /v1/group/{groupName}.
pub async fn update_group(account: Account, Path(name): Path<String>, Body(body): Body<Named>) -> Answer {
    let group = account.group_named(&name).await?;
    let input = GroupInput {
        name: body.name,
        description: body.description,
        domain_id: None,
        display_name: None,
    };
    let group = account.accounts().update_group(&account.ctx, &group.id, input).await?;
    answer(StatusCode::OK, GroupModel::of(&group))
}

/// DELETE /v1/group/{groupName}.
pub async fn delete_group(account: Account, Path(name): Path<String>) -> Answer {
    let group = account.group_named(&name).await?;
    account.accounts().delete_group(&account.ctx, &group.id).await?;
    no_content()
}

/// GET /v1/group.
pub async fn list_groups(account: Account) -> Answer {
    let query = GroupInput {
        domain_id: Some(account.id().to_string()),
        ..GroupInput::default()
    };
    let groups = account.accounts().list_groups(&account.ctx, query).await?;
    let groups: Vec<GroupModel> = groups.iter().map(GroupModel::of).collect();
    answer(StatusCode::OK, json!({ "groups": groups }))
}

async fn membership(account: &Account, group: &str, user: &str, op: GrantOp) -> Result<(), Error> {
    let group = account.group_named(group).await?;
    let user = account.user_named(user).await?;
    account
        .accounts()
        .membership(&account.ctx, &group.id, &user.id, op)
        .await
}

/// PUT /v1/group/{groupName}/user/{userName}.
pub async fn add_member(account: Account, Path((group, user)): Path<(String, String)>) -> Answer {
    membership(&account, &group, &user, GrantOp::Create).await?;
    Ok(StatusCode::OK.into_response())
}

/// DELETE /v1/group/{groupName}/user/{userName}.
pub async fn remove_member(account: Account, Path((group, user)): Path<(String, String)>) -> Answer {
    membership(&account, &group, &user, GrantOp::Delete).await?;
    no_content()
}

/// GET /v1/group/{groupName}/user.
pub async fn group_members(account: Account, Path(name): Path<String>) -> Answer {
    let group = account.group_named(&name).await?;
    let users = account.accounts().group_members(&account.ctx, &group.id).await?;
    let users: Vec<UserModel> = users.iter().map(UserModel::of).collect();
    answer(StatusCode::OK, json!({ "users": users }))
}

/// GET /v1/user/{userName}/group.
pub async fn groups_of_user(account: Account, Path(name): Path<String>) -> Answer {
    let user = account.user_named(&name).await?;
    let groups = account.accounts().groups_of_user(&account.ctx, &user.id).await?;
    let groups: Vec<GroupModel> = groups.iter().map(GroupModel::of).collect();
    answer(StatusCode::OK, json!({ "groups": groups }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn access_keys_are_enabled_or_disabled_by_a_bare_query_name() {
        let cases = [
            ("/k?enable", Some(true)),
            ("/k?disable", Some(false)),
            ("/k?disable=", Some(false)),
            ("/k", None),
            ("/k?enable&disable", None),
            ("/k?enable=true", None),
            ("/k?status=enable", None),
        ];
        for (uri, want) in cases {
            let uri: Uri = uri.parse().unwrap_or_default();
            assert_eq!(enable_or_disable(&uri).ok(), want, "{uri}");
        }
    }
}
