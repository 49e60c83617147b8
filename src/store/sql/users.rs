//! `UserStore` for `SqlStore`.

use async_trait::async_trait;
use sqlx::any::AnyRow;
use sqlx::{AssertSqlSafe, Row};

use super::{Filter, SqlStore, flag, named, write_error};
use crate::model::{User, UserAccessMode, UserFilter};
use crate::store::{StoreResult, UserStore};

pub(super) const USER_COLUMNS: &str = "id, domain_id, name, password_hash, enabled, description, email, areacode, phone, \
     access_mode, pwd_status, xuser_type, xuser_id, password_expires_at, last_project_id, is_domain_owner, \
     created_at, updated_at, password_changed_at, last_login_at, display_name";

pub(super) fn user_from(row: &AnyRow) -> Result<User, sqlx::Error> {
    Ok(User {
        id: row.try_get("id")?,
        domain_id: row.try_get("domain_id")?,
        name: row.try_get("name")?,
        password_hash: row.try_get("password_hash")?,
        enabled: flag(row, "enabled")?,
        description: row.try_get("description")?,
        display_name: row.try_get("display_name")?,
        email: row.try_get("email")?,
        areacode: row.try_get("areacode")?,
        phone: row.try_get("phone")?,
        access_mode: named(row, "access_mode", UserAccessMode::parse)?,
        pwd_status: flag(row, "pwd_status")?,
        xuser_type: row.try_get("xuser_type")?,
        xuser_id: row.try_get("xuser_id")?,
        password_expires_at_ms: row.try_get("password_expires_at")?,
        last_project_id: row.try_get("last_project_id")?,
        is_domain_owner: flag(row, "is_domain_owner")?,
        created_at_ms: row.try_get("created_at")?,
        updated_at_ms: row.try_get("updated_at")?,
        password_changed_at_ms: row.try_get("password_changed_at")?,
        last_login_at_ms: row.try_get("last_login_at")?,
    })
}

#[async_trait]
impl UserStore for SqlStore {
    async fn create_user(&self, u: &User) -> StoreResult<()> {
        sqlx::query(AssertSqlSafe(format!(
            "INSERT INTO users ({USER_COLUMNS}) VALUES \
             ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21)"
        )))
        .bind(u.id.clone())
        .bind(u.domain_id.clone())
        .bind(u.name.clone())
        .bind(u.password_hash.clone())
        .bind(u.enabled as i64)
        .bind(u.description.clone())
        .bind(u.email.clone())
        .bind(u.areacode.clone())
        .bind(u.phone.clone())
        .bind(u.access_mode.as_str())
        .bind(u.pwd_status as i64)
        .bind(u.xuser_type.clone())
        .bind(u.xuser_id.clone())
        .bind(u.password_expires_at_ms)
        .bind(u.last_project_id.clone())
        .bind(u.is_domain_owner as i64)
        .bind(u.created_at_ms)
        .bind(u.updated_at_ms)
        .bind(u.password_changed_at_ms)
        .bind(u.last_login_at_ms)
        .bind(u.display_name.clone())
        .execute(&self.pool)
        .await
        .map_err(|e| write_error(e, "user"))?;
        Ok(())
    }

    async fn get_user(&self, id: &str) -> StoreResult<Option<User>> {
        let row = sqlx::query(AssertSqlSafe(format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1")))
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(user_from).transpose()?)
    }

    async fn get_user_by_name(&self, domain_id: &str, name: &str) -> StoreResult<Option<User>> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {USER_COLUMNS} FROM users WHERE domain_id = $1 AND name = $2"
        )))
        .bind(domain_id.to_string())
        .bind(name.to_string())
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(user_from).transpose()?)
    }

    async fn get_user_by_external_id(
        &self,
        domain_id: &str,
        xuser_type: &str,
        xuser_id: &str,
    ) -> StoreResult<Option<User>> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {USER_COLUMNS} FROM users WHERE domain_id = $1 AND xuser_type = $2 AND xuser_id = $3"
        )))
        .bind(domain_id.to_string())
        .bind(xuser_type.to_string())
        .bind(xuser_id.to_string())
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(user_from).transpose()?)
    }

    async fn list_users(&self, f: &UserFilter) -> StoreResult<Vec<User>> {
        let mut filter = Filter::new(&format!("SELECT {USER_COLUMNS} FROM users"));
        filter
            .and_eq("domain_id", f.domain_id.as_deref())
            .and_eq("name", f.name.as_deref())
            .and_bool("enabled", f.enabled);
        let rows = filter.ordered_by("name, id")?.fetch_all(&self.pool).await?;
        Ok(rows.iter().map(user_from).collect::<Result<_, _>>()?)
    }

    async fn update_user(&self, u: &User) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE users SET name = $2, password_hash = $3, enabled = $4, description = $5, email = $6, \
             areacode = $7, phone = $8, access_mode = $9, pwd_status = $10, xuser_type = $11, xuser_id = $12, \
             password_expires_at = $13, last_project_id = $14, updated_at = $15, password_changed_at = $16, \
             last_login_at = $17, display_name = $18 WHERE id = $1",
        )
        .bind(u.id.clone())
        .bind(u.name.clone())
        .bind(u.password_hash.clone())
        .bind(u.enabled as i64)
        .bind(u.description.clone())
        .bind(u.email.clone())
        .bind(u.areacode.clone())
        .bind(u.phone.clone())
        .bind(u.access_mode.as_str())
        .bind(u.pwd_status as i64)
        .bind(u.xuser_type.clone())
        .bind(u.xuser_id.clone())
        .bind(u.password_expires_at_ms)
        .bind(u.last_project_id.clone())
        .bind(u.updated_at_ms)
        .bind(u.password_changed_at_ms)
        .bind(u.last_login_at_ms)
        .bind(u.display_name.clone())
        .execute(&self.pool)
        .await
        .map_err(|e| write_error(e, "user"))?;
        Ok(done.rows_affected() > 0)
    }

    async fn delete_user(&self, id: &str) -> StoreResult<bool> {
        let done = sqlx::query("DELETE FROM users WHERE id = $1")
            .bind(id.to_string())
            .execute(&self.pool)
            .await
            .map_err(|e| write_error(e, "user"))?;
        Ok(done.rows_affected() > 0)
    }
}
