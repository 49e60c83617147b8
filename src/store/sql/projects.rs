//! `ProjectStore` for `SqlStore`.

use async_trait::async_trait;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Filter, SqlStore, flag, named, write_error};
use crate::model::{Project, ProjectFilter, ProjectStatus};
use crate::store::{ProjectStore, StoreResult};

fn project_from(row: &AnyRow) -> Result<Project, sqlx::Error> {
    Ok(Project {
        id: row.try_get("id")?,
        domain_id: row.try_get("domain_id")?,
        name: row.try_get("name")?,
        description: row.try_get("description")?,
        enabled: flag(row, "enabled")?,
        parent_id: row.try_get("parent_id")?,
        status: named(row, "status", ProjectStatus::parse)?,
        created_at_ms: row.try_get("created_at")?,
    })
}

#[async_trait]
impl ProjectStore for SqlStore {
    async fn create_project(&self, p: &Project) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO projects (id, domain_id, name, description, enabled, parent_id, status, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(p.id.clone())
        .bind(p.domain_id.clone())
        .bind(p.name.clone())
        .bind(p.description.clone())
        .bind(p.enabled as i64)
        .bind(p.parent_id.clone())
        .bind(p.status.as_str())
        .bind(p.created_at_ms)
        .execute(&self.pool)
        .await
        .map_err(|e| write_error(e, "project"))?;
        Ok(())
    }

    async fn get_project(&self, id: &str) -> StoreResult<Option<Project>> {
        let row = sqlx::query("SELECT * FROM projects WHERE id = $1")
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(project_from).transpose()?)
    }

    async fn get_project_by_name(&self, domain_id: &str, name: &str) -> StoreResult<Option<Project>> {
        let row = sqlx::query("SELECT * FROM projects WHERE domain_id = $1 AND name = $2")
            .bind(domain_id.to_string())
            .bind(name.to_string())
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(project_from).transpose()?)
    }

    async fn list_projects(&self, f: &ProjectFilter) -> StoreResult<Vec<Project>> {
        let mut filter = Filter::new("SELECT * FROM projects");
        filter
            .and_eq("domain_id", f.domain_id.as_deref())
            .and_eq("name", f.name.as_deref())
            .and_eq("parent_id", f.parent_id.as_deref())
            .and_bool("enabled", f.enabled)
            .and_in("id", f.ids.as_deref());
        let rows = filter.ordered_by("name, id")?.fetch_all(&self.pool).await?;
        Ok(rows.iter().map(project_from).collect::<Result<_, _>>()?)
    }

    async fn update_project(&self, p: &Project) -> StoreResult<bool> {
        let done =
            sqlx::query("UPDATE projects SET name = $2, description = $3, enabled = $4, status = $5 WHERE id = $1")
                .bind(p.id.clone())
                .bind(p.name.clone())
                .bind(p.description.clone())
                .bind(p.enabled as i64)
                .bind(p.status.as_str())
                .execute(&self.pool)
                .await
                .map_err(|e| write_error(e, "project"))?;
        Ok(done.rows_affected() > 0)
    }
}
