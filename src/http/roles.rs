//! Roles, grants to groups and agencies, and role-assignment listings.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, Uri};
use axum::routing::{MethodRouter, get, put};
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::openapi::path::{HttpMethod, OperationBuilder, ParameterBuilder, ParameterIn};
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::security::SecurityRequirement;
use utoipa::openapi::{ContentBuilder, ObjectBuilder, Ref, Required, Type};
use utoipa::{Modify, ToSchema};

use super::error::ApiError;
use super::extract::{ApiQuery, Caller, Paging};
use super::openapi::{list_schema, one_schema};
use super::views;
use crate::model::{ActorKind, TargetKind};
use crate::service::admin::{Actor, GrantOp, Target};
use crate::service::assignments::{AssignmentQuery, IamAssignmentQuery, ScopeFilter, ScopeKind, Subject, SubjectKind};
use crate::service::{Accounts, Error, Services};

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RoleQuery {
    /// Only the role of this name.
    name: Option<String>,
    /// Only the role of this display name.
    display_name: Option<String>,
}

/// The roles.
#[utoipa::path(get, path = "/v3/roles", tag = "roles",
    params(RoleQuery,
        ("page" = Option<u32>, Query, minimum = 1, description = "Page number, from 1; with `per_page`."),
        ("per_page" = Option<u32>, Query, minimum = 1, maximum = 300, description = "Roles per page; with `page`."),
    ),
    responses((status = 200, description = "The roles, and how many match in all.", body = RolePage)),
    security(("token" = []), ("signature" = [])))]
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

/// One role.
#[utoipa::path(get, path = "/v3/roles/{id}", tag = "roles",
    responses((status = 200, description = "The role.", body = RoleResponse)),
    security(("token" = []), ("signature" = [])))]
pub async fn get_role(
    State(s): State<Accounts>,
    Caller(_): Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let role = s.get_role(&id).await?;
    Ok(Json(json!({"role": views::role(&s.config.public_url, &role)})))
}

/// PUT, HEAD and DELETE on `.../{target}/{groups|agencies}/{actor}/roles/{role}[...]`.
fn grant_route(actor: ActorKind, target: TargetKind, inherited: bool) -> MethodRouter<Arc<Services>> {
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
fn grant_list_route(actor: ActorKind, target: TargetKind, inherited: bool) -> MethodRouter<Arc<Services>> {
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

/// Role assignments, Keystone's listing.
///
/// Filters: user.id, group.id, role.id, scope.project.id, scope.domain.id, scope.system,
/// scope.OS-INHERIT:inherited_to, effective, include_names.
#[utoipa::path(get, path = "/v3/role_assignments", tag = "roles",
    params(
        ("user.id" = Option<String>, Query, description = "Only assignments of this user (through its groups)."),
        ("group.id" = Option<String>, Query, description = "Only assignments of this group."),
        ("role.id" = Option<String>, Query, description = "Only assignments of this role."),
        ("scope.project.id" = Option<String>, Query, description = "Only assignments on this project."),
        ("scope.domain.id" = Option<String>, Query, description = "Only assignments on this domain."),
        ("scope.system" = Option<String>, Query, description = "Only system assignments: there are none here."),
        ("scope.OS-INHERIT:inherited_to" = Option<String>, Query, description = "`projects`: only inherited assignments."),
        ("effective" = Option<String>, Query, description = "Present (and not `0`): expand group memberships into user assignments."),
        ("include_names" = Option<String>, Query, description = "Present (and not `0`): add names beside the ids."),
        ("include_subtree" = Option<String>, Query, description = "Refused when set: projects have no subtrees here."),
    ),
    responses((status = 200, description = "The assignments.", body = KeystoneAssignmentList)),
    security(("token" = []), ("signature" = [])))]
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

