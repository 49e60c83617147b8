//! Agencies: the trust one account gives another to act in it.

use serde::Deserialize;

use super::super::names::{ResourceName, parse_description};
use super::super::{Accounts, AuthContext, Error, Result, new_id};
use crate::audit::{Action, Resource};
use crate::model::*;

#[derive(Debug, Deserialize, Default, utoipa::ToSchema)]
pub struct AgencyInput {
    pub name: Option<String>,
    pub domain_id: Option<String>,
    pub trust_domain_id: Option<String>,
    pub trust_domain_name: Option<String>,
    pub description: Option<String>,
    /// `FOREVER` (the default), `ONEDAY`, or a number of days (1 to 36500) as text or integer.
    #[schema(value_type = Option<AgencyDuration>)]
    pub duration: Option<serde_json::Value>,
}

/// The document's name for `agency.duration`, which arrives as text or as a number.
pub struct AgencyDuration;

impl utoipa::PartialSchema for AgencyDuration {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::{ObjectBuilder, OneOfBuilder, Type};
        OneOfBuilder::new()
            .item(ObjectBuilder::new().schema_type(Type::String))
            .item(ObjectBuilder::new().schema_type(Type::Integer))
            .description(Some("`FOREVER`, `ONEDAY`, or a number of days from 1 to 36500."))
            .into()
    }
}

impl utoipa::ToSchema for AgencyDuration {}

#[derive(Debug, Deserialize, Default, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AgencyListQuery {
    pub domain_id: Option<String>,
    pub name: Option<String>,
    pub trust_domain_id: Option<String>,
}

impl Accounts {
    pub async fn create_agency(&self, ctx: &AuthContext, input: AgencyInput, now_ms: i64) -> Result<Agency> {
        let result = self.create_agency_unaudited(ctx, input, now_ms).await;
        let id = result.as_ref().ok().map(|agency| agency.id.as_str());
        self.audit_change(ctx, Action::Created(Resource::Agency), id, &result);
        result
    }

    /// [`Self::create_agency`] without its audit event.
    async fn create_agency_unaudited(&self, ctx: &AuthContext, input: AgencyInput, now_ms: i64) -> Result<Agency> {
        let domain_id = input.domain_id.clone().ok_or_else(|| Error::MissingField {
            field: "agency.domain_id".into(),
        })?;
        let domain = self.domain_for_write(ctx, Some(&domain_id), "agency.domain_id").await?;
        let name = input.name.as_deref().ok_or_else(|| Error::MissingField {
            field: "agency.name".into(),
        })?;
        let trust = self.trust_domain(&input).await?.ok_or_else(|| Error::MissingField {
            field: "agency.trust_domain_id".into(),
        })?;
        let (duration, expire_at_ms) = parse_duration(input.duration.as_ref(), now_ms)?;
        let agency = Agency {
            id: new_id(),
            domain_id: domain.id,
            name: ResourceName::parse("agency.name", name, 64)?.into_inner(),
            trust_domain_id: trust.id,
            description: parse_description("agency.description", input.description.as_deref().unwrap_or(""))?,
            duration,
            expire_at_ms,
            created_at_ms: now_ms,
        };
        self.store.create_agency(&agency).await?;
        Ok(agency)
    }

    async fn trust_domain(&self, input: &AgencyInput) -> Result<Option<Domain>> {
        // The reference: when both are given, the name wins.
        let found = match (&input.trust_domain_name, &input.trust_domain_id) {
            (Some(name), _) => self.store.get_domain_by_name(name).await?,
            (None, Some(id)) => self.store.get_domain(id).await?,
            (None, None) => return Ok(None),
        };
        found
            .map(Some)
            .ok_or_else(|| Error::invalid("agency.trust_domain_id", "the trusted domain does not exist"))
    }

    pub async fn get_agency(&self, ctx: &AuthContext, id: &str) -> Result<Agency> {
        let agency = self
            .store
            .get_agency(id)
            .await?
            .ok_or_else(|| Error::not_found("agency", id))?;
        self.require_domain_admin(ctx, &agency.domain_id)?;
        Ok(agency)
    }

