//! IMS (`2019-08-15`): users, login profiles, groups and their members, access keys, in the
//! caller's account. A user is named by its principal name `<name>@<account>.onaliyun.com`;
//! fedgate keeps the name, and the suffix must be the caller's account's.
//!
//! A login profile is the user's console sign-in: a password and an access mode that allows
//! the console (`default`); `Inactive`, or deleted, is `programmatic` (API and SDK only, as
//! Alibaba's console-less users). The password stays for API sign-in either way.

use std::sync::Arc;

use serde_json::{Value, json};

use super::super::views::alibaba::{AccessKey, RamGroup, RamUser, UserBasicInfo, principal_suffix};
use super::{Params, list_body};
use crate::model::{Group, User};
use crate::service::access_keys::{CredentialInput, CredentialListQuery};
use crate::service::admin::{
    GrantOp, GroupInput, LoginProfileInput, ProfileWrite, Secret, UserInput, UserListQuery, login_profile,
};
use crate::service::{Accounts, AuthContext, Error, Services, Sts};

/// The caller's account and the use cases its calls reach.
struct Ims {
    accounts: Accounts,
    sts: Sts,
    ctx: AuthContext,
    account_id: String,
    account_name: String,
}

pub(super) async fn call(
    core: Arc<Services>,
    ctx: AuthContext,
    action: &str,
    p: &Params,
    now: i64,
) -> Result<Value, Error> {
    let ims = Ims {
        accounts: Accounts::new(core.clone()),
        sts: Sts::new(core.clone()),
        account_id: ctx.identity.user.domain.id.clone(),
        account_name: ctx.identity.user.domain.name.clone(),
        ctx,
    };
    match action {
        "CreateUser" => ims.create_user(p, now).await,
        "GetUser" => ims.get_user(p).await,
        "UpdateUser" => ims.update_user(p, now).await,
        "DeleteUser" => ims.delete_user(p, now).await,
        "ListUsers" => ims.list_users(p, false).await,
        "ListUserBasicInfos" => ims.list_users(p, true).await,
        "CreateAccessKey" => ims.create_access_key(p, now).await,
        "DeleteAccessKey" => ims.delete_access_key(p, now).await,
        "UpdateAccessKey" => ims.update_access_key(p, now).await,
        "ListAccessKeys" => ims.list_access_keys(p).await,
        "GetAccessKeyLastUsed" => ims.access_key_last_used(p).await,
        "CreateGroup" => ims.create_group(p, now).await,
        "GetGroup" => ims.get_group(p).await,
        "UpdateGroup" => ims.update_group(p).await,
        "DeleteGroup" => ims.delete_group(p).await,
        "ListGroups" => ims.list_groups(p).await,
        "AddUserToGroup" => ims.membership(p, GrantOp::Create).await,
        "RemoveUserFromGroup" => ims.membership(p, GrantOp::Delete).await,
        "ListUsersForGroup" => ims.users_for_group(p).await,
        "ListGroupsForUser" => ims.groups_for_user(p).await,
        "CreateLoginProfile" => ims.write_login_profile(p, true, now).await,
        "GetLoginProfile" => ims.get_login_profile(p).await,
        "UpdateLoginProfile" => ims.write_login_profile(p, false, now).await,
        "DeleteLoginProfile" => ims.delete_login_profile(p, now).await,
        "ChangePassword" => ims.change_password(p, now).await,
        sso if sso.contains("OIDCProvider") || sso.contains("SAMLProvider") || sso.ends_with("UserSsoSettings") => {
            super::sso::Sso::new(core, ims.ctx.clone()).call(sso, p, now).await
        }
        other => Err(Error::NotFound {
            kind: "action",
            id: other.to_string(),
        }),
    }
}

fn body<T: serde::Serialize>(name: &str, value: T) -> Result<Value, Error> {
    let value = serde_json::to_value(value).map_err(|e| Error::internal_in("rendering an answer", e))?;
    Ok(json!({ name: value }))
}

/// `MobilePhone` is `<country code>-<number>`.
fn mobile(value: &str) -> Result<(String, String), Error> {
    value
        .split_once('-')
        .map(|(cc, n)| (cc.to_string(), n.to_string()))
        .ok_or_else(|| Error::invalid("MobilePhone", "must be <country code>-<number>"))
}

