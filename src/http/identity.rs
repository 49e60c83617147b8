//! Users, groups, projects and domains.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, Uri};
use serde::Deserialize;
use serde_json::{Value, json};

use super::error::ApiError;
use super::extract::{ApiJson, ApiQuery, Caller, Paging};
use super::views;
use crate::model::ProjectStatus;
use crate::service::admin::{
    GrantOp, GroupInput, OwnInfoInput, ProjectInput, ProjectListQuery, Secret, UserInput, UserListQuery,
};
use crate::service::{Accounts, Error, IamCode, now_ms};

type JsonResult = Result<Json<Value>, ApiError>;
type Created = Result<(StatusCode, Json<Value>), ApiError>;

#[derive(Deserialize)]
pub struct UserBody {
    user: UserInput,
}

#[derive(Deserialize)]
pub struct GroupBody {
    group: GroupInput,
}

#[derive(Deserialize)]
pub struct ProjectBody {
    project: ProjectInput,
}

#[derive(Deserialize)]
pub struct PasswordBody {
    user: PasswordChange,
}

#[derive(Deserialize)]
pub struct PasswordChange {
    password: Secret,
    original_password: Secret,
}

#[derive(Deserialize)]
pub struct NameQuery {
    name: Option<String>,
}

// ---- users ----

pub async fn create_user(State(s): State<Accounts>, Caller(c): Caller, ApiJson(b): ApiJson<UserBody>) -> Created {
    let user = s.create_user(&c, b.user, now_ms()).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"user": views::user(&s.config.public_url, &user)})),
    ))
}

/// POST /v3.0/OS-USER/users: as Keystone's, with the reference's IAM error codes.
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

pub async fn get_user(State(s): State<Accounts>, Caller(c): Caller, Path(id): Path<String>) -> JsonResult {
    let user = s.get_any_user(&c, &id).await?;
    Ok(Json(json!({"user": views::any_user(&s.config.public_url, &user)})))
}

pub async fn get_user_extended(State(s): State<Accounts>, Caller(c): Caller, Path(id): Path<String>) -> JsonResult {
    let user = s.get_user(&c, &id).await?;
    Ok(Json(json!({"user": views::user_extended(&s.config.public_url, &user)})))
}

pub async fn update_user(
    State(s): State<Accounts>,
    Caller(c): Caller,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<UserBody>,
) -> JsonResult {
    let user = s.update_any_user(&c, &id, b.user, now_ms()).await?;
    Ok(Json(json!({"user": views::any_user(&s.config.public_url, &user)})))
}

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

#[derive(Deserialize)]
pub struct OwnInfoBody {
    user: OwnInfoInput,
}

pub async fn update_own_info(
    State(s): State<Accounts>,
    Caller(c): Caller,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<OwnInfoBody>,
) -> Result<StatusCode, ApiError> {
    s.update_own_info(&c, &id, b.user, now_ms()).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn delete_user(
    State(s): State<Accounts>,
    Caller(c): Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    s.delete_user(&c, &id, now_ms()).await?;
    Ok(StatusCode::NO_CONTENT)
}

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

pub async fn user_groups(State(s): State<Accounts>, Caller(c): Caller, Path(id): Path<String>, uri: Uri) -> JsonResult {
    let base = &s.config.public_url;
    let groups = s.groups_of_user(&c, &id).await?;
    let links = views::list_links(base, uri.path());
    Ok(views::list("groups", groups.iter().map(|g| views::group(base, g)), links).into())
}

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

pub async fn create_group(State(s): State<Accounts>, Caller(c): Caller, ApiJson(b): ApiJson<GroupBody>) -> Created {
    let group = s.create_group(&c, b.group, now_ms()).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"group": views::group(&s.config.public_url, &group)})),
    ))
}

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

pub async fn get_group(State(s): State<Accounts>, Caller(c): Caller, Path(id): Path<String>) -> JsonResult {
    let group = s.get_group(&c, &id).await?;
    Ok(Json(json!({"group": views::group(&s.config.public_url, &group)})))
}

pub async fn update_group(
    State(s): State<Accounts>,
    Caller(c): Caller,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<GroupBody>,
) -> JsonResult {
    let group = s.update_group(&c, &id, b.group).await?;
    Ok(Json(json!({"group": views::group(&s.config.public_url, &group)})))
}

pub async fn delete_group(
    State(s): State<Accounts>,
    Caller(c): Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    s.delete_group(&c, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn group_users(State(s): State<Accounts>, Caller(c): Caller, Path(id): Path<String>, uri: Uri) -> JsonResult {
    let base = &s.config.public_url;
    let users = s.group_members(&c, &id).await?;
    let links = views::list_links(base, uri.path());
    Ok(views::list("users", users.iter().map(|u| views::user(base, u)), links).into())
}

pub async fn membership(
    s: Accounts,
    c: crate::service::AuthContext,
    group: String,
    user: String,
    op: GrantOp,
) -> Result<StatusCode, ApiError> {
    s.membership(&c, &group, &user, op).await?;
    Ok(StatusCode::NO_CONTENT)
}

// ---- projects ----

pub async fn create_project(State(s): State<Accounts>, Caller(c): Caller, ApiJson(b): ApiJson<ProjectBody>) -> Created {
    let project = s.create_project(&c, b.project, now_ms()).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"project": views::project(&s.config.public_url, &project)})),
    ))
}

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

pub async fn get_project(State(s): State<Accounts>, Caller(c): Caller, Path(id): Path<String>) -> JsonResult {
    let project = s.get_project(&c, &id).await?;
    Ok(Json(json!({"project": views::project(&s.config.public_url, &project)})))
}

pub async fn get_project_extended(State(s): State<Accounts>, Caller(c): Caller, Path(id): Path<String>) -> JsonResult {
    let project = s.get_project(&c, &id).await?;
    let view = views::project(&s.config.public_url, &project).with_status(project.status);
    Ok(Json(json!({"project": view})))
}

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

#[derive(Deserialize)]
pub struct StatusBody {
    project: StatusInput,
}

#[derive(Deserialize)]
pub struct StatusInput {
    status: String,
}

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

pub async fn get_domain(State(s): State<Accounts>, Caller(c): Caller, Path(id): Path<String>) -> JsonResult {
    let domain = s.get_domain(&c, &id).await?;
    Ok(Json(json!({"domain": views::domain(&s.config.public_url, &domain)})))
}

#[derive(Deserialize)]
pub struct DomainBody {
    domain: crate::service::domains::DomainInput,
}

pub async fn create_domain(State(s): State<Accounts>, Caller(c): Caller, ApiJson(b): ApiJson<DomainBody>) -> Created {
    let domain = s.create_domain(&c, b.domain, now_ms()).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"domain": views::domain(&s.config.public_url, &domain)})),
    ))
}

pub async fn update_domain(
    State(s): State<Accounts>,
    Caller(c): Caller,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<DomainBody>,
) -> JsonResult {
    let domain = s.update_domain(&c, &id, b.domain, now_ms()).await?;
    Ok(Json(json!({"domain": views::domain(&s.config.public_url, &domain)})))
}

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
