//! Administration of the identity store: users, groups, projects, roles, grants, agencies.
//! Every function checks policy first (`policy.rs`: project, domain or cloud admin), then
//! validates input into checked types, then writes. Writes that can change what a token
//! means revoke tokens or drop cached identity views.

mod agencies;
mod grants;
mod groups;
mod login_profiles;
mod projects;
mod users;

pub use agencies::{AgencyInput, AgencyListQuery};
pub use grants::{Actor, GrantOp, Target};
pub use groups::GroupInput;
pub use login_profiles::{LoginProfile, LoginProfileInput, ProfileWrite, login_profile};
pub use projects::{ProjectInput, ProjectListQuery};
pub use users::{OwnInfoInput, UserInput, UserListQuery};

use serde::Deserialize;

use super::{AuthContext, Error, Result, Services};
use crate::model::*;

/// A password as it arrives: never printed.
#[derive(Deserialize, Clone, Default, utoipa::ToSchema)]
#[serde(transparent)]
#[schema(value_type = String, format = Password)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
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

impl Services {
    /// A domain's name for display; empty when the domain is gone.
    pub async fn domain_name(&self, id: &str) -> Result<String> {
        Ok(self.store.get_domain(id).await?.map(|d| d.name).unwrap_or_default())
    }
}
