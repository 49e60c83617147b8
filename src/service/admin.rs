//! Administration of the identity store: users, groups, projects, roles, grants, agencies.
//! Every function checks policy first (`policy.rs`: project, domain or cloud admin), then
//! validates input into checked types, then writes. Writes that can change what a token
//! means revoke tokens or drop cached identity views.

use serde::Deserialize;

use super::names::{NewPassword, ResourceName, UserName, parse_description};
use super::{AuthContext, Error, Result, Services, new_id};
use crate::store::*;

/// A password as it arrives: never printed.
#[derive(Deserialize, Clone, Default)]
#[serde(transparent)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

/// User fields accepted by create and update, Keystone and OS-USER alike. Unknown fields are
/// ignored, as Keystone does.
#[derive(Debug, Deserialize, Default)]
pub struct UserInput {
    pub name: Option<String>,
    pub domain_id: Option<String>,
    pub password: Option<Secret>,
    pub enabled: Option<bool>,
    pub description: Option<String>,
    pub email: Option<String>,
    pub areacode: Option<String>,
    pub phone: Option<String>,
    pub pwd_status: Option<bool>,
    pub xuser_type: Option<String>,
    pub xuser_id: Option<String>,
    pub access_mode: Option<String>,
}

#[derive(Debug, Deserialize, Default)]
pub struct UserListQuery {
    pub domain_id: Option<String>,
    /// Keystone's filter for federated users of one identity provider.
    pub idp_id: Option<String>,
    pub name: Option<String>,
    pub enabled: Option<bool>,
    pub password_expires_at: Option<String>,
}

#[derive(Debug, Deserialize, Default)]
pub struct GroupInput {
    pub name: Option<String>,
    pub description: Option<String>,
    pub domain_id: Option<String>,
}

#[derive(Debug, Deserialize, Default)]
pub struct ProjectInput {
    pub name: Option<String>,
    pub description: Option<String>,
    pub domain_id: Option<String>,
    pub parent_id: Option<String>,
    pub enabled: Option<bool>,
}

#[derive(Debug, Deserialize, Default)]
pub struct ProjectListQuery {
    pub domain_id: Option<String>,
    pub name: Option<String>,
    pub enabled: Option<bool>,
    pub parent_id: Option<String>,
    pub is_domain: Option<bool>,
}

#[derive(Debug, Deserialize, Default)]
pub struct AgencyInput {
    pub name: Option<String>,
    pub domain_id: Option<String>,
    pub trust_domain_id: Option<String>,
    pub trust_domain_name: Option<String>,
    pub description: Option<String>,
    pub duration: Option<serde_json::Value>,
}

#[derive(Debug, Deserialize, Default)]
pub struct AgencyListQuery {
    pub domain_id: Option<String>,
    pub name: Option<String>,
    pub trust_domain_id: Option<String>,
}

/// Who a grant goes to.
#[derive(Debug, Clone, Copy)]
pub struct Actor<'a> {
    pub kind: ActorKind,
    pub id: &'a str,
}

/// What a grant applies to; `inherited` grants sit on a domain and apply to its projects.
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    pub kind: TargetKind,
    pub id: &'a str,
    pub inherited: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GrantOp {
    Create,
    Check,
    Delete,
}

fn email_ok(email: &str) -> bool {
    let parts: Vec<&str> = email.split('@').collect();
    email.len() <= 255
        && parts.len() == 2
        && !parts[0].is_empty()
        && parts[1].contains('.')
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
}

impl Services {
    /// The domain a listing is limited to: the one asked for (if the caller administers it),
    /// none for cloud admins who ask for none, else the caller's own.
    async fn listing_domain(&self, ctx: &AuthContext, requested: Option<String>) -> Result<Option<String>> {
        match requested {
            Some(d) => {
                self.require_domain_admin(ctx, &d)?;
                Ok(Some(d))
            }
            None if self.is_cloud_admin(ctx) => Ok(None),
            None => {
                let d = self.default_domain(ctx);
                self.require_domain_admin(ctx, &d)?;
                Ok(Some(d))
            }
        }
    }

    async fn domain_for_write(&self, ctx: &AuthContext, requested: Option<&String>, field: &str) -> Result<Domain> {
        let id = requested.cloned().unwrap_or_else(|| self.default_domain(ctx));
        self.require_domain_admin(ctx, &id)?;
        self.store
            .get_domain(&id)
            .await?
            .ok_or_else(|| Error::invalid(field, format!("domain {id} does not exist")))
    }

    /// An account's owner holds its power through the bootstrap's admin group and its grants;
    /// only the owner itself or a cloud admin may take that away (remove the owner from a
    /// group, delete a group the owner is in, or revoke such a group's roles).
    async fn protect_owner_of_group(&self, ctx: &AuthContext, group_id: &str) -> Result<()> {
        if self.is_cloud_admin(ctx) {
            return Ok(());
        }
        let members = self.store.list_members(group_id).await?;
        match members.iter().find(|m| m.is_domain_owner && m.id != ctx.user_id()) {
            Some(owner) => Err(Error::Forbidden(format!(
                "user {} cannot change the standing of group {group_id}, which holds the account owner {}",
                ctx.user_id(),
                owner.id
            ))),
            None => Ok(()),
        }
    }

