//! `RoleStore` for `SqlStore`.

use async_trait::async_trait;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::{SqlStore, write_error};
use crate::model::Role;
use crate::store::{RoleStore, StoreResult};

fn role_from(row: &AnyRow) -> Result<Role, sqlx::Error> {
    Ok(Role {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        display_name: row.try_get("display_name")?,
        role_type: row.try_get("role_type")?,
        catalog: row.try_get("catalog")?,
        flag: row.try_get("flag")?,
        description: row.try_get("description")?,
        domain_id: row.try_get("domain_id")?,
        policy: row.try_get("policy")?,
        created_at_ms: row.try_get("created_at")?,
        updated_at_ms: row.try_get("updated_at")?,
    })
}

#[async_trait]
impl RoleStore for SqlStore {
    async fn create_role(&self, r: &Role) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO roles (id, name, display_name, role_type, catalog, flag, description, domain_id, policy, \
             created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(r.id.clone())
        .bind(r.name.clone())
        .bind(r.display_name.clone())
        .bind(r.role_type.clone())
        .bind(r.catalog.clone())
        .bind(r.flag.clone())
        .bind(r.description.clone())
        .bind(r.domain_id.clone())
        .bind(r.policy.clone())
        .bind(r.created_at_ms)
        .bind(r.updated_at_ms)
        .execute(&self.pool)
        .await
        .map_err(|e| write_error(e, "role"))?;
        Ok(())
    }

    async fn get_role(&self, id: &str) -> StoreResult<Option<Role>> {
        let row = sqlx::query("SELECT * FROM roles WHERE id = $1")
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(role_from).transpose()?)
    }

    async fn get_role_by_name(&self, name: &str) -> StoreResult<Option<Role>> {
        let row = sqlx::query("SELECT * FROM roles WHERE name = $1")
            .bind(name.to_string())
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(role_from).transpose()?)
    }

    async fn list_roles(&self) -> StoreResult<Vec<Role>> {
        let rows = sqlx::query("SELECT * FROM roles ORDER BY name, id")
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.iter().map(role_from).collect::<Result<_, _>>()?)
    }
}
