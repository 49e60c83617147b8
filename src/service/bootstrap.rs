//! `fedgate bootstrap`: the first domain, project, admin user and the system roles. Idempotent:
//! running it again resets the admin's password and restores missing pieces.

use super::password::hash_password;
use super::{Error, Result, new_id};
use crate::model::*;
use crate::store::*;

pub struct BootstrapRequest {
    pub domain_name: String,
    pub project_name: String,
    pub user_name: String,
    pub password: String,
}

#[derive(Debug)]
pub struct BootstrapOutcome {
    pub domain_id: String,
    pub project_id: String,
    pub user_id: String,
    pub created_user: bool,
}

/// System roles seeded in every store (Huawei type `AA`: usable on domains and projects).
pub const SYSTEM_ROLES: [(&str, &str, &str); 4] = [
    ("admin", "Administrator", "Full control of the domain or project."),
    ("member", "Member", "Can use the resources of the domain or project."),
    ("reader", "Reader", "Read-only access to the domain or project."),
    // Huawei's Agent Operator: may assume agencies that trust its account (L2551).
    (
        "te_agency",
        "Agent Operator",
        "Can switch roles to access resources of a delegating account.",
    ),
];

pub async fn seed_roles(store: &dyn Store, now_ms: i64) -> Result<()> {
    for (name, display, description) in SYSTEM_ROLES {
        if store.get_role_by_name(name).await?.is_some() {
            continue;
        }
        let role = Role {
            id: new_id(),
            name: name.into(),
            display_name: display.into(),
            role_type: "AA".into(),
            catalog: "BASE".into(),
            flag: String::new(),
            description: description.into(),
            domain_id: None,
            policy: serde_json::json!({"Version": "1.0", "Statement": [], "Depends": []}).to_string(),
            created_at_ms: now_ms,
            updated_at_ms: now_ms,
        };
        match store.create_role(&role).await {
            Ok(()) | Err(StoreError::Conflict(_)) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

pub async fn bootstrap(store: &dyn Store, req: BootstrapRequest, now_ms: i64) -> Result<BootstrapOutcome> {
    seed_roles(store, now_ms).await?;
    let password = super::names::NewPassword::parse(&req.password).map_err(|_| {
        Error::invalid(
            "password",
            "8-32 characters with at least two of: lower, upper, digit, other",
        )
    })?;
    let domain = match store.get_domain_by_name(&req.domain_name).await? {
        Some(d) => d,
        None => {
            let d = Domain {
                id: new_id(),
                name: req.domain_name.clone(),
                description: "Created by fedgate bootstrap".into(),
                enabled: true,
                created_at_ms: now_ms,
            };
            store.create_domain(&d).await?;
            d
        }
    };
    let project = match store.get_project_by_name(&domain.id, &req.project_name).await? {
        Some(p) => p,
        None => {
            let p = Project {
                id: new_id(),
                domain_id: domain.id.clone(),
                name: req.project_name.clone(),
                description: "Created by fedgate bootstrap".into(),
                enabled: true,
                parent_id: None,
                status: ProjectStatus::Normal,
                created_at_ms: now_ms,
            };
            store.create_project(&p).await?;
            p
        }
    };
    let hash = hash_password(password.expose().to_string()).await?;
    let (user, created_user) = match store.get_user_by_name(&domain.id, &req.user_name).await? {
        Some(mut u) => {
            u.password_hash = Some(hash);
            u.enabled = true;
            u.password_changed_at_ms = Some(now_ms);
            u.updated_at_ms = now_ms;
            store.update_user(&u).await?;
            (u, false)
        }
        None => {
            let u = User {
                password_hash: Some(hash),
                description: "Created by fedgate bootstrap".into(),
                is_domain_owner: true,
                password_changed_at_ms: Some(now_ms),
                ..User::new(new_id(), domain.id.clone(), req.user_name.clone(), now_ms)
            };
            store.create_user(&u).await?;
            (u, true)
        }
    };
    // The admin reaches its roles through a group, like every other user.
    let group = ensure_admin_group(store, &domain, now_ms).await?;
    store.add_member(&group.id, &user.id).await?;
    grant_admin(store, &group, TargetKind::Project, &project.id, false).await?;
    Ok(BootstrapOutcome {
        domain_id: domain.id,
        project_id: project.id,
        user_id: user.id,
        created_user,
    })
}

/// The account's administrators: group `<domain>-admins` holding `admin` on the domain, directly
/// and inherited to its projects. Made by bootstrap and by `POST /v3/domains`; idempotent.
pub async fn ensure_admin_group(store: &dyn Store, domain: &Domain, now_ms: i64) -> Result<Group> {
    let group_name = format!("{}-admins", domain.name);
    let group = match store
        .list_groups(&GroupFilter {
            domain_id: Some(domain.id.clone()),
            name: Some(group_name.clone()),
        })
        .await?
        .into_iter()
        .next()
    {
        Some(g) => g,
        None => {
            let g = Group {
                id: new_id(),
                domain_id: domain.id.clone(),
                name: group_name,
                description: "Administrators of the account".into(),
                display_name: None,
                created_at_ms: now_ms,
            };
            store.create_group(&g).await?;
            g
        }
    };
    for inherited in [false, true] {
        grant_admin(store, &group, TargetKind::Domain, &domain.id, inherited).await?;
    }
    Ok(group)
}

async fn grant_admin(store: &dyn Store, group: &Group, kind: TargetKind, target: &str, inherited: bool) -> Result<()> {
    let admin = store
        .get_role_by_name("admin")
        .await?
        .ok_or_else(|| Error::internal("admin role missing after seeding"))?;
    store
        .create_grant(&Grant {
            actor_kind: ActorKind::Group,
            actor_id: group.id.clone(),
            role_id: admin.id,
            target_kind: kind,
            target_id: target.to_string(),
            inherited,
        })
        .await?;
    Ok(())
}