    async fn revoke_user_tokens(&self, user_id: &str, now_ms: i64) -> Result<()> {
        self.tokens.revoke_user(user_id, now_ms).await?;
        self.invalidate_cache();
        Ok(())
    }

    // ---- users ----

    pub async fn create_user(&self, ctx: &AuthContext, input: UserInput, now_ms: i64) -> Result<User> {
        let domain = self
            .domain_for_write(ctx, input.domain_id.as_ref(), "user.domain_id")
            .await?;
        let name = input.name.as_deref().ok_or_else(|| Error::MissingField {
            field: "user.name".into(),
        })?;
        let name = UserName::parse("user.name", name)?.into_inner();
        let mut user = User::new(new_id(), domain.id, name, now_ms);
        let new_password = apply_user_input(&mut user, &input)?;
        if let Some(pw) = new_password {
            user.password_hash = Some(self.hash_password(pw.expose().to_string()).await?);
            user.password_changed_at_ms = Some(now_ms);
        }
        self.store.create_user(&user).await.map_err(|e| match e {
            StoreError::Conflict(_) => Error::Conflict(format!("user name {} exists in the domain", user.name)),
            other => other.into(),
        })?;
        tracing::info!(user.id = %user.id, domain.id = %user.domain_id, "user created");
        Ok(user)
    }

    pub async fn get_user(&self, ctx: &AuthContext, id: &str) -> Result<User> {
        let user = self
            .store
            .get_user(id)
            .await?
            .ok_or_else(|| Error::not_found("user", id))?;
        self.require_self_or_domain_admin(ctx, &user.id, &user.domain_id)?;
        Ok(user)
    }

    pub async fn list_users(&self, ctx: &AuthContext, q: UserListQuery) -> Result<Vec<User>> {
        let expiry = q.password_expires_at.as_deref().map(parse_expiry_filter).transpose()?;
        let domain_id = self.listing_domain(ctx, q.domain_id).await?;
        let users = self
            .store
            .list_users(&UserFilter {
                domain_id,
                name: q.name,
                enabled: q.enabled,
            })
            .await?;
        Ok(match expiry {
            None => users,
            Some((op, at)) => users
                .into_iter()
                .filter(|u| u.password_expires_at_ms.is_some_and(|e| op.holds(e, at)))
                .collect(),
        })
    }

    pub async fn update_user(&self, ctx: &AuthContext, id: &str, input: UserInput, now_ms: i64) -> Result<User> {
        let mut user = self
            .store
            .get_user(id)
            .await?
            .ok_or_else(|| Error::not_found("user", id))?;
        self.require_domain_admin(ctx, &user.domain_id)?;
        if user.is_domain_owner && ctx.user_id() != user.id && !self.is_cloud_admin(ctx) {
            // The account's owner stands above the account's IAM admins (the reference's
            // account model): they cannot take the account over by resetting its credentials.
            return Err(Error::Forbidden(format!(
                "user {} cannot change the account owner {}",
                ctx.user_id(),
                user.id
            )));
        }
        if input.domain_id.as_ref().is_some_and(|d| *d != user.domain_id) {
            return Err(Error::invalid("user.domain_id", "a user cannot move to another domain"));
        }
        if let Some(name) = &input.name {
            user.name = UserName::parse("user.name", name)?.into_inner();
        }
        let was_enabled = user.enabled;
        let external_id = (user.xuser_type.clone(), user.xuser_id.clone());
        let new_password = apply_user_input(&mut user, &input)?;
        // Tokens signed in through an iam_user_sso provider spoke for the external identity the
        // user was bound to; a new binding ends them.
        let rebound = external_id != (user.xuser_type.clone(), user.xuser_id.clone());
        if let Some(pw) = &new_password {
            user.password_hash = Some(self.hash_password(pw.expose().to_string()).await?);
            user.password_changed_at_ms = Some(now_ms);
        }
        user.updated_at_ms = now_ms;
        let updated = self.store.update_user(&user).await.map_err(|e| match e {
            StoreError::Conflict(_) => Error::Conflict(format!("user name {} exists in the domain", user.name)),
            other => other.into(),
        })?;
        if !updated {
            return Err(Error::not_found("user", id));
        }
        if (was_enabled && !user.enabled) || new_password.is_some() || rebound {
            self.revoke_user_tokens(&user.id, now_ms).await?;
        }
        self.invalidate_cache();
        Ok(user)
    }

    pub async fn delete_user(&self, ctx: &AuthContext, id: &str, now_ms: i64) -> Result<()> {
        let user = self
            .store
            .get_user(id)
            .await?
            .ok_or_else(|| Error::not_found("user", id))?;
        self.require_domain_admin(ctx, &user.domain_id)?;
        if user.is_domain_owner {
            return Err(Error::IamRule {
                code: "1107",
                message: "The account administrator cannot be deleted.".into(),
            });
        }
        if !self.store.delete_user(id).await? {
            return Err(Error::not_found("user", id));
        }
        self.revoke_user_tokens(id, now_ms).await?;
        tracing::info!(user.id = %id, "user deleted");
        Ok(())
    }

