//! Roles, and the grants of roles to groups and agencies on domains and projects.

use super::super::{Accounts, AuthContext, Error, Result};
use crate::audit;
use crate::model::*;

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

impl Accounts {
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
    /// Creating or deleting a grant is Keystone's `created.role_assignment` or
    /// `deleted.role_assignment`, with its role, target and actor; checking records nothing.
    pub async fn grant(
        &self,
        ctx: &AuthContext,
        actor: Actor<'_>,
        target: Target<'_>,
        role_id: &str,
        op: GrantOp,
    ) -> Result<()> {
        let result = self.grant_unaudited(ctx, actor, target, role_id, op).await;
        let action = match op {
            GrantOp::Create => audit::Action::Created(audit::Resource::RoleAssignment),
            GrantOp::Delete => audit::Action::Deleted(audit::Resource::RoleAssignment),
            GrantOp::Check => return result,
        };
        let id = |kind| Some(target.id.to_string()).filter(|_| target.kind == kind);
        let by = |kind| Some(actor.id.to_string()).filter(|_| actor.kind == kind);
        let record = audit::Record {
            action,
            outcome: super::super::audit::outcome_of(&result),
            initiator: super::super::audit::actor(ctx),
            target_id: Some(role_id.to_string()),
            assignment: Some(audit::Assignment {
                role: role_id.to_string(),
                project: id(TargetKind::Project),
                domain: id(TargetKind::Domain),
                group: by(ActorKind::Group),
                agency: by(ActorKind::Agency),
                inherited_to_projects: target.inherited,
            }),
        };
        self.audit(record);
        result
    }

    /// [`Self::grant`] without its audit event.
    async fn grant_unaudited(
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
}
