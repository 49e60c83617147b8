//! Users, groups, projects and domains.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, Uri};
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::ToSchema;

use super::auth::{DomainList, ProjectList};
use super::error::ApiError;
use super::extract::{ApiJson, ApiQuery, Caller, Paging};
use super::openapi::{list_schema, one_schema};
use super::views;
use crate::model::ProjectStatus;
use crate::service::admin::{
    GrantOp, GroupInput, OwnInfoInput, ProjectInput, ProjectListQuery, Secret, UserInput, UserListQuery,
};
use crate::service::{Accounts, AuthContext, Error, IamCode, now_ms};

type JsonResult = Result<Json<Value>, ApiError>;
type Created = Result<(StatusCode, Json<Value>), ApiError>;
type NoContent = Result<StatusCode, ApiError>;

#[derive(Deserialize, ToSchema)]
pub struct UserBody {
    user: UserInput,
}

#[derive(Deserialize, ToSchema)]
pub struct GroupBody {
    group: GroupInput,
}

#[derive(Deserialize, ToSchema)]
pub struct ProjectBody {
    project: ProjectInput,
}

#[derive(Deserialize, ToSchema)]
pub struct PasswordBody {
    user: PasswordChange,
}

#[derive(Deserialize, ToSchema)]
pub struct PasswordChange {
    password: Secret,
    original_password: Secret,
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct NameQuery {
    name: Option<String>,
}

// ---- users ----

/// Create a user (Keystone form).
#[utoipa::path(post, path = "/v3/users", tag = "users",
    request_body = UserBody,
    responses((status = 201, description = "The user.", body = UserResponse)),
    security(("token" = []), ("signature" = [])))]
pub async fn create_user(State(s): State<Accounts>, Caller(c): Caller, ApiJson(b): ApiJson<UserBody>) -> Created {
    let user = s.create_user(&c, b.user, now_ms()).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"user": views::user(&s.config.public_url, &user)})),
    ))
}

/// Create a user (IAM form): as Keystone's, with the reference's IAM error codes.
#[utoipa::path(post, path = "/v3.0/OS-USER/users", tag = "users",
    request_body = UserBody,
    responses((status = 201, description = "The user, with its contact and audit details.", body = UserExtendedResponse)),
    security(("token" = []), ("signature" = [])))]
pub async fn create_user_extended(
    State(s): State<Accounts>,
    Caller(c): Caller,
    ApiJson(b): ApiJson<UserBody>,
) -> Created {
    if b.user.domain_id.is_none() {
        return Err(Error::MissingField {
            field: "user.domain_id".into(),
        }
        .into());
    }
    let user = s.create_user(&c, b.user, now_ms()).await.map_err(os_user_conflict)?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"user": views::user_extended(&s.config.public_url, &user)})),
    ))
}

/// The users; with `idp_id`, the federated users of that identity provider.
#[utoipa::path(get, path = "/v3/users", tag = "users",
    params(UserListQuery),
    responses((status = 200, description = "The users.", body = UserList)),
    security(("token" = []), ("signature" = [])))]
pub async fn list_users(
    State(s): State<Accounts>,
    Caller(c): Caller,
    ApiQuery(q): ApiQuery<UserListQuery>,
    uri: Uri,
) -> JsonResult {
    let base = &s.config.public_url;
    let links = views::list_links(base, uri.path());
    let list = match q.idp_id.as_deref() {
        // Keystone's filter for federated users.
        Some(idp_id) => {
            let users = s.list_federated_users(&c, idp_id).await?;
            views::list("users", users.iter().map(|u| views::federated_user(base, u)), links)
        }
        None => {
            let users = s.list_users(&c, q).await?;
            views::list("users", users.iter().map(|u| views::user(base, u)), links)
        }
    };
    Ok(list.into())
}

/// One user, local or federated.
#[utoipa::path(get, path = "/v3/users/{id}", tag = "users",
    responses((status = 200, description = "The user.", body = AnyUserResponse)),
    security(("token" = []), ("signature" = [])))]
pub async fn get_user(State(s): State<Accounts>, Caller(c): Caller, Path(id): Path<String>) -> JsonResult {
    let user = s.get_any_user(&c, &id).await?;
    Ok(Json(json!({"user": views::any_user(&s.config.public_url, &user)})))
}

/// One local user with its contact and audit details (IAM form).
#[utoipa::path(get, path = "/v3.0/OS-USER/users/{id}", tag = "users",
    responses((status = 200, description = "The user.", body = UserExtendedResponse)),
    security(("token" = []), ("signature" = [])))]