    pub async fn change_password(
        &self,
        ctx: &AuthContext,
        id: &str,
        original: Secret,
        new: Secret,
        now_ms: i64,
    ) -> Result<()> {
        if ctx.user_id() != id {
            return Err(Error::Forbidden(format!(
                "user {} cannot change the password of {id}",
                ctx.user_id()
            )));
        }
        let mut user = self
            .store
            .get_user(id)
            .await?
            .ok_or_else(|| Error::not_found("user", id))?;
        // The original password is guessed here as well as at login: the same lockout counts
        // and refuses (a stolen token must not be an unlimited guessing oracle).
        let _one_at_a_time = self.password_checks.enter(&user.id).await?;
        let earlier_failures = self.check_lockout(Some(&user.id), now_ms).await?;
        if !self
            .verify_password(original.0.clone(), user.password_hash.clone())
            .await?
        {
            self.count_login_failure(Some(&user.id), now_ms).await?;
            return Err(Error::IamRule {
                code: "1103",
                message: "Incorrect password.".into(),
            });
        }
        if earlier_failures {
            self.clear_login_failures(&user.id).await?;
        }
        if original.0 == new.0 {
            return Err(Error::IamRule {
                code: "1108",
                message: "The new password must be different from the old password.".into(),
            });
        }
        let new = NewPassword::parse(&new.0)?;
        user.password_hash = Some(self.hash_password(new.expose().to_string()).await?);
        user.password_changed_at_ms = Some(now_ms);
        user.pwd_status = false;
        user.updated_at_ms = now_ms;
        self.store.update_user(&user).await?;
        // As Keystone: a password change ends every session of the user, this one included.
        self.revoke_user_tokens(id, now_ms).await
    }

    pub async fn groups_of_user(&self, ctx: &AuthContext, id: &str) -> Result<Vec<Group>> {
        let user = self.get_user(ctx, id).await?;
        Ok(self.store.list_groups_of_user(&user.id).await?)
    }

    /// Projects on which the user's groups hold a role, directly or inherited from a domain.
    pub async fn projects_of_user(&self, ctx: &AuthContext, id: &str) -> Result<Vec<Project>> {
        let user = self.get_user(ctx, id).await?;
        let groups = self.store.list_groups_of_user(&user.id).await?;
        self.projects_for((ActorKind::Group, groups.into_iter().map(|g| g.id).collect()))
            .await
    }

    async fn projects_for(&self, (actor_kind, actor_ids): (ActorKind, Vec<String>)) -> Result<Vec<Project>> {
        if actor_ids.is_empty() {
            return Ok(Vec::new());
        }
        let grants = self
            .store
            .list_grants(&GrantFilter {
                actor_kind: Some(actor_kind),
                actor_ids: Some(actor_ids),
                ..GrantFilter::default()
            })
            .await?;
        let mut project_ids: Vec<String> = grants
            .iter()
            .filter(|g| g.target_kind == TargetKind::Project && !g.inherited)
            .map(|g| g.target_id.clone())
            .collect();
        for g in grants
            .iter()
            .filter(|g| g.target_kind == TargetKind::Domain && g.inherited)
        {
            let projects = self
                .store
                .list_projects(&ProjectFilter {
                    domain_id: Some(g.target_id.clone()),
                    ..ProjectFilter::default()
                })
                .await?;
            project_ids.extend(projects.into_iter().map(|p| p.id));
        }
        project_ids.sort();
        project_ids.dedup();
        Ok(self
            .store
            .list_projects(&ProjectFilter {
                ids: Some(project_ids),
                enabled: Some(true),
                ..ProjectFilter::default()
            })
            .await?)
    }

    /// GET /v3/auth/projects: projects the token's user can scope to.
    pub async fn auth_projects(&self, ctx: &AuthContext) -> Result<Vec<Project>> {
        self.projects_for(grantees(ctx)).await
    }

    /// GET /v3/auth/domains: the user's own domain and every domain its groups hold a
    /// domain-level role on.
    pub async fn auth_domains(&self, ctx: &AuthContext) -> Result<Vec<Domain>> {
        let mut ids = vec![ctx.identity.user.domain.id.clone()];
        let (actor_kind, actor_ids) = grantees(ctx);
        if !actor_ids.is_empty() {
            let grants = self
                .store
                .list_grants(&GrantFilter {
                    actor_kind: Some(actor_kind),
                    actor_ids: Some(actor_ids),
                    target_kind: Some(TargetKind::Domain),
                    ..GrantFilter::default()
                })
                .await?;
            ids.extend(grants.into_iter().map(|g| g.target_id));
        }
        ids.sort();
        ids.dedup();
        let mut out = Vec::new();
        for id in ids {
            if let Some(d) = self.store.get_domain(&id).await?.filter(|d| d.enabled) {
                out.push(d);
            }
        }
        Ok(out)
    }

    pub async fn list_domains(&self, ctx: &AuthContext, name: Option<String>) -> Result<Vec<Domain>> {
        let domains = self.store.list_domains().await?;
        Ok(domains
            .into_iter()
            .filter(|d| name.as_ref().is_none_or(|n| *n == d.name))
            .filter(|d| self.require_domain_admin(ctx, &d.id).is_ok() || ctx.identity.user.domain.id == d.id)
            .collect())
    }