impl Ims {
    /// The user name a principal name gives, when its suffix is the account's.
    fn name_in(&self, field: &str, principal: &str) -> Result<String, Error> {
        let suffix = principal_suffix(&self.account_name);
        match principal.rsplit_once('@') {
            Some((name, s)) if s.eq_ignore_ascii_case(&suffix) && !name.is_empty() => Ok(name.to_string()),
            _ => Err(Error::invalid(field, format!("must be <name>@{suffix}"))),
        }
    }

    async fn user_named(&self, principal: &str) -> Result<User, Error> {
        let name = self.name_in("UserPrincipalName", principal)?;
        match self.accounts.user_by_name(&self.ctx, &self.account_id, &name).await {
            Err(Error::NotFound { .. }) => Err(Error::not_found("user", principal)),
            other => other,
        }
    }

    /// The user a call names by `UserPrincipalName`, `UserId` or `UserAccessKeyId` (the
    /// first given), in the caller's account.
    async fn named_user(&self, p: &Params) -> Result<User, Error> {
        if let Some(principal) = p.get("UserPrincipalName") {
            return self.user_named(principal).await;
        }
        let id = match (p.get("UserId"), p.get("UserAccessKeyId")) {
            (Some(id), _) => id.to_string(),
            (None, Some(access)) => match self.sts.get_credential(&self.ctx, access).await {
                Err(Error::Forbidden(_)) => return Err(Error::not_found("credential", access)),
                other => other?.user_id,
            },
            (None, None) => {
                return Err(Error::MissingField {
                    field: "UserPrincipalName".into(),
                });
            }
        };
        // Another account's user is as absent as a missing one.
        let user = match self.accounts.get_user(&self.ctx, &id).await {
            Err(Error::Forbidden(_)) => return Err(Error::not_found("user", &id)),
            other => other?,
        };
        if user.domain_id != self.account_id {
            return Err(Error::not_found("user", &id));
        }
        Ok(user)
    }

    /// The user whose keys a call manages: the one named, else the caller.
    async fn key_owner(&self, p: &Params) -> Result<String, Error> {
        match p.get("UserPrincipalName") {
            Some(principal) => Ok(self.user_named(principal).await?.id),
            // An agency session speaks for no user that could hold keys.
            None if self.ctx.token.agency.is_some() => Err(Error::Forbidden(
                "an agency session holds no access keys; name the user".into(),
            )),
            None => Ok(self.ctx.user_id().to_string()),
        }
    }

    async fn group_named(&self, name: &str) -> Result<Group, Error> {
        let query = GroupInput {
            name: Some(name.to_string()),
            domain_id: Some(self.account_id.clone()),
            ..GroupInput::default()
        };
        self.accounts
            .list_groups(&self.ctx, query)
            .await?
            .into_iter()
            .next()
            .ok_or_else(|| Error::not_found("group", name))
    }

    fn user_view(&self, user: &User) -> RamUser {
        RamUser::of(user, &self.account_name)
    }

    async fn create_user(&self, p: &Params, now: i64) -> Result<Value, Error> {
        let name = self.name_in("UserPrincipalName", p.required("UserPrincipalName")?)?;
        let (areacode, phone) = p.get("MobilePhone").map(mobile).transpose()?.unzip();
        let input = UserInput {
            name: Some(name),
            domain_id: Some(self.account_id.clone()),
            display_name: Some(p.required("DisplayName")?.to_string()),
            description: p.owned("Comments"),
            email: p.owned("Email"),
            areacode,
            phone,
            ..UserInput::default()
        };
        let user = self.accounts.create_user(&self.ctx, input, now).await?;
        body("User", self.user_view(&user))
    }

    async fn get_user(&self, p: &Params) -> Result<Value, Error> {
        let user = self.named_user(p).await?;
        body("User", self.user_view(&user))
    }

    async fn update_user(&self, p: &Params, now: i64) -> Result<Value, Error> {
        let user = self.named_user(p).await?;
        let name = p
            .get("NewUserPrincipalName")
            .map(|n| self.name_in("NewUserPrincipalName", n))
            .transpose()?;
        let (areacode, phone) = p.get("NewMobilePhone").map(mobile).transpose()?.unzip();
        let input = UserInput {
            name,
            display_name: p.owned("NewDisplayName"),
            description: p.owned("NewComments"),
            email: p.owned("NewEmail"),
            areacode,
            phone,
            ..UserInput::default()
        };
        let user = self.accounts.update_user(&self.ctx, &user.id, input, now).await?;
        body("User", self.user_view(&user))
    }

    async fn delete_user(&self, p: &Params, now: i64) -> Result<Value, Error> {
        let user = self.named_user(p).await?;
        self.accounts.delete_user(&self.ctx, &user.id, now).await?;
        Ok(json!({}))
    }

