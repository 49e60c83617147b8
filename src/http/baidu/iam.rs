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
#[derive(Deserialize, Default, utoipa::ToSchema)]
#[schema(as = BaiduNamed)]
pub struct Named {
    name: Option<String>,
    description: Option<String>,
}

/// `LoginProfile` as a request.
#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = BaiduLoginProfileBody)]
pub struct LoginProfileBody {
    /// A new password; absent, the user keeps the one it has.
    #[schema(value_type = Option<String>, format = Password)]
    password: Option<Secret>,
    need_reset_password: Option<bool>,
    /// Not offered: `true` is refused.
    enabled_login_mfa: Option<bool>,
    /// Not offered: a value is refused.
    login_mfa_type: Option<String>,
    /// Not offered: a value is refused.
    third_party_type: Option<String>,
    /// Not offered: a value is refused.
    third_party_account: Option<String>,
}

/// `{"password"}`: an admin sets a user's password.
#[derive(Deserialize, Default, utoipa::ToSchema)]
#[schema(as = BaiduPasswordBody)]
pub struct PasswordBody {
    /// Absent, nothing changes.
    #[schema(value_type = Option<String>, format = Password)]
    password: Option<Secret>,
}

/// `{"users": [...]}`, as the list handlers build it.
#[derive(utoipa::ToSchema)]
#[schema(as = BaiduUserList)]
#[allow(dead_code)]
pub struct UserList {
    users: Vec<UserModel>,
}

/// `{"groups": [...]}`, as the list handlers build it.
#[derive(utoipa::ToSchema)]
#[schema(as = BaiduGroupList)]
#[allow(dead_code)]
pub struct GroupList {
    groups: Vec<GroupModel>,
}

/// `{"accessKeys": [...]}`, without secrets.
#[derive(utoipa::ToSchema)]
#[schema(as = BaiduAccessKeyList)]
#[allow(dead_code)]
pub struct AccessKeyList {
    #[schema(rename = "accessKeys")]
    access_keys: Vec<AccessKeyModel>,
}

/// `{"accessKeyId","lastUsedTime"}`, as `access_key_last_used` builds it.
#[derive(utoipa::ToSchema)]
#[schema(as = BaiduAccessKeyLastUsed)]
#[allow(dead_code)]
pub struct AccessKeyLastUsed {
    #[schema(rename = "accessKeyId")]
    access_key_id: String,
    /// `2024-10-25T08:27:43.000Z`; `""` if never used.
    #[schema(rename = "lastUsedTime")]
    last_used_time: String,
}

// ---- users ----

/// Creates a user in the caller's account.
#[utoipa::path(post, path = "/v1/user", tag = "baidu", operation_id = "baidu_create_user",
    request_body(content = Named, description = "The user: `name` required."),
    responses((status = 201, description = "The user.", body = UserModel)),
    security(("signature" = [])))]
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

/// A user of the caller's account, by name.
#[utoipa::path(get, path = "/v1/user/{userName}", tag = "baidu", operation_id = "baidu_get_user",
    responses((status = 200, description = "The user.", body = UserModel)),
    security(("signature" = [])))]
pub async fn get_user(account: Account, Path(name): Path<String>) -> Answer {
    let user = account.user_named(&name).await?;
    answer(StatusCode::OK, UserModel::of(&user))
}

/// Renames a user or changes its description.
#[utoipa::path(put, path = "/v1/user/{userName}", tag = "baidu", operation_id = "baidu_update_user",
    request_body(content = Named, description = "What changes."),
    responses((status = 200, description = "The user.", body = UserModel)),
    security(("signature" = [])))]
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

/// Deletes a user.
///
/// Its memberships and keys go with it (Baidu refuses until they are removed; fedgate's users
/// are deleted as Keystone's are).
#[utoipa::path(delete, path = "/v1/user/{userName}", tag = "baidu", operation_id = "baidu_delete_user",
    responses((status = 204, description = "Deleted.")),
    security(("signature" = [])))]
pub async fn delete_user(account: Account, Path(name): Path<String>) -> Answer {
    let user = account.user_named(&name).await?;
    account.accounts().delete_user(&account.ctx, &user.id, now_ms()).await?;
    no_content()
}