/// Role assignments of an account, the IAM listing.
///
/// Reference §5.8, L8658.
#[utoipa::path(get, path = "/v3.0/OS-PERMISSION/role-assignments", tag = "roles",
    params(
        ("domain_id" = String, Query, description = "The account whose assignments to list."),
        ("role_id" = Option<String>, Query, description = "Only assignments of this role."),
        ("subject" = Option<String>, Query, description = "`user`, `group` or `agency`: only assignments to that kind of subject; exclusive with the `subject.*` ids."),
        ("subject.user_id" = Option<String>, Query, description = "Only assignments reaching this user."),
        ("subject.group_id" = Option<String>, Query, description = "Only assignments of this group."),
        ("subject.agency_id" = Option<String>, Query, description = "Only assignments of this agency."),
        ("scope" = Option<String>, Query, description = "`project`, `domain` or `enterprise_project`; exclusive with the `scope.*` ids."),
        ("scope.project_id" = Option<String>, Query, description = "Only assignments on this project."),
        ("scope.domain_id" = Option<String>, Query, description = "Only assignments on this domain."),
        ("scope.enterprise_projects_id" = Option<String>, Query, description = "Only assignments on this enterprise project."),
        ("is_inherited" = Option<bool>, Query, description = "Inherited assignments only (default false)."),
        ("include_group" = Option<bool>, Query, description = "With `subject.user_id`: include the user's groups' assignments (default true)."),
        ("page" = Option<u32>, Query, minimum = 1, description = "Page number, from 1; with `per_page`."),
        ("per_page" = Option<u32>, Query, minimum = 1, maximum = 50, description = "Assignments per page; with `page`."),
    ),
    responses((status = 200, description = "The assignments, and how many match in all.", body = IamAssignmentPage)),
    security(("token" = []), ("signature" = [])))]
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

/// `{"roles": [...], "links": {...}, "total_number": n}`: a page of the role listing.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct RolePage {
    pub links: views::ListLinks,
    pub roles: Vec<views::RoleView<'static>>,
    /// How many roles match, all pages together.
    pub total_number: usize,
}

/// `{"role_assignments": [...], "links": {...}, "total_num": n}`: a page of the IAM listing.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct IamAssignmentPage {
    pub links: views::ListLinks,
    pub role_assignments: Vec<views::IamAssignmentView<'static>>,
    /// How many assignments match, all pages together.
    pub total_num: usize,
}

