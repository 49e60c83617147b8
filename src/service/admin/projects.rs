//! Projects (and subprojects) and their status.

use serde::Deserialize;

use super::super::names::{ResourceName, parse_description};
use super::super::{Accounts, AuthContext, Error, Result, new_id};
use crate::audit::{Action, Resource};
use crate::model::*;

#[derive(Debug, Deserialize, Default, utoipa::ToSchema)]
pub struct ProjectInput {
    pub name: Option<String>,
    pub description: Option<String>,
    pub domain_id: Option<String>,
    pub parent_id: Option<String>,
    pub enabled: Option<bool>,
}

#[derive(Debug, Deserialize, Default, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ProjectListQuery {
    pub domain_id: Option<String>,
    pub name: Option<String>,
    pub enabled: Option<bool>,
    pub parent_id: Option<String>,
    pub is_domain: Option<bool>,
}

impl Accounts {
    pub async fn create_project(&self, ctx: &AuthContext, input: ProjectInput, now_ms: i64) -> Result<Project> {
        let result = self.create_project_unaudited(ctx, input, now_ms).await;
        let id = result.as_ref().ok().map(|project| project.id.as_str());
        self.audit_change(ctx, Action::Created(Resource::Project), id, &result);
        result
    }

    /// [`Self::create_project`] without its audit event.
    async fn create_project_unaudited(&self, ctx: &AuthContext, input: ProjectInput, now_ms: i64) -> Result<Project> {
        let domain = self
            .domain_for_write(ctx, input.domain_id.as_ref(), "project.domain_id")
            .await?;
        let name = input.name.as_deref().ok_or_else(|| Error::MissingField {
            field: "project.name".into(),
        })?;
        let name = ResourceName::parse("project.name", name, 64)?.into_inner();
        if let Some(parent_id) = &input.parent_id {
            let parent = self
                .store
                .get_project(parent_id)
                .await?
                .filter(|p| p.domain_id == domain.id)
                .ok_or_else(|| {
                    Error::invalid(
                        "project.parent_id",
                        format!("project {parent_id} not found in the domain"),
                    )
                })?;
            // Huawei subprojects are named after their region project: "<region>_<suffix>".
            if !name.starts_with(&format!("{}_", parent.name)) {
                return Err(Error::invalid(
                    "project.name",
                    format!("must start with \"{}_\"", parent.name),
                ));
            }
        }
        let project = Project {
            id: new_id(),
            domain_id: domain.id,
            name,
            description: parse_description("project.description", input.description.as_deref().unwrap_or(""))?,
            enabled: input.enabled.unwrap_or(true),
            parent_id: input.parent_id,
            status: ProjectStatus::Normal,
            created_at_ms: now_ms,
        };
        self.store.create_project(&project).await?;
        Ok(project)
    }

    pub async fn get_project(&self, ctx: &AuthContext, id: &str) -> Result<Project> {
        let project = self
            .store
            .get_project(id)
            .await?
            .ok_or_else(|| Error::not_found("project", id))?;
        let scoped_here =
            matches!(&ctx.identity.scope, crate::service::ScopeView::Project { id: p, .. } if *p == project.id);
        if !scoped_here {
            self.require_project_admin(ctx, &project.id, &project.domain_id)?;
        }
        Ok(project)
    }

    pub async fn list_projects(&self, ctx: &AuthContext, q: ProjectListQuery) -> Result<Vec<Project>> {
        if q.is_domain == Some(true) {
            return Ok(Vec::new());
        }
        let domain_id = self.listing_domain(ctx, q.domain_id).await?;
        Ok(self
            .store
            .list_projects(&ProjectFilter {
                domain_id,
                name: q.name,
                enabled: q.enabled,
                parent_id: q.parent_id,
                ids: None,
            })
            .await?)
    }

    pub async fn update_project(&self, ctx: &AuthContext, id: &str, input: ProjectInput) -> Result<Project> {
        let result = self.update_project_unaudited(ctx, id, input).await;
        self.audit_change(ctx, Action::Updated(Resource::Project), Some(id), &result);
        result
    }

    /// [`Self::update_project`] without its audit event.
    async fn update_project_unaudited(&self, ctx: &AuthContext, id: &str, input: ProjectInput) -> Result<Project> {
        let mut project = self
            .store
            .get_project(id)
            .await?
            .ok_or_else(|| Error::not_found("project", id))?;
        self.require_project_admin(ctx, &project.id, &project.domain_id)?;
        if input.name.is_none() && input.description.is_none() && input.enabled.is_none() {
            return Err(Error::MissingField {
                field: "project.name".into(),
            });
        }
        if input.domain_id.as_ref().is_some_and(|d| *d != project.domain_id) {
            return Err(Error::invalid(
                "project.domain_id",
                "a project cannot move to another domain",
            ));
        }
        if input
            .parent_id
            .as_ref()
            .is_some_and(|p| Some(p) != project.parent_id.as_ref())
        {
            return Err(Error::invalid(
                "project.parent_id",
                "a project cannot change its parent",
            ));
        }
        if let Some(name) = &input.name {
            project.name = ResourceName::parse("project.name", name, 64)?.into_inner();
        }
        if let Some(d) = &input.description {
            project.description = parse_description("project.description", d)?;
        }
        if let Some(e) = input.enabled {
            project.enabled = e;
        }
        if !self.store.update_project(&project).await? {
            return Err(Error::not_found("project", id));
        }
        self.invalidate_cache();
        Ok(project)
    }

    /// PUT /v3-ext/projects/{id}: freeze (`suspended`) or unfreeze (`normal`).
    pub async fn set_project_status(&self, ctx: &AuthContext, id: &str, status: ProjectStatus) -> Result<()> {
        let result = self.set_project_status_unaudited(ctx, id, status).await;
        self.audit_change(ctx, Action::Updated(Resource::Project), Some(id), &result);
        result
    }

    /// [`Self::set_project_status`] without its audit event.
    async fn set_project_status_unaudited(&self, ctx: &AuthContext, id: &str, status: ProjectStatus) -> Result<()> {
        let mut project = self
            .store
            .get_project(id)
            .await?
            .ok_or_else(|| Error::not_found("project", id))?;
        self.require_project_admin(ctx, &project.id, &project.domain_id)?;
        project.status = status;
        self.store.update_project(&project).await?;
        self.invalidate_cache();
        Ok(())
    }
}
