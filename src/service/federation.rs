//! Federation configuration: identity providers, mappings, protocols, and the mapping dry run.
//! Mappings are validated and compiled by `mapping` before they are stored; a compiled copy is
//! cached per mapping so logins never re-parse rules.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use serde::Deserialize;
use serde_json::Value;

use super::{AuthContext, Error, FederationConfig, Result, Services};
use crate::audit::{Action, Resource};
use crate::mapping::{self, Mapping};
use crate::model::{IdentityProvider, MappingRecord, Protocol, ProtocolRecord, SsoType};
use crate::store::{SSO_TYPE_CONFLICT, StoreError};

#[derive(Debug, Deserialize, Default, utoipa::ToSchema)]
pub struct IdpInput {
    pub sso_type: Option<String>,
    pub description: Option<String>,
    pub enabled: Option<bool>,
    pub remote_ids: Option<Vec<String>>,
}

/// Compiled mappings by id, with the `updated_at` they were compiled from.
#[derive(Default)]
pub struct MappingCache(RwLock<HashMap<String, (i64, Arc<Mapping>)>>);

/// Ids that appear in URLs: 1-64 letters, digits, `-`, `_` or `.`.
pub(super) fn parse_path_id(field: &str, id: &str) -> Result<String> {
    if id.is_empty()
        || id.len() > 64
        || !id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        return Err(Error::invalid(field, "must be 1-64 letters, digits, '-', '_' or '.'"));
    }
    Ok(id.to_string())
}

pub(super) fn parse_remote_ids(ids: Vec<String>) -> Result<Vec<String>> {
    if ids.len() > 32 {
        return Err(Error::invalid("identity_provider.remote_ids", "at most 32 remote ids"));
    }
    let mut out: Vec<String> = Vec::with_capacity(ids.len());
    for (i, id) in ids.into_iter().enumerate() {
        if id.is_empty() || id.len() > 1024 || id.chars().any(char::is_control) {
            return Err(Error::invalid(
                format!("identity_provider.remote_ids[{i}]"),
                "must be 1-1024 printable characters",
            ));
        }
        if !out.contains(&id) {
            out.push(id);
        }
    }
    Ok(out)
}

/// Validates a mapping document and returns it compiled, with its canonical stored text.
pub(super) fn compile_document(mut doc: Value) -> Result<(Mapping, String)> {
    let obj = doc
        .as_object_mut()
        .ok_or_else(|| Error::invalid("mapping", "must be an object"))?;
    // Only what defines the mapping is stored; ids and links come from the path.
    obj.retain(|k, v| k == "rules" || (k == "schema_version" && !v.is_null()));
    let compiled = Mapping::compile(&doc, None).map_err(|e| match e {
        mapping::MappingError::InvalidRules { path, message } => Error::BadRequest(format!("{path} {message}")),
        other => Error::BadRequest(other.to_string()),
    })?;
    Ok((compiled, doc.to_string()))
}

impl FederationConfig {
    fn federation_domain(&self, ctx: &AuthContext) -> Result<String> {
        let domain = self.default_domain(ctx);
        self.require_domain_admin(ctx, &domain)?;
        Ok(domain)
    }

    // ---- identity providers ----

    pub async fn create_idp(
        &self,
        ctx: &AuthContext,
        id: &str,
        input: IdpInput,
        now_ms: i64,
    ) -> Result<IdentityProvider> {
        let result = self.create_idp_unaudited(ctx, id, input, now_ms).await;
        self.audit_change(ctx, Action::Created(Resource::IdentityProvider), Some(id), &result);
        result
    }