pub async fn get_user_extended(State(s): State<Accounts>, Caller(c): Caller, Path(id): Path<String>) -> JsonResult {
    let user = s.get_user(&c, &id).await?;
    Ok(Json(json!({"user": views::user_extended(&s.config.public_url, &user)})))
}

/// Update a user (Keystone form).
#[utoipa::path(patch, path = "/v3/users/{id}", tag = "users",
    request_body = UserBody,
    responses((status = 200, description = "The user.", body = AnyUserResponse)),
    security(("token" = []), ("signature" = [])))]
pub async fn update_user(
    State(s): State<Accounts>,
    Caller(c): Caller,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<UserBody>,
) -> JsonResult {
    let user = s.update_any_user(&c, &id, b.user, now_ms()).await?;
    Ok(Json(json!({"user": views::any_user(&s.config.public_url, &user)})))
}

/// Update a user (IAM form).
#[utoipa::path(put, path = "/v3.0/OS-USER/users/{id}", tag = "users",
    request_body = UserBody,
    responses((status = 200, description = "The user.", body = UserExtendedResponse)),
    security(("token" = []), ("signature" = [])))]
pub async fn update_user_extended(
    State(s): State<Accounts>,
    Caller(c): Caller,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<UserBody>,
) -> JsonResult {
    let user = s
        .update_user(&c, &id, b.user, now_ms())
        .await
        .map_err(os_user_conflict)?;
    Ok(Json(json!({"user": views::user_extended(&s.config.public_url, &user)})))
}

#[derive(Deserialize, ToSchema)]
pub struct OwnInfoBody {
    user: OwnInfoInput,
}

/// Change one's own email or mobile number.
#[utoipa::path(put, path = "/v3.0/OS-USER/users/{id}/info", tag = "users",
    request_body = OwnInfoBody,
    responses((status = 204, description = "Changed.")),
    security(("token" = []), ("signature" = [])))]
pub async fn update_own_info(
    State(s): State<Accounts>,
    Caller(c): Caller,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<OwnInfoBody>,
) -> Result<StatusCode, ApiError> {
    s.update_own_info(&c, &id, b.user, now_ms()).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Delete a user.
#[utoipa::path(delete, path = "/v3/users/{id}", tag = "users",
    responses((status = 204, description = "Deleted.")),
    security(("token" = []), ("signature" = [])))]
pub async fn delete_user(
    State(s): State<Accounts>,
    Caller(c): Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    s.delete_user(&c, &id, now_ms()).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Change one's own password, given the current one.
#[utoipa::path(post, path = "/v3/users/{id}/password", tag = "users",
    request_body = PasswordBody,
    responses((status = 204, description = "Changed.")),
    security(("token" = []), ("signature" = [])))]
pub async fn change_password(
    State(s): State<Accounts>,
    Caller(c): Caller,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<PasswordBody>,
) -> Result<StatusCode, ApiError> {
    s.change_password(&c, &id, b.user.original_password, b.user.password, now_ms())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The groups a user belongs to.
#[utoipa::path(get, path = "/v3/users/{id}/groups", tag = "users",
    responses((status = 200, description = "The groups.", body = GroupList)),
    security(("token" = []), ("signature" = [])))]
pub async fn user_groups(State(s): State<Accounts>, Caller(c): Caller, Path(id): Path<String>, uri: Uri) -> JsonResult {
    let base = &s.config.public_url;
    let groups = s.groups_of_user(&c, &id).await?;
    let links = views::list_links(base, uri.path());
    Ok(views::list("groups", groups.iter().map(|g| views::group(base, g)), links).into())
}

/// The projects a user can scope to.
#[utoipa::path(get, path = "/v3/users/{id}/projects", tag = "users",
    responses((status = 200, description = "The projects.", body = ProjectList)),
    security(("token" = []), ("signature" = [])))]
pub async fn user_projects(
    State(s): State<Accounts>,
    Caller(c): Caller,
    Path(id): Path<String>,
    uri: Uri,
) -> JsonResult {
    let base = &s.config.public_url;
    let projects = s.projects_of_user(&c, &id).await?;
    let links = views::list_links(base, uri.path());
    Ok(views::list("projects", projects.iter().map(|p| views::project(base, p)), links).into())
}

// ---- groups ----

