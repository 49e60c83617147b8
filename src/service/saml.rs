//! SAML configuration: the SP's key pairs (generated on first start and kept in the shared
//! store, so every replica signs and decrypts with the same keys), our signed SP metadata, and
//! imported IdP metadata.

use std::sync::RwLock;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;
use zeroize::Zeroizing;

use super::saml_login::{SamlIdpSettings, StoredIdpMetadata};
use super::{AuthContext, Error, FederationConfig, Result, new_id};
use crate::audit::{Action, Resource};
use crate::model::{Protocol, StoredSamlMetadata, StoredSpKey};
use crate::saml::{self, SpMetadataParams};
use crate::store::{Store, StoreError};

/// One SP key pair: private key as PKCS#1 DER and parsed once (OpenSSL 3 key decoding costs
/// more than an RSA operation), certificate as base64 DER.
pub struct SpKeyPair {
    pub private_key_der: Zeroizing<Vec<u8>>,
    pub private_key: openssl::pkey::PKey<openssl::pkey::Private>,
    pub certificate: String,
}

pub struct SpKeys {
    pub signing: SpKeyPair,
    pub encryption: SpKeyPair,
    /// (unsigned, signed) metadata documents, rendered on first use.
    metadata: RwLock<Option<(String, String)>>,
}

pub(super) fn generate(common_name: &str) -> Result<(Vec<u8>, Vec<u8>)> {
    use openssl::asn1::Asn1Time;
    use openssl::bn::{BigNum, MsbOption};
    use openssl::hash::MessageDigest;
    use openssl::pkey::PKey;
    use openssl::rsa::Rsa;
    use openssl::x509::{X509, X509NameBuilder};
    let e = |err: openssl::error::ErrorStack| Error::internal(format!("generating the SP key pair: {err}"));
    let rsa = Rsa::generate(2048).map_err(e)?;
    let der = rsa.private_key_to_der().map_err(e)?;
    let key = PKey::from_rsa(rsa).map_err(e)?;
    let mut name = X509NameBuilder::new().map_err(e)?;
    name.append_entry_by_text("CN", common_name).map_err(e)?;
    let name = name.build();
    let mut cert = X509::builder().map_err(e)?;
    cert.set_version(2).map_err(e)?;
    let mut serial = BigNum::new().map_err(e)?;
    serial.rand(127, MsbOption::MAYBE_ZERO, false).map_err(e)?;
    let serial = serial.to_asn1_integer().map_err(e)?;
    cert.set_serial_number(&serial).map_err(e)?;
    cert.set_subject_name(&name).map_err(e)?;
    cert.set_issuer_name(&name).map_err(e)?;
    cert.set_pubkey(&key).map_err(e)?;
    let (not_before, not_after) = (
        Asn1Time::days_from_now(0).map_err(e)?,
        Asn1Time::days_from_now(3650).map_err(e)?,
    );
    cert.set_not_before(&not_before).map_err(e)?;
    cert.set_not_after(&not_after).map_err(e)?;
    cert.sign(&key, MessageDigest::sha256()).map_err(e)?;
    Ok((der, cert.build().to_der().map_err(e)?))
}

