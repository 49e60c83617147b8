//! `DomainStore` for `SqlStore`: accounts, and deleting one with everything in it.

use async_trait::async_trait;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::{SqlStore, flag, write_error};
use crate::model::Domain;
use crate::store::{DomainStore, StoreResult};

/// What hangs off a domain, removed child before parent in one transaction. Every statement
/// takes the domain id as $1. Foreign-key cascades would reach most of it, but grants name
/// their actors and targets without keys, and projects refuse to lose a parent (RESTRICT),
/// so nothing is left to the order in which a backend cascades.
const DELETE_CONTENTS: [&str; 17] = [
    "DELETE FROM grants WHERE (target_kind = 'domain' AND target_id = $1) \
       OR (target_kind = 'project' AND target_id IN (SELECT id FROM projects WHERE domain_id = $1)) \
       OR (actor_kind = 'group' AND actor_id IN (SELECT id FROM user_groups WHERE domain_id = $1)) \
       OR (actor_kind = 'agency' AND actor_id IN (SELECT id FROM agencies WHERE domain_id = $1))",
    "DELETE FROM group_members WHERE group_id IN (SELECT id FROM user_groups WHERE domain_id = $1) \
       OR user_id IN (SELECT id FROM users WHERE domain_id = $1)",
    "DELETE FROM access_keys WHERE user_id IN (SELECT id FROM users WHERE domain_id = $1)",
    "DELETE FROM login_failures WHERE user_id IN (SELECT id FROM users WHERE domain_id = $1)",
    "DELETE FROM users WHERE domain_id = $1",
    "DELETE FROM user_groups WHERE domain_id = $1",
    "DELETE FROM agencies WHERE domain_id = $1",
    "DELETE FROM federated_users WHERE idp_id IN (SELECT id FROM identity_providers WHERE domain_id = $1)",
    "DELETE FROM idp_saml_metadata WHERE idp_id IN (SELECT id FROM identity_providers WHERE domain_id = $1)",
    "DELETE FROM idp_oidc_configs WHERE idp_id IN (SELECT id FROM identity_providers WHERE domain_id = $1)",
    "DELETE FROM federation_protocols WHERE idp_id IN (SELECT id FROM identity_providers WHERE domain_id = $1)",
    "DELETE FROM idp_remote_ids WHERE idp_id IN (SELECT id FROM identity_providers WHERE domain_id = $1)",
    "DELETE FROM identity_providers WHERE domain_id = $1",
    "DELETE FROM mappings WHERE domain_id = $1",
    "UPDATE projects SET parent_id = NULL WHERE domain_id = $1",
    "DELETE FROM projects WHERE domain_id = $1",
    "DELETE FROM roles WHERE domain_id = $1",
];

fn domain_from(row: &AnyRow) -> Result<Domain, sqlx::Error> {
    Ok(Domain {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        description: row.try_get("description")?,
        enabled: flag(row, "enabled")?,
        created_at_ms: row.try_get("created_at")?,
    })
}

#[async_trait]
impl DomainStore for SqlStore {
    async fn create_domain(&self, d: &Domain) -> StoreResult<()> {
        sqlx::query("INSERT INTO domains (id, name, description, enabled, created_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(d.id.clone())
            .bind(d.name.clone())
            .bind(d.description.clone())
            .bind(d.enabled as i64)
            .bind(d.created_at_ms)
            .execute(&self.pool)
            .await
            .map_err(|e| write_error(e, "domain"))?;
        Ok(())
    }

    async fn get_domain(&self, id: &str) -> StoreResult<Option<Domain>> {
        let row = sqlx::query("SELECT * FROM domains WHERE id = $1")
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(domain_from).transpose()?)
    }

    async fn get_domain_by_name(&self, name: &str) -> StoreResult<Option<Domain>> {
        let row = sqlx::query("SELECT * FROM domains WHERE name = $1")
            .bind(name.to_string())
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(domain_from).transpose()?)
    }

    async fn list_domains(&self) -> StoreResult<Vec<Domain>> {
        let rows = sqlx::query("SELECT * FROM domains ORDER BY name, id")
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.iter().map(domain_from).collect::<Result<_, _>>()?)
    }

    async fn update_domain(&self, d: &Domain) -> StoreResult<bool> {
        let done = sqlx::query("UPDATE domains SET name = $2, description = $3, enabled = $4 WHERE id = $1")
            .bind(d.id.clone())
            .bind(d.name.clone())
            .bind(d.description.clone())
            .bind(d.enabled as i64)
            .execute(&self.pool)
            .await
            .map_err(|e| write_error(e, "domain"))?;
        Ok(done.rows_affected() > 0)
    }

    async fn delete_domain(&self, id: &str) -> StoreResult<bool> {
        let mut tx = self.write_tx().await?;
        let enabled: Option<i64> = sqlx::query_scalar("SELECT enabled FROM domains WHERE id = $1")
            .bind(id.to_string())
            .fetch_optional(&mut *tx)
            .await?;
        if enabled != Some(0) {
            return Ok(false);
        }
        for statement in DELETE_CONTENTS {
            sqlx::query(statement)
                .bind(id.to_string())
                .execute(&mut *tx)
                .await
                .map_err(|e| write_error(e, "domain contents"))?;
        }
        // Still disabled: an enable that raced this delete wins, and nothing is removed.
        let done = sqlx::query("DELETE FROM domains WHERE id = $1 AND enabled = 0")
            .bind(id.to_string())
            .execute(&mut *tx)
            .await
            .map_err(|e| write_error(e, "domain"))?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        tx.commit().await?;
        Ok(true)
    }
}