    /// [`Self::create_idp`] without its audit event.
    async fn create_idp_unaudited(
        &self,
        ctx: &AuthContext,
        id: &str,
        input: IdpInput,
        now_ms: i64,
    ) -> Result<IdentityProvider> {
        let domain_id = self.federation_domain(ctx)?;
        let id = parse_path_id("idp_id", id)?;
        let sso_type = match input.sso_type.as_deref() {
            None => SsoType::VirtualUserSso,
            Some(text) => SsoType::parse(text).ok_or_else(|| {
                Error::invalid("identity_provider.sso_type", "must be virtual_user_sso or iam_user_sso")
            })?,
        };
        let idp = IdentityProvider {
            id,
            domain_id,
            sso_type,
            description: super::names::parse_description(
                "identity_provider.description",
                input.description.as_deref().unwrap_or(""),
            )?,
            // The reference's default; Keystone clients send `enabled` explicitly.
            enabled: input.enabled.unwrap_or(false),
            remote_ids: parse_remote_ids(input.remote_ids.unwrap_or_default())?,
            created_at_ms: now_ms,
        };
        self.store.create_idp(&idp).await.map_err(|e| match e {
            StoreError::Conflict(what) if what == SSO_TYPE_CONFLICT => Error::Conflict(format!(
                "identity provider {}: an account's providers are all virtual_user_sso or one iam_user_sso",
                idp.id
            )),
            StoreError::Conflict(_) => {
                Error::Conflict(format!("identity provider {} or one of its remote ids exists", idp.id))
            }
            other => other.into(),
        })?;
        tracing::info!(idp.id = %idp.id, "identity provider created");
        Ok(idp)
    }

    /// Members of the provider's account (its users, its federated users) and its admins.
    fn may_read_idp(&self, ctx: &AuthContext, idp: &IdentityProvider) -> bool {
        ctx.identity.user.domain.id == idp.domain_id || self.require_domain_admin(ctx, &idp.domain_id).is_ok()
    }

    pub async fn get_idp(&self, ctx: &AuthContext, id: &str) -> Result<IdentityProvider> {
        let idp = self
            .store
            .get_idp(id)
            .await?
            .ok_or_else(|| Error::not_found("identity provider", id))?;
        if !self.may_read_idp(ctx, &idp) {
            return Err(Error::Forbidden(format!(
                "user {} is not a member of the account of identity provider {id}",
                ctx.user_id()
            )));
        }
        Ok(idp)
    }

    pub async fn list_idps(&self, ctx: &AuthContext) -> Result<Vec<IdentityProvider>> {
        Ok(self
            .store
            .list_idps()
            .await?
            .into_iter()
            .filter(|i| self.may_read_idp(ctx, i))
            .collect())
    }

    pub(super) async fn idp_for_admin(&self, ctx: &AuthContext, id: &str) -> Result<IdentityProvider> {
        let idp = self
            .store
            .get_idp(id)
            .await?
            .ok_or_else(|| Error::not_found("identity provider", id))?;
        self.require_domain_admin(ctx, &idp.domain_id)?;
        Ok(idp)
    }

    pub async fn update_idp(
        &self,
        ctx: &AuthContext,
        id: &str,
        input: IdpInput,
        now_ms: i64,
    ) -> Result<IdentityProvider> {
        let result = self.update_idp_unaudited(ctx, id, input, now_ms).await;
        self.audit_change(ctx, Action::Updated(Resource::IdentityProvider), Some(id), &result);
        result
    }

    /// [`Self::update_idp`] without its audit event.
    async fn update_idp_unaudited(
        &self,
        ctx: &AuthContext,
        id: &str,
        input: IdpInput,
        now_ms: i64,
    ) -> Result<IdentityProvider> {
        let mut idp = self.idp_for_admin(ctx, id).await?;
        if input.sso_type.as_deref().is_some_and(|t| t != idp.sso_type.as_str()) {
            return Err(Error::invalid("identity_provider.sso_type", "cannot be changed"));
        }
        if let Some(d) = &input.description {
            idp.description = super::names::parse_description("identity_provider.description", d)?;
        }
        if let Some(ids) = input.remote_ids {
            idp.remote_ids = parse_remote_ids(ids)?;
            // Imported metadata is trusted for its entityID only while the provider claims it;
            // remote ids are unique across providers, so no two can trust one entity.
            if let Some(saml) = self.saml_provider(&idp.id, now_ms).await?
                && !idp.remote_ids.contains(&saml.metadata.entity_id)
            {
                return Err(Error::invalid(
                    "identity_provider.remote_ids",
                    format!(
                        "must keep {}, the entityID of the imported SAML metadata",
                        saml.metadata.entity_id
                    ),
                ));
            }
        }
        let was_enabled = idp.enabled;
        let disabling = idp.enabled && input.enabled == Some(false);
        if let Some(e) = input.enabled {
            idp.enabled = e;
        }
        let updated = self.store.update_idp(&idp, was_enabled).await.map_err(|e| match e {
            StoreError::Conflict(_) => Error::Conflict("a remote id belongs to another identity provider".into()),
            other => other.into(),
        })?;
        if !updated {
            return Err(changed_meanwhile(&idp.id));
        }
        if disabling {
            self.revoke_idp_tokens(&idp.id, now_ms).await?;
        }
        self.invalidate_cache();
        Ok(idp)
    }

