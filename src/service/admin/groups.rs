//! Groups and their members.

use serde::Deserialize;

use super::super::names::{ResourceName, parse_description, parse_display_name};
use super::super::{Accounts, AuthContext, Error, Result, new_id};
use super::*;
use crate::audit::{Action, Resource};
use crate::model::*;

#[derive(Debug, Deserialize, Default, utoipa::ToSchema, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct GroupInput {
    pub name: Option<String>,
    pub description: Option<String>,
    pub domain_id: Option<String>,
    /// Set by the cloud dialects only: no Huawei or Keystone body carries it.
    #[serde(skip)]
    pub display_name: Option<String>,
}

impl Accounts {
    pub async fn create_group(&self, ctx: &AuthContext, input: GroupInput, now_ms: i64) -> Result<Group> {
        let result = self.create_group_unaudited(ctx, input, now_ms).await;
        let id = result.as_ref().ok().map(|group| group.id.as_str());
        self.audit_change(ctx, Action::Created(Resource::Group), id, &result);
        result
    }

    /// [`Self::create_group`] without its audit event.
    async fn create_group_unaudited(&self, ctx: &AuthContext, input: GroupInput, now_ms: i64) -> Result<Group> {
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
            display_name: input
                .display_name
                .as_deref()
                .map(|d| parse_display_name("DisplayName", d))
                .transpose()?,
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
        let result = self.update_group_unaudited(ctx, id, input).await;
        self.audit_change(ctx, Action::Updated(Resource::Group), Some(id), &result);
        result
    }

    /// [`Self::update_group`] without its audit event.
    async fn update_group_unaudited(&self, ctx: &AuthContext, id: &str, input: GroupInput) -> Result<Group> {
        let mut group = self.group_for_admin(ctx, id).await?;
        if input.name.is_none() && input.description.is_none() && input.display_name.is_none() {
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
        if let Some(d) = &input.display_name {
            group.display_name = Some(parse_display_name("DisplayName", d)?);
        }
        if !self.store.update_group(&group).await? {
            return Err(Error::not_found("group", id));
        }
        self.invalidate_cache();
        Ok(group)
    }

    pub async fn delete_group(&self, ctx: &AuthContext, id: &str) -> Result<()> {
        let result = self.delete_group_unaudited(ctx, id).await;
        self.audit_change(ctx, Action::Deleted(Resource::Group), Some(id), &result);
        result
    }

    /// [`Self::delete_group`] without its audit event.
    async fn delete_group_unaudited(&self, ctx: &AuthContext, id: &str) -> Result<()> {
        self.group_for_admin(ctx, id).await?;
        self.protect_owner_of_group(ctx, id).await?;
        if !self.store.delete_group(id).await? {
            return Err(Error::not_found("group", id));
        }
        self.invalidate_cache();
        Ok(())
    }

    /// PUT, HEAD and DELETE /v3/groups/{group}/users/{user}.
    /// Adding or removing a member is Keystone's `updated.group`; checking records nothing.
    pub async fn membership(&self, ctx: &AuthContext, group_id: &str, user_id: &str, op: GrantOp) -> Result<()> {
        let result = self.membership_unaudited(ctx, group_id, user_id, op).await;
        if op != GrantOp::Check {
            self.audit_change(ctx, Action::Updated(Resource::Group), Some(group_id), &result);
        }
        result
    }

    /// [`Self::membership`] without its audit event.
    async fn membership_unaudited(&self, ctx: &AuthContext, group_id: &str, user_id: &str, op: GrantOp) -> Result<()> {
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
}
