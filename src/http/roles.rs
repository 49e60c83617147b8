//! Roles, grants to groups and agencies, and role-assignment listings.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, Uri};
use axum::routing::{MethodRouter, get, put};
use serde::Deserialize;
use serde_json::{Value, json};

use super::error::ApiError;
use super::extract::{ApiQuery, Caller, Paging};
use super::views;
use crate::model::{ActorKind, TargetKind};
use crate::service::admin::{Actor, GrantOp, Target};
use crate::service::assignments::{AssignmentQuery, IamAssignmentQuery, ScopeFilter, ScopeKind, Subject, SubjectKind};
use crate::service::{Accounts, Error, Services};

#[derive(Deserialize)]
pub struct RoleQuery {
    name: Option<String>,
    display_name: Option<String>,
}

pub async fn list_roles(
    State(s): State<Accounts>,
    Caller(_): Caller,
    ApiQuery(q): ApiQuery<RoleQuery>,
    uri: Uri,
) -> Result<Json<Value>, ApiError> {
    let base = &s.config.public_url;
    let paging = Paging::from_query(uri.query(), 300)?;
    let roles = s.list_roles(q.name.as_deref(), q.display_name.as_deref()).await?;
    let total = roles.len();
    let (page, more) = Paging::apply(paging, roles);
    let links = views::paged_links(base, &uri, paging, more);
    let body = views::list("roles", page.iter().map(|r| views::role(base, r)), links).total("total_number", total);
    Ok(body.into())
}

pub async fn get_role(
    State(s): State<Accounts>,
    Caller(_): Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let role = s.get_role(&id).await?;
    Ok(Json(json!({"role": views::role(&s.config.public_url, &role)})))
}

/// PUT, HEAD and DELETE on `.../{target}/{groups|agencies}/{actor}/roles/{role}[...]`.
pub fn grant_route(actor: ActorKind, target: TargetKind, inherited: bool) -> MethodRouter<Arc<Services>> {
    let handler = move |op: GrantOp| {
        move |State(s): State<Accounts>, Caller(c): Caller, Path((t, a, r)): Path<(String, String, String)>| async move {
            let actor = Actor { kind: actor, id: &a };
            let target = Target {
                kind: target,
                id: &t,
                inherited,
            };
            s.grant(&c, actor, target, &r, op).await.map_err(ApiError)?;
            Ok::<_, ApiError>(StatusCode::NO_CONTENT)
        }
    };
    put(handler(GrantOp::Create))
        .head(handler(GrantOp::Check))
        .delete(handler(GrantOp::Delete))
}

/// GET `.../{target}/{groups|agencies}/{actor}/roles[...]`.
pub fn grant_list_route(actor: ActorKind, target: TargetKind, inherited: bool) -> MethodRouter<Arc<Services>> {
    get(
        move |State(s): State<Accounts>, Caller(c): Caller, Path((t, a)): Path<(String, String)>, uri: Uri| async move {
            let base = &s.config.public_url;
            let roles = s
                .granted_roles(
                    &c,
                    Actor { kind: actor, id: &a },
                    Target {
                        kind: target,
                        id: &t,
                        inherited,
                    },
                )
                .await
                .map_err(ApiError)?;
            let links = views::list_links(base, uri.path());
            let body: Json<Value> = views::list("roles", roles.iter().map(|r| views::role(base, r)), links).into();
            Ok::<_, ApiError>(body)
        },
    )
}

/// Keystone's boolean query flags: present with any value but `0` is true (`?effective`,
/// `?include_names=1`); absent is false.
fn keystone_flag(q: &HashMap<String, String>, name: &str) -> bool {
    q.get(name).is_some_and(|v| v != "0")
}

/// GET /v3/role_assignments (Keystone filters: user.id, group.id, role.id, scope.project.id,
/// scope.domain.id, scope.system, scope.OS-INHERIT:inherited_to, effective, include_names).
pub async fn keystone_assignments(
    State(s): State<Accounts>,
    Caller(c): Caller,
    ApiQuery(q): ApiQuery<HashMap<String, String>>,
    uri: Uri,
) -> Result<Json<Value>, ApiError> {
    let base = &s.config.public_url;
    if keystone_flag(&q, "include_subtree") {
        return Err(Error::invalid("include_subtree", "projects have no subtrees here").into());
    }
    let query = AssignmentQuery {
        role_id: q.get("role.id").cloned(),
        user_id: q.get("user.id").cloned(),
        group_id: q.get("group.id").cloned(),
        project_id: q.get("scope.project.id").cloned(),
        domain_id: q.get("scope.domain.id").cloned(),
        inherited: q.get("scope.OS-INHERIT:inherited_to").map(|v| v == "projects"),
        system: q.get("scope.system").cloned(),
        effective: keystone_flag(&q, "effective"),
    };
    let found = s.role_assignments(&c, query).await?;
    let mut names = Vec::with_capacity(found.len());
    for a in &found {
        names.push(match keystone_flag(&q, "include_names") {
            true => Some(s.assignment_names(a).await?),
            false => None,
        });
    }
    let items = found
        .iter()
        .zip(&names)
        .map(|(a, n)| views::keystone_assignment(base, a, n.as_ref()));
    Ok(views::list("role_assignments", items, views::paged_links(base, &uri, None, false)).into())
}

