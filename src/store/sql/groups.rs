//! `GroupStore` for `SqlStore`: groups and their members.

use async_trait::async_trait;
use sqlx::any::AnyRow;
use sqlx::{AssertSqlSafe, Row};

use super::users::{USER_COLUMNS, user_from};
use super::{Filter, SqlStore, write_error};
use crate::model::{Group, GroupFilter, User};
use crate::store::{GroupStore, StoreResult};

fn group_from(row: &AnyRow) -> Result<Group, sqlx::Error> {
    Ok(Group {
        id: row.try_get("id")?,
        domain_id: row.try_get("domain_id")?,
        name: row.try_get("name")?,
        description: row.try_get("description")?,
        display_name: row.try_get("display_name")?,
        created_at_ms: row.try_get("created_at")?,
    })
}

#[async_trait]
impl GroupStore for SqlStore {
    async fn create_group(&self, g: &Group) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO user_groups (id, domain_id, name, description, created_at, display_name) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(g.id.clone())
        .bind(g.domain_id.clone())
        .bind(g.name.clone())
        .bind(g.description.clone())
        .bind(g.created_at_ms)
        .bind(g.display_name.clone())
        .execute(&self.pool)
        .await
        .map_err(|e| write_error(e, "group"))?;
        Ok(())
    }

    async fn get_group(&self, id: &str) -> StoreResult<Option<Group>> {
        let row = sqlx::query("SELECT * FROM user_groups WHERE id = $1")
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(group_from).transpose()?)
    }

    async fn list_groups(&self, f: &GroupFilter) -> StoreResult<Vec<Group>> {
        let mut filter = Filter::new("SELECT * FROM user_groups");
        filter
            .and_eq("domain_id", f.domain_id.as_deref())
            .and_eq("name", f.name.as_deref());
        let rows = filter.ordered_by("name, id")?.fetch_all(&self.pool).await?;
        Ok(rows.iter().map(group_from).collect::<Result<_, _>>()?)
    }

    async fn update_group(&self, g: &Group) -> StoreResult<bool> {
        let done = sqlx::query("UPDATE user_groups SET name = $2, description = $3, display_name = $4 WHERE id = $1")
            .bind(g.id.clone())
            .bind(g.name.clone())
            .bind(g.description.clone())
            .bind(g.display_name.clone())
            .execute(&self.pool)
            .await
            .map_err(|e| write_error(e, "group"))?;
        Ok(done.rows_affected() > 0)
    }

    async fn delete_group(&self, id: &str) -> StoreResult<bool> {
        let mut tx = self.write_tx().await?;
        sqlx::query("DELETE FROM grants WHERE actor_kind = 'group' AND actor_id = $1")
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?;
        let done = sqlx::query("DELETE FROM user_groups WHERE id = $1")
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(done.rows_affected() > 0)
    }

    async fn add_member(&self, group_id: &str, user_id: &str) -> StoreResult<()> {
        sqlx::query("INSERT INTO group_members (group_id, user_id) VALUES ($1, $2) ON CONFLICT DO NOTHING")
            .bind(group_id.to_string())
            .bind(user_id.to_string())
            .execute(&self.pool)
            .await
            .map_err(|e| write_error(e, "membership"))?;
        Ok(())
    }

    async fn remove_member(&self, group_id: &str, user_id: &str) -> StoreResult<bool> {
        let done = sqlx::query("DELETE FROM group_members WHERE group_id = $1 AND user_id = $2")
            .bind(group_id.to_string())
            .bind(user_id.to_string())
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn is_member(&self, group_id: &str, user_id: &str) -> StoreResult<bool> {
        let row = sqlx::query("SELECT 1 AS one FROM group_members WHERE group_id = $1 AND user_id = $2")
            .bind(group_id.to_string())
            .bind(user_id.to_string())
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.is_some())
    }

    async fn list_members(&self, group_id: &str) -> StoreResult<Vec<User>> {
        let columns = USER_COLUMNS
            .split(", ")
            .map(|c| format!("u.{}", c.trim()))
            .collect::<Vec<_>>()
            .join(", ");
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {columns} FROM users u JOIN group_members m ON m.user_id = u.id \
             WHERE m.group_id = $1 ORDER BY u.name, u.id"
        )))
        .bind(group_id.to_string())
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(user_from).collect::<Result<_, _>>()?)
    }

    async fn list_groups_of_user(&self, user_id: &str) -> StoreResult<Vec<Group>> {
        let rows = sqlx::query(
            "SELECT g.id, g.domain_id, g.name, g.description, g.created_at, g.display_name FROM user_groups g \
             JOIN group_members m ON m.group_id = g.id WHERE m.user_id = $1 ORDER BY g.name, g.id",
        )
        .bind(user_id.to_string())
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(group_from).collect::<Result<_, _>>()?)
    }
}
