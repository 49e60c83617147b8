//! `MappingStore` for `SqlStore`.

use async_trait::async_trait;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::{SqlStore, write_error};
use crate::model::MappingRecord;
use crate::store::{MappingStore, StoreError, StoreResult};

fn mapping_from(row: &AnyRow) -> Result<MappingRecord, sqlx::Error> {
    Ok(MappingRecord {
        id: row.try_get("id")?,
        domain_id: row.try_get("domain_id")?,
        document: row.try_get("document")?,
        created_at_ms: row.try_get("created_at")?,
        updated_at_ms: row.try_get("updated_at")?,
    })
}

#[async_trait]
impl MappingStore for SqlStore {
    async fn create_mapping(&self, m: &MappingRecord) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO mappings (id, domain_id, document, created_at, updated_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(m.id.clone())
        .bind(m.domain_id.clone())
        .bind(m.document.clone())
        .bind(m.created_at_ms)
        .bind(m.updated_at_ms)
        .execute(&self.pool)
        .await
        .map_err(|e| write_error(e, "mapping"))?;
        Ok(())
    }

    async fn get_mapping(&self, id: &str) -> StoreResult<Option<MappingRecord>> {
        let row = sqlx::query("SELECT * FROM mappings WHERE id = $1")
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(mapping_from).transpose()?)
    }

    async fn list_mappings(&self) -> StoreResult<Vec<MappingRecord>> {
        let rows = sqlx::query("SELECT * FROM mappings ORDER BY id")
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.iter().map(mapping_from).collect::<Result<_, _>>()?)
    }

    async fn update_mapping(&self, m: &MappingRecord) -> StoreResult<bool> {
        let done = sqlx::query("UPDATE mappings SET document = $2, updated_at = $3 WHERE id = $1")
            .bind(m.id.clone())
            .bind(m.document.clone())
            .bind(m.updated_at_ms)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn delete_mapping(&self, id: &str) -> StoreResult<bool> {
        let mut tx = self.write_tx().await?;
        let used = sqlx::query("SELECT 1 AS one FROM federation_protocols WHERE mapping_id = $1")
            .bind(id.to_string())
            .fetch_optional(&mut *tx)
            .await?;
        if used.is_some() {
            return Err(StoreError::Conflict(format!("mapping {id} is used by a protocol")));
        }
        let done = sqlx::query("DELETE FROM mappings WHERE id = $1")
            .bind(id.to_string())
            .execute(&mut *tx)
            .await
            .map_err(|e| write_error(e, "mapping"))?;
        tx.commit().await?;
        Ok(done.rows_affected() > 0)
    }
}
