//! Federation configuration as code (`fedgate config export` and `fedgate config apply`): an
//! account's identity providers, mappings, protocols, OIDC configurations and SAML metadata as
//! one JSON document, and the plan that brings the store to what a document says.
//!
//! Everything is read and written through the federation use cases the HTTP API calls, with
//! their rules (mapping compile, a protocol names only a mapping of its provider's account,
//! metadata parsing and signature checks, OIDC fields), acting as each account's admin: the
//! use cases create a provider or mapping in the account of the caller's scope, so an account
//! is written by an admin scoped to it, as its own admins would. A plan checks the whole
//! document (the same rules, and the references between its objects) before anything is
//! written, so an invalid document changes nothing. Applying is not one transaction: the use
//! cases each commit; a step that fails stops the run, which reports the steps before it.
//!
//! Does not manage accounts, users, groups or grants. None of these records holds a secret
//! (OIDC `signing_key` is a public JWKS; the API refuses private key material in it).

mod checks;
mod document;
mod plan;

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{Value, json};

pub use document::{
    Account, Document, FORMAT_VERSION, IdpEntry, MappingEntry, OidcEntry, ProtocolEntry, SamlEntry, SamlSettings,
};
pub use plan::{Action, Change, Entry, FieldChange, Kind, Plan, Prune};

use super::federation::IdpInput;
use super::saml::{MetadataImport, parse_checked_metadata};
use super::saml_login::StoredIdpMetadata;
use super::{AuthContext, Error, FederationConfig, Identity, NameRef, Result, ScopeView, UserView};
use crate::model::{Domain, IdentityProvider, MappingRecord, Protocol};
use crate::token::{Methods, Scope, TokenPayload};
use checks::{at, check_references, check_unique_ids, refused};

/// The user id the use cases see (and log) for `fedgate config apply`.
const OPERATOR: &str = "fedgate-config";

/// What applying did: how many changes, and the warnings the use cases gave (an issuer whose
/// keys could not be fetched yet).
#[derive(Debug)]
pub struct Applied {
    pub changes: usize,
    pub warnings: Vec<String>,
}

/// The step that failed, why, and the steps carried out before it.
#[derive(Debug)]
pub struct ApplyFailure {
    pub done: Vec<String>,
    pub failed: String,
    pub error: Error,
}

/// An admin of `account` and nothing else (of every account when it is the admin domain, as a
/// token scoped there would be).
fn operator(account: &NameRef) -> AuthContext {
    let user = UserView {
        id: OPERATOR.into(),
        name: OPERATOR.into(),
        domain: account.clone(),
        password_expires_at_ms: None,
    };
    AuthContext {
        token: TokenPayload {
            methods: Methods::default(),
            user_id: OPERATOR.into(),
            issued_at_ms: 0,
            authenticated_at_ms: 0,
            expires_at_ms: 0,
            audit_ids: Vec::new(),
            scope: Scope::Domain(account.id.clone()),
            federation: None,
            agency: None,
        },
        identity: Arc::new(Identity {
            user,
            scope: ScopeView::Domain(account.clone()),
            roles: vec![NameRef {
                id: "admin".into(),
                name: "admin".into(),
            }],
            groups: Vec::new(),
            assumed_by: None,
            agency_expires_at_ms: None,
        }),
        session_policies: Vec::new(),
    }
}

fn name_ref(d: &Domain) -> NameRef {
    NameRef {
        id: d.id.clone(),
        name: d.name.clone(),
    }
}