    pub async fn delete_idp(&self, ctx: &AuthContext, id: &str, now_ms: i64) -> Result<()> {
        let result = self.delete_idp_unaudited(ctx, id, now_ms).await;
        self.audit_change(ctx, Action::Deleted(Resource::IdentityProvider), Some(id), &result);
        result
    }

    /// [`Self::delete_idp`] without its audit event.
    async fn delete_idp_unaudited(&self, ctx: &AuthContext, id: &str, now_ms: i64) -> Result<()> {
        self.idp_for_admin(ctx, id).await?;
        if !self.store.delete_idp(id).await? {
            return Err(Error::not_found("identity provider", id));
        }
        self.revoke_idp_tokens(id, now_ms).await?;
        self.oidc.invalidate(id);
        self.invalidate_cache();
        tracing::info!(idp.id = %id, "identity provider deleted with its protocols");
        Ok(())
    }

    async fn revoke_idp_tokens(&self, idp_id: &str, now_ms: i64) -> Result<()> {
        self.tokens.revoke_identity_provider(idp_id, now_ms).await?;
        self.invalidate_cache();
        Ok(())
    }

    // ---- mappings ----

    pub async fn create_mapping(&self, ctx: &AuthContext, id: &str, doc: Value, now_ms: i64) -> Result<MappingRecord> {
        let result = self.create_mapping_unaudited(ctx, id, doc, now_ms).await;
        self.audit_change(ctx, Action::Created(Resource::Mapping), Some(id), &result);
        result
    }

    /// [`Self::create_mapping`] without its audit event.
    async fn create_mapping_unaudited(
        &self,
        ctx: &AuthContext,
        id: &str,
        doc: Value,
        now_ms: i64,
    ) -> Result<MappingRecord> {
        let domain_id = self.federation_domain(ctx)?;
        let id = parse_path_id("mapping_id", id)?;
        let (_, document) = compile_document(doc)?;
        let record = MappingRecord {
            id,
            domain_id,
            document,
            created_at_ms: now_ms,
            updated_at_ms: now_ms,
        };
        self.store.create_mapping(&record).await.map_err(|e| match e {
            StoreError::Conflict(_) => Error::Conflict(format!("mapping {} exists", record.id)),
            other => other.into(),
        })?;
        Ok(record)
    }

    async fn mapping_for_admin(&self, ctx: &AuthContext, id: &str) -> Result<MappingRecord> {
        let m = self
            .store
            .get_mapping(id)
            .await?
            .ok_or_else(|| Error::not_found("mapping", id))?;
        self.require_domain_admin(ctx, &m.domain_id)?;
        Ok(m)
    }

    pub async fn get_mapping(&self, ctx: &AuthContext, id: &str) -> Result<MappingRecord> {
        self.mapping_for_admin(ctx, id).await
    }

    pub async fn list_mappings(&self, ctx: &AuthContext) -> Result<Vec<MappingRecord>> {
        let domain = self.federation_domain(ctx)?;
        let all = self.is_cloud_admin(ctx);
        Ok(self
            .store
            .list_mappings()
            .await?
            .into_iter()
            .filter(|m| all || m.domain_id == domain)
            .collect())
    }

    pub async fn update_mapping(&self, ctx: &AuthContext, id: &str, doc: Value, now_ms: i64) -> Result<MappingRecord> {
        let result = self.update_mapping_unaudited(ctx, id, doc, now_ms).await;
        self.audit_change(ctx, Action::Updated(Resource::Mapping), Some(id), &result);
        result
    }

    /// [`Self::update_mapping`] without its audit event.
    async fn update_mapping_unaudited(
        &self,
        ctx: &AuthContext,
        id: &str,
        doc: Value,
        now_ms: i64,
    ) -> Result<MappingRecord> {
        let mut record = self.mapping_for_admin(ctx, id).await?;
        let (_, document) = compile_document(doc)?;
        record.document = document;
        record.updated_at_ms = now_ms.max(record.updated_at_ms + 1);
        if !self.store.update_mapping(&record).await? {
            return Err(Error::not_found("mapping", id));
        }
        self.invalidate_cache();
        Ok(record)
    }