/// The reference's booleans: `true` or `false`.
fn iam_bool(q: &HashMap<String, String>, name: &str, default: bool) -> Result<bool, Error> {
    match q.get(name).map(|v| v.to_ascii_lowercase()).as_deref() {
        None => Ok(default),
        Some("true") => Ok(true),
        Some("false") => Ok(false),
        Some(_) => Err(Error::invalid(name, "must be true or false")),
    }
}

/// One of exclusive filters: `kind` (`subject`, `scope`) or one `kind.<x>` id.
fn exclusive<'a>(q: &'a HashMap<String, String>, kind: &str, ids: &[&str]) -> Result<Vec<(&'a str, &'a str)>, Error> {
    let mut given: Vec<(&str, &str)> = Vec::new();
    for (k, v) in q {
        if k == kind
            || ids
                .iter()
                .any(|id| k.strip_prefix(kind).and_then(|r| r.strip_prefix('.')) == Some(id))
        {
            given.push((k.as_str(), v.as_str()));
        }
    }
    if given.len() > 1 {
        return Err(Error::invalid(kind, format!("{kind} and its ids are exclusive")));
    }
    Ok(given)
}

fn iam_query(q: &HashMap<String, String>) -> Result<IamAssignmentQuery, Error> {
    let domain_id = q.get("domain_id").cloned().ok_or_else(|| Error::MissingField {
        field: "domain_id".into(),
    })?;
    let subject = match exclusive(q, "subject", &["user_id", "group_id", "agency_id"])?.first() {
        None => None,
        Some(("subject", "user")) => Some(Subject::Kind(SubjectKind::User)),
        Some(("subject", "group")) => Some(Subject::Kind(SubjectKind::Group)),
        Some(("subject", "agency")) => Some(Subject::Kind(SubjectKind::Agency)),
        Some(("subject", _)) => return Err(Error::invalid("subject", "must be user, group or agency")),
        Some(("subject.user_id", id)) => Some(Subject::User(id.to_string())),
        Some(("subject.group_id", id)) => Some(Subject::Group(id.to_string())),
        Some((_, id)) => Some(Subject::Agency(id.to_string())),
    };
    let scope = match exclusive(q, "scope", &["project_id", "domain_id", "enterprise_projects_id"])?.first() {
        None => None,
        Some(("scope", "project")) => Some(ScopeFilter::Kind(ScopeKind::Project)),
        Some(("scope", "domain")) => Some(ScopeFilter::Kind(ScopeKind::Domain)),
        Some(("scope", "enterprise_project")) => Some(ScopeFilter::Kind(ScopeKind::EnterpriseProject)),
        Some(("scope", _)) => {
            return Err(Error::invalid("scope", "must be project, domain or enterprise_project"));
        }
        Some(("scope.project_id", id)) => Some(ScopeFilter::Project(id.to_string())),
        Some(("scope.domain_id", id)) => Some(ScopeFilter::Domain(id.to_string())),
        Some((_, id)) => Some(ScopeFilter::EnterpriseProject(id.to_string())),
    };
    Ok(IamAssignmentQuery {
        domain_id,
        role_id: q.get("role_id").cloned(),
        subject,
        scope,
        is_inherited: iam_bool(q, "is_inherited", false)?,
        include_group: iam_bool(q, "include_group", true)?,
    })
}

/// GET /v3.0/OS-PERMISSION/role-assignments (reference §5.8, L8658).
pub async fn iam_assignments(
    State(s): State<Accounts>,
    Caller(c): Caller,
    ApiQuery(q): ApiQuery<HashMap<String, String>>,
    uri: Uri,
) -> Result<Json<Value>, ApiError> {
    let paging = Paging::from_query(uri.query(), 50)?;
    let found = s.iam_role_assignments(&c, iam_query(&q)?).await?;
    let total = found.len();
    let (page, more) = Paging::apply(paging, found);
    let links = views::paged_links(&s.config.public_url, &uri, paging, more);
    let body = views::list("role_assignments", page.iter().map(views::iam_assignment), links).total("total_num", total);
    Ok(body.into())
}
