//! `AgencyStore` for `SqlStore`.

use async_trait::async_trait;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Filter, SqlStore, write_error};
use crate::model::{Agency, AgencyFilter};
use crate::store::{AgencyStore, StoreResult};

fn agency_from(row: &AnyRow) -> Result<Agency, sqlx::Error> {
    Ok(Agency {
        id: row.try_get("id")?,
        domain_id: row.try_get("domain_id")?,
        name: row.try_get("name")?,
        trust_domain_id: row.try_get("trust_domain_id")?,
        description: row.try_get("description")?,
        duration: row.try_get("duration")?,
        expire_at_ms: row.try_get("expire_at")?,
        created_at_ms: row.try_get("created_at")?,
    })
}

#[async_trait]
impl AgencyStore for SqlStore {
    async fn create_agency(&self, a: &Agency) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO agencies (id, domain_id, name, trust_domain_id, description, duration, expire_at, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(a.id.clone())
        .bind(a.domain_id.clone())
        .bind(a.name.clone())
        .bind(a.trust_domain_id.clone())
        .bind(a.description.clone())
        .bind(a.duration.clone())
        .bind(a.expire_at_ms)
        .bind(a.created_at_ms)
        .execute(&self.pool)
        .await
        .map_err(|e| write_error(e, "agency"))?;
        Ok(())
    }

    async fn get_agency(&self, id: &str) -> StoreResult<Option<Agency>> {
        let row = sqlx::query("SELECT * FROM agencies WHERE id = $1")
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(agency_from).transpose()?)
    }

    async fn list_agencies(&self, f: &AgencyFilter) -> StoreResult<Vec<Agency>> {
        let mut filter = Filter::new("SELECT * FROM agencies");
        filter
            .and_eq("domain_id", f.domain_id.as_deref())
            .and_eq("name", f.name.as_deref())
            .and_eq("trust_domain_id", f.trust_domain_id.as_deref());
        let rows = filter.ordered_by("name, id")?.fetch_all(&self.pool).await?;
        Ok(rows.iter().map(agency_from).collect::<Result<_, _>>()?)
    }

    async fn update_agency(&self, a: &Agency) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE agencies SET trust_domain_id = $2, description = $3, duration = $4, expire_at = $5 WHERE id = $1",
        )
        .bind(a.id.clone())
        .bind(a.trust_domain_id.clone())
        .bind(a.description.clone())
        .bind(a.duration.clone())
        .bind(a.expire_at_ms)
        .execute(&self.pool)
        .await
        .map_err(|e| write_error(e, "agency"))?;
        Ok(done.rows_affected() > 0)
    }

    async fn delete_agency(&self, id: &str) -> StoreResult<bool> {
        let mut tx = self.write_tx().await?;
        sqlx::query("DELETE FROM grants WHERE actor_kind = 'agency' AND actor_id = $1")
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?;
        let done = sqlx::query("DELETE FROM agencies WHERE id = $1")
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(done.rows_affected() > 0)
    }
}