/// The users of the caller's account.
#[utoipa::path(get, path = "/v1/user", tag = "baidu", operation_id = "baidu_list_users",
    responses((status = 200, description = "The account's users.", body = UserList)),
    security(("signature" = [])))]
pub async fn list_users(account: Account) -> Answer {
    let query = UserListQuery {
        domain_id: Some(account.id().to_string()),
        ..UserListQuery::default()
    };
    let users = account.accounts().list_users(&account.ctx, query).await?;
    let users: Vec<UserModel> = users.iter().map(UserModel::of).collect();
    answer(StatusCode::OK, json!({ "users": users }))
}

/// Sets a user's password.
///
/// An admin sets it, leaving the user's console sign-in as it is; without `password` the user
/// is answered unchanged.
#[utoipa::path(put, path = "/v1/subUser/{userName}/update", tag = "baidu", operation_id = "baidu_set_password",
    request_body(content = PasswordBody, description = "The new password."),
    responses((status = 200, description = "The user.", body = UserModel)),
    security(("signature" = [])))]
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

/// Turns on a user's console sign-in.
///
/// With a new password or the one the user has. MFA and third-party accounts are refused.
#[utoipa::path(put, path = "/v1/user/{userName}/loginProfile", tag = "baidu", operation_id = "baidu_put_login_profile",
    request_body(content = LoginProfileBody, description = "The login profile."),
    responses((status = 200, description = "The login profile.", body = LoginProfile)),
    security(("signature" = [])))]
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

/// A user's login profile (console sign-in).
#[utoipa::path(get, path = "/v1/user/{userName}/loginProfile", tag = "baidu", operation_id = "baidu_get_login_profile",
    responses((status = 200, description = "The login profile.", body = LoginProfile)),
    security(("signature" = [])))]
pub async fn get_login_profile(account: Account, Path(name): Path<String>) -> Answer {
    let user = account.user_named(&name).await?;
    answer(StatusCode::OK, login_profile_of(&user)?)
}

/// Turns off a user's console sign-in.
///
/// The user keeps API access only.
#[utoipa::path(delete, path = "/v1/user/{userName}/loginProfile", tag = "baidu", operation_id = "baidu_delete_login_profile",
    responses((status = 200, description = "Deleted: the user signs in to the API only.")),
    security(("signature" = [])))]
pub async fn delete_login_profile(account: Account, Path(name): Path<String>) -> Answer {
    let user = account.user_named(&name).await?;
    account
        .accounts()
        .delete_login_profile(&account.ctx, &user.id, now_ms())
        .await?;
    Ok(StatusCode::OK.into_response())
}

// ---- access keys ----

/// Creates an access key for a user.
#[utoipa::path(post, path = "/v1/user/{userName}/accesskey", tag = "baidu", operation_id = "baidu_create_access_key",
    responses((status = 201, description = "The key, with its secret (shown this once).", body = AccessKeyModel)),
    security(("signature" = [])))]
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

/// A user's access keys.
#[utoipa::path(get, path = "/v1/user/{userName}/accesskey", tag = "baidu", operation_id = "baidu_list_access_keys",
    responses((status = 200, description = "The user's keys, without secrets.", body = AccessKeyList)),
    security(("signature" = [])))]
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

/// Enables (`?enable`) or disables (`?disable`) an access key.
#[utoipa::path(put, path = "/v1/user/{userName}/accesskey/{accessKeyId}", tag = "baidu", operation_id = "baidu_enable_access_key",
    params(
        ("enable" = Option<String>, Query, max_length = 0, description = "Enables the key: give exactly one of `enable` and `disable`, without a value."),
        ("disable" = Option<String>, Query, max_length = 0, description = "Disables the key."),
    ),
    responses((status = 200, description = "The key.", body = AccessKeyModel)),
    security(("signature" = [])))]
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

/// Deletes an access key.
#[utoipa::path(delete, path = "/v1/user/{userName}/accesskey/{accessKeyId}", tag = "baidu", operation_id = "baidu_delete_access_key",
    responses((status = 204, description = "Deleted.")),
    security(("signature" = [])))]
