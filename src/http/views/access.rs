//! Who may do what: roles, agencies, permanent access keys and role assignments.

use serde::Serialize;
use serde_json::Value;

use super::{Link, NameRefView, link, local_time, name_ref, token_time};
use crate::model::{ActorKind, Agency, Grant, Role, TargetKind};
use crate::service::NameRef;
use crate::service::access_keys::Credential;
use crate::service::assignments::{Assignment, AssignmentNames};

/// A role; its policy document as stored (`null` if it does not parse).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RoleView<'a> {
    pub catalog: &'a str,
    pub created_time: String,
    pub description: &'a str,
    pub description_cn: &'a str,
    pub display_name: &'a str,
    pub domain_id: Option<&'a str>,
    pub flag: &'a str,
    pub id: &'a str,
    pub links: Link,
    pub name: &'a str,
    pub policy: Value,
    #[serde(rename = "type")]
    pub role_type: &'a str,
    pub updated_time: String,
}

pub fn role<'a>(base: &str, r: &'a Role) -> RoleView<'a> {
    RoleView {
        catalog: &r.catalog,
        created_time: r.created_at_ms.to_string(),
        description: &r.description,
        description_cn: &r.description,
        display_name: &r.display_name,
        domain_id: r.domain_id.as_deref(),
        flag: &r.flag,
        id: &r.id,
        links: link(format!("{base}/v3/roles/{}", r.id)),
        name: &r.name,
        policy: serde_json::from_str(&r.policy).unwrap_or(Value::Null),
        role_type: &r.role_type,
        updated_time: r.updated_at_ms.to_string(),
    }
}

/// An agency; the list adds its URN.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AgencyView<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agency_urn: Option<String>,
    pub create_time: String,
    pub description: &'a str,
    pub domain_id: &'a str,
    pub duration: &'a str,
    pub expire_time: Option<String>,
    pub id: &'a str,
    pub name: &'a str,
    pub trust_domain_id: &'a str,
    pub trust_domain_name: String,
}

pub fn agency<'a>(a: &'a Agency, trust_domain_name: &str) -> AgencyView<'a> {
    AgencyView {
        agency_urn: None,
        create_time: local_time(a.created_at_ms),
        description: &a.description,
        domain_id: &a.domain_id,
        duration: &a.duration,
        expire_time: a.expire_at_ms.map(local_time),
        id: &a.id,
        name: &a.name,
        trust_domain_id: &a.trust_domain_id,
        trust_domain_name: trust_domain_name.to_owned(),
    }
}

impl AgencyView<'_> {
    pub fn with_urn(self) -> Self {
        AgencyView {
            agency_urn: Some(format!("iam::{}:agency:{}", self.domain_id, self.name)),
            ..self
        }
    }
}

/// A permanent access key as list, show and update answer it (L3951, L4048, L4137); create
/// adds `secret`, show adds `last_use_time`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CredentialView<'a> {
    pub access: &'a str,
    pub create_time: String,
    pub description: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_use_time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<&'a str>,
    pub status: &'static str,
    pub user_id: &'a str,
}

pub fn credential(k: &Credential) -> CredentialView<'_> {
    CredentialView {
        access: &k.access,
        create_time: token_time(k.created_at_ms),
        description: &k.description,
        last_use_time: None,
        secret: None,
        status: k.status(),
        user_id: &k.user_id,
    }
}

impl<'a> CredentialView<'a> {
    pub fn with_secret(self, secret: &'a str) -> Self {
        CredentialView {
            secret: Some(secret),
            ..self
        }
    }

    pub fn with_last_use(self, ms: i64) -> Self {
        CredentialView {
            last_use_time: Some(token_time(ms)),
            ..self
        }
    }
}

/// An actor, target or role in an assignment: `{"id"}`, with names when asked for.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Named<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub domain: Option<NameRefView<'a>>,
    pub id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<&'a str>,
}

fn id_only(id: &str) -> Named<'_> {
    Named {
        domain: None,
        id,
        name: None,
    }
}

/// Where an assignment applies: one of `domain`, `project`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AssignmentScope<'a> {
    #[serde(rename = "OS-INHERIT:inherited_to", skip_serializing_if = "Option::is_none")]
    pub inherited_to: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub domain: Option<Named<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub project: Option<Named<'a>>,
}