    pub async fn delete_mapping(&self, ctx: &AuthContext, id: &str) -> Result<()> {
        let result = self.delete_mapping_unaudited(ctx, id).await;
        self.audit_change(ctx, Action::Deleted(Resource::Mapping), Some(id), &result);
        result
    }

    /// [`Self::delete_mapping`] without its audit event.
    async fn delete_mapping_unaudited(&self, ctx: &AuthContext, id: &str) -> Result<()> {
        self.mapping_for_admin(ctx, id).await?;
        match self.store.delete_mapping(id).await {
            Ok(true) => {
                self.invalidate_cache();
                Ok(())
            }
            Ok(false) => Err(Error::not_found("mapping", id)),
            Err(StoreError::Conflict(_)) => Err(Error::Conflict(format!("mapping {id} is used by a protocol"))),
            Err(e) => Err(e.into()),
        }
    }

    /// POST /v3-ext/OS-FEDERATION/mappings/{id}/test: maps an assertion with a stored
    /// mapping and explains each rule's outcome.
    pub async fn test_mapping(
        &self,
        ctx: &AuthContext,
        id: &str,
        assertion: &serde_json::Map<String, Value>,
        now_ms: i64,
    ) -> Result<Value> {
        let record = self.mapping_for_admin(ctx, id).await?;
        let compiled = self.compiled_mapping(&record)?;
        let (mut answer, _) = mapping::report::map_one(&compiled, assertion, true);
        // What a login would drop: groups the rules name outside the mapping's own account.
        let attributes = mapping::assertion_from_json(assertion);
        if let Ok(mapped) = compiled.evaluate(&attributes) {
            let (_, dropped) = self.resolve_mapped_groups(&record.domain_id, &mapped, now_ms).await?;
            if let Some(obj) = answer.as_object_mut() {
                obj.insert("groups_dropped".into(), serde_json::json!(dropped));
            }
        }
        Ok(answer)
    }

    // ---- protocols ----

    /// Audited with `<idp>/<protocol>` as the target: a protocol's id names it only within
    /// its provider.
    pub async fn create_protocol(
        &self,
        ctx: &AuthContext,
        idp_id: &str,
        id: &str,
        mapping_id: Option<String>,
    ) -> Result<ProtocolRecord> {
        let result = self.create_protocol_unaudited(ctx, idp_id, id, mapping_id).await;
        let target = format!("{idp_id}/{id}");
        self.audit_change(ctx, Action::Created(Resource::Protocol), Some(&target), &result);
        result
    }

    /// [`Self::create_protocol`] without its audit event.
    async fn create_protocol_unaudited(
        &self,
        ctx: &AuthContext,
        idp_id: &str,
        id: &str,
        mapping_id: Option<String>,
    ) -> Result<ProtocolRecord> {
        let idp = self.idp_for_admin(ctx, idp_id).await?;
        let record = self.checked_protocol(&idp, id, mapping_id).await?;
        self.store.create_protocol(&record).await.map_err(|e| match e {
            StoreError::Conflict(_) => Error::Conflict(format!("protocol {id} exists for {idp_id}")),
            other => other.into(),
        })?;
        self.invalidate_cache();
        Ok(record)
    }

    async fn checked_protocol(
        &self,
        idp: &IdentityProvider,
        id: &str,
        mapping_id: Option<String>,
    ) -> Result<ProtocolRecord> {
        let Some(protocol) = Protocol::parse(id) else {
            return Err(Error::invalid("protocol_id", "must be saml or oidc"));
        };
        let mapping_id = mapping_id.ok_or_else(|| Error::MissingField {
            field: "protocol.mapping_id".into(),
        })?;
        // Only the provider's own account's mappings: another account's rules could map its
        // users into groups the provider's admins do not administer. Another account's
        // mapping is reported as missing, as it is from here.
        let same_account = self
            .store
            .get_mapping(&mapping_id)
            .await?
            .is_some_and(|m| m.domain_id == idp.domain_id);
        if !same_account {
            return Err(Error::not_found("mapping", mapping_id));
        }
        Ok(ProtocolRecord {
            idp_id: idp.id.clone(),
            id: protocol,
            mapping_id,
        })
    }

