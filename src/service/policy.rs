//! Who may administer what. Admin power follows the scope of the token that carries the
//! `admin` role (Keystone's scoped policies, the reference's account model):
//!
//! - on a project: that project (its attributes and the grants on it), nothing else in IAM;
//! - on a domain (account): that domain's users, groups, memberships, grants, agencies,
//!   identity providers, mappings and protocols, and its projects;
//! - on the admin domain, or on the one configured admin project (Keystone's
//!   `admin_project`): every domain (a cloud admin).
//!
//! Without the role, or unscoped, a token administers nothing. Reading one's own user, one's
//! own domain and the project one is scoped to needs no admin role.

use super::{AuthContext, Error, Result, ScopeView, Services};

/// What a caller's token lets it administer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdminOf<'a> {
    Nothing,
    Project { id: &'a str, domain_id: &'a str },
    Domain(&'a str),
    Cloud,
}

impl Services {
    pub(super) fn admin_of<'a>(&self, ctx: &'a AuthContext) -> AdminOf<'a> {
        if !ctx.has_role("admin") {
            return AdminOf::Nothing;
        }
        let admin_domain = self.config.admin_domain.as_str();
        match &ctx.identity.scope {
            ScopeView::Unscoped => AdminOf::Nothing,
            ScopeView::Domain(d) if d.name == admin_domain => AdminOf::Cloud,
            ScopeView::Domain(d) => AdminOf::Domain(&d.id),
            ScopeView::Project { name, domain, .. }
                if domain.name == admin_domain && *name == self.config.admin_project =>
            {
                AdminOf::Cloud
            }
            ScopeView::Project { id, domain, .. } => AdminOf::Project {
                id,
                domain_id: &domain.id,
            },
        }
    }

    /// A cloud admin administers every domain.
    pub(super) fn is_cloud_admin(&self, ctx: &AuthContext) -> bool {
        self.admin_of(ctx) == AdminOf::Cloud
    }

    pub fn require_cloud_admin(&self, ctx: &AuthContext) -> Result<()> {
        match self.admin_of(ctx) {
            AdminOf::Cloud => Ok(()),
            other => Err(refusal(ctx, other, "the cloud")),
        }
    }

    /// The domain's admins and cloud admins.
    pub(super) fn require_domain_admin(&self, ctx: &AuthContext, domain_id: &str) -> Result<()> {
        match self.admin_of(ctx) {
            AdminOf::Cloud => Ok(()),
            AdminOf::Domain(d) if d == domain_id => Ok(()),
            other => Err(refusal(ctx, other, &format!("domain {domain_id}"))),
        }
    }

    /// The project's admins, its domain's admins and cloud admins.
    pub(super) fn require_project_admin(&self, ctx: &AuthContext, project_id: &str, domain_id: &str) -> Result<()> {
        match self.admin_of(ctx) {
            AdminOf::Cloud => Ok(()),
            AdminOf::Domain(d) if d == domain_id => Ok(()),
            AdminOf::Project { id, .. } if id == project_id => Ok(()),
            other => Err(refusal(ctx, other, &format!("project {project_id}"))),
        }
    }

    /// The user itself, or an admin of its domain.
    pub(super) fn require_self_or_domain_admin(&self, ctx: &AuthContext, user_id: &str, domain_id: &str) -> Result<()> {
        if ctx.user_id() == user_id {
            return Ok(());
        }
        self.require_domain_admin(ctx, domain_id)
    }

    /// The domain an admin's writes default to when the request names none (Keystone: the
    /// domain of the token's scope).
    pub(super) fn default_domain(&self, ctx: &AuthContext) -> String {
        ctx.identity
            .scope
            .domain()
            .map(|d| d.id.clone())
            .unwrap_or_else(|| ctx.identity.user.domain.id.clone())
    }
}

fn refusal(ctx: &AuthContext, admin_of: AdminOf<'_>, target: &str) -> Error {
    let holds = match admin_of {
        AdminOf::Nothing => "no admin role on its scope".to_string(),
        AdminOf::Project { id, .. } => format!("admin of project {id} only"),
        AdminOf::Domain(d) => format!("admin of domain {d} only"),
        AdminOf::Cloud => "cloud admin".to_string(),
    };
    Error::Forbidden(format!("user {} ({holds}) cannot administer {target}", ctx.user_id()))
}