    pub async fn list_agencies(&self, ctx: &AuthContext, q: AgencyListQuery) -> Result<Vec<Agency>> {
        let domain_id = q.domain_id.ok_or_else(|| Error::MissingField {
            field: "domain_id".into(),
        })?;
        self.require_domain_admin(ctx, &domain_id)?;
        Ok(self
            .store
            .list_agencies(&AgencyFilter {
                domain_id: Some(domain_id),
                name: q.name,
                trust_domain_id: q.trust_domain_id,
            })
            .await?)
    }

    pub async fn update_agency(&self, ctx: &AuthContext, id: &str, input: AgencyInput, now_ms: i64) -> Result<Agency> {
        let result = self.update_agency_unaudited(ctx, id, input, now_ms).await;
        self.audit_change(ctx, Action::Updated(Resource::Agency), Some(id), &result);
        result
    }

    /// [`Self::update_agency`] without its audit event.
    async fn update_agency_unaudited(
        &self,
        ctx: &AuthContext,
        id: &str,
        input: AgencyInput,
        now_ms: i64,
    ) -> Result<Agency> {
        let mut agency = self.get_agency(ctx, id).await?;
        if input.trust_domain_id.is_none()
            && input.trust_domain_name.is_none()
            && input.description.is_none()
            && input.duration.is_none()
        {
            return Err(Error::MissingField {
                field: "agency.description".into(),
            });
        }
        let mut trust_changed = false;
        if let Some(trust) = self.trust_domain(&input).await? {
            trust_changed = trust.id != agency.trust_domain_id;
            agency.trust_domain_id = trust.id;
        }
        if let Some(d) = &input.description {
            agency.description = parse_description("agency.description", d)?;
        }
        if input.duration.is_some() {
            let (duration, expire) = parse_duration(input.duration.as_ref(), now_ms)?;
            agency.duration = duration;
            agency.expire_at_ms = expire;
        }
        self.store.update_agency(&agency).await?;
        if trust_changed {
            // Whoever assumed it under the old trust no longer may.
            self.tokens.revoke_agency(&agency.id, now_ms).await?;
        }
        self.invalidate_cache();
        Ok(agency)
    }

    /// Deleting an agency revokes every token and temporary credential acting as it.
    pub async fn delete_agency(&self, ctx: &AuthContext, id: &str, now_ms: i64) -> Result<()> {
        let result = self.delete_agency_unaudited(ctx, id, now_ms).await;
        self.audit_change(ctx, Action::Deleted(Resource::Agency), Some(id), &result);
        result
    }

    /// [`Self::delete_agency`] without its audit event.
    async fn delete_agency_unaudited(&self, ctx: &AuthContext, id: &str, now_ms: i64) -> Result<()> {
        self.get_agency(ctx, id).await?;
        if !self.store.delete_agency(id).await? {
            return Err(Error::not_found("agency", id));
        }
        self.tokens.revoke_agency(id, now_ms).await?;
        self.invalidate_cache();
        Ok(())
    }
}

/// Agency duration: `FOREVER` (default), `ONEDAY`, or a number of days as text or integer;
/// echoed as given (DESIGN.md decision 13).
fn parse_duration(value: Option<&serde_json::Value>, now_ms: i64) -> Result<(String, Option<i64>)> {
    let text = match value {
        None => return Ok(("FOREVER".into(), None)),
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(serde_json::Value::Number(n)) => n.to_string(),
        Some(_) => {
            return Err(Error::invalid(
                "agency.duration",
                "must be FOREVER, ONEDAY or a number of days",
            ));
        }
    };
    let days: i64 = match text.as_str() {
        "FOREVER" => return Ok((text, None)),
        "ONEDAY" => 1,
        digits => digits
            .parse()
            .ok()
            .filter(|d| (1..=36_500).contains(d))
            .ok_or_else(|| Error::invalid("agency.duration", "must be FOREVER, ONEDAY or a number of days"))?,
    };
    Ok((text, Some(now_ms + days * 86_400_000)))
}