pub async fn delete_access_key(account: Account, Path((name, access)): Path<(String, String)>) -> Answer {
    let user = account.user_named(&name).await?;
    let key = account.key_of(&user, &access).await?;
    account
        .sts()
        .delete_credential(&account.ctx, &key.access, now_ms())
        .await?;
    no_content()
}

/// When an access key was last used.
///
/// A key of the caller's account (its owner's or, for an admin, any user's); never used is
/// `""`.
#[utoipa::path(get, path = "/v1/accesskey/{accessKeyId}/lastusedtime", tag = "baidu", operation_id = "baidu_access_key_last_used",
    responses((status = 200, description = "When the key was last used.", body = AccessKeyLastUsed)),
    security(("signature" = [])))]
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

/// Creates a group in the caller's account.
#[utoipa::path(post, path = "/v1/group", tag = "baidu", operation_id = "baidu_create_group",
    request_body(content = Named, description = "The group: `name` required."),
    responses((status = 201, description = "The group.", body = GroupModel)),
    security(("signature" = [])))]
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

/// A group of the caller's account, by name.
#[utoipa::path(get, path = "/v1/group/{groupName}", tag = "baidu", operation_id = "baidu_get_group",
    responses((status = 200, description = "The group.", body = GroupModel)),
    security(("signature" = [])))]
pub async fn get_group(account: Account, Path(name): Path<String>) -> Answer {
    let group = account.group_named(&name).await?;
    answer(StatusCode::OK, GroupModel::of(&group))
}

/// Renames a group or changes its description.
#[utoipa::path(put, path = "/v1/group/{groupName}", tag = "baidu", operation_id = "baidu_update_group",
    request_body(content = Named, description = "What changes."),
    responses((status = 200, description = "The group.", body = GroupModel)),
    security(("signature" = [])))]
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

/// Deletes a group.
#[utoipa::path(delete, path = "/v1/group/{groupName}", tag = "baidu", operation_id = "baidu_delete_group",
    responses((status = 204, description = "Deleted.")),
    security(("signature" = [])))]
pub async fn delete_group(account: Account, Path(name): Path<String>) -> Answer {
    let group = account.group_named(&name).await?;
    account.accounts().delete_group(&account.ctx, &group.id).await?;
    no_content()
}

/// The groups of the caller's account.
#[utoipa::path(get, path = "/v1/group", tag = "baidu", operation_id = "baidu_list_groups",
    responses((status = 200, description = "The account's groups.", body = GroupList)),
    security(("signature" = [])))]
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

/// Adds a user to a group.
#[utoipa::path(put, path = "/v1/group/{groupName}/user/{userName}", tag = "baidu", operation_id = "baidu_add_member",
    responses((status = 200, description = "The user is a member.")),
    security(("signature" = [])))]
pub async fn add_member(account: Account, Path((group, user)): Path<(String, String)>) -> Answer {
    membership(&account, &group, &user, GrantOp::Create).await?;
    Ok(StatusCode::OK.into_response())
}

/// Removes a user from a group.
#[utoipa::path(delete, path = "/v1/group/{groupName}/user/{userName}", tag = "baidu", operation_id = "baidu_remove_member",
    responses((status = 204, description = "The user is no longer a member.")),
    security(("signature" = [])))]
pub async fn remove_member(account: Account, Path((group, user)): Path<(String, String)>) -> Answer {
    membership(&account, &group, &user, GrantOp::Delete).await?;
    no_content()
}

/// The users in a group.
#[utoipa::path(get, path = "/v1/group/{groupName}/user", tag = "baidu", operation_id = "baidu_group_members",
    responses((status = 200, description = "The group's members.", body = UserList)),
    security(("signature" = [])))]
pub async fn group_members(account: Account, Path(name): Path<String>) -> Answer {
    let group = account.group_named(&name).await?;
    let users = account.accounts().group_members(&account.ctx, &group.id).await?;
    let users: Vec<UserModel> = users.iter().map(UserModel::of).collect();
    answer(StatusCode::OK, json!({ "users": users }))
}

/// The groups a user is in.
#[utoipa::path(get, path = "/v1/user/{userName}/group", tag = "baidu", operation_id = "baidu_groups_of_user",
    responses((status = 200, description = "The user's groups.", body = GroupList)),
    security(("signature" = [])))]
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