    async fn list_users(&self, p: &Params, basic: bool) -> Result<Value, Error> {
        let page = p.page()?;
        let enabled = p.status("Status")?;
        let query = UserListQuery {
            domain_id: Some(self.account_id.clone()),
            enabled,
            ..UserListQuery::default()
        };
        let users = self.accounts.list_users(&self.ctx, query).await?;
        if basic {
            let infos = users.iter().map(|u| UserBasicInfo::of(u, &self.account_name)).collect();
            list_body("UserBasicInfos", "UserBasicInfo", page.of(infos))
        } else {
            let views = users.iter().map(|u| self.user_view(u)).collect();
            list_body("Users", "User", page.of(views))
        }
    }

    fn login_profile_view(&self, user: &User) -> Result<Value, Error> {
        let upn = self.user_view(user).user_principal_name;
        let Some(profile) = login_profile(user) else {
            return Err(Error::not_found("login profile", &upn));
        };
        Ok(json!({"LoginProfile": {
            "UserPrincipalName": upn,
            "PasswordResetRequired": profile.reset_required,
            "MFABindRequired": false,
            "Status": "Active",
            "CreateDate": super::super::views::alibaba::time(profile.since_ms),
        }}))
    }

    /// Create (refused where one exists) or update (where one exists) a login profile.
    async fn write_login_profile(&self, p: &Params, create: bool, now: i64) -> Result<Value, Error> {
        let user = self.user_named(p.required("UserPrincipalName")?).await?;
        if p.get("MFABindRequired") == Some("true") {
            return Err(Error::invalid("MFABindRequired", "MFA is not offered by this service"));
        }
        if create && p.get("Password").is_none() {
            return Err(Error::MissingField {
                field: "Password".into(),
            });
        }
        let input = LoginProfileInput {
            password: p.get("Password").map(|pw| Secret(pw.to_string())),
            reset_required: p.flag("PasswordResetRequired")?,
            console: p.status("Status")?,
        };
        let write = if create {
            ProfileWrite::Create
        } else {
            ProfileWrite::Update
        };
        let user = self
            .accounts
            .write_login_profile(&self.ctx, &user.id, write, input, now)
            .await?;
        match self.login_profile_view(&user) {
            // Status Inactive: the profile is kept as console sign-in switched off.
            Err(_) => Ok(json!({"LoginProfile": {
                "UserPrincipalName": self.user_view(&user).user_principal_name,
                "PasswordResetRequired": user.pwd_status,
                "MFABindRequired": false,
                "Status": "Inactive",
            }})),
            shown => shown,
        }
    }

    async fn get_login_profile(&self, p: &Params) -> Result<Value, Error> {
        let user = self.user_named(p.required("UserPrincipalName")?).await?;
        self.login_profile_view(&user)
    }

    async fn delete_login_profile(&self, p: &Params, now: i64) -> Result<Value, Error> {
        let user = self.user_named(p.required("UserPrincipalName")?).await?;
        self.accounts.delete_login_profile(&self.ctx, &user.id, now).await?;
        Ok(json!({}))
    }

    /// The caller's own password.
    async fn change_password(&self, p: &Params, now: i64) -> Result<Value, Error> {
        let original = Secret(p.required("OldPassword")?.to_string());
        let new = Secret(p.required("NewPassword")?.to_string());
        let me = self.ctx.user_id().to_string();
        self.accounts
            .change_password(&self.ctx, &me, original, new, now)
            .await?;
        Ok(json!({}))
    }

    async fn create_access_key(&self, p: &Params, now: i64) -> Result<Value, Error> {
        let input = CredentialInput {
            user_id: Some(self.key_owner(p).await?),
            ..CredentialInput::default()
        };
        let created = self.sts.create_credential(&self.ctx, input, now).await?;
        let secret = created.secret.expose().to_string();
        body("AccessKey", AccessKey::of(&created.credential, Some(secret)))
    }

    /// The key a call names, if it belongs to the user the call names (or the caller).
    async fn named_key(&self, p: &Params) -> Result<crate::service::access_keys::Credential, Error> {
        let access = p.required("UserAccessKeyId")?;
        let owner = self.key_owner(p).await?;
        // A key the caller may not read is as absent as a missing one.
        let key = match self.sts.get_credential(&self.ctx, access).await {
            Err(Error::Forbidden(_)) => return Err(Error::not_found("credential", access)),
            other => other?,
        };
        if key.user_id != owner {
            return Err(Error::not_found("credential", access));
        }
        Ok(key)
    }

