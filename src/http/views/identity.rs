//! Domains, projects, users (local, federated, the OS-USER form) and groups.

use serde::Serialize;

use super::{Empty, Link, link, local_time, plain_time};
use crate::model::{Domain, FederatedUser, Group, Project, ProjectStatus, Protocol, User, UserAccessMode};
use crate::service::federated_users::AnyUser;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DomainView<'a> {
    pub description: &'a str,
    pub enabled: bool,
    pub id: &'a str,
    pub links: Link,
    pub name: &'a str,
}

pub fn domain<'a>(base: &str, d: &'a Domain) -> DomainView<'a> {
    DomainView {
        description: &d.description,
        enabled: d.enabled,
        id: &d.id,
        links: link(format!("{base}/v3/domains/{}", d.id)),
        name: &d.name,
    }
}

/// A project; the IAM show adds `status`, Keystone's update answer an empty `extra`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ProjectView<'a> {
    pub description: &'a str,
    pub domain_id: &'a str,
    pub enabled: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extra: Option<Empty>,
    pub id: &'a str,
    pub is_domain: bool,
    pub links: Link,
    pub name: &'a str,
    pub parent_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<ProjectStatus>,
    pub tags: [&'a str; 0],
}

pub fn project<'a>(base: &str, p: &'a Project) -> ProjectView<'a> {
    ProjectView {
        description: &p.description,
        domain_id: &p.domain_id,
        enabled: p.enabled,
        extra: None,
        id: &p.id,
        is_domain: false,
        links: link(format!("{base}/v3/projects/{}", p.id)),
        name: &p.name,
        // Keystone: a top-level project's parent is its domain.
        parent_id: p.parent_id.as_deref().unwrap_or(&p.domain_id),
        status: None,
        tags: [],
    }
}

impl ProjectView<'_> {
    pub fn with_status(self, status: ProjectStatus) -> Self {
        ProjectView {
            status: Some(status),
            ..self
        }
    }

    pub fn with_extra(self) -> Self {
        ProjectView {
            extra: Some(Empty {}),
            ..self
        }
    }
}

/// A local user as Keystone shows one.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct UserView<'a> {
    pub access_mode: UserAccessMode,
    pub description: &'a str,
    pub domain_id: &'a str,
    pub enabled: bool,
    pub id: &'a str,
    pub last_project_id: Option<&'a str>,
    pub links: Link,
    pub name: &'a str,
    pub options: Empty,
    pub password_expires_at: Option<String>,
    pub pwd_status: bool,
}

pub fn user<'a>(base: &str, u: &'a User) -> UserView<'a> {
    UserView {
        access_mode: u.access_mode,
        description: &u.description,
        domain_id: &u.domain_id,
        enabled: u.enabled,
        id: &u.id,
        last_project_id: u.last_project_id.as_deref(),
        links: user_link(base, &u.id),
        name: &u.name,
        options: Empty {},
        password_expires_at: u.password_expires_at_ms.map(local_time),
        pwd_status: u.pwd_status,
    }
}

fn user_link(base: &str, id: &str) -> Link {
    link(format!("{base}/v3/users/{id}"))
}

/// The OS-USER form: Keystone's fields but `options`, plus contact and audit details.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct UserExtendedView<'a> {
    pub access_mode: UserAccessMode,
    pub areacode: Option<&'a str>,
    pub create_time: String,
    pub description: &'a str,
    pub domain_id: &'a str,
    pub email: Option<&'a str>,
    pub enabled: bool,
    pub id: &'a str,
    pub is_domain_owner: bool,
    pub last_login_time: Option<String>,
    pub last_project_id: Option<&'a str>,
    pub links: Link,
    pub modify_pwd_time: Option<String>,
    pub name: &'a str,
    pub password_expires_at: Option<String>,
    pub phone: Option<&'a str>,
    pub pwd_create_time: Option<String>,
    pub pwd_status: bool,
    pub update_time: String,
    pub xuser_id: Option<&'a str>,
    pub xuser_type: Option<&'a str>,
}

pub fn user_extended<'a>(base: &str, u: &'a User) -> UserExtendedView<'a> {
    UserExtendedView {
        access_mode: u.access_mode,
        areacode: u.areacode.as_deref(),
        create_time: plain_time(u.created_at_ms),
        description: &u.description,
        domain_id: &u.domain_id,
        email: u.email.as_deref(),
        enabled: u.enabled,
        id: &u.id,
        is_domain_owner: u.is_domain_owner,
        last_login_time: u.last_login_at_ms.map(plain_time),
        last_project_id: u.last_project_id.as_deref(),
        links: user_link(base, &u.id),
        modify_pwd_time: u.password_changed_at_ms.map(plain_time),
        name: &u.name,
        password_expires_at: u.password_expires_at_ms.map(local_time),
        phone: u.phone.as_deref(),
        pwd_create_time: u.password_changed_at_ms.map(plain_time),
        pwd_status: u.pwd_status,
        update_time: plain_time(u.updated_at_ms),
        xuser_id: u.xuser_id.as_deref(),
        xuser_type: u.xuser_type.as_deref(),
    }
}

/// A federated (shadow) user as Keystone shows one: its provider and the name it logs in as.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct FederatedUserView<'a> {
    pub domain_id: &'a str,
    pub enabled: bool,
    pub federated: [FederatedVia<'a>; 1],
    pub id: &'a str,
    pub links: Link,
    pub name: &'a str,
    pub options: Empty,
    /// Always `null`: a shadow user has no password.
    pub password_expires_at: Option<&'a str>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct FederatedVia<'a> {
    pub idp_id: &'a str,
    pub protocols: [FederatedProtocol<'a>; 1],
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct FederatedProtocol<'a> {
    pub protocol_id: Protocol,
    pub unique_id: &'a str,
}

pub fn federated_user<'a>(base: &str, u: &'a FederatedUser) -> FederatedUserView<'a> {
    FederatedUserView {
        domain_id: &u.domain_id,
        enabled: u.enabled,
        federated: [FederatedVia {
            idp_id: &u.idp_id,
            protocols: [FederatedProtocol {
                protocol_id: u.protocol_id,
                unique_id: &u.name,
            }],
        }],
        id: &u.id,
        links: user_link(base, &u.id),
        name: &u.name,
        options: Empty {},
        password_expires_at: None,
    }
}

/// A local or a federated user, each in its own shape.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum AnyUserView<'a> {
    Local(UserView<'a>),
    Federated(FederatedUserView<'a>),
}

pub fn any_user<'a>(base: &str, u: &'a AnyUser) -> AnyUserView<'a> {
    match u {
        AnyUser::Local(local) => AnyUserView::Local(user(base, local)),
        AnyUser::Federated(shadow) => AnyUserView::Federated(federated_user(base, shadow)),
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct GroupView<'a> {
    pub create_time: i64,
    pub description: &'a str,
    pub domain_id: &'a str,
    pub id: &'a str,
    pub links: Link,
    pub name: &'a str,
}

pub fn group<'a>(base: &str, g: &'a Group) -> GroupView<'a> {
    GroupView {
        create_time: g.created_at_ms,
        description: &g.description,
        domain_id: &g.domain_id,
        id: &g.id,
        links: link(format!("{base}/v3/groups/{}", g.id)),
        name: &g.name,
    }
}