    pub async fn get_domain(&self, ctx: &AuthContext, id: &str) -> Result<Domain> {
        let domain = self
            .store
            .get_domain(id)
            .await?
            .ok_or_else(|| Error::not_found("domain", id))?;
        if ctx.identity.user.domain.id != domain.id {
            self.require_domain_admin(ctx, &domain.id)?;
        }
        Ok(domain)
    }

    // ---- groups ----

    pub async fn create_group(&self, ctx: &AuthContext, input: GroupInput, now_ms: i64) -> Result<Group> {
        let domain = self
            .domain_for_write(ctx, input.domain_id.as_ref(), "group.domain_id")
            .await?;
        let name = input.name.as_deref().ok_or_else(|| Error::MissingField {
            field: "group.name".into(),
        })?;
        let group = Group {
            id: new_id(),
            domain_id: domain.id,
            name: ResourceName::parse("group.name", name, 128)?.into_inner(),
            description: parse_description("group.description", input.description.as_deref().unwrap_or(""))?,
            created_at_ms: now_ms,
        };
        self.store.create_group(&group).await?;
        Ok(group)
    }

    async fn group_for_admin(&self, ctx: &AuthContext, id: &str) -> Result<Group> {
        let group = self
            .store
            .get_group(id)
            .await?
            .ok_or_else(|| Error::not_found("group", id))?;
        self.require_domain_admin(ctx, &group.domain_id)?;
        Ok(group)
    }

    pub async fn get_group(&self, ctx: &AuthContext, id: &str) -> Result<Group> {
        self.group_for_admin(ctx, id).await
    }

    pub async fn list_groups(&self, ctx: &AuthContext, q: GroupInput) -> Result<Vec<Group>> {
        if let Some(name) = &q.name {
            ResourceName::parse("name", name, 128)?;
        }
        let domain_id = self.listing_domain(ctx, q.domain_id).await?;
        Ok(self
            .store
            .list_groups(&GroupFilter {
                domain_id,
                name: q.name,
            })
            .await?)
    }

    pub async fn update_group(&self, ctx: &AuthContext, id: &str, input: GroupInput) -> Result<Group> {
        let mut group = self.group_for_admin(ctx, id).await?;
        if input.name.is_none() && input.description.is_none() {
            return Err(Error::MissingField {
                field: "group.name".into(),
            });
        }
        if input.domain_id.as_ref().is_some_and(|d| *d != group.domain_id) {
            return Err(Error::invalid(
                "group.domain_id",
                "a group cannot move to another domain",
            ));
        }
        if let Some(name) = &input.name {
            group.name = ResourceName::parse("group.name", name, 128)?.into_inner();
        }
        if let Some(d) = &input.description {
            group.description = parse_description("group.description", d)?;
        }
        if !self.store.update_group(&group).await? {
            return Err(Error::not_found("group", id));
        }
        self.invalidate_cache();
        Ok(group)
    }

    pub async fn delete_group(&self, ctx: &AuthContext, id: &str) -> Result<()> {
        self.group_for_admin(ctx, id).await?;
        self.protect_owner_of_group(ctx, id).await?;
        if !self.store.delete_group(id).await? {
            return Err(Error::not_found("group", id));
        }
        self.invalidate_cache();
        Ok(())
    }

    /// PUT, HEAD and DELETE /v3/groups/{group}/users/{user}.
    pub async fn membership(&self, ctx: &AuthContext, group_id: &str, user_id: &str, op: GrantOp) -> Result<()> {
        let group = self.group_for_admin(ctx, group_id).await?;
        let user = self
            .store
            .get_user(user_id)
            .await?
            .ok_or_else(|| Error::not_found("user", user_id))?;
        self.require_domain_admin(ctx, &user.domain_id)?;
        if op == GrantOp::Delete && user.is_domain_owner && user.id != ctx.user_id() && !self.is_cloud_admin(ctx) {
            return Err(Error::Forbidden(format!(
                "user {} cannot remove the account owner {} from a group",
                ctx.user_id(),
                user.id
            )));
        }
        match op {
            GrantOp::Create => self.store.add_member(&group.id, &user.id).await?,
            GrantOp::Check => {
                if !self.store.is_member(&group.id, &user.id).await? {
                    return Err(Error::not_found("membership", format!("{group_id}/{user_id}")));
                }
            }
            GrantOp::Delete => {
                if !self.store.remove_member(&group.id, &user.id).await? {
                    return Err(Error::not_found("membership", format!("{group_id}/{user_id}")));
                }
            }
        }
        if op != GrantOp::Check {
            self.invalidate_cache();
        }
        Ok(())
    }

    pub async fn group_members(&self, ctx: &AuthContext, group_id: &str) -> Result<Vec<User>> {
        let group = self.group_for_admin(ctx, group_id).await?;
        Ok(self.store.list_members(&group.id).await?)
    }

    // ---- projects ----

