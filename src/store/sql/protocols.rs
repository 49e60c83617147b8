//! `ProtocolStore` for `SqlStore`.

use async_trait::async_trait;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::{SqlStore, named, write_error};
use crate::model::{Protocol, ProtocolRecord};
use crate::store::{ProtocolStore, StoreResult};

fn protocol_from(row: &AnyRow) -> Result<ProtocolRecord, sqlx::Error> {
    Ok(ProtocolRecord {
        idp_id: row.try_get("idp_id")?,
        id: named(row, "id", Protocol::parse)?,
        mapping_id: row.try_get("mapping_id")?,
    })
}

#[async_trait]
impl ProtocolStore for SqlStore {
    async fn create_protocol(&self, p: &ProtocolRecord) -> StoreResult<()> {
        sqlx::query("INSERT INTO federation_protocols (idp_id, id, mapping_id) VALUES ($1, $2, $3)")
            .bind(p.idp_id.clone())
            .bind(p.id.as_str())
            .bind(p.mapping_id.clone())
            .execute(&self.pool)
            .await
            .map_err(|e| write_error(e, "protocol"))?;
        Ok(())
    }

    async fn get_protocol(&self, idp_id: &str, id: Protocol) -> StoreResult<Option<ProtocolRecord>> {
        let row = sqlx::query("SELECT * FROM federation_protocols WHERE idp_id = $1 AND id = $2")
            .bind(idp_id.to_string())
            .bind(id.as_str())
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(protocol_from).transpose()?)
    }

    async fn list_protocols(&self, idp_id: &str) -> StoreResult<Vec<ProtocolRecord>> {
        let rows = sqlx::query("SELECT * FROM federation_protocols WHERE idp_id = $1 ORDER BY id")
            .bind(idp_id.to_string())
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.iter().map(protocol_from).collect::<Result<_, _>>()?)
    }

    async fn update_protocol(&self, p: &ProtocolRecord) -> StoreResult<bool> {
        let done = sqlx::query("UPDATE federation_protocols SET mapping_id = $3 WHERE idp_id = $1 AND id = $2")
            .bind(p.idp_id.clone())
            .bind(p.id.as_str())
            .bind(p.mapping_id.clone())
            .execute(&self.pool)
            .await
            .map_err(|e| write_error(e, "protocol"))?;
        Ok(done.rows_affected() > 0)
    }

    async fn delete_protocol(&self, idp_id: &str, id: Protocol) -> StoreResult<bool> {
        let done = sqlx::query("DELETE FROM federation_protocols WHERE idp_id = $1 AND id = $2")
            .bind(idp_id.to_string())
            .bind(id.as_str())
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }
}