/// `None` when the use case says there is nothing (no OIDC configuration, no metadata).
fn found<T>(r: Result<T>) -> Result<Option<T>> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(Error::NotFound { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

fn mapping_entry(record: &MappingRecord) -> Result<MappingEntry> {
    let doc: Value = serde_json::from_str(&record.document)
        .map_err(|e| Error::internal(format!("stored mapping {} is not JSON: {e}", record.id)))?;
    Ok(MappingEntry {
        id: record.id.clone(),
        rules: doc.get("rules").cloned().unwrap_or(Value::Null),
        schema_version: doc.get("schema_version").and_then(Value::as_str).map(str::to_string),
    })
}

fn idp_entry(idp: &IdentityProvider) -> IdpEntry {
    let mut remote_ids = idp.remote_ids.clone();
    // Byte order, whatever the database's collation.
    remote_ids.sort();
    IdpEntry {
        description: idp.description.clone(),
        enabled: idp.enabled,
        id: idp.id.clone(),
        remote_ids,
        sso_type: idp.sso_type.as_str().to_string(),
    }
}

impl FederationConfig {
    /// Every account's configuration, or only the one named.
    pub async fn export_config(&self, account: Option<&str>) -> Result<Document> {
        let domains = match account {
            None => self.store.list_domains().await?,
            Some(name) => vec![
                self.store
                    .get_domain_by_name(name)
                    .await?
                    .ok_or_else(|| Error::not_found("account", name))?,
            ],
        };
        let mut accounts = BTreeMap::new();
        for d in &domains {
            accounts.insert(d.name.clone(), self.stored_account(&name_ref(d)).await?);
        }
        Ok(Document {
            accounts,
            fedgate_config: FORMAT_VERSION,
        })
    }

    /// The account's configuration as its admin reads it through the use cases, sorted.
    async fn stored_account(&self, account: &NameRef) -> Result<Account> {
        let ctx = operator(account);
        let mut out = Account::default();
        let idps: Vec<IdentityProvider> = self
            .list_idps(&ctx)
            .await?
            .into_iter()
            .filter(|i| i.domain_id == account.id)
            .collect();
        for idp in &idps {
            out.identity_providers.push(idp_entry(idp));
            for p in self.list_protocols(&ctx, &idp.id).await? {
                out.protocols.push(ProtocolEntry {
                    idp: idp.id.clone(),
                    mapping_id: p.mapping_id,
                    protocol: p.id.as_str().to_string(),
                });
            }
            if let Some(config) = found(self.get_oidc_config(&ctx, &idp.id).await)? {
                out.oidc_configs.push(OidcEntry::from_config(&idp.id, config));
            }
            let saml = found(self.get_saml_metadata(&ctx, &idp.id, Protocol::Saml.as_str()).await)?;
            if let Some(m) = saml {
                let parsed: StoredIdpMetadata = serde_json::from_str(&m.parsed)
                    .map_err(|e| Error::internal(format!("stored metadata of {}: {e}", idp.id)))?;
                out.saml_metadata.push(SamlEntry {
                    idp: idp.id.clone(),
                    metadata: m.data,
                    settings: parsed.settings.into(),
                    xaccount_type: m.xaccount_type,
                });
            }
        }
        for m in self.list_mappings(&ctx).await? {
            if m.domain_id == account.id {
                out.mappings.push(mapping_entry(&m)?);
            }
        }
        out.identity_providers.sort_by(|a, b| a.id.cmp(&b.id));
        out.mappings.sort_by(|a, b| a.id.cmp(&b.id));
        out.protocols
            .sort_by(|a, b| (&a.idp, &a.protocol).cmp(&(&b.idp, &b.protocol)));
        out.oidc_configs.sort_by(|a, b| a.idp.cmp(&b.idp));
        out.saml_metadata.sort_by(|a, b| a.idp.cmp(&b.idp));
        Ok(out)
    }

    /// What applying `doc` would change. Checks the whole document first, by the use cases'
    /// rules: an error names the document's JSON path, and nothing has been written.
    pub async fn plan_config(&self, doc: &Document, prune: Prune) -> Result<Plan> {
        check_unique_ids(doc)?;
        let mut plan = Plan::default();
        for (name, wanted) in &doc.accounts {
            let domain = self.store.get_domain_by_name(name).await?.ok_or_else(|| {
                refused(
                    format!("accounts.{name}"),
                    "no such account; create it first (POST /v3/domains)",
                )
            })?;
            let account = name_ref(&domain);
            let stored = self.stored_account(&account).await?;
            let wanted = self.checked_account(&account, wanted, &stored, prune).await?;
            plan.add_account(&account, &stored, &wanted, prune);
        }
        Ok(plan)
    }

    /// The document's account in normalised form (as the use cases would store it), after
    /// every rule of theirs and the references between the objects are checked.
    async fn checked_account(
        &self,
        account: &NameRef,
        doc: &Account,
        stored: &Account,
        prune: Prune,
    ) -> Result<Account> {
        let base = format!("accounts.{}", account.name);
        let mut out = Account::default();
        for (i, e) in doc.identity_providers.iter().enumerate() {
            let path = format!("{base}.identity_providers[{i}]");
            let entry = checks::idp(&path, e, stored)?;
            if !stored.identity_providers.iter().any(|s| s.id == entry.id) {
                self.check_not_elsewhere(&path, Kind::IdentityProvider, &entry.id, account)
                    .await?;
            }
            out.identity_providers.push(entry);
        }
        for (i, e) in doc.mappings.iter().enumerate() {
            let path = format!("{base}.mappings[{i}]");
            let entry = checks::mapping(&path, e, account)?;
            if !stored.mappings.iter().any(|s| s.id == entry.id) {
                self.check_not_elsewhere(&path, Kind::Mapping, &entry.id, account)
                    .await?;
            }
            out.mappings.push(entry);
        }
        for (i, e) in doc.protocols.iter().enumerate() {
            out.protocols
                .push(checks::protocol(&format!("{base}.protocols[{i}]"), e)?);
        }
        for (i, e) in doc.oidc_configs.iter().enumerate() {
            let path = format!("{base}.oidc_configs[{i}]");
            out.oidc_configs
                .push(checks::oidc(&path, e, stored, &self.config.egress)?);
        }
        let mut entities = Vec::new();
        for (i, e) in doc.saml_metadata.iter().enumerate() {
            let path = format!("{base}.saml_metadata[{i}]");
            let (parsed, xml) = parse_checked_metadata(e.metadata.clone()).await.map_err(at(&path))?;
            entities.push(parsed.entity_id);
            out.saml_metadata.push(SamlEntry {
                metadata: xml,
                ..e.clone()
            });
        }
        check_references(&base, &out, stored, prune, &entities)?;
        Ok(out)
    }

    /// Ids are global: one the document gives an account may not be another account's.
    async fn check_not_elsewhere(&self, path: &str, kind: Kind, id: &str, account: &NameRef) -> Result<()> {
        let owner = match kind {
            Kind::Mapping => self.store.get_mapping(id).await?.map(|m| m.domain_id),
            _ => self.store.get_idp(id).await?.map(|i| i.domain_id),
        };
        match owner {
            Some(d) if d != account.id => {
                let name = self.store.get_domain(&d).await?.map(|d| d.name).unwrap_or(d);
                Err(refused(
                    format!("{path}.id"),
                    format!("{} {id} belongs to account {name}", kind.as_str()),
                ))
            }
            _ => Ok(()),
        }
    }

    /// Carries the plan out, change by change, through the use cases.
    pub async fn apply_config(&self, plan: &Plan, now_ms: i64) -> std::result::Result<Applied, ApplyFailure> {
        let mut done = Vec::new();
        let mut warnings = Vec::new();
        for change in &plan.changes {
            let ctx = operator(&change.account);
            if let Err(error) = self.carry_out(&ctx, change, now_ms, &mut warnings).await {
                return Err(ApplyFailure {
                    done,
                    failed: change.headline(),
                    error,
                });
            }
            done.push(change.headline());
        }
        Ok(Applied {
            changes: done.len(),
            warnings,
        })
    }

    async fn carry_out(
        &self,
        ctx: &AuthContext,
        change: &Change,
        now_ms: i64,
        warnings: &mut Vec<String>,
    ) -> Result<()> {
        let idp_input = |e: &IdpEntry, sso_type: Option<String>| IdpInput {
            sso_type,
            description: Some(e.description.clone()),
            enabled: Some(e.enabled),
            remote_ids: Some(e.remote_ids.clone()),
        };
        let rules = |m: &MappingEntry| json!({"rules": m.rules, "schema_version": m.schema_version});
        match (&change.action, &change.entry) {
            (Action::Create, Entry::Idp(e)) => {
                self.create_idp(ctx, &e.id, idp_input(e, Some(e.sso_type.clone())), now_ms)
                    .await?;
            }
            (Action::Update(_), Entry::Idp(e)) => {
                self.update_idp(ctx, &e.id, idp_input(e, None), now_ms).await?;
            }
            (Action::Delete, Entry::Idp(e)) => self.delete_idp(ctx, &e.id, now_ms).await?,
            (Action::Create, Entry::Mapping(m)) => {
                self.create_mapping(ctx, &m.id, rules(m), now_ms).await?;
            }
            (Action::Update(_), Entry::Mapping(m)) => {
                self.update_mapping(ctx, &m.id, rules(m), now_ms).await?;
            }
            (Action::Delete, Entry::Mapping(m)) => self.delete_mapping(ctx, &m.id).await?,
            (Action::Create, Entry::Protocol(p)) => {
                self.create_protocol(ctx, &p.idp, &p.protocol, Some(p.mapping_id.clone()))
                    .await?;
            }
            (Action::Update(_), Entry::Protocol(p)) => {
                self.update_protocol(ctx, &p.idp, &p.protocol, Some(p.mapping_id.clone()))
                    .await?;
            }
            (Action::Delete, Entry::Protocol(p)) => self.delete_protocol(ctx, &p.idp, &p.protocol).await?,
            (Action::Create, Entry::Oidc(o)) => {
                let (_, w) = self.create_oidc_config(ctx, &o.idp, o.to_input(), now_ms).await?;
                warnings.extend(w.into_iter().map(|w| format!("oidc_config {}: {w}", o.idp)));
            }
            (Action::Update(_), Entry::Oidc(o)) => {
                let (_, w) = self.update_oidc_config(ctx, &o.idp, o.to_input(), now_ms).await?;
                warnings.extend(w.into_iter().map(|w| format!("oidc_config {}: {w}", o.idp)));
            }
            (Action::Create | Action::Update(_), Entry::Saml(s)) => {
                let import = MetadataImport {
                    domain_id: change.account.id.clone(),
                    xaccount_type: s.xaccount_type.clone(),
                    metadata: s.metadata.clone(),
                    settings: s.settings.clone().into(),
                };
                self.import_saml_metadata(ctx, &s.idp, Protocol::Saml.as_str(), import, now_ms)
                    .await?;
            }
            (Action::Delete, Entry::Oidc(_) | Entry::Saml(_)) => {
                return Err(Error::internal("a plan never deletes a configuration on its own"));
            }
        }
        Ok(())
    }
}