    pub async fn get_protocol(&self, ctx: &AuthContext, idp_id: &str, id: &str) -> Result<ProtocolRecord> {
        self.idp_for_admin(ctx, idp_id).await?;
        let found = match Protocol::parse(id) {
            Some(protocol) => self.store.get_protocol(idp_id, protocol).await?,
            None => None,
        };
        found.ok_or_else(|| Error::not_found("protocol", id))
    }

    pub async fn list_protocols(&self, ctx: &AuthContext, idp_id: &str) -> Result<Vec<ProtocolRecord>> {
        self.idp_for_admin(ctx, idp_id).await?;
        Ok(self.store.list_protocols(idp_id).await?)
    }

    pub async fn update_protocol(
        &self,
        ctx: &AuthContext,
        idp_id: &str,
        id: &str,
        mapping_id: Option<String>,
    ) -> Result<ProtocolRecord> {
        let result = self.update_protocol_unaudited(ctx, idp_id, id, mapping_id).await;
        let target = format!("{idp_id}/{id}");
        self.audit_change(ctx, Action::Updated(Resource::Protocol), Some(&target), &result);
        result
    }

    /// [`Self::update_protocol`] without its audit event.
    async fn update_protocol_unaudited(
        &self,
        ctx: &AuthContext,
        idp_id: &str,
        id: &str,
        mapping_id: Option<String>,
    ) -> Result<ProtocolRecord> {
        let idp = self.idp_for_admin(ctx, idp_id).await?;
        let record = self.checked_protocol(&idp, id, mapping_id).await?;
        if !self.store.update_protocol(&record).await? {
            return Err(Error::not_found("protocol", id));
        }
        self.invalidate_cache();
        Ok(record)
    }

    pub async fn delete_protocol(&self, ctx: &AuthContext, idp_id: &str, id: &str) -> Result<()> {
        let result = self.delete_protocol_unaudited(ctx, idp_id, id).await;
        let target = format!("{idp_id}/{id}");
        self.audit_change(ctx, Action::Deleted(Resource::Protocol), Some(&target), &result);
        result
    }

    /// [`Self::delete_protocol`] without its audit event.
    async fn delete_protocol_unaudited(&self, ctx: &AuthContext, idp_id: &str, id: &str) -> Result<()> {
        self.idp_for_admin(ctx, idp_id).await?;
        let deleted = match Protocol::parse(id) {
            Some(protocol) => self.store.delete_protocol(idp_id, protocol).await?,
            None => false,
        };
        if !deleted {
            return Err(Error::not_found("protocol", id));
        }
        self.invalidate_cache();
        Ok(())
    }
}

/// A provider disabled, enabled or deleted while a request that read it was running.
pub(super) fn changed_meanwhile(idp_id: &str) -> Error {
    Error::Conflict(format!(
        "identity provider {idp_id}, which changed while this request ran; try again"
    ))
}

pub(super) fn oidc_error(e: crate::oidc::OidcError) -> Error {
    match e {
        crate::oidc::OidcError::InvalidField { field, reason } => {
            Error::invalid(format!("openid_connect_config.{field}"), reason)
        }
    }
}

impl FederationConfig {
    /// POST: the provider must exist, be administered by the caller and have protocol `oidc`
    /// (reference §5.13.3); a second configuration is a conflict.
    /// Audited with the identity provider's id as the target.
    pub async fn create_oidc_config(
        &self,
        ctx: &AuthContext,
        idp_id: &str,
        input: crate::oidc::OidcConfigInput,
        now_ms: i64,
    ) -> Result<(crate::oidc::OidcConfig, Vec<String>)> {
        let result = self.create_oidc_config_unaudited(ctx, idp_id, input, now_ms).await;
        self.audit_change(ctx, Action::Created(Resource::OidcConfig), Some(idp_id), &result);
        result
    }