    pub async fn create_project(&self, ctx: &AuthContext, input: ProjectInput, now_ms: i64) -> Result<Project> {
        let domain = self
            .domain_for_write(ctx, input.domain_id.as_ref(), "project.domain_id")
            .await?;
        let name = input.name.as_deref().ok_or_else(|| Error::MissingField {
            field: "project.name".into(),
        })?;
        let name = ResourceName::parse("project.name", name, 64)?.into_inner();
        if let Some(parent_id) = &input.parent_id {
            let parent = self
                .store
                .get_project(parent_id)
                .await?
                .filter(|p| p.domain_id == domain.id)
                .ok_or_else(|| {
                    Error::invalid(
                        "project.parent_id",
                        format!("project {parent_id} not found in the domain"),
                    )
                })?;
            // Huawei subprojects are named after their region project: "<region>_<suffix>".
            if !name.starts_with(&format!("{}_", parent.name)) {
                return Err(Error::invalid(
                    "project.name",
                    format!("must start with \"{}_\"", parent.name),
                ));
            }
        }
        let project = Project {
            id: new_id(),
            domain_id: domain.id,
            name,
            description: parse_description("project.description", input.description.as_deref().unwrap_or(""))?,
            enabled: input.enabled.unwrap_or(true),
            parent_id: input.parent_id,
            status: "normal".into(),
            created_at_ms: now_ms,
        };
        self.store.create_project(&project).await?;
        Ok(project)
    }

    pub async fn get_project(&self, ctx: &AuthContext, id: &str) -> Result<Project> {
        let project = self
            .store
            .get_project(id)
            .await?
            .ok_or_else(|| Error::not_found("project", id))?;
        let scoped_here = matches!(&ctx.identity.scope, super::ScopeView::Project { id: p, .. } if *p == project.id);
        if !scoped_here {
            self.require_project_admin(ctx, &project.id, &project.domain_id)?;
        }
        Ok(project)
    }

    pub async fn list_projects(&self, ctx: &AuthContext, q: ProjectListQuery) -> Result<Vec<Project>> {
        if q.is_domain == Some(true) {
            return Ok(Vec::new());
        }
        let domain_id = self.listing_domain(ctx, q.domain_id).await?;
        Ok(self
            .store
            .list_projects(&ProjectFilter {
                domain_id,
                name: q.name,
                enabled: q.enabled,
                parent_id: q.parent_id,
                ids: None,
            })
            .await?)
    }

    pub async fn update_project(&self, ctx: &AuthContext, id: &str, input: ProjectInput) -> Result<Project> {
        let mut project = self
            .store
            .get_project(id)
            .await?
            .ok_or_else(|| Error::not_found("project", id))?;
        self.require_project_admin(ctx, &project.id, &project.domain_id)?;
        if input.name.is_none() && input.description.is_none() && input.enabled.is_none() {
            return Err(Error::MissingField {
                field: "project.name".into(),
            });
        }
        if input.domain_id.as_ref().is_some_and(|d| *d != project.domain_id) {
            return Err(Error::invalid(
                "project.domain_id",
                "a project cannot move to another domain",
            ));
        }
        if input
            .parent_id
            .as_ref()
            .is_some_and(|p| Some(p) != project.parent_id.as_ref())
        {
            return Err(Error::invalid(
                "project.parent_id",
                "a project cannot change its parent",
            ));
        }
        if let Some(name) = &input.name {
            project.name = ResourceName::parse("project.name", name, 64)?.into_inner();
        }
        if let Some(d) = &input.description {
            project.description = parse_description("project.description", d)?;
        }
        if let Some(e) = input.enabled {
            project.enabled = e;
        }
        if !self.store.update_project(&project).await? {
            return Err(Error::not_found("project", id));
        }
        self.invalidate_cache();
        Ok(project)
    }

    /// PUT /v3-ext/projects/{id}: freeze (`suspended`) or unfreeze (`normal`).
    pub async fn set_project_status(&self, ctx: &AuthContext, id: &str, status: &str) -> Result<()> {
        if !matches!(status, "normal" | "suspended") {
            return Err(Error::invalid("project.status", "must be normal or suspended"));
        }
        let mut project = self
            .store
            .get_project(id)
            .await?
            .ok_or_else(|| Error::not_found("project", id))?;
        self.require_project_admin(ctx, &project.id, &project.domain_id)?;
        project.status = status.to_string();
        self.store.update_project(&project).await?;
        self.invalidate_cache();
        Ok(())
    }

    // ---- roles and grants ----

    pub async fn list_roles(&self, name: Option<&str>, display_name: Option<&str>) -> Result<Vec<Role>> {
        Ok(self
            .store
            .list_roles()
            .await?
            .into_iter()
            .filter(|r| name.is_none_or(|n| r.name == n))
            .filter(|r| display_name.is_none_or(|n| r.display_name == n))
            .collect())
    }

    pub async fn get_role(&self, id: &str) -> Result<Role> {
        self.store
            .get_role(id)
            .await?
            .ok_or_else(|| Error::not_found("role", id))
    }