list_schema!(RoleList, roles, views::RoleView<'static>);
one_schema!(RoleResponse, role, views::RoleView<'static>);
list_schema!(
    KeystoneAssignmentList,
    role_assignments,
    views::KeystoneAssignmentView<'static>
);

/// The grant routes of `GRANT_ROUTES`: each (actor, target, inherited) kind's list and its
/// grant, check and revoke.
pub(super) fn grant_routes() -> axum::Router<Arc<Services>> {
    GRANT_ROUTES
        .iter()
        .fold(axum::Router::new(), |router, &(actor, target, inherited, list, one)| {
            router
                .route(list, grant_list_route(actor, target, inherited))
                .route(one, grant_route(actor, target, inherited))
        })
}

/// Every grant route, the one table the router (`grant_routes`) and the API document
/// (`GrantRoutes`) read: (actor, target, inherited, list template, grant template).
pub(super) const GRANT_ROUTES: &[(ActorKind, TargetKind, bool, &str, &str)] = &[
    (
        ActorKind::Group,
        TargetKind::Domain,
        false,
        "/v3/domains/{d}/groups/{g}/roles",
        "/v3/domains/{d}/groups/{g}/roles/{r}",
    ),
    (
        ActorKind::Group,
        TargetKind::Project,
        false,
        "/v3/projects/{p}/groups/{g}/roles",
        "/v3/projects/{p}/groups/{g}/roles/{r}",
    ),
    (
        ActorKind::Group,
        TargetKind::Domain,
        true,
        "/v3/OS-INHERIT/domains/{d}/groups/{g}/roles/inherited_to_projects",
        "/v3/OS-INHERIT/domains/{d}/groups/{g}/roles/{r}/inherited_to_projects",
    ),
    (
        ActorKind::Agency,
        TargetKind::Domain,
        false,
        "/v3.0/OS-AGENCY/domains/{d}/agencies/{a}/roles",
        "/v3.0/OS-AGENCY/domains/{d}/agencies/{a}/roles/{r}",
    ),
    (
        ActorKind::Agency,
        TargetKind::Project,
        false,
        "/v3.0/OS-AGENCY/projects/{p}/agencies/{a}/roles",
        "/v3.0/OS-AGENCY/projects/{p}/agencies/{a}/roles/{r}",
    ),
    (
        ActorKind::Agency,
        TargetKind::Domain,
        true,
        "/v3.0/OS-INHERIT/domains/{d}/agencies/{a}/roles/inherited_to_projects",
        "/v3.0/OS-INHERIT/domains/{d}/agencies/{a}/roles/{r}/inherited_to_projects",
    ),
];

/// The grant routes are closures with nothing to annotate: this rule writes their operations
/// from `GRANT_ROUTES` (group grants under `roles`, agency grants under `agencies`).
pub(super) struct GrantRoutes;

impl Modify for GrantRoutes {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        for &(actor, target, inherited, list, one) in GRANT_ROUTES {
            let (actor, a_actor, tag) = match actor {
                ActorKind::Group => ("group", "a group", "roles"),
                ActorKind::Agency => ("agency", "an agency", "agencies"),
            };
            let target = target.as_str();
            let (on, id_tail) = match inherited {
                false => (format!("on a {target}"), format!("on_{target}")),
                true => (
                    format!("on every project of a {target}"),
                    format!("on_{target}_inherited"),
                ),
            };
            let roles = ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("RoleList")))
                .build();
            let ops = [
                (
                    list,
                    HttpMethod::Get,
                    "list_roles",
                    format!("The roles granted to {a_actor} {on}."),
                    ResponseBuilder::new()
                        .description("The roles.")
                        .content("application/json", roles),
                ),
                (
                    one,
                    HttpMethod::Put,
                    "grant_role",
                    format!("Grant a role to {a_actor} {on}."),
                    ResponseBuilder::new().description("Granted."),
                ),
                (
                    one,
                    HttpMethod::Head,
                    "check_role",
                    format!("Whether {a_actor} has a role {on}: 204 if so, 404 if not."),
                    ResponseBuilder::new().description("Granted."),
                ),
                (
                    one,
                    HttpMethod::Delete,
                    "revoke_role",
                    format!("Revoke a role from {a_actor} {on}."),
                    ResponseBuilder::new().description("Revoked."),
                ),
            ];
            for (path, method, verb, summary, response) in ops {
                let status = if matches!(method, HttpMethod::Get) {
                    "200"
                } else {
                    "204"
                };
                let op = OperationBuilder::new()
                    .operation_id(Some(format!("{verb}_{actor}_{id_tail}")))
                    .summary(Some(summary))
                    .tag(tag)
                    .parameters(Some(grant_parameters(path)))
                    .response(status, response.build())
                    .securities(Some([
                        SecurityRequirement::new("token", Vec::<String>::new()),
                        SecurityRequirement::new("signature", Vec::<String>::new()),
                    ]));
                doc.paths.add_path_operation(path, vec![method], op);
            }
        }
    }
}

/// The path parameters of a grant route, named for what they hold.
fn grant_parameters(path: &str) -> Vec<utoipa::openapi::path::Parameter> {
    path.split('/')
        .filter_map(|segment| segment.strip_prefix('{')?.strip_suffix('}'))
        .map(|name| {
            let what = match name {
                "d" => "The domain's id.",
                "p" => "The project's id.",
                "g" => "The group's id.",
                "a" => "The agency's id.",
                _ => "The role's id.",
            };
            ParameterBuilder::new()
                .name(name)
                .parameter_in(ParameterIn::Path)
                .required(Required::True)
                .description(Some(what))
                .schema(Some(ObjectBuilder::new().schema_type(Type::String).min_length(Some(1))))
                .build()
        })
        .collect()
}

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(list_roles, get_role, keystone_assignments, iam_assignments),
    components(schemas(RoleList)),
    tags((name = "roles", description = "Roles, the grants that give them to groups, and role assignments.")),
)]
pub(super) struct Doc;
