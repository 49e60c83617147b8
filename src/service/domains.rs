//! Accounts (Keystone domains) as a cloud admin manages them: create (with the account's
//! `<name>-admins` group, as `fedgate bootstrap` gives it), rename, describe, disable and
//! enable, and delete once disabled (Keystone's rule) with everything in it.
//!
//! A disabled domain's tokens stop validating at once on this replica and within the refresh
//! interval on others: `resolve` refuses users, scopes and agencies of a disabled domain. The
//! admin domain (`admin_domain`) is never renamed, disabled or deleted: cloud admins are
//! recognised by its name.

use serde::Deserialize;

use super::bootstrap::{ensure_admin_group, seed_roles};
use super::names::{ResourceName, parse_description};
use super::{Accounts, AuthContext, Error, Result, new_id};
use crate::audit::{Action, Resource};
use crate::model::{AgencyFilter, Domain, UserFilter};
use crate::store::StoreError;

/// The body of `POST /v3/domains` and `PATCH /v3/domains/{id}` (`{"domain": {...}}`).
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
pub struct DomainInput {
    pub name: Option<String>,
    pub description: Option<String>,
    pub enabled: Option<bool>,
    pub id: Option<String>,
}

/// Keystone's domain names: at most 64 characters.
const NAME_MAX: usize = 64;

impl Accounts {
    fn refuse_admin_domain(&self, domain: &Domain, what: &str) -> Result<()> {
        if domain.name == self.config.admin_domain {
            return Err(Error::BadRequest(format!(
                "the admin domain ({}, admin_domain in fedgate.toml) cannot be {what}: its admins administer every domain",
                domain.name
            )));
        }
        Ok(())
    }

    /// POST /v3/domains: a new account and its admin group (`<name>-admins`, `admin` on the
    /// domain and inherited to its projects). Its first admin is a user an admin creates in
    /// it and adds to that group.
    pub async fn create_domain(&self, ctx: &AuthContext, input: DomainInput, now_ms: i64) -> Result<Domain> {
        let result = self.create_domain_unaudited(ctx, input, now_ms).await;
        let id = result.as_ref().ok().map(|domain| domain.id.as_str());
        self.audit_change(ctx, Action::Created(Resource::Domain), id, &result);
        result
    }

    /// [`Self::create_domain`] without its audit event.
    async fn create_domain_unaudited(&self, ctx: &AuthContext, input: DomainInput, now_ms: i64) -> Result<Domain> {
        self.require_cloud_admin(ctx)?;
        if input.id.is_some() {
            return Err(Error::invalid("domain.id", "is chosen by the server"));
        }
        let name = input.name.as_deref().ok_or_else(|| Error::MissingField {
            field: "domain.name".into(),
        })?;
        let domain = Domain {
            id: new_id(),
            name: ResourceName::parse("domain.name", name, NAME_MAX)?.into_inner(),
            description: parse_description("domain.description", input.description.as_deref().unwrap_or(""))?,
            enabled: input.enabled.unwrap_or(true),
            created_at_ms: now_ms,
        };
        self.store.create_domain(&domain).await.map_err(|e| match e {
            StoreError::Conflict(_) => Error::Conflict(format!("domain name {} exists", domain.name)),
            other => other.into(),
        })?;
        seed_roles(self.store.as_ref(), now_ms).await?;
        ensure_admin_group(self.store.as_ref(), &domain, now_ms).await?;
        tracing::info!(domain.id = %domain.id, domain.name = %domain.name, user.id = %ctx.user_id(), "domain created");
        Ok(domain)
    }

    async fn domain_for_cloud_admin(&self, ctx: &AuthContext, id: &str) -> Result<Domain> {
        self.require_cloud_admin(ctx)?;
        self.store
            .get_domain(id)
            .await?
            .ok_or_else(|| Error::not_found("domain", id))
    }

    /// PATCH /v3/domains/{id}: name, description, enabled. Disabling ends the sign-ins and
    /// tokens of everyone in the domain: while it is disabled nothing of it resolves, and the
    /// tokens of its users, identity providers and agencies are revoked (as Keystone does), so
    /// enabling it again does not bring them back.
    pub async fn update_domain(&self, ctx: &AuthContext, id: &str, input: DomainInput, now_ms: i64) -> Result<Domain> {
        let result = self.update_domain_unaudited(ctx, id, input, now_ms).await;
        self.audit_change(ctx, Action::Updated(Resource::Domain), Some(id), &result);
        result
    }

