//! `ProviderConfigStore` for `SqlStore`: OpenID Connect configurations and SAML metadata.

use async_trait::async_trait;
use sqlx::Row;

use super::{SqlStore, named, write_error};
use crate::model::{Protocol, StoredSamlMetadata};
use crate::store::{ProviderConfigStore, StoreResult};

#[async_trait]
impl ProviderConfigStore for SqlStore {
    async fn create_oidc_config(&self, idp_id: &str, config: &str, now_ms: i64) -> StoreResult<()> {
        sqlx::query("INSERT INTO idp_oidc_configs (idp_id, config, created_at, updated_at) VALUES ($1, $2, $3, $3)")
            .bind(idp_id.to_string())
            .bind(config.to_string())
            .bind(now_ms)
            .execute(&self.pool)
            .await
            .map_err(|e| write_error(e, "OpenID Connect configuration"))?;
        Ok(())
    }

    async fn update_oidc_config(&self, idp_id: &str, config: &str, now_ms: i64) -> StoreResult<bool> {
        let done = sqlx::query("UPDATE idp_oidc_configs SET config = $2, updated_at = $3 WHERE idp_id = $1")
            .bind(idp_id.to_string())
            .bind(config.to_string())
            .bind(now_ms)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn get_oidc_config(&self, idp_id: &str) -> StoreResult<Option<String>> {
        let row = sqlx::query("SELECT config FROM idp_oidc_configs WHERE idp_id = $1")
            .bind(idp_id.to_string())
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| r.try_get("config")).transpose()?)
    }

    async fn put_saml_metadata(&self, m: &StoredSamlMetadata) -> StoreResult<()> {
        let mut tx = self.write_tx().await?;
        sqlx::query("DELETE FROM idp_saml_metadata WHERE idp_id = $1 AND protocol_id = $2")
            .bind(m.idp_id.clone())
            .bind(m.protocol_id.as_str())
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO idp_saml_metadata (idp_id, protocol_id, id, domain_id, xaccount_type, entity_id, data, \
             parsed, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(m.idp_id.clone())
        .bind(m.protocol_id.as_str())
        .bind(m.id.clone())
        .bind(m.domain_id.clone())
        .bind(m.xaccount_type.clone())
        .bind(m.entity_id.clone())
        .bind(m.data.clone())
        .bind(m.parsed.clone())
        .bind(m.updated_at_ms)
        .execute(&mut *tx)
        .await
        .map_err(|e| write_error(e, "metadata"))?;
        tx.commit().await?;
        Ok(())
    }

    async fn get_saml_metadata(&self, idp_id: &str, protocol_id: Protocol) -> StoreResult<Option<StoredSamlMetadata>> {
        let row = sqlx::query("SELECT * FROM idp_saml_metadata WHERE idp_id = $1 AND protocol_id = $2")
            .bind(idp_id.to_string())
            .bind(protocol_id.as_str())
            .fetch_optional(&self.pool)
            .await?;
        let Some(r) = row else { return Ok(None) };
        Ok(Some(StoredSamlMetadata {
            idp_id: r.try_get("idp_id")?,
            protocol_id: named(&r, "protocol_id", Protocol::parse)?,
            id: r.try_get("id")?,
            domain_id: r.try_get("domain_id")?,
            xaccount_type: r.try_get("xaccount_type")?,
            entity_id: r.try_get("entity_id")?,
            data: r.try_get("data")?,
            parsed: r.try_get("parsed")?,
            updated_at_ms: r.try_get("updated_at")?,
        }))
    }
}