/// Create a group.
#[utoipa::path(post, path = "/v3/groups", tag = "groups",
    request_body = GroupBody,
    responses((status = 201, description = "The group.", body = GroupResponse)),
    security(("token" = []), ("signature" = [])))]
pub async fn create_group(State(s): State<Accounts>, Caller(c): Caller, ApiJson(b): ApiJson<GroupBody>) -> Created {
    let group = s.create_group(&c, b.group, now_ms()).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"group": views::group(&s.config.public_url, &group)})),
    ))
}

/// The groups.
#[utoipa::path(get, path = "/v3/groups", tag = "groups",
    params(GroupInput),
    responses((status = 200, description = "The groups.", body = GroupList)),
    security(("token" = []), ("signature" = [])))]
pub async fn list_groups(
    State(s): State<Accounts>,
    Caller(c): Caller,
    ApiQuery(q): ApiQuery<GroupInput>,
    uri: Uri,
) -> JsonResult {
    let base = &s.config.public_url;
    let groups = s.list_groups(&c, q).await?;
    let links = views::list_links(base, uri.path());
    Ok(views::list("groups", groups.iter().map(|g| views::group(base, g)), links).into())
}

/// One group.
#[utoipa::path(get, path = "/v3/groups/{id}", tag = "groups",
    responses((status = 200, description = "The group.", body = GroupResponse)),
    security(("token" = []), ("signature" = [])))]
pub async fn get_group(State(s): State<Accounts>, Caller(c): Caller, Path(id): Path<String>) -> JsonResult {
    let group = s.get_group(&c, &id).await?;
    Ok(Json(json!({"group": views::group(&s.config.public_url, &group)})))
}

/// Update a group.
#[utoipa::path(patch, path = "/v3/groups/{id}", tag = "groups",
    request_body = GroupBody,
    responses((status = 200, description = "The group.", body = GroupResponse)),
    security(("token" = []), ("signature" = [])))]
pub async fn update_group(
    State(s): State<Accounts>,
    Caller(c): Caller,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<GroupBody>,
) -> JsonResult {
    let group = s.update_group(&c, &id, b.group).await?;
    Ok(Json(json!({"group": views::group(&s.config.public_url, &group)})))
}

/// Delete a group.
#[utoipa::path(delete, path = "/v3/groups/{id}", tag = "groups",
    responses((status = 204, description = "Deleted.")),
    security(("token" = []), ("signature" = [])))]
pub async fn delete_group(
    State(s): State<Accounts>,
    Caller(c): Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    s.delete_group(&c, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The users in a group.
#[utoipa::path(get, path = "/v3/groups/{id}/users", tag = "groups",
    responses((status = 200, description = "The members.", body = MemberList)),
    security(("token" = []), ("signature" = [])))]
pub async fn group_users(State(s): State<Accounts>, Caller(c): Caller, Path(id): Path<String>, uri: Uri) -> JsonResult {
    let base = &s.config.public_url;
    let users = s.group_members(&c, &id).await?;
    let links = views::list_links(base, uri.path());
    Ok(views::list("users", users.iter().map(|u| views::user(base, u)), links).into())
}

/// Add a user to a group.
#[utoipa::path(put, path = "/v3/groups/{group_id}/users/{user_id}", tag = "groups",
    responses((status = 204, description = "Added.")),
    security(("token" = []), ("signature" = [])))]
pub async fn add_member(State(s): State<Accounts>, Caller(c): Caller, Path(m): Path<(String, String)>) -> NoContent {
    membership(s, c, m, GrantOp::Create).await
}

/// Whether a user is in a group: 204 if so, 404 if not.
#[utoipa::path(head, path = "/v3/groups/{group_id}/users/{user_id}", tag = "groups",
    responses((status = 204, description = "The user is in the group.")),
    security(("token" = []), ("signature" = [])))]
pub async fn check_member(State(s): State<Accounts>, Caller(c): Caller, Path(m): Path<(String, String)>) -> NoContent {
    membership(s, c, m, GrantOp::Check).await
}

/// Remove a user from a group.
#[utoipa::path(delete, path = "/v3/groups/{group_id}/users/{user_id}", tag = "groups",
    responses((status = 204, description = "Removed.")),
    security(("token" = []), ("signature" = [])))]
pub async fn remove_member(State(s): State<Accounts>, Caller(c): Caller, Path(m): Path<(String, String)>) -> NoContent {
    membership(s, c, m, GrantOp::Delete).await
}

