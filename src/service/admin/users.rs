//! Users: create, read, update, delete, passwords, and what users change about themselves.

use serde::Deserialize;

use super::super::names::{NewPassword, UserName, parse_description, parse_display_name};
use super::super::{Accounts, AuthContext, Error, IamCode, Result, Services, SignIn, new_id};
use super::*;
use crate::audit::{Action, Resource};
use crate::model::*;
use crate::store::StoreError;

/// User fields accepted by create and update, Keystone and OS-USER alike. Unknown fields are
/// ignored, as Keystone does.
#[derive(Debug, Deserialize, Default, utoipa::ToSchema)]
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
    /// Set by the cloud dialects only: no Huawei or Keystone body carries it.
    #[serde(skip)]
    pub display_name: Option<String>,
}

#[derive(Debug, Deserialize, Default, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UserListQuery {
    pub domain_id: Option<String>,
    /// Keystone's filter for federated users of one identity provider.
    pub idp_id: Option<String>,
    pub name: Option<String>,
    pub enabled: Option<bool>,
    pub password_expires_at: Option<String>,
}

fn email_ok(email: &str) -> bool {
    let parts: Vec<&str> = email.split('@').collect();
    email.len() <= 255
        && parts.len() == 2
        && !parts[0].is_empty()
        && parts[1].contains('.')
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
}

impl Accounts {
    pub async fn create_user(&self, ctx: &AuthContext, input: UserInput, now_ms: i64) -> Result<User> {
        let result = self.create_user_unaudited(ctx, input, now_ms).await;
        let id = result.as_ref().ok().map(|user| user.id.as_str());
        self.audit_change(ctx, Action::Created(Resource::User), id, &result);
        result
    }

    /// [`Self::create_user`] without its audit event.
    async fn create_user_unaudited(&self, ctx: &AuthContext, input: UserInput, now_ms: i64) -> Result<User> {
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

    /// The user named `name` in `domain_id`, for its admins and itself. Anyone else is refused
    /// whether or not the name exists, so the answer tells them nothing.
    pub async fn user_by_name(&self, ctx: &AuthContext, domain_id: &str, name: &str) -> Result<User> {
        match self.store.get_user_by_name(domain_id, name).await? {
            Some(user) => {
                self.require_self_or_domain_admin(ctx, &user.id, &user.domain_id)?;
                Ok(user)
            }
            None => {
                self.require_domain_admin(ctx, domain_id)?;
                Err(Error::not_found("user", name))
            }
        }
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
        let result = self.update_user_unaudited(ctx, id, input, now_ms).await;
        self.audit_change(ctx, Action::Updated(Resource::User), Some(id), &result);
        result
    }

    /// [`Self::update_user`] without its audit event.
    async fn update_user_unaudited(&self, ctx: &AuthContext, id: &str, input: UserInput, now_ms: i64) -> Result<User> {
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
        let result = self.delete_user_unaudited(ctx, id, now_ms).await;
        self.audit_change(ctx, Action::Deleted(Resource::User), Some(id), &result);
        result
    }

    /// [`Self::delete_user`] without its audit event.
    async fn delete_user_unaudited(&self, ctx: &AuthContext, id: &str, now_ms: i64) -> Result<()> {
        let user = self
            .store
            .get_user(id)
            .await?
            .ok_or_else(|| Error::not_found("user", id))?;
        self.require_domain_admin(ctx, &user.domain_id)?;
        if user.is_domain_owner {
            return Err(Error::IamRule {
                code: IamCode::OwnerUndeletable,
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
        let result = self.change_password_unaudited(ctx, id, original, new, now_ms).await;
        self.audit_change(ctx, Action::Updated(Resource::User), Some(id), &result);
        result
    }

    /// [`Self::change_password`] without its audit event.
    async fn change_password_unaudited(
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
                code: IamCode::IncorrectPassword,
                message: "Incorrect password.".into(),
            });
        }
        if earlier_failures {
            self.clear_login_failures(&user.id).await?;
        }
        if original.0 == new.0 {
            return Err(Error::IamRule {
                code: IamCode::PasswordUnchanged,
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
}

/// Applies the optional fields shared by create and update. Returns a validated new password.
fn apply_user_input(user: &mut User, input: &UserInput) -> Result<Option<NewPassword>> {
    if let Some(e) = input.enabled {
        user.enabled = e;
    }
    if let Some(d) = &input.description {
        user.description = parse_description("user.description", d).map_err(|_| Error::IamRule {
            code: IamCode::InvalidDescription,
            message: "Invalid user description.".into(),
        })?;
    }
    if let Some(d) = &input.display_name {
        user.display_name = Some(parse_display_name("DisplayName", d)?);
    }
    if let Some(email) = &input.email {
        if !email_ok(email) {
            return Err(Error::IamRule {
                code: IamCode::InvalidEmail,
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
                    code: IamCode::InvalidMobile,
                    message: "Invalid mobile number.".into(),
                });
            }
            user.areacode = Some(a.clone());
            user.phone = Some(p.clone());
        }
        (None, None) => {}
        _ => {
            return Err(Error::IamRule {
                code: IamCode::MobileWithoutCountryCode,
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
        user.access_mode = UserAccessMode::parse(mode)
            .ok_or_else(|| Error::invalid("user.access_mode", "must be default, programmatic or console"))?;
    }
    if let Some(s) = input.pwd_status {
        user.pwd_status = s;
    }
    input.password.as_ref().map(|p| NewPassword::parse(&p.0)).transpose()
}

/// PUT /v3.0/OS-USER/users/{id}/info: what users may change about themselves.
#[derive(Debug, Deserialize, Default, utoipa::ToSchema)]
pub struct OwnInfoInput {
    pub email: Option<String>,
    /// `<country code>-<number>`, e.g. `0086-123456789`.
    pub mobile: Option<String>,
}

impl Accounts {
    pub async fn update_own_info(&self, ctx: &AuthContext, id: &str, input: OwnInfoInput, now_ms: i64) -> Result<()> {
        let result = self.update_own_info_unaudited(ctx, id, input, now_ms).await;
        self.audit_change(ctx, Action::Updated(Resource::User), Some(id), &result);
        result
    }

    /// [`Self::update_own_info`] without its audit event.
    async fn update_own_info_unaudited(
        &self,
        ctx: &AuthContext,
        id: &str,
        input: OwnInfoInput,
        now_ms: i64,
    ) -> Result<()> {
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
                    code: IamCode::InvalidMobile,
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

impl SignIn {
    // Shared with other use-case services.
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

    /// GET /v3/auth/projects: projects the token's user can scope to.
    pub async fn auth_projects(&self, ctx: &AuthContext) -> Result<Vec<Project>> {
        self.projects_for(grantees(ctx)).await
    }
}

impl Services {
    // Shared with other use-case services.
    pub(in crate::service) async fn projects_for(
        &self,
        (actor_kind, actor_ids): (ActorKind, Vec<String>),
    ) -> Result<Vec<Project>> {
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
}