    /// [`Self::create_oidc_config`] without its audit event.
    async fn create_oidc_config_unaudited(
        &self,
        ctx: &AuthContext,
        idp_id: &str,
        input: crate::oidc::OidcConfigInput,
        now_ms: i64,
    ) -> Result<(crate::oidc::OidcConfig, Vec<String>)> {
        let idp = self.idp_for_admin(ctx, idp_id).await?;
        if self.store.get_protocol(&idp.id, Protocol::Oidc).await?.is_none() {
            return Err(Error::invalid(
                "idp_id",
                "the identity provider has no oidc protocol yet",
            ));
        }
        let config = crate::oidc::OidcConfig::build(input, None, &self.config.egress).map_err(oidc_error)?;
        let text = serde_json::to_string(&config).map_err(Error::internal)?;
        self.store
            .create_oidc_config(&idp.id, &text, now_ms)
            .await
            .map_err(|e| match e {
                StoreError::Conflict(_) => {
                    Error::Conflict(format!("{idp_id} already has an OpenID Connect configuration"))
                }
                other => other.into(),
            })?;
        self.oidc.invalidate(&idp.id);
        let warnings = self.discovery_warnings(&idp.id, &config, now_ms).await?;
        Ok((config, warnings))
    }

    /// A configuration whose keys are discovered says at once when the issuer cannot be
    /// reached, rather than at the first login.
    async fn discovery_warnings(
        &self,
        idp_id: &str,
        config: &crate::oidc::OidcConfig,
        now_ms: i64,
    ) -> Result<Vec<String>> {
        if config.signing_key.is_some() {
            return Ok(Vec::new());
        }
        Ok(self.oidc.probe(idp_id, config, now_ms).await?.into_iter().collect())
    }

    async fn stored_oidc_config(&self, idp_id: &str) -> Result<crate::oidc::OidcConfig> {
        let text = self
            .store
            .get_oidc_config(idp_id)
            .await?
            .ok_or_else(|| Error::not_found("openid connect config", idp_id))?;
        serde_json::from_str(&text).map_err(|e| Error::internal(format!("stored OIDC config of {idp_id}: {e}")))
    }

    pub async fn update_oidc_config(
        &self,
        ctx: &AuthContext,
        idp_id: &str,
        input: crate::oidc::OidcConfigInput,
        now_ms: i64,
    ) -> Result<(crate::oidc::OidcConfig, Vec<String>)> {
        let result = self.update_oidc_config_unaudited(ctx, idp_id, input, now_ms).await;
        self.audit_change(ctx, Action::Updated(Resource::OidcConfig), Some(idp_id), &result);
        result
    }

    /// [`Self::update_oidc_config`] without its audit event.
    async fn update_oidc_config_unaudited(
        &self,
        ctx: &AuthContext,
        idp_id: &str,
        input: crate::oidc::OidcConfigInput,
        now_ms: i64,
    ) -> Result<(crate::oidc::OidcConfig, Vec<String>)> {
        self.idp_for_admin(ctx, idp_id).await?;
        let current = self.stored_oidc_config(idp_id).await?;
        let config = crate::oidc::OidcConfig::build(input, Some(current), &self.config.egress).map_err(oidc_error)?;
        let text = serde_json::to_string(&config).map_err(Error::internal)?;
        if !self.store.update_oidc_config(idp_id, &text, now_ms).await? {
            return Err(Error::not_found("openid connect config", idp_id));
        }
        self.oidc.invalidate(idp_id);
        let warnings = self.discovery_warnings(idp_id, &config, now_ms).await?;
        Ok((config, warnings))
    }

    pub async fn get_oidc_config(&self, ctx: &AuthContext, idp_id: &str) -> Result<crate::oidc::OidcConfig> {
        self.idp_for_admin(ctx, idp_id).await?;
        self.stored_oidc_config(idp_id).await
    }
}

impl Services {
    // Shared with other use-case services.
    /// The compiled form of a stored mapping, compiled once per version.
    pub(super) fn compiled_mapping(&self, record: &MappingRecord) -> Result<Arc<Mapping>> {
        if let Ok(cache) = self.mappings.0.read()
            && let Some((at, m)) = cache.get(&record.id)
            && *at == record.updated_at_ms
        {
            return Ok(m.clone());
        }
        let doc: Value = serde_json::from_str(&record.document)
            .map_err(|e| Error::internal(format!("stored mapping {} is not JSON: {e}", record.id)))?;
        let (compiled, _) = compile_document(doc)
            .map_err(|e| Error::internal(format!("stored mapping {} no longer compiles: {e}", record.id)))?;
        let compiled = Arc::new(compiled);
        if let Ok(mut cache) = self.mappings.0.write() {
            cache.insert(record.id.clone(), (record.updated_at_ms, compiled.clone()));
        }
        Ok(compiled)
    }
}