async fn ensure_key(store: &dyn Store, usage: &str, public_url: &str, now_ms: i64) -> Result<SpKeyPair> {
    let stored = match store.get_sp_key(usage).await? {
        Some(k) => k,
        None => {
            let cn = format!(
                "fedgate SP {usage} {}",
                public_url.trim_start_matches("https://").trim_start_matches("http://")
            );
            let cn: String = cn.chars().take(64).collect();
            let (key, cert) = tokio::task::spawn_blocking(move || generate(&cn))
                .await
                .map_err(Error::internal)??;
            let fresh = StoredSpKey {
                usage: usage.to_string(),
                private_key: STANDARD.encode(&key),
                certificate: STANDARD.encode(&cert),
                created_at_ms: now_ms,
            };
            match store.insert_sp_key(&fresh).await {
                Ok(()) => fresh,
                // Another replica generated it first: use theirs.
                Err(StoreError::Conflict(_)) => store
                    .get_sp_key(usage)
                    .await?
                    .ok_or_else(|| Error::internal("SP key vanished"))?,
                Err(e) => return Err(e.into()),
            }
        }
    };
    let private_key_der = Zeroizing::new(
        STANDARD
            .decode(&stored.private_key)
            .map_err(|_| Error::internal(format!("stored SP {usage} key is not base64")))?,
    );
    let private_key = openssl::rsa::Rsa::private_key_from_der(&private_key_der)
        .and_then(openssl::pkey::PKey::from_rsa)
        .map_err(|e| Error::internal(format!("stored SP {usage} key does not parse: {e}")))?;
    Ok(SpKeyPair {
        private_key_der,
        private_key,
        certificate: stored.certificate,
    })
}

