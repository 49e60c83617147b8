//! `IdentityProviderStore` for `SqlStore`: providers and their remote ids.

use async_trait::async_trait;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Backend, SqlStore, flag, named, write_error};
use crate::model::{IdentityProvider, SsoType};
use crate::store::{IdentityProviderStore, StoreError, StoreResult};

/// The conflict `create_idp` reports when the account's providers are of the other kind.
pub const SSO_TYPE_CONFLICT: &str = "sso_type";

impl SqlStore {
    async fn idp_from(&self, row: &AnyRow) -> StoreResult<IdentityProvider> {
        let id: String = row.try_get("id")?;
        let remote_ids = sqlx::query("SELECT remote_id FROM idp_remote_ids WHERE idp_id = $1 ORDER BY remote_id")
            .bind(id.clone())
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| r.try_get::<String, _>("remote_id"))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(IdentityProvider {
            id,
            domain_id: row.try_get("domain_id")?,
            sso_type: named(row, "sso_type", SsoType::parse)?,
            description: row.try_get("description")?,
            enabled: flag(row, "enabled")?,
            remote_ids,
            created_at_ms: row.try_get("created_at")?,
        })
    }
}

#[async_trait]
impl IdentityProviderStore for SqlStore {
    async fn create_idp(&self, idp: &IdentityProvider) -> StoreResult<()> {
        let mut tx = self.write_tx().await?;
        if self.backend == Backend::Postgres {
            // Serialises provider creation per account, so the kind check below sees every
            // committed provider (SQLite runs one write at a time anyway).
            sqlx::query("SELECT id FROM domains WHERE id = $1 FOR UPDATE")
                .bind(idp.domain_id.clone())
                .fetch_optional(&mut *tx)
                .await?;
        }
        // The reference (L16930): virtual_user_sso and iam_user_sso are exclusive within an
        // account, and it has at most one iam_user_sso provider.
        let done = sqlx::query(
            "INSERT INTO identity_providers (id, domain_id, sso_type, description, enabled, created_at) \
             SELECT $1, $2, $3, $4, $5, $6 WHERE NOT EXISTS (SELECT 1 FROM identity_providers \
             WHERE domain_id = $2 AND (sso_type = 'iam_user_sso' OR $3 = 'iam_user_sso'))",
        )
        .bind(idp.id.clone())
        .bind(idp.domain_id.clone())
        .bind(idp.sso_type.as_str())
        .bind(idp.description.clone())
        .bind(idp.enabled as i64)
        .bind(idp.created_at_ms)
        .execute(&mut *tx)
        .await
        .map_err(|e| write_error(e, "identity provider"))?;
        if done.rows_affected() == 0 {
            return Err(StoreError::Conflict(SSO_TYPE_CONFLICT.into()));
        }
        for remote in &idp.remote_ids {
            sqlx::query("INSERT INTO idp_remote_ids (remote_id, idp_id) VALUES ($1, $2)")
                .bind(remote.clone())
                .bind(idp.id.clone())
                .execute(&mut *tx)
                .await
                .map_err(|e| write_error(e, "remote id"))?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn get_idp(&self, id: &str) -> StoreResult<Option<IdentityProvider>> {
        let row = sqlx::query("SELECT * FROM identity_providers WHERE id = $1")
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await?;
        match row {
            Some(r) => Ok(Some(self.idp_from(&r).await?)),
            None => Ok(None),
        }
    }

    async fn list_idps(&self) -> StoreResult<Vec<IdentityProvider>> {
        let rows = sqlx::query("SELECT * FROM identity_providers ORDER BY id")
            .fetch_all(&self.pool)
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            out.push(self.idp_from(r).await?);
        }
        Ok(out)
    }

    async fn update_idp(&self, idp: &IdentityProvider, was_enabled: bool) -> StoreResult<bool> {
        let mut tx = self.write_tx().await?;
        let done =
            sqlx::query("UPDATE identity_providers SET description = $2, enabled = $3 WHERE id = $1 AND enabled = $4")
                .bind(idp.id.clone())
                .bind(idp.description.clone())
                .bind(idp.enabled as i64)
                .bind(was_enabled as i64)
                .execute(&mut *tx)
                .await?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        sqlx::query("DELETE FROM idp_remote_ids WHERE idp_id = $1")
            .bind(idp.id.clone())
            .execute(&mut *tx)
            .await?;
        for remote in &idp.remote_ids {
            sqlx::query("INSERT INTO idp_remote_ids (remote_id, idp_id) VALUES ($1, $2)")
                .bind(remote.clone())
                .bind(idp.id.clone())
                .execute(&mut *tx)
                .await
                .map_err(|e| write_error(e, "remote id"))?;
        }
        tx.commit().await?;
        Ok(true)
    }

    async fn delete_idp(&self, id: &str) -> StoreResult<bool> {
        let done = sqlx::query("DELETE FROM identity_providers WHERE id = $1")
            .bind(id.to_string())
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }
}