async fn membership(s: Accounts, c: AuthContext, (group, user): (String, String), op: GrantOp) -> NoContent {
    s.membership(&c, &group, &user, op).await?;
    Ok(StatusCode::NO_CONTENT)
}

// ---- projects ----

/// Create a project.
#[utoipa::path(post, path = "/v3/projects", tag = "projects",
    request_body = ProjectBody,
    responses((status = 201, description = "The project.", body = ProjectResponse)),
    security(("token" = []), ("signature" = [])))]
pub async fn create_project(State(s): State<Accounts>, Caller(c): Caller, ApiJson(b): ApiJson<ProjectBody>) -> Created {
    let project = s.create_project(&c, b.project, now_ms()).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"project": views::project(&s.config.public_url, &project)})),
    ))
}

/// The projects.
#[utoipa::path(get, path = "/v3/projects", tag = "projects",
    params(ProjectListQuery,
        ("page" = Option<u32>, Query, minimum = 1, description = "Page number, from 1; with `per_page`."),
        ("per_page" = Option<u32>, Query, minimum = 1, maximum = 5000, description = "Projects per page; with `page`.")),
    responses((status = 200, description = "The projects.", body = ProjectList)),
    security(("token" = []), ("signature" = [])))]
pub async fn list_projects(
    State(s): State<Accounts>,
    Caller(c): Caller,
    ApiQuery(q): ApiQuery<ProjectListQuery>,
    uri: Uri,
) -> JsonResult {
    let base = &s.config.public_url;
    let paging = Paging::from_query(uri.query(), 5000)?;
    let (projects, more) = Paging::apply(paging, s.list_projects(&c, q).await?);
    let links = views::paged_links(base, &uri, paging, more);
    Ok(views::list("projects", projects.iter().map(|p| views::project(base, p)), links).into())
}

/// One project.
#[utoipa::path(get, path = "/v3/projects/{id}", tag = "projects",
    responses((status = 200, description = "The project.", body = ProjectResponse)),
    security(("token" = []), ("signature" = [])))]
pub async fn get_project(State(s): State<Accounts>, Caller(c): Caller, Path(id): Path<String>) -> JsonResult {
    let project = s.get_project(&c, &id).await?;
    Ok(Json(json!({"project": views::project(&s.config.public_url, &project)})))
}

/// One project with its status (IAM form).
#[utoipa::path(get, path = "/v3-ext/projects/{id}", tag = "projects",
    responses((status = 200, description = "The project, with `status`.", body = ProjectResponse)),
    security(("token" = []), ("signature" = [])))]
pub async fn get_project_extended(State(s): State<Accounts>, Caller(c): Caller, Path(id): Path<String>) -> JsonResult {
    let project = s.get_project(&c, &id).await?;
    let view = views::project(&s.config.public_url, &project).with_status(project.status);
    Ok(Json(json!({"project": view})))
}

/// Update a project.
#[utoipa::path(patch, path = "/v3/projects/{id}", tag = "projects",
    request_body = ProjectBody,
    responses((status = 200, description = "The project, with an empty `extra`.", body = ProjectResponse)),
    security(("token" = []), ("signature" = [])))]
pub async fn update_project(
    State(s): State<Accounts>,
    Caller(c): Caller,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<ProjectBody>,
) -> JsonResult {
    let project = s.update_project(&c, &id, b.project).await?;
    let view = views::project(&s.config.public_url, &project).with_extra();
    Ok(Json(json!({"project": view})))
}

#[derive(Deserialize, ToSchema)]
pub struct StatusBody {
    project: StatusInput,
}

#[derive(Deserialize, ToSchema)]
pub struct StatusInput {
    #[schema(value_type = ProjectStatus)]
    status: String,
}

/// Suspend or resume a project.
#[utoipa::path(put, path = "/v3-ext/projects/{id}", tag = "projects",
    request_body = StatusBody,
    responses((status = 204, description = "Set.")),
    security(("token" = []), ("signature" = [])))]
pub async fn set_project_status(
    State(s): State<Accounts>,
    Caller(c): Caller,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<StatusBody>,
) -> Result<StatusCode, ApiError> {
    let status = ProjectStatus::parse(&b.project.status)
        .ok_or_else(|| Error::invalid("project.status", "must be normal or suspended"))?;
    s.set_project_status(&c, &id, status).await?;
    Ok(StatusCode::NO_CONTENT)
}

// ---- domains ----

/// The domains (accounts).
#[utoipa::path(get, path = "/v3/domains", tag = "accounts",
    params(NameQuery),
    responses((status = 200, description = "The domains.", body = DomainList)),
    security(("token" = []), ("signature" = [])))]