    /// Grants on a project are administered by its admins, grants on a domain by the domain's;
    /// the group or agency must belong to the target's domain unless a cloud admin grants.
    async fn check_actor_and_target(&self, ctx: &AuthContext, actor: Actor<'_>, target: Target<'_>) -> Result<()> {
        let actor_domain = match actor.kind {
            ActorKind::Group => {
                self.store
                    .get_group(actor.id)
                    .await?
                    .ok_or_else(|| Error::not_found("group", actor.id))?
                    .domain_id
            }
            ActorKind::Agency => {
                self.store
                    .get_agency(actor.id)
                    .await?
                    .ok_or_else(|| Error::not_found("agency", actor.id))?
                    .domain_id
            }
        };
        let target_domain = match target.kind {
            TargetKind::Domain => {
                let domain = self
                    .store
                    .get_domain(target.id)
                    .await?
                    .ok_or_else(|| Error::not_found("domain", target.id))?;
                self.require_domain_admin(ctx, &domain.id)?;
                domain.id
            }
            TargetKind::Project => {
                let project = self
                    .store
                    .get_project(target.id)
                    .await?
                    .ok_or_else(|| Error::not_found("project", target.id))?;
                self.require_project_admin(ctx, &project.id, &project.domain_id)?;
                project.domain_id
            }
        };
        if actor_domain != target_domain && !self.is_cloud_admin(ctx) {
            return Err(Error::Forbidden(format!(
                "{} {} of domain {actor_domain} cannot be granted roles in domain {target_domain} but by a cloud admin",
                actor.kind.as_str(),
                actor.id
            )));
        }
        Ok(())
    }

    /// PUT, HEAD and DELETE of a grant.
    pub async fn grant(
        &self,
        ctx: &AuthContext,
        actor: Actor<'_>,
        target: Target<'_>,
        role_id: &str,
        op: GrantOp,
    ) -> Result<()> {
        self.check_actor_and_target(ctx, actor, target).await?;
        if op == GrantOp::Delete && actor.kind == ActorKind::Group {
            self.protect_owner_of_group(ctx, actor.id).await?;
        }
        let role = self.get_role(role_id).await?;
        if actor.kind == ActorKind::Agency && op == GrantOp::Create {
            // Reference §5.10: te_agency never goes to an agency; secu_admin not on projects.
            let refused = role.name == "te_agency" || (target.kind == TargetKind::Project && role.name == "secu_admin");
            if refused {
                return Err(Error::invalid(
                    "role_id",
                    format!("role {} cannot be granted to an agency", role.name),
                ));
            }
        }
        let grant = Grant {
            actor_kind: actor.kind,
            actor_id: actor.id.to_string(),
            role_id: role.id,
            target_kind: target.kind,
            target_id: target.id.to_string(),
            inherited: target.inherited,
        };
        let missing = || Error::not_found("grant", format!("{}/{}", actor.id, role_id));
        match op {
            GrantOp::Create => {
                self.store.create_grant(&grant).await?;
            }
            GrantOp::Check => {
                if !self.store.grant_exists(&grant).await? {
                    return Err(missing());
                }
            }
            GrantOp::Delete => {
                if !self.store.delete_grant(&grant).await? {
                    return Err(missing());
                }
            }
        }
        if op != GrantOp::Check {
            self.invalidate_cache();
        }
        Ok(())
    }

    /// Roles granted to `actor` on `target`.
    pub async fn granted_roles(&self, ctx: &AuthContext, actor: Actor<'_>, target: Target<'_>) -> Result<Vec<Role>> {
        self.check_actor_and_target(ctx, actor, target).await?;
        let grants = self
            .store
            .list_grants(&GrantFilter {
                actor_kind: Some(actor.kind),
                actor_ids: Some(vec![actor.id.to_string()]),
                target_kind: Some(target.kind),
                target_ids: Some(vec![target.id.to_string()]),
                inherited: Some(target.inherited),
                ..GrantFilter::default()
            })
            .await?;
        let mut roles = Vec::new();
        for g in grants {
            if let Some(r) = self.store.get_role(&g.role_id).await? {
                roles.push(r);
            }
        }
        Ok(roles)
    }

    // ---- agencies ----

    pub async fn create_agency(&self, ctx: &AuthContext, input: AgencyInput, now_ms: i64) -> Result<Agency> {
        let domain_id = input.domain_id.clone().ok_or_else(|| Error::MissingField {
            field: "agency.domain_id".into(),
        })?;
        let domain = self.domain_for_write(ctx, Some(&domain_id), "agency.domain_id").await?;
        let name = input.name.as_deref().ok_or_else(|| Error::MissingField {
            field: "agency.name".into(),
        })?;
        let trust = self.trust_domain(&input).await?.ok_or_else(|| Error::MissingField {
            field: "agency.trust_domain_id".into(),
        })?;
        let (duration, expire_at_ms) = parse_duration(input.duration.as_ref(), now_ms)?;
        let agency = Agency {
            id: new_id(),
            domain_id: domain.id,
            name: ResourceName::parse("agency.name", name, 64)?.into_inner(),
            trust_domain_id: trust.id,
            description: parse_description("agency.description", input.description.as_deref().unwrap_or(""))?,
            duration,
            expire_at_ms,
            created_at_ms: now_ms,
        };
        self.store.create_agency(&agency).await?;
        Ok(agency)
    }