pub async fn load_sp_keys(store: &dyn Store, public_url: &str, now_ms: i64) -> Result<SpKeys> {
    Ok(SpKeys {
        signing: ensure_key(store, "signing", public_url, now_ms).await?,
        encryption: ensure_key(store, "encryption", public_url, now_ms).await?,
        metadata: RwLock::new(None),
    })
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct MetadataImport {
    pub domain_id: String,
    pub xaccount_type: String,
    pub metadata: String,
    /// fedgate extensions: how strictly to treat this provider's responses.
    #[serde(flatten)]
    pub settings: SamlIdpSettings,
}

fn saml_error(e: saml::SamlError) -> Error {
    Error::invalid("metadata", e.to_string())
}

/// IdP metadata parsed and, when signed, verified (on the blocking pool: xmlsec blocks), with
/// the SSO Locations fedgate sends browsers to held to the URL rules; returns the document too.
pub(super) async fn parse_checked_metadata(xml: String) -> Result<(saml::IdpMetadata, String)> {
    let (parsed, xml) = super::xmlsec_log::spawn_blocking_in_span(move || (saml::parse_idp_metadata(&xml), xml))
        .await
        .map_err(Error::internal)?;
    let parsed = parsed.map_err(saml_error)?;
    // fedgate sends browsers to these: https, or http on a literal loopback host.
    for endpoint in &parsed.sso_endpoints {
        if endpoint.binding == saml::BINDING_REDIRECT || endpoint.binding == saml::BINDING_POST {
            crate::egress::check_url(&endpoint.location).map_err(|e| {
                Error::invalid(
                    "metadata",
                    format!("the SingleSignOnService Location {:?} {e}", endpoint.location),
                )
            })?;
        }
    }
    Ok((parsed, xml))
}

impl FederationConfig {
    /// GET /v3-ext/auth/OS-FEDERATION/SSO/metadata. Rendered and signed once per process.
    pub async fn sp_metadata(&self, signed: bool) -> Result<String> {
        if let Ok(cached) = self.sp.metadata.read()
            && let Some((unsigned, signed_doc)) = cached.as_ref()
        {
            return Ok(if signed { signed_doc.clone() } else { unsigned.clone() });
        }
        let id = format!(
            "_{}",
            &crate::service::catalog::stable_id(&[&self.config.public_url, &self.sp.signing.certificate])
        );
        let params = SpMetadataParams {
            public_url: &self.config.public_url,
            id: &id,
            signing_certificate: &self.sp.signing.certificate,
            encryption_certificate: &self.sp.encryption.certificate,
        };
        let unsigned = saml::render_sp_metadata(&params, false);
        let template = saml::render_sp_metadata(&params, true);
        let key = self.sp.signing.private_key_der.clone();
        let signed_doc = super::xmlsec_log::spawn_blocking_in_span(move || saml::sign_sp_metadata(&template, &key))
            .await
            .map_err(Error::internal)?
            .map_err(Error::internal)?;
        if let Ok(mut cache) = self.sp.metadata.write() {
            *cache = Some((unsigned.clone(), signed_doc.clone()));
        }
        Ok(if signed { signed_doc } else { unsigned })
    }

    /// POST .../protocols/{protocol}/metadata: parse, verify, store; the provider's remote ids
    /// take the entityID when they are empty, and must already contain it otherwise.
    /// Audited as `created.saml_metadata` (an import replaces what was there), the identity
    /// provider's id the target.
    pub async fn import_saml_metadata(
        &self,
        ctx: &AuthContext,
        idp_id: &str,
        protocol_id: &str,
        input: MetadataImport,
        now_ms: i64,
    ) -> Result<()> {
        let result = self
            .import_saml_metadata_unaudited(ctx, idp_id, protocol_id, input, now_ms)
            .await;
        self.audit_change(ctx, Action::Created(Resource::SamlMetadata), Some(idp_id), &result);
        result
    }

    /// [`Self::import_saml_metadata`] without its audit event.
    async fn import_saml_metadata_unaudited(
        &self,
        ctx: &AuthContext,
        idp_id: &str,
        protocol_id: &str,
        input: MetadataImport,
        now_ms: i64,
    ) -> Result<()> {
        let mut idp = self.idp_for_admin(ctx, idp_id).await?;
        let configured = match Protocol::parse(protocol_id) {
            Some(Protocol::Saml) => self.store.get_protocol(idp_id, Protocol::Saml).await?.is_some(),
            _ => false,
        };
        if !configured {
            return Err(Error::not_found("protocol", protocol_id));
        }
        if input.domain_id != idp.domain_id {
            return Err(Error::invalid(
                "domain_id",
                "must be the account that owns the identity provider",
            ));
        }
        let (parsed, xml) = parse_checked_metadata(input.metadata).await?;
        if idp.remote_ids.is_empty() {
            idp.remote_ids = vec![parsed.entity_id.clone()];
            let updated = self.store.update_idp(&idp, idp.enabled).await.map_err(|e| match e {
                StoreError::Conflict(_) => Error::Conflict(format!(
                    "entityID {} belongs to another identity provider",
                    parsed.entity_id
                )),
                other => other.into(),
            })?;
            if !updated {
                return Err(super::federation::changed_meanwhile(&idp.id));
            }
        } else if !idp.remote_ids.contains(&parsed.entity_id) {
            return Err(Error::invalid(
                "metadata",
                format!("entityID {} is not one of the provider's remote_ids", parsed.entity_id),
            ));
        }
        let record = StoredSamlMetadata {
            idp_id: idp.id.clone(),
            protocol_id: Protocol::Saml,
            id: new_id(),
            domain_id: input.domain_id,
            xaccount_type: input.xaccount_type,
            entity_id: parsed.entity_id.clone(),
            data: xml,
            parsed: serde_json::to_string(&StoredIdpMetadata {
                metadata: parsed.clone(),
                settings: input.settings,
            })
            .map_err(Error::internal)?,
            updated_at_ms: now_ms,
        };
        self.store.put_saml_metadata(&record).await?;
        self.invalidate_cache();
        tracing::info!(idp.id = %idp.id, saml.entity_id = %parsed.entity_id, signed = parsed.signed, "IdP metadata imported");
        Ok(())
    }

    pub async fn get_saml_metadata(
        &self,
        ctx: &AuthContext,
        idp_id: &str,
        protocol_id: &str,
    ) -> Result<StoredSamlMetadata> {
        self.idp_for_admin(ctx, idp_id).await?;
        let found = match Protocol::parse(protocol_id) {
            Some(protocol) => self.store.get_saml_metadata(idp_id, protocol).await?,
            None => None,
        };
        found.ok_or_else(|| Error::not_found("metadata", format!("{idp_id}/{protocol_id}")))
    }
}
