//! `GrantStore` for `SqlStore`.

use async_trait::async_trait;
use sqlx::any::{AnyArguments, AnyRow};
use sqlx::query::Query;
use sqlx::{Any, Row};

use super::{Filter, SqlStore, flag, write_error};
use crate::model::{ActorKind, Grant, GrantFilter, TargetKind};
use crate::store::{GrantStore, StoreResult};

fn grant_from(row: &AnyRow) -> Result<Grant, sqlx::Error> {
    let actor: String = row.try_get("actor_kind")?;
    let target: String = row.try_get("target_kind")?;
    let corrupt = |what: &str| sqlx::Error::Decode(format!("unknown {what} in grants").into());
    Ok(Grant {
        actor_kind: match actor.as_str() {
            "group" => ActorKind::Group,
            "agency" => ActorKind::Agency,
            _ => return Err(corrupt("actor_kind")),
        },
        actor_id: row.try_get("actor_id")?,
        role_id: row.try_get("role_id")?,
        target_kind: match target.as_str() {
            "domain" => TargetKind::Domain,
            "project" => TargetKind::Project,
            _ => return Err(corrupt("target_kind")),
        },
        target_id: row.try_get("target_id")?,
        inherited: flag(row, "inherited")?,
    })
}

// A grant's whole row is its key; both statements bind it with `bind_grant`.
const DELETE_GRANT: &str = "DELETE FROM grants WHERE actor_kind = $1 AND actor_id = $2 AND role_id = $3 \
     AND target_kind = $4 AND target_id = $5 AND inherited = $6";
const GRANT_EXISTS: &str = "SELECT 1 AS one FROM grants WHERE actor_kind = $1 AND actor_id = $2 AND role_id = $3 \
     AND target_kind = $4 AND target_id = $5 AND inherited = $6";

fn bind_grant<'q>(query: Query<'q, Any, AnyArguments>, g: &Grant) -> Query<'q, Any, AnyArguments> {
    query
        .bind(g.actor_kind.as_str())
        .bind(g.actor_id.clone())
        .bind(g.role_id.clone())
        .bind(g.target_kind.as_str())
        .bind(g.target_id.clone())
        .bind(g.inherited as i64)
}

#[async_trait]
impl GrantStore for SqlStore {
    async fn create_grant(&self, g: &Grant) -> StoreResult<bool> {
        let done = sqlx::query(
            "INSERT INTO grants (actor_kind, actor_id, role_id, target_kind, target_id, inherited) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
        )
        .bind(g.actor_kind.as_str().to_string())
        .bind(g.actor_id.clone())
        .bind(g.role_id.clone())
        .bind(g.target_kind.as_str().to_string())
        .bind(g.target_id.clone())
        .bind(g.inherited as i64)
        .execute(&self.pool)
        .await
        .map_err(|e| write_error(e, "grant"))?;
        Ok(done.rows_affected() > 0)
    }

    async fn delete_grant(&self, g: &Grant) -> StoreResult<bool> {
        let done = bind_grant(sqlx::query(DELETE_GRANT), g).execute(&self.pool).await?;
        Ok(done.rows_affected() > 0)
    }

    async fn grant_exists(&self, g: &Grant) -> StoreResult<bool> {
        let row = bind_grant(sqlx::query(GRANT_EXISTS), g)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.is_some())
    }

    async fn list_grants(&self, f: &GrantFilter) -> StoreResult<Vec<Grant>> {
        let mut filter = Filter::new("SELECT * FROM grants");
        filter
            .and_eq("actor_kind", f.actor_kind.map(ActorKind::as_str))
            .and_eq("role_id", f.role_id.as_deref())
            .and_eq("target_kind", f.target_kind.map(TargetKind::as_str))
            .and_bool("inherited", f.inherited)
            .and_in("actor_id", f.actor_ids.as_deref())
            .and_in("target_id", f.target_ids.as_deref());
        let rows = filter
            .ordered_by("actor_kind, actor_id, target_kind, target_id, role_id, inherited")?
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.iter().map(grant_from).collect::<Result<_, _>>()?)
    }
}