    async fn trust_domain(&self, input: &AgencyInput) -> Result<Option<Domain>> {
        // The reference: when both are given, the name wins.
        let found = match (&input.trust_domain_name, &input.trust_domain_id) {
            (Some(name), _) => self.store.get_domain_by_name(name).await?,
            (None, Some(id)) => self.store.get_domain(id).await?,
            (None, None) => return Ok(None),
        };
        found
            .map(Some)
            .ok_or_else(|| Error::invalid("agency.trust_domain_id", "the trusted domain does not exist"))
    }

    pub async fn get_agency(&self, ctx: &AuthContext, id: &str) -> Result<Agency> {
        let agency = self
            .store
            .get_agency(id)
            .await?
            .ok_or_else(|| Error::not_found("agency", id))?;
        self.require_domain_admin(ctx, &agency.domain_id)?;
        Ok(agency)
    }

    pub async fn list_agencies(&self, ctx: &AuthContext, q: AgencyListQuery) -> Result<Vec<Agency>> {
        let domain_id = q.domain_id.ok_or_else(|| Error::MissingField {
            field: "domain_id".into(),
        })?;
        self.require_domain_admin(ctx, &domain_id)?;
        Ok(self
            .store
            .list_agencies(&AgencyFilter {
                domain_id: Some(domain_id),
                name: q.name,
                trust_domain_id: q.trust_domain_id,
            })
            .await?)
    }

    pub async fn update_agency(&self, ctx: &AuthContext, id: &str, input: AgencyInput, now_ms: i64) -> Result<Agency> {
        let mut agency = self.get_agency(ctx, id).await?;
        if input.trust_domain_id.is_none()
            && input.trust_domain_name.is_none()
            && input.description.is_none()
            && input.duration.is_none()
        {
            return Err(Error::MissingField {
                field: "agency.description".into(),
            });
        }
        let mut trust_changed = false;
        if let Some(trust) = self.trust_domain(&input).await? {
            trust_changed = trust.id != agency.trust_domain_id;
            agency.trust_domain_id = trust.id;
        }
        if let Some(d) = &input.description {
            agency.description = parse_description("agency.description", d)?;
        }
        if input.duration.is_some() {
            let (duration, expire) = parse_duration(input.duration.as_ref(), now_ms)?;
            agency.duration = duration;
            agency.expire_at_ms = expire;
        }
        self.store.update_agency(&agency).await?;
        if trust_changed {
            // Whoever assumed it under the old trust no longer may.
            self.tokens.revoke_agency(&agency.id, now_ms).await?;
        }
        self.invalidate_cache();
        Ok(agency)
    }

    /// Deleting an agency revokes every token and temporary credential acting as it.
    pub async fn delete_agency(&self, ctx: &AuthContext, id: &str, now_ms: i64) -> Result<()> {
        self.get_agency(ctx, id).await?;
        if !self.store.delete_agency(id).await? {
            return Err(Error::not_found("agency", id));
        }
        self.tokens.revoke_agency(id, now_ms).await?;
        self.invalidate_cache();
        Ok(())
    }
}

/// Who holds the caller's grants: its groups, or the agency it acts as.
fn grantees(ctx: &AuthContext) -> (ActorKind, Vec<String>) {
    match ctx.identity.assumed_by {
        Some(_) => (ActorKind::Agency, vec![ctx.identity.user.id.clone()]),
        None => (
            ActorKind::Group,
            ctx.identity.groups.iter().map(|g| g.id.clone()).collect(),
        ),
    }
}

/// Applies the optional fields shared by create and update. Returns a validated new password.
fn apply_user_input(user: &mut User, input: &UserInput) -> Result<Option<NewPassword>> {
    if let Some(e) = input.enabled {
        user.enabled = e;
    }
    if let Some(d) = &input.description {
        user.description = parse_description("user.description", d).map_err(|_| Error::IamRule {
            code: "1117",
            message: "Invalid user description.".into(),
        })?;
    }
    if let Some(email) = &input.email {
        if !email_ok(email) {
            return Err(Error::IamRule {
                code: "1102",
                message: "Invalid email address.".into(),
            });
        }
        user.email = Some(email.clone());
    }
    match (&input.areacode, &input.phone) {
        (Some(a), Some(p)) => {
            let digits = |s: &str| !s.is_empty() && s.len() <= 32 && s.chars().all(|c| c.is_ascii_digit());
            if !digits(a.trim_start_matches('+')) || !digits(p) {
                return Err(Error::IamRule {
                    code: "1104",
                    message: "Invalid mobile number.".into(),
                });
            }
            user.areacode = Some(a.clone());
            user.phone = Some(p.clone());
        }
        (None, None) => {}
        _ => {
            return Err(Error::IamRule {
                code: "1106",
                message: "The country code and mobile number must be set at the same time.".into(),
            });
        }
    }
    match (&input.xuser_type, &input.xuser_id) {
        (Some(t), Some(i)) => {
            if t != "TenantIdp" || i.is_empty() || i.len() > 128 {
                return Err(Error::invalid(
                    "user.xuser_type",
                    "xuser_type must be TenantIdp with a 1-128 character xuser_id",
                ));
            }
            user.xuser_type = Some(t.clone());
            user.xuser_id = Some(i.clone());
        }
        (None, None) => {}
        _ => {
            return Err(Error::invalid(
                "user.xuser_id",
                "xuser_type and xuser_id must be set together",
            ));
        }
    }
    if let Some(mode) = &input.access_mode {
        if !matches!(mode.as_str(), "default" | "programmatic" | "console") {
            return Err(Error::invalid(
                "user.access_mode",
                "must be default, programmatic or console",
            ));
        }
        user.access_mode = mode.clone();
    }
    if let Some(s) = input.pwd_status {
        user.pwd_status = s;
    }
    input.password.as_ref().map(|p| NewPassword::parse(&p.0)).transpose()
}