    async fn delete_access_key(&self, p: &Params, now: i64) -> Result<Value, Error> {
        let key = self.named_key(p).await?;
        self.sts.delete_credential(&self.ctx, &key.access, now).await?;
        Ok(json!({}))
    }

    async fn update_access_key(&self, p: &Params, now: i64) -> Result<Value, Error> {
        let active = p
            .status("Status")?
            .ok_or_else(|| Error::MissingField { field: "Status".into() })?;
        let key = self.named_key(p).await?;
        let input = CredentialInput {
            status: Some(if active { "active" } else { "inactive" }.to_string()),
            ..CredentialInput::default()
        };
        self.sts.update_credential(&self.ctx, &key.access, input, now).await?;
        Ok(json!({}))
    }

    async fn list_access_keys(&self, p: &Params) -> Result<Value, Error> {
        let query = CredentialListQuery {
            user_id: Some(self.key_owner(p).await?),
        };
        let keys = self.sts.list_credentials(&self.ctx, query).await?;
        let views: Vec<AccessKey> = keys.iter().map(|k| AccessKey::of(k, None)).collect();
        body("AccessKeys", json!({ "AccessKey": views }))
    }

    async fn access_key_last_used(&self, p: &Params) -> Result<Value, Error> {
        let key = self.named_key(p).await?;
        let last = key.last_used_at_ms.map(super::super::views::alibaba::time);
        body("AccessKeyLastUsed", json!({ "LastUsedDate": last.unwrap_or_default() }))
    }

    async fn create_group(&self, p: &Params, now: i64) -> Result<Value, Error> {
        let input = GroupInput {
            name: Some(p.required("GroupName")?.to_string()),
            domain_id: Some(self.account_id.clone()),
            description: p.owned("Comments"),
            display_name: p.owned("DisplayName"),
        };
        let group = self.accounts.create_group(&self.ctx, input, now).await?;
        body("Group", RamGroup::of(&group))
    }

    async fn get_group(&self, p: &Params) -> Result<Value, Error> {
        let group = self.group_named(p.required("GroupName")?).await?;
        body("Group", RamGroup::of(&group))
    }

    async fn update_group(&self, p: &Params) -> Result<Value, Error> {
        let group = self.group_named(p.required("GroupName")?).await?;
        let input = GroupInput {
            name: p.owned("NewGroupName"),
            description: p.owned("NewComments"),
            display_name: p.owned("NewDisplayName"),
            domain_id: None,
        };
        let group = self.accounts.update_group(&self.ctx, &group.id, input).await?;
        body("Group", RamGroup::of(&group))
    }

    async fn delete_group(&self, p: &Params) -> Result<Value, Error> {
        let group = self.group_named(p.required("GroupName")?).await?;
        self.accounts.delete_group(&self.ctx, &group.id).await?;
        Ok(json!({}))
    }

    async fn list_groups(&self, p: &Params) -> Result<Value, Error> {
        let page = p.page()?;
        let query = GroupInput {
            domain_id: Some(self.account_id.clone()),
            ..GroupInput::default()
        };
        let groups = self.accounts.list_groups(&self.ctx, query).await?;
        list_body("Groups", "Group", page.of(groups.iter().map(RamGroup::of).collect()))
    }

    async fn membership(&self, p: &Params, op: GrantOp) -> Result<Value, Error> {
        let group = self.group_named(p.required("GroupName")?).await?;
        let user = self.user_named(p.required("UserPrincipalName")?).await?;
        self.accounts.membership(&self.ctx, &group.id, &user.id, op).await?;
        Ok(json!({}))
    }

    async fn users_for_group(&self, p: &Params) -> Result<Value, Error> {
        let page = p.page()?;
        let group = self.group_named(p.required("GroupName")?).await?;
        let users = self.accounts.group_members(&self.ctx, &group.id).await?;
        let infos = users.iter().map(|u| UserBasicInfo::of(u, &self.account_name)).collect();
        list_body("Users", "User", page.of(infos))
    }

    async fn groups_for_user(&self, p: &Params) -> Result<Value, Error> {
        let user = self.user_named(p.required("UserPrincipalName")?).await?;
        let groups = self.accounts.groups_of_user(&self.ctx, &user.id).await?;
        let views: Vec<RamGroup> = groups.iter().map(RamGroup::of).collect();
        body("Groups", json!({ "Group": views }))
    }
}
