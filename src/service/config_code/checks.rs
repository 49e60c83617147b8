//! The rules a plan checks before anything is written: each object by the federation use
//! cases' own validation (ids, descriptions, remote ids, mapping compile, OIDC fields), and
//! what only a whole document shows (repeated ids, references between its objects, values the
//! API cannot unset). Errors name the document's JSON path.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::json;

use super::document::{Account, Document, IdpEntry, MappingEntry, OidcEntry, ProtocolEntry};
use super::plan::{Kind, Prune};
use crate::egress::EgressPolicy;
use crate::model::{MappingRecord, Protocol, SsoType};
use crate::oidc::OidcConfig;
use crate::service::federation::{compile_document, oidc_error, parse_path_id, parse_remote_ids};
use crate::service::{Error, NameRef, Result};

/// A rule of the document broken at `path` (exit 2).
pub(super) fn refused(path: impl std::fmt::Display, reason: impl std::fmt::Display) -> Error {
    Error::BadRequest(format!("{path}: {reason}"))
}

/// A use case's validation error, placed at the document's `path`. A mapping's own JSON path
/// (`rules[0].remote...`) continues the document's.
pub(super) fn at(path: &str) -> impl Fn(Error) -> Error + '_ {
    move |e| match e {
        Error::BadRequest(m) if m.starts_with("rules") || m.starts_with("schema_version") => {
            Error::BadRequest(format!("{path}.{m}"))
        }
        e @ (Error::Unavailable(_) | Error::Internal(_)) => e,
        e => refused(path, e),
    }
}

/// An identity provider as the use cases would store it; its `sso_type` never changes.
pub(super) fn idp(path: &str, e: &IdpEntry, stored: &Account) -> Result<IdpEntry> {
    let id = parse_path_id("idp_id", &e.id).map_err(at(path))?;
    let sso = SsoType::parse(&e.sso_type)
        .ok_or_else(|| refused(format!("{path}.sso_type"), "must be virtual_user_sso or iam_user_sso"))?;
    if let Some(s) = stored.identity_providers.iter().find(|s| s.id == id)
        && s.sso_type != e.sso_type
    {
        return Err(refused(
            format!("{path}.sso_type"),
            format!("cannot be changed (stored: {})", s.sso_type),
        ));
    }
    let mut remote_ids = parse_remote_ids(e.remote_ids.clone()).map_err(at(path))?;
    remote_ids.sort();
    Ok(IdpEntry {
        description: crate::service::names::parse_description("identity_provider.description", &e.description)
            .map_err(at(path))?,
        enabled: e.enabled,
        id,
        remote_ids,
        sso_type: sso.as_str().to_string(),
    })
}

/// A mapping compiled, in the form it is stored and exported in.
pub(super) fn mapping(path: &str, e: &MappingEntry, account: &NameRef) -> Result<MappingEntry> {
    let id = parse_path_id("mapping_id", &e.id).map_err(at(path))?;
    let (_, text) =
        compile_document(json!({"rules": e.rules, "schema_version": e.schema_version})).map_err(at(path))?;
    super::mapping_entry(&MappingRecord {
        id,
        domain_id: account.id.clone(),
        document: text,
        created_at_ms: 0,
        updated_at_ms: 0,
    })
}

pub(super) fn protocol(path: &str, e: &ProtocolEntry) -> Result<ProtocolEntry> {
    if Protocol::parse(&e.protocol).is_none() {
        return Err(refused(format!("{path}.protocol"), "must be saml or oidc"));
    }
    Ok(e.clone())
}

/// An OIDC configuration built as a create would build it; an update must come to the same.
pub(super) fn oidc(path: &str, e: &OidcEntry, stored: &Account, egress: &EgressPolicy) -> Result<OidcEntry> {
    let built = OidcConfig::build(e.to_input(), None, egress)
        .map_err(oidc_error)
        .map_err(at(path))?;
    let entry = OidcEntry::from_config(&e.idp, built);
    if let Some(s) = stored.oidc_configs.iter().find(|s| s.idp == e.idp) {
        check_nothing_unset(path, s, &entry)?;
    }
    Ok(entry)
}

/// Ids are global in the store, so each appears once in the whole document; a protocol, OIDC
/// configuration or metadata once per provider.
pub(super) fn check_unique_ids(doc: &Document) -> Result<()> {
    let mut seen: BTreeMap<(Kind, String), String> = BTreeMap::new();
    for (name, a) in &doc.accounts {
        let base = format!("accounts.{name}");
        let keys = a
            .identity_providers
            .iter()
            .enumerate()
            .map(|(i, e)| (Kind::IdentityProvider, e.id.clone(), format!("identity_providers[{i}]")))
            .chain(
                a.mappings
                    .iter()
                    .enumerate()
                    .map(|(i, e)| (Kind::Mapping, e.id.clone(), format!("mappings[{i}]"))),
            )
            .chain(a.protocols.iter().enumerate().map(|(i, e)| {
                (
                    Kind::Protocol,
                    format!("{}/{}", e.idp, e.protocol),
                    format!("protocols[{i}]"),
                )
            }))
            .chain(
                a.oidc_configs
                    .iter()
                    .enumerate()
                    .map(|(i, e)| (Kind::OidcConfig, e.idp.clone(), format!("oidc_configs[{i}]"))),
            )
            .chain(
                a.saml_metadata
                    .iter()
                    .enumerate()
                    .map(|(i, e)| (Kind::SamlMetadata, e.idp.clone(), format!("saml_metadata[{i}]"))),
            );
        for (kind, key, at) in keys {
            let path = format!("{base}.{at}");
            if let Some(first) = seen.insert((kind, key.clone()), path.clone()) {
                return Err(refused(path, format!("{} {key} is also at {first}", kind.as_str())));
            }
        }
    }
    Ok(())
}