/// Agency duration: `FOREVER` (default), `ONEDAY`, or a number of days as text or integer;
/// echoed as given (DESIGN.md decision 13).
fn parse_duration(value: Option<&serde_json::Value>, now_ms: i64) -> Result<(String, Option<i64>)> {
    let text = match value {
        None => return Ok(("FOREVER".into(), None)),
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(serde_json::Value::Number(n)) => n.to_string(),
        Some(_) => {
            return Err(Error::invalid(
                "agency.duration",
                "must be FOREVER, ONEDAY or a number of days",
            ));
        }
    };
    let days: i64 = match text.as_str() {
        "FOREVER" => return Ok((text, None)),
        "ONEDAY" => 1,
        digits => digits
            .parse()
            .ok()
            .filter(|d| (1..=36_500).contains(d))
            .ok_or_else(|| Error::invalid("agency.duration", "must be FOREVER, ONEDAY or a number of days"))?,
    };
    Ok((text, Some(now_ms + days * 86_400_000)))
}

#[derive(Debug, Clone, Copy)]
pub enum Cmp {
    Lt,
    Lte,
    Gt,
    Gte,
    Eq,
    Neq,
}

impl Cmp {
    fn holds(self, value: i64, at: i64) -> bool {
        match self {
            Cmp::Lt => value < at,
            Cmp::Lte => value <= at,
            Cmp::Gt => value > at,
            Cmp::Gte => value >= at,
            Cmp::Eq => value == at,
            Cmp::Neq => value != at,
        }
    }
}

/// `password_expires_at={lt|lte|gt|gte|eq|neq}:YYYY-MM-DDTHH:mm:ssZ`.
fn parse_expiry_filter(value: &str) -> Result<(Cmp, i64)> {
    let bad = || {
        Error::invalid(
            "password_expires_at",
            "expected {lt|lte|gt|gte|eq|neq}:YYYY-MM-DDTHH:mm:ssZ",
        )
    };
    let (op, at) = value.split_once(':').ok_or_else(bad)?;
    let op = match op {
        "lt" => Cmp::Lt,
        "lte" => Cmp::Lte,
        "gt" => Cmp::Gt,
        "gte" => Cmp::Gte,
        "eq" => Cmp::Eq,
        "neq" => Cmp::Neq,
        _ => return Err(bad()),
    };
    let at = time::OffsetDateTime::parse(at, &time::format_description::well_known::Rfc3339).map_err(|_| bad())?;
    Ok((op, (at.unix_timestamp_nanos() / 1_000_000) as i64))
}

impl Services {
    /// A domain's name for display; empty when the domain is gone.
    pub async fn domain_name(&self, id: &str) -> Result<String> {
        Ok(self.store.get_domain(id).await?.map(|d| d.name).unwrap_or_default())
    }
}

/// PUT /v3.0/OS-USER/users/{id}/info: what users may change about themselves.
#[derive(Debug, Deserialize, Default)]
pub struct OwnInfoInput {
    pub email: Option<String>,
    /// `<country code>-<number>`, e.g. `0086-123456789`.
    pub mobile: Option<String>,
}

impl Services {
    pub async fn update_own_info(&self, ctx: &AuthContext, id: &str, input: OwnInfoInput, now_ms: i64) -> Result<()> {
        if ctx.user_id() != id {
            return Err(Error::Forbidden(format!(
                "user {} cannot edit the info of {id}",
                ctx.user_id()
            )));
        }
        if input.email.is_none() && input.mobile.is_none() {
            return Err(Error::MissingField {
                field: "user.email".into(),
            });
        }
        let mut user = self
            .store
            .get_user(id)
            .await?
            .ok_or_else(|| Error::not_found("user", id))?;
        let (areacode, phone) = match &input.mobile {
            Some(m) => {
                let (cc, number) = m.split_once('-').ok_or(Error::IamRule {
                    code: "1104",
                    message: "Invalid mobile number.".into(),
                })?;
                (Some(cc.to_string()), Some(number.to_string()))
            }
            None => (None, None),
        };
        let patch = UserInput {
            email: input.email,
            areacode,
            phone,
            ..UserInput::default()
        };
        apply_user_input(&mut user, &patch)?;
        user.updated_at_ms = now_ms;
        self.store.update_user(&user).await?;
        Ok(())
    }
}