    /// [`Self::update_domain`] without its audit event.
    async fn update_domain_unaudited(
        &self,
        ctx: &AuthContext,
        id: &str,
        input: DomainInput,
        now_ms: i64,
    ) -> Result<Domain> {
        let mut domain = self.domain_for_cloud_admin(ctx, id).await?;
        if input.id.as_ref().is_some_and(|i| *i != domain.id) {
            return Err(Error::invalid("domain.id", "cannot be changed"));
        }
        if let Some(name) = &input.name {
            let name = ResourceName::parse("domain.name", name, NAME_MAX)?.into_inner();
            if name != domain.name {
                self.refuse_admin_domain(&domain, "renamed")?;
            }
            domain.name = name;
        }
        if let Some(d) = &input.description {
            domain.description = parse_description("domain.description", d)?;
        }
        let disabling = domain.enabled && input.enabled == Some(false);
        if disabling {
            self.refuse_admin_domain(&domain, "disabled")?;
        }
        if let Some(enabled) = input.enabled {
            domain.enabled = enabled;
        }
        let updated = self.store.update_domain(&domain).await.map_err(|e| match e {
            StoreError::Conflict(_) => Error::Conflict(format!("domain name {} exists", domain.name)),
            other => other.into(),
        })?;
        if !updated {
            return Err(Error::not_found("domain", id));
        }
        if disabling {
            self.revoke_domain_tokens(&domain.id, now_ms).await?;
        }
        self.invalidate_cache();
        tracing::info!(domain.id = %domain.id, domain.enabled = domain.enabled, user.id = %ctx.user_id(), "domain updated");
        Ok(domain)
    }

    /// DELETE /v3/domains/{id}: only a disabled domain (403 otherwise, as Keystone), with its
    /// users, groups, projects, agencies, grants, identity providers and mappings.
    pub async fn delete_domain(&self, ctx: &AuthContext, id: &str) -> Result<()> {
        let result = self.delete_domain_unaudited(ctx, id).await;
        self.audit_change(ctx, Action::Deleted(Resource::Domain), Some(id), &result);
        result
    }

    /// [`Self::delete_domain`] without its audit event.
    async fn delete_domain_unaudited(&self, ctx: &AuthContext, id: &str) -> Result<()> {
        let domain = self.domain_for_cloud_admin(ctx, id).await?;
        self.refuse_admin_domain(&domain, "deleted")?;
        if domain.enabled {
            return Err(enabled_refusal());
        }
        if !self.store.delete_domain(id).await? {
            // Gone meanwhile, or enabled again by a concurrent request.
            return match self.store.get_domain(id).await? {
                None => Err(Error::not_found("domain", id)),
                Some(_) => Err(enabled_refusal()),
            };
        }
        self.invalidate_cache();
        tracing::info!(domain.id = %domain.id, domain.name = %domain.name, user.id = %ctx.user_id(), "domain deleted");
        Ok(())
    }
}

impl Accounts {
    /// Revokes every token that speaks for someone of the domain: its users (local and
    /// through its identity providers) and sessions of its agencies.
    async fn revoke_domain_tokens(&self, domain_id: &str, now_ms: i64) -> Result<()> {
        let users = self
            .store
            .list_users(&UserFilter {
                domain_id: Some(domain_id.to_string()),
                name: None,
                enabled: None,
            })
            .await?;
        for user in &users {
            self.tokens.revoke_user(&user.id, now_ms).await?;
        }
        for idp in self
            .store
            .list_idps()
            .await?
            .iter()
            .filter(|i| i.domain_id == domain_id)
        {
            self.tokens.revoke_identity_provider(&idp.id, now_ms).await?;
        }
        let agencies = self
            .store
            .list_agencies(&AgencyFilter {
                domain_id: Some(domain_id.to_string()),
                name: None,
                trust_domain_id: None,
            })
            .await?;
        for agency in &agencies {
            self.tokens.revoke_agency(&agency.id, now_ms).await?;
        }
        Ok(())
    }
}

fn enabled_refusal() -> Error {
    Error::ForbiddenNow("Cannot delete a domain that is enabled, please disable it first.".into())
}
