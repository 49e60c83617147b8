//! /v3/OS-FEDERATION: identity providers, mappings, protocols, imported SAML metadata.

use serde::Serialize;
use serde_json::{Map, Value};

use super::{Link, link, local_time};
use crate::model::{IdentityProvider, MappingRecord, Protocol, ProtocolRecord, SsoType, StoredSamlMetadata};

const FEDERATION: &str = "/v3/OS-FEDERATION";

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct IdpView<'a> {
    pub description: &'a str,
    pub enabled: bool,
    pub id: &'a str,
    pub links: IdpLinks,
    pub remote_ids: &'a [String],
    pub sso_type: SsoType,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct IdpLinks {
    pub protocols: String,
    #[serde(rename = "self")]
    pub href: String,
}

pub fn idp<'a>(base: &str, idp: &'a IdentityProvider) -> IdpView<'a> {
    let href = format!("{base}{FEDERATION}/identity_providers/{}", idp.id);
    IdpView {
        description: &idp.description,
        enabled: idp.enabled,
        id: &idp.id,
        links: IdpLinks {
            protocols: format!("{href}/protocols"),
            href,
        },
        remote_ids: &idp.remote_ids,
        sso_type: idp.sso_type,
    }
}

/// A mapping: its stored document (`rules`) with `id` and `links` beside it. Through a `Value`
/// only: the document's keys come first when serialized directly.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MappingView<'a> {
    #[serde(flatten)]
    pub document: Map<String, Value>,
    pub id: &'a str,
    pub links: Link,
}

pub fn mapping<'a>(base: &str, m: &'a MappingRecord) -> MappingView<'a> {
    let mut document: Map<String, Value> = serde_json::from_str(&m.document).unwrap_or_default();
    // The stored document is what a client sent; the record's own fields win.
    document.remove("id");
    document.remove("links");
    MappingView {
        document,
        id: &m.id,
        links: link(format!("{base}{FEDERATION}/mappings/{}", m.id)),
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ProtocolView<'a> {
    pub id: Protocol,
    pub links: ProtocolLinks,
    pub mapping_id: &'a str,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ProtocolLinks {
    pub identity_provider: String,
    #[serde(rename = "self")]
    pub href: String,
}

pub fn protocol<'a>(base: &str, p: &'a ProtocolRecord) -> ProtocolView<'a> {
    let idp = format!("{base}{FEDERATION}/identity_providers/{}", p.idp_id);
    ProtocolView {
        id: p.id,
        links: ProtocolLinks {
            href: format!("{idp}/protocols/{}", p.id),
            identity_provider: idp,
        },
        mapping_id: &p.mapping_id,
    }
}

/// An identity provider's imported SAML metadata (reference: `update_time` in tenths of a
/// second, `2020-02-12T13:26:25.0`).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SamlMetadataView<'a> {
    pub data: &'a str,
    pub domain_id: &'a str,
    pub entity_id: &'a str,
    pub id: &'a str,
    pub idp_id: &'a str,
    pub protocol_id: Protocol,
    pub update_time: String,
    pub xaccount_type: &'a str,
}

pub fn saml_metadata(m: &StoredSamlMetadata) -> SamlMetadataView<'_> {
    let mut update_time = local_time(m.updated_at_ms);
    update_time.truncate(update_time.len().saturating_sub(5));
    SamlMetadataView {
        data: &m.data,
        domain_id: &m.domain_id,
        entity_id: &m.entity_id,
        id: &m.id,
        idp_id: &m.idp_id,
        protocol_id: m.protocol_id,
        update_time,
        xaccount_type: &m.xaccount_type,
    }
}