fn assignment_scope(kind: TargetKind, target: Named<'_>) -> AssignmentScope<'_> {
    let (domain, project) = match kind {
        TargetKind::Domain => (Some(target), None),
        TargetKind::Project => (None, Some(target)),
    };
    AssignmentScope {
        inherited_to: None,
        domain,
        project,
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AssignmentLinks {
    pub assignment: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub membership: Option<String>,
}

/// One entry of Keystone's /v3/role_assignments: actor (one of `agency`, `group`, `user`),
/// role, scope and the links that say where it comes from (the grant, and the group
/// membership when expanded).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct KeystoneAssignmentView<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agency: Option<Named<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<Named<'a>>,
    pub links: AssignmentLinks,
    pub role: Named<'a>,
    pub scope: AssignmentScope<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<Named<'a>>,
}

pub fn keystone_assignment<'a>(
    base: &str,
    a: &'a Assignment,
    names: Option<&'a AssignmentNames>,
) -> KeystoneAssignmentView<'a> {
    let g = &a.grant;
    let actor_path = match g.actor_kind {
        ActorKind::Group => "groups",
        ActorKind::Agency => "agencies",
    };
    let grant_path = format!(
        "/{}s/{}/{actor_path}/{}/roles/{}",
        g.target_kind.as_str(),
        g.target_id,
        g.actor_id,
        g.role_id
    );
    let assignment = match (g.actor_kind, g.inherited) {
        (ActorKind::Group, false) => format!("{base}/v3{grant_path}"),
        (ActorKind::Group, true) => format!("{base}/v3/OS-INHERIT{grant_path}/inherited_to_projects"),
        (ActorKind::Agency, false) => format!("{base}/v3.0/OS-AGENCY{grant_path}"),
        (ActorKind::Agency, true) => format!("{base}/v3.0/OS-INHERIT{grant_path}/inherited_to_projects"),
    };
    let membership = a
        .user_id
        .as_ref()
        .map(|user| format!("{base}/v3/groups/{}/users/{user}", g.actor_id));
    let named = |id: &'a str, name: Option<&'a str>, domain: Option<&'a NameRef>| Named {
        domain: domain.map(name_ref),
        id,
        name,
    };
    let (target_kind, target_id) = a.target();
    let target = named(
        target_id,
        names.map(|n| n.target.0.as_str()),
        names.and_then(|n| n.target.1.as_ref()),
    );
    let mut scope = assignment_scope(target_kind, target);
    scope.inherited_to = g.inherited.then_some("projects");
    let actor = match &a.user_id {
        Some(user) => user.as_str(),
        None => g.actor_id.as_str(),
    };
    let actor = Some(named(
        actor,
        names.map(|n| n.actor.0.as_str()),
        names.map(|n| &n.actor.1),
    ));
    let (agency, group, user) = match (a.user_id.is_some(), g.actor_kind) {
        (true, _) => (None, None, actor),
        (false, ActorKind::Group) => (None, actor, None),
        (false, ActorKind::Agency) => (actor, None, None),
    };
    KeystoneAssignmentView {
        agency,
        group,
        links: AssignmentLinks { assignment, membership },
        role: named(&g.role_id, names.map(|n| n.role.as_str()), None),
        scope,
        user,
    }
}

/// One record of the reference's role-assignment listing (§5.8, Table 5-328): the actor is
/// one of `agency`, `group`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct IamAssignmentView<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agency: Option<Named<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<Named<'a>>,
    pub is_inherited: bool,
    pub role: Named<'a>,
    pub scope: AssignmentScope<'a>,
}

pub fn iam_assignment(g: &Grant) -> IamAssignmentView<'_> {
    let actor = Some(id_only(&g.actor_id));
    let (agency, group) = match g.actor_kind {
        ActorKind::Group => (None, actor),
        ActorKind::Agency => (actor, None),
    };
    IamAssignmentView {
        agency,
        group,
        is_inherited: g.inherited,
        role: id_only(&g.role_id),
        scope: assignment_scope(g.target_kind, id_only(&g.target_id)),
    }
}