/// What an object names must exist once the plan has run: in the document, or stored and not
/// pruned; in the same account.
pub(super) fn check_references(
    base: &str,
    wanted: &Account,
    stored: &Account,
    prune: Prune,
    entities: &[String],
) -> Result<()> {
    let mut idps: BTreeMap<&str, &IdpEntry> = wanted.identity_providers.iter().map(|e| (e.id.as_str(), e)).collect();
    let mut mappings: BTreeSet<&str> = wanted.mappings.iter().map(|m| m.id.as_str()).collect();
    let mut protocols: BTreeSet<(&str, &str)> = wanted
        .protocols
        .iter()
        .map(|p| (p.idp.as_str(), p.protocol.as_str()))
        .collect();
    if prune == Prune::Keep {
        for s in &stored.identity_providers {
            idps.entry(s.id.as_str()).or_insert(s);
        }
        mappings.extend(stored.mappings.iter().map(|m| m.id.as_str()));
        protocols.extend(stored.protocols.iter().map(|p| (p.idp.as_str(), p.protocol.as_str())));
    }
    let no_idp = |path: String, idp: &str| {
        refused(
            path,
            format!("no identity provider {idp} in the file or kept in this account"),
        )
    };
    for (i, p) in wanted.protocols.iter().enumerate() {
        let path = format!("{base}.protocols[{i}]");
        if !idps.contains_key(p.idp.as_str()) {
            return Err(no_idp(format!("{path}.idp"), &p.idp));
        }
        if !mappings.contains(p.mapping_id.as_str()) {
            return Err(refused(
                format!("{path}.mapping_id"),
                format!(
                    "no mapping {} in the file or kept in this account (a protocol names only a mapping of its provider's account)",
                    p.mapping_id
                ),
            ));
        }
    }
    for (i, o) in wanted.oidc_configs.iter().enumerate() {
        let path = format!("{base}.oidc_configs[{i}].idp");
        if !idps.contains_key(o.idp.as_str()) {
            return Err(no_idp(path, &o.idp));
        }
        if !protocols.contains(&(o.idp.as_str(), "oidc")) {
            return Err(refused(
                path,
                format!("identity provider {} has no oidc protocol", o.idp),
            ));
        }
    }
    for (i, (s, entity)) in wanted.saml_metadata.iter().zip(entities).enumerate() {
        let path = format!("{base}.saml_metadata[{i}]");
        let Some(idp) = idps.get(s.idp.as_str()) else {
            return Err(no_idp(format!("{path}.idp"), &s.idp));
        };
        if !protocols.contains(&(s.idp.as_str(), "saml")) {
            return Err(refused(
                format!("{path}.idp"),
                format!("identity provider {} has no saml protocol", s.idp),
            ));
        }
        // The import would add it to empty remote ids, and the next plan would take it away.
        if !idp.remote_ids.contains(entity) {
            return Err(refused(
                format!("{path}.metadata"),
                format!(
                    "entityID {entity} is not one of identity provider {}'s remote_ids",
                    s.idp
                ),
            ));
        }
    }
    let iam = idps
        .values()
        .filter(|i| i.sso_type == SsoType::IamUserSso.as_str())
        .count();
    if iam > 0 && idps.len() > 1 {
        return Err(refused(
            format!("{base}.identity_providers"),
            "an account's providers are all virtual_user_sso or one iam_user_sso",
        ));
    }
    Ok(())
}

/// The API keeps a stored value when a write leaves a field out, so these cannot go back to
/// unset; a plan that needs it would never converge.
fn check_nothing_unset(path: &str, stored: &OidcEntry, wanted: &OidcEntry) -> Result<()> {
    let fields = [
        (
            "signing_key",
            stored.signing_key.is_some(),
            wanted.signing_key.is_none(),
        ),
        (
            "replay_protection",
            stored.replay_protection.is_some(),
            wanted.replay_protection.is_none(),
        ),
        (
            "max_token_age",
            stored.max_token_age.is_some(),
            wanted.max_token_age.is_none(),
        ),
        (
            "max_token_lifetime",
            stored.max_token_lifetime.is_some(),
            wanted.max_token_lifetime.is_none(),
        ),
    ];
    for (field, was_set, unset) in fields {
        if was_set && unset {
            return Err(refused(
                format!("{path}.{field}"),
                "is set in the store, and the API cannot unset it: write a value, or delete the provider and create it anew",
            ));
        }
    }
    Ok(())
}