pub async fn list_domains(
    State(s): State<Accounts>,
    Caller(c): Caller,
    ApiQuery(q): ApiQuery<NameQuery>,
    uri: Uri,
) -> JsonResult {
    let base = &s.config.public_url;
    let domains = s.list_domains(&c, q.name).await?;
    let links = views::list_links(base, uri.path());
    Ok(views::list("domains", domains.iter().map(|d| views::domain(base, d)), links).into())
}

/// One domain (account).
#[utoipa::path(get, path = "/v3/domains/{id}", tag = "accounts",
    responses((status = 200, description = "The domain.", body = DomainResponse)),
    security(("token" = []), ("signature" = [])))]
pub async fn get_domain(State(s): State<Accounts>, Caller(c): Caller, Path(id): Path<String>) -> JsonResult {
    let domain = s.get_domain(&c, &id).await?;
    Ok(Json(json!({"domain": views::domain(&s.config.public_url, &domain)})))
}

#[derive(Deserialize, ToSchema)]
pub struct DomainBody {
    domain: crate::service::domains::DomainInput,
}

/// Create a domain (account), with its admins group.
#[utoipa::path(post, path = "/v3/domains", tag = "accounts",
    request_body = DomainBody,
    responses((status = 201, description = "The domain.", body = DomainResponse)),
    security(("token" = []), ("signature" = [])))]
pub async fn create_domain(State(s): State<Accounts>, Caller(c): Caller, ApiJson(b): ApiJson<DomainBody>) -> Created {
    let domain = s.create_domain(&c, b.domain, now_ms()).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"domain": views::domain(&s.config.public_url, &domain)})),
    ))
}

/// Rename, describe, disable or enable a domain (account).
#[utoipa::path(patch, path = "/v3/domains/{id}", tag = "accounts",
    request_body = DomainBody,
    responses((status = 200, description = "The domain.", body = DomainResponse)),
    security(("token" = []), ("signature" = [])))]
pub async fn update_domain(
    State(s): State<Accounts>,
    Caller(c): Caller,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<DomainBody>,
) -> JsonResult {
    let domain = s.update_domain(&c, &id, b.domain, now_ms()).await?;
    Ok(Json(json!({"domain": views::domain(&s.config.public_url, &domain)})))
}

/// Delete a disabled domain (account) and everything in it.
#[utoipa::path(delete, path = "/v3/domains/{id}", tag = "accounts",
    responses((status = 204, description = "Deleted.")),
    security(("token" = []), ("signature" = [])))]
pub async fn delete_domain(
    State(s): State<Accounts>,
    Caller(c): Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    s.delete_domain(&c, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The OS-USER paths answer a taken name with the reference's 1109; Keystone's paths keep 409.
fn os_user_conflict(e: Error) -> Error {
    match e {
        Error::Conflict(_) => Error::IamRule {
            code: IamCode::UserNameTaken,
            message: "The username already exists.".into(),
        },
        other => other,
    }
}

one_schema!(UserResponse, user, views::UserView<'static>);
one_schema!(AnyUserResponse, user, views::AnyUserView<'static>);
one_schema!(UserExtendedResponse, user, views::UserExtendedView<'static>);
list_schema!(UserList, users, views::AnyUserView<'static>);
list_schema!(MemberList, users, views::UserView<'static>);
one_schema!(GroupResponse, group, views::GroupView<'static>);
list_schema!(GroupList, groups, views::GroupView<'static>);
one_schema!(ProjectResponse, project, views::ProjectView<'static>);
one_schema!(DomainResponse, domain, views::DomainView<'static>);

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(
        list_domains, create_domain, get_domain, update_domain, delete_domain,
        list_projects, create_project, get_project, update_project, get_project_extended, set_project_status,
        list_users, create_user, get_user, update_user, delete_user, change_password, user_groups, user_projects,
        create_user_extended, get_user_extended, update_user_extended, update_own_info,
        list_groups, create_group, get_group, update_group, delete_group, group_users,
        add_member, check_member, remove_member,
    ),
    tags(
        (name = "accounts", description = "Domains: the accounts that hold users, groups, projects and agencies."),
        (name = "projects", description = "Projects of an account, and their status."),
        (name = "users", description = "Local users (Keystone and IAM forms) and the federated users signed in through a provider."),
        (name = "groups", description = "Groups and their members."),
    ),
)]
pub(super) struct Doc;
