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
use super::extract::{ApiQuery, Caller};
use super::views;
use crate::service::admin::{Actor, Assignment, AssignmentQuery, GrantOp, Target};
use crate::service::{Error, Services};
use crate::store::{ActorKind, TargetKind};

#[derive(Deserialize)]
pub struct RoleQuery {
    name: Option<String>,
    display_name: Option<String>,
}

pub async fn list_roles(
    State(s): State<Arc<Services>>,
    Caller(_): Caller,
    ApiQuery(q): ApiQuery<RoleQuery>,
    uri: Uri,
) -> Result<Json<Value>, ApiError> {
    let base = &s.config.public_url;
    let roles = s.list_roles(q.name.as_deref(), q.display_name.as_deref()).await?;
    Ok(Json(json!({
        "roles": roles.iter().map(|r| views::role(base, r)).collect::<Vec<_>>(),
        "links": views::list_links(base, uri.path()),
        "total_number": roles.len(),
    })))
}

pub async fn get_role(
    State(s): State<Arc<Services>>,
    Caller(_): Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let role = s.get_role(&id).await?;
    Ok(Json(json!({"role": views::role(&s.config.public_url, &role)})))
}

/// PUT, HEAD and DELETE on `.../{target}/{groups|agencies}/{actor}/roles/{role}[...]`.
pub fn grant_route(actor: ActorKind, target: TargetKind, inherited: bool) -> MethodRouter<Arc<Services>> {
    let handler = move |op: GrantOp| {
        move |State(s): State<Arc<Services>>, Caller(c): Caller, Path((t, a, r)): Path<(String, String, String)>| async move {
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
        move |State(s): State<Arc<Services>>, Caller(c): Caller, Path((t, a)): Path<(String, String)>, uri: Uri| async move {
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
            Ok::<_, ApiError>(Json(json!({
                "roles": roles.iter().map(|r| views::role(base, r)).collect::<Vec<_>>(),
                "links": views::list_links(base, uri.path()),
            })))
        },
    )
}

fn scope_json(a: &Assignment) -> Value {
    let mut scope = match a.grant.target_kind {
        TargetKind::Domain => json!({"domain": {"id": a.grant.target_id}}),
        TargetKind::Project => json!({"project": {"id": a.grant.target_id}}),
    };
    if a.grant.inherited {
        scope["OS-INHERIT:inherited_to"] = json!("projects");
    }
    scope
}

fn parse_bool(field: &str, v: Option<&String>) -> Result<Option<bool>, Error> {
    match v.map(|s| s.to_ascii_lowercase()) {
        None => Ok(None),
        Some(s) if s == "true" || s.is_empty() => Ok(Some(true)),
        Some(s) if s == "false" => Ok(Some(false)),
        Some(_) => Err(Error::invalid(field, "must be true or false")),
    }
}

/// GET /v3/role_assignments (Keystone filters: user.id, group.id, role.id, scope.project.id,
/// scope.domain.id, scope.OS-INHERIT:inherited_to, effective).
pub async fn keystone_assignments(
    State(s): State<Arc<Services>>,
    Caller(c): Caller,
    ApiQuery(q): ApiQuery<HashMap<String, String>>,
    uri: Uri,
) -> Result<Json<Value>, ApiError> {
    let base = &s.config.public_url;
    let query = AssignmentQuery {
        domain_id: None,
        role_id: q.get("role.id").cloned(),
        user_id: q.get("user.id").cloned(),
        group_id: q.get("group.id").cloned(),
        agency_id: None,
        project_id: q.get("scope.project.id").cloned(),
        scope_domain_id: q.get("scope.domain.id").cloned(),
        inherited: q.get("scope.OS-INHERIT:inherited_to").map(|_| true),
    };
    let include_names = q.contains_key("include_names");
    let found = s.role_assignments(&c, query).await?;
    let mut items = Vec::with_capacity(found.len());
    for a in &found {
        let mut v = json!({
            "role": {"id": a.grant.role_id},
            "scope": scope_json(a),
            "links": {"assignment": format!("{base}/v3/role_assignments")},
        });
        let actor_key = match (&a.user_id, a.grant.actor_kind) {
            (Some(_), _) => "user",
            (None, ActorKind::Group) => "group",
            (None, ActorKind::Agency) => "agency",
        };
        v[actor_key] = json!({"id": a.user_id.clone().unwrap_or_else(|| a.grant.actor_id.clone())});
        if include_names {
            let names = s.assignment_names(a).await?;
            v["role"]["name"] = json!(names.role);
            v[actor_key]["name"] = json!(names.actor.0);
            v[actor_key]["domain"] = json!({"id": names.actor.1.id, "name": names.actor.1.name});
            let kind = match a.grant.target_kind {
                TargetKind::Domain => "domain",
                TargetKind::Project => "project",
            };
            v["scope"][kind]["name"] = json!(names.target.0);
            if let Some(d) = names.target.1 {
                v["scope"][kind]["domain"] = json!({"id": d.id, "name": d.name});
            }
        }
        items.push(v);
    }
    Ok(Json(
        json!({"role_assignments": items, "links": views::list_links(base, uri.path())}),
    ))
}

/// GET /v3.0/OS-PERMISSION/role-assignments (reference §5.8).
pub async fn iam_assignments(
    State(s): State<Arc<Services>>,
    Caller(c): Caller,
    ApiQuery(q): ApiQuery<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let domain_id = q.get("domain_id").cloned().ok_or_else(|| Error::MissingField {
        field: "domain_id".into(),
    })?;
    let include_group = parse_bool("include_group", q.get("include_group"))?.unwrap_or(true);
    let query = AssignmentQuery {
        domain_id: Some(domain_id),
        role_id: q.get("role_id").cloned(),
        user_id: q.get("subject.user_id").cloned().filter(|_| include_group),
        group_id: q.get("subject.group_id").cloned(),
        agency_id: q.get("subject.agency_id").cloned(),
        project_id: q.get("scope.project_id").cloned(),
        scope_domain_id: q.get("scope.domain_id").cloned(),
        inherited: Some(parse_bool("is_inherited", q.get("is_inherited"))?.unwrap_or(false)),
    };
    let found = s.role_assignments(&c, query).await?;
    let items: Vec<Value> = found
        .iter()
        .map(|a| {
            let mut v = json!({"role_id": a.grant.role_id, "is_inherited": a.grant.inherited});
            v["scope"] = match a.grant.target_kind {
                TargetKind::Domain => json!({"domain": {"id": a.grant.target_id}}),
                TargetKind::Project => json!({"project": {"id": a.grant.target_id}}),
            };
            match (&a.user_id, a.grant.actor_kind) {
                (Some(u), _) => v["user_id"] = json!(u),
                (None, ActorKind::Group) => v["group_id"] = json!(a.grant.actor_id),
                (None, ActorKind::Agency) => v["agency_id"] = json!(a.grant.actor_id),
            }
            v
        })
        .collect();
    Ok(Json(json!({"total_num": items.len(), "role_assignments": items})))
}
