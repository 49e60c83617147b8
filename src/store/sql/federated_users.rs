//! `FederatedUserStore` for `SqlStore`: shadow users.

use async_trait::async_trait;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::{SqlStore, flag, named, write_error};
use crate::model::{FederatedUser, Protocol};
use crate::store::{FederatedUserStore, StoreResult};

fn federated_user(r: &AnyRow) -> StoreResult<FederatedUser> {
    Ok(FederatedUser {
        id: r.try_get("id")?,
        idp_id: r.try_get("idp_id")?,
        protocol_id: named(r, "protocol_id", Protocol::parse)?,
        name: r.try_get("name")?,
        domain_id: r.try_get("domain_id")?,
        enabled: flag(r, "enabled")?,
        created_at_ms: r.try_get("created_at")?,
        last_login_at_ms: r.try_get("last_login_at")?,
    })
}

#[async_trait]
impl FederatedUserStore for SqlStore {
    async fn record_federated_login(&self, u: &FederatedUser) -> StoreResult<FederatedUser> {
        let queue = self.hot_write().await;
        sqlx::query(
            "INSERT INTO federated_users (id, idp_id, protocol_id, name, domain_id, enabled, created_at, last_login_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
             ON CONFLICT (id) DO UPDATE SET protocol_id = $3, last_login_at = $8",
        )
        .bind(u.id.clone())
        .bind(u.idp_id.clone())
        .bind(u.protocol_id.as_str())
        .bind(u.name.clone())
        .bind(u.domain_id.clone())
        .bind(u.enabled as i64)
        .bind(u.created_at_ms)
        .bind(u.last_login_at_ms)
        .execute(&self.pool)
        .await
        .map_err(|e| write_error(e, "federated user"))?;
        drop(queue);
        let r = sqlx::query("SELECT * FROM federated_users WHERE id = $1")
            .bind(u.id.clone())
            .fetch_one(&self.pool)
            .await?;
        federated_user(&r)
    }

    async fn list_federated_users(&self, idp_id: &str) -> StoreResult<Vec<FederatedUser>> {
        let rows = sqlx::query("SELECT * FROM federated_users WHERE idp_id = $1 ORDER BY name")
            .bind(idp_id.to_string())
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(federated_user).collect()
    }

    async fn get_federated_user(&self, id: &str) -> StoreResult<Option<FederatedUser>> {
        let row = sqlx::query("SELECT * FROM federated_users WHERE id = $1")
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(federated_user).transpose()
    }

    async fn set_federated_user_enabled(&self, id: &str, enabled: bool) -> StoreResult<bool> {
        let done = sqlx::query("UPDATE federated_users SET enabled = $1 WHERE id = $2")
            .bind(enabled as i64)
            .bind(id.to_string())
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }
}
