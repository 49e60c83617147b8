//! SAML sign-in as a service provider: SP-initiated starts (browser Redirect/POST, WebSSO for
//! dashboards, ECP for the command line) and the assertion consumer that validates a Response,
//! enforces InResponseTo and replay rules through the shared one-time store, and hands the
//! attributes to the federated login.
//!
//! An AuthnRequest's ID is `_<128 random bits>.<what it was for>`: the IdP signs it back as
//! InResponseTo, and only the digest of (ID, RelayState) is stored, single use, so neither a
//! forged nor a replayed answer, nor one with another RelayState, finds an outstanding request.

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use samael::crypto::CertificateDer;
use serde::{Deserialize, Serialize};

use super::auth::Issued;
use super::ttl_cache::TtlCache;
use super::websso::{digest, random_b64};
use super::{Error, Refusal, Result, Services};
use crate::saml::request::read_ecp_envelope;
use crate::saml::request::{AuthnRequestParams, paos_envelope, redirect_url, render_authn_request, sign_enveloped};
use crate::saml::response::{ResponseExpectations, SignedPart, ValidResponse, validate_response};
use crate::saml::sp_metadata::{ACS_ECP_PATH, ACS_POST_PATH};
use crate::saml::{BINDING_PAOS, BINDING_POST, BINDING_REDIRECT, IdpMetadata, SamlError, xml};

/// Where the IdP-initiated token API lives (reference §5.13.6.1).
pub const TOKENS_PATH: &str = "/v3.0/OS-FEDERATION/tokens";
const REQUEST_TTL_MS: i64 = 10 * 60 * 1000;
const REQUEST_NAMESPACE: &str = "saml-authn-request";
/// Inputs up to this size are decoded on the async runtime (microseconds); larger ones on the
/// blocking pool, so a burst of large Responses cannot hold the runtime.
pub const INLINE_DECODE_BYTES: usize = 64 * 1024;
/// The oldest IssueInstant accepted.
const MAX_RESPONSE_AGE_SECS: i64 = 10 * 60;

/// Per-provider choices made at metadata import (fedgate extensions of the import body).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SamlIdpSettings {
    /// Accept responses that answer no AuthnRequest (IdP-initiated SSO).
    #[serde(default = "default_true")]
    pub allow_idp_initiated: bool,
    #[serde(default)]
    pub signed_part: SignedPart,
    /// Accept RSA-SHA1 signatures and SHA-1 digests from this provider.
    #[serde(default)]
    pub allow_sha1: bool,
}

fn default_true() -> bool {
    true
}

impl Default for SamlIdpSettings {
    fn default() -> Self {
        SamlIdpSettings {
            allow_idp_initiated: true,
            signed_part: SignedPart::Either,
            allow_sha1: false,
        }
    }
}

/// What is stored as the metadata record's parsed form.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoredIdpMetadata {
    #[serde(flatten)]
    pub metadata: IdpMetadata,
    #[serde(default)]
    pub settings: SamlIdpSettings,
}

pub struct SamlProvider {
    pub idp_id: String,
    pub metadata: IdpMetadata,
    pub certificates: Vec<CertificateDer>,
    pub settings: SamlIdpSettings,
}

/// Which endpoint received a Response: it decides the accepted Destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Acs {
    Post,
    Ecp,
    Tokens,
}

/// What an SP-initiated sign-in was started for (dashboards: `start_saml_websso`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartFor {
    /// A browser at the /auth URL: the token comes back as the ACS's answer.
    Browser,
    /// An ECP client.
    Ecp,
}

/// What a request is for, as it rides in the AuthnRequest ID.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Purpose {
    Browser,
    /// The token is posted to this trusted origin, from the browser holding the binding whose
    /// digest this is.
    Dashboard {
        origin: String,
        binding_digest: String,
    },
    Ecp,
}

/// A dashboard sign-in's start: the AuthnRequest to send, and the browser-binding cookie to set.
pub struct SamlWebSsoStart {
    pub send: SamlStart,
    pub binding: String,
}

/// How to send the AuthnRequest.
pub enum SamlStart {
    Redirect(String),
    /// An auto-submitting form to `url` with SAMLRequest and RelayState.
    Post {
        url: String,
        saml_request: String,
        relay_state: String,
    },
    /// The PAOS envelope for an ECP client.
    Paos(String),
}

/// What arrived with a Response besides the document: its RelayState, and the browser-binding
/// cookie where a browser posted it.
#[derive(Debug, Clone, Copy, Default)]
pub struct Answer<'a> {
    pub relay_state: Option<&'a str>,
    pub binding: Option<&'a str>,
}

/// The digest a dashboard request carries of its browser binding: SHA-256, base64url (shorter
/// than hex in an ID that travels in URLs).
fn binding_digest(binding: &str) -> String {
    use sha2::{Digest, Sha256};
    URL_SAFE_NO_PAD.encode(Sha256::digest(binding.as_bytes()))
}

fn binding_matches(binding: Option<&str>, expected: &str) -> bool {
    binding.is_some_and(|b| {
        let seen = binding_digest(b);
        // memcmp::eq needs equal lengths; an empty expectation never matches.
        !expected.is_empty()
            && seen.len() == expected.len()
            && openssl::memcmp::eq(seen.as_bytes(), expected.as_bytes())
    })
}

/// An IdP's browser sign-in endpoint, checked again before a browser is sent there: metadata
/// imported before this rule existed may hold one that fails it.
fn check_sso_location(location: &str) -> Result<()> {
    crate::egress::check_url(location)
        .map(|_| ())
        .map_err(|e| Error::invalid("metadata", format!("the SingleSignOnService Location {location:?} {e}")))
}

pub struct SamlSignIn {
    pub issued: Issued,
    /// The dashboard to post the token to, for WebSSO.
    pub dashboard: Option<String>,
}

#[derive(Serialize, Deserialize)]
struct RequestPurpose {
    /// Identity provider.
    i: String,
    /// `b` browser, `d` dashboard, `e` ECP.
    k: char,
    /// Dashboard origin.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    o: String,
    /// Dashboards: digest of the browser-binding cookie (base64url SHA-256).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    b: String,
}

pub struct SamlProviders {
    providers: TtlCache<String, Arc<SamlProvider>>,
    by_entity: TtlCache<String, String>,
}

impl SamlProviders {
    pub fn new(ttl_ms: i64) -> Self {
        SamlProviders {
            providers: TtlCache::new(ttl_ms),
            by_entity: TtlCache::new(ttl_ms),
        }
    }

    pub fn invalidate(&self) {
        self.providers.invalidate();
        self.by_entity.invalidate();
    }
}

fn request_key(request_id: &str, relay_state: &str) -> String {
    digest(&format!("{request_id}\n{relay_state}"))
}

/// A refused SAML sign-in, from `idp_id` when it is known.
fn refused(idp_id: Option<&str>, reason: impl Into<Refusal>) -> Error {
    Error::Refused {
        via: match idp_id {
            Some(idp) => format!("SAML response from {idp}"),
            None => "SAML response".into(),
        },
        reason: reason.into(),
    }
}

impl Services {
    pub fn acs_url(&self, acs: Acs) -> String {
        let path = match acs {
            Acs::Post => ACS_POST_PATH,
            Acs::Ecp => ACS_ECP_PATH,
            Acs::Tokens => TOKENS_PATH,
        };
        format!("{}{path}", self.config.public_url)
    }

    /// The provider's imported metadata and settings, cached for the refresh interval.
    pub async fn saml_provider(&self, idp_id: &str, now_ms: i64) -> Result<Option<Arc<SamlProvider>>> {
        let cache = &self.saml.providers;
        if let Some(found) = cache.get(&idp_id.to_string(), now_ms) {
            return Ok(Some(found));
        }
        let generation = cache.generation();
        let loaded = match self.store.get_saml_metadata(idp_id, "saml").await? {
            None => None,
            Some(record) => {
                let stored: StoredIdpMetadata = serde_json::from_str(&record.parsed)
                    .map_err(|e| Error::Internal(format!("stored metadata of {idp_id}: {e}")))?;
                let certificates = stored
                    .metadata
                    .signing_certificates
                    .iter()
                    .filter_map(|c| STANDARD.decode(c).ok().map(CertificateDer::from))
                    .collect();
                Some(Arc::new(SamlProvider {
                    idp_id: idp_id.to_string(),
                    metadata: stored.metadata,
                    certificates,
                    settings: stored.settings,
                }))
            }
        };
        // Only hits are kept: the key comes from the request, and unknown ones must not fill
        // the cache.
        if let Some(provider) = &loaded {
            cache.put(idp_id.to_string(), provider.clone(), generation, now_ms);
        }
        Ok(loaded)
    }

    /// The identity provider whose remote_ids hold `entity_id`.
    async fn idp_for_entity(&self, entity_id: &str, now_ms: i64) -> Result<Option<String>> {
        let cache = &self.saml.by_entity;
        if let Some(found) = cache.get(&entity_id.to_string(), now_ms) {
            return Ok(Some(found));
        }
        let generation = cache.generation();
        // A miss reads every provider, and unknown Issuers always miss: bounded like a start.
        let _admitted = self.admission.sign_in.admit().await?;
        let found = self
            .store
            .list_idps()
            .await?
            .into_iter()
            .find(|idp| idp.remote_ids.iter().any(|r| r == entity_id))
            .map(|idp| idp.id);
        if let Some(idp_id) = &found {
            cache.put(entity_id.to_string(), idp_id.clone(), generation, now_ms);
        }
        Ok(found)
    }

    /// Starts SP-initiated sign-in at `idp_id`.
    pub async fn start_saml_login(&self, idp_id: &str, purpose: StartFor, now_ms: i64) -> Result<SamlStart> {
        let purpose = match purpose {
            StartFor::Browser => Purpose::Browser,
            StartFor::Ecp => Purpose::Ecp,
        };
        self.start_saml(idp_id, purpose, now_ms).await
    }

    /// Starts browser sign-in for the dashboard at `origin`, bound to the browser that will
    /// carry `binding` as a cookie: the answer is accepted only from it.
    pub async fn start_saml_websso(&self, idp_id: &str, origin: &str, now_ms: i64) -> Result<SamlWebSsoStart> {
        self.check_dashboard(origin)?;
        let binding = random_b64(16);
        let purpose = Purpose::Dashboard {
            origin: origin.to_string(),
            binding_digest: binding_digest(&binding),
        };
        let send = self.start_saml(idp_id, purpose, now_ms).await?;
        Ok(SamlWebSsoStart { send, binding })
    }

    async fn start_saml(&self, idp_id: &str, purpose: Purpose, now_ms: i64) -> Result<SamlStart> {
        // Unauthenticated, and it writes to the shared store and signs: admitted like a hash.
        let _admitted = self.admission.sign_in.admit().await?;
        let idp = self.enabled_idp(idp_id).await?;
        if self.store.get_protocol(&idp.id, "saml").await?.is_none() {
            return Err(Error::not_found("protocol", format!("{idp_id}/saml")));
        }
        let provider = self
            .saml_provider(&idp.id, now_ms)
            .await?
            .ok_or_else(|| Error::invalid("idp_id", "the identity provider has no SAML metadata"))?;
        if purpose != Purpose::Ecp {
            let metadata = &provider.metadata;
            if let Some(location) = metadata
                .endpoint(BINDING_REDIRECT)
                .or_else(|| metadata.endpoint(BINDING_POST))
            {
                check_sso_location(location)?;
            }
        }
        let (kind, origin, binding) = match &purpose {
            Purpose::Browser => ('b', String::new(), String::new()),
            Purpose::Dashboard { origin, binding_digest } => ('d', origin.clone(), binding_digest.clone()),
            Purpose::Ecp => ('e', String::new(), String::new()),
        };
        let purpose_text = serde_json::to_vec(&RequestPurpose {
            i: idp.id.clone(),
            k: kind,
            o: origin,
            b: binding,
        })
        .map_err(|e| Error::Internal(e.to_string()))?;
        let mut id_bytes = [0u8; 16];
        super::fill_random(&mut id_bytes);
        let request_id = format!("_{}.{}", hex::encode(id_bytes), URL_SAFE_NO_PAD.encode(purpose_text));
        let relay_state = random_b64(16);
        self.store
            .remember_once(
                REQUEST_NAMESPACE,
                &request_key(&request_id, &relay_state),
                now_ms + REQUEST_TTL_MS,
                now_ms,
            )
            .await?;
        let metadata = &provider.metadata;
        let sp_entity_id = self.config.public_url.clone();
        let now_secs = now_ms.div_euclid(1000);
        tracing::info!(idp.id = %idp.id, saml.request_id = %request_id, purpose = %kind, "SAML sign-in started");
        if purpose == Purpose::Ecp {
            let acs = self.acs_url(Acs::Ecp);
            let destination = metadata.ecp_endpoint.clone().unwrap_or_default();
            let request = render_authn_request(
                &AuthnRequestParams {
                    id: &request_id,
                    issue_instant_secs: now_secs,
                    destination: &destination,
                    sp_entity_id: &sp_entity_id,
                    acs_url: &acs,
                    protocol_binding: BINDING_PAOS,
                },
                false,
            );
            // Unsigned, as Shibboleth and Keystone send it: the ECP client relays the request
            // inside SOAP, and IdPs that re-serialise the body (pysaml2) break an enveloped
            // signature. The answer can only reach the ACS in our metadata either way.
            return Ok(SamlStart::Paos(paos_envelope(
                &request,
                &acs,
                &sp_entity_id,
                &relay_state,
            )));
        }
        let acs = self.acs_url(Acs::Post);
        if let Some(endpoint) = metadata.endpoint(BINDING_REDIRECT) {
            let request = render_authn_request(
                &AuthnRequestParams {
                    id: &request_id,
                    issue_instant_secs: now_secs,
                    destination: endpoint,
                    sp_entity_id: &sp_entity_id,
                    acs_url: &acs,
                    protocol_binding: BINDING_POST,
                },
                false,
            );
            let endpoint = endpoint.to_string();
            let key = self.sp.signing.private_key.clone();
            let url = blocking(move || redirect_url(&endpoint, &request, &relay_state, &key)).await?;
            return Ok(SamlStart::Redirect(url));
        }
        let endpoint = metadata
            .endpoint(BINDING_POST)
            .ok_or_else(|| Error::invalid("idp_id", "the identity provider offers no browser sign-in endpoint"))?
            .to_string();
        let request = render_authn_request(
            &AuthnRequestParams {
                id: &request_id,
                issue_instant_secs: now_secs,
                destination: &endpoint,
                sp_entity_id: &sp_entity_id,
                acs_url: &acs,
                protocol_binding: BINDING_POST,
            },
            true,
        );
        let sign_key = self.sp.signing.private_key_der.clone();
        let signed = blocking(move || sign_enveloped(&request, &sign_key)).await?;
        Ok(SamlStart::Post {
            url: endpoint,
            saml_request: STANDARD.encode(signed),
            relay_state,
        })
    }

    /// The assertion consumer: validates `saml_response` (base64, as posted), checks it
    /// answers an outstanding request (or is an allowed unsolicited one) and was not seen
    /// before, and signs the user in. `idp_hint` is X-Idp-Id where the API has it.
    pub async fn finish_saml_login(
        &self,
        acs: Acs,
        idp_hint: Option<&str>,
        saml_response: String,
        answer: Answer<'_>,
        now_ms: i64,
    ) -> Result<SamlSignIn> {
        // Decoding, reading and verifying a Response hold its text and a blocking thread:
        // bounded in number and in waiting time, 429 beyond (known Issuers included).
        let _admitted = self.admission.signatures.admit().await?;
        let saml_response_len = saml_response.len();
        let decode = move || {
            let compact: String = saml_response.chars().filter(|c| !c.is_ascii_whitespace()).collect();
            let decoded = STANDARD
                .decode(compact.as_bytes())
                .map_err(|_| Refusal::NotBase64("SAMLResponse"))?;
            String::from_utf8(decoded).map_err(|_| Refusal::NotUtf8("SAMLResponse"))
        };
        let decoded = if saml_response_len > INLINE_DECODE_BYTES {
            tokio::task::spawn_blocking(decode)
                .await
                .map_err(|e| Error::Internal(e.to_string()))?
        } else {
            decode()
        };
        let xml = decoded.map_err(|why| refused(None, why))?;
        self.consume_saml_response(acs, idp_hint, xml, answer, now_ms).await
    }

    /// The ECP assertion consumer: reads the SOAP envelope an ECP client relays (the IdP's
    /// Response and our RelayState header), then as [`consume_saml_response`].
    pub async fn finish_ecp_login(&self, envelope: &[u8], now_ms: i64) -> Result<SamlSignIn> {
        let _admitted = self.admission.signatures.admit().await?;
        let envelope = std::str::from_utf8(envelope).map_err(|_| refused(None, Refusal::NotUtf8("ECP envelope")))?;
        let relay = read_ecp_envelope(envelope).map_err(|e| refused(None, e))?;
        let answer = Answer {
            relay_state: relay.relay_state.as_deref(),
            binding: None,
        };
        self.consume_saml_response(Acs::Ecp, None, relay.response_xml, answer, now_ms)
            .await
    }

    /// The work behind both consumers, for a decoded Response; callers hold a `signatures`
    /// admission. Signature work always runs on the blocking pool; reading a large document
    /// does too.
    async fn consume_saml_response(
        &self,
        acs: Acs,
        idp_hint: Option<&str>,
        xml: String,
        answer: Answer<'_>,
        now_ms: i64,
    ) -> Result<SamlSignIn> {
        let Answer { relay_state, binding } = answer;
        let limit = crate::saml::response::MAX_RESPONSE_BYTES;
        if xml.len() > limit {
            return Err(refused(None, SamlError::TooLarge { limit }));
        }
        let (idp_id, xml) = match idp_hint {
            Some(id) => (id.to_string(), xml),
            None => {
                let (issuer, xml) = if xml.len() > INLINE_DECODE_BYTES {
                    tokio::task::spawn_blocking(move || (peek_issuer(&xml), xml))
                        .await
                        .map_err(|e| Error::Internal(e.to_string()))?
                } else {
                    (peek_issuer(&xml), xml)
                };
                let issuer = issuer.map_err(|e| refused(None, e))?;
                let idp_id = self
                    .idp_for_entity(&issuer, now_ms)
                    .await?
                    .ok_or_else(|| refused(None, Refusal::UnknownIssuer(issuer)))?;
                (idp_id, xml)
            }
        };
        let refuse = |reason: Refusal| refused(Some(&idp_id), reason);
        let provider = self
            .saml_provider(&idp_id, now_ms)
            .await?
            .ok_or_else(|| refuse(Refusal::NotConfigured("SAML metadata")))?;
        let mut destinations = vec![self.acs_url(acs)];
        if acs == Acs::Tokens {
            // The IdP addresses the response to the ACS it knows from our metadata.
            destinations.push(self.acs_url(Acs::Post));
        }
        let skew = self.config.clock_skew_secs;
        let decryption_key = self.sp.encryption.private_key.clone();
        let sp_entity_id = self.config.public_url.clone();
        let checked = Arc::clone(&provider);
        let valid: ValidResponse = tokio::task::spawn_blocking(move || {
            let expect = ResponseExpectations {
                idp_entity_id: &checked.metadata.entity_id,
                sp_entity_id: &sp_entity_id,
                destinations: &destinations,
                certificates: &checked.certificates,
                signed_part: checked.settings.signed_part,
                allow_sha1: checked.settings.allow_sha1,
                skew_secs: skew,
                max_age_secs: MAX_RESPONSE_AGE_SECS,
                decryption_key: Some(&decryption_key),
            };
            validate_response(&xml, &expect, now_ms.div_euclid(1000))
        })
        .await
        .map_err(|e| Error::Internal(e.to_string()))?
        .map_err(|e| refuse(e.into()))?;

        let dashboard = match valid.in_response_to.as_deref() {
            Some(request_id) => {
                let purpose: RequestPurpose = request_id
                    .split_once('.')
                    .and_then(|(_, p)| URL_SAFE_NO_PAD.decode(p).ok())
                    .and_then(|bytes| serde_json::from_slice(&bytes).ok())
                    .ok_or_else(|| refuse(Refusal::ForeignRequest(request_id.to_string())))?;
                if purpose.i != idp_id {
                    return Err(refuse(Refusal::OtherProvider {
                        expected: purpose.i,
                        got: idp_id.clone(),
                    }));
                }
                if (purpose.k == 'e') != (acs == Acs::Ecp) {
                    return Err(refuse(Refusal::WrongConsumer));
                }
                // A dashboard sign-in ends only in the browser that started it, so nobody's
                // answer can be posted into another person's browser. Checked before the
                // request is spent, as above: an answer delivered to the wrong browser must not
                // cancel the right browser's sign-in.
                if purpose.k == 'd' && !binding_matches(binding, &purpose.b) {
                    return Err(refuse(Refusal::OtherBrowser));
                }
                // Checked before the request is spent, so a misdirected answer does not burn it.
                let relay = relay_state.unwrap_or_default();
                if !self
                    .store
                    .take_once(REQUEST_NAMESPACE, &request_key(request_id, relay), now_ms)
                    .await?
                {
                    return Err(refuse(Refusal::RequestUnknown(request_id.to_string())));
                }
                (purpose.k == 'd').then_some(purpose.o)
            }
            None => {
                if !provider.settings.allow_idp_initiated || acs == Acs::Ecp {
                    return Err(refuse(Refusal::Unsolicited));
                }
                None
            }
        };
        let expires_ms = valid.usable_until_secs.saturating_mul(1000);
        if !self
            .store
            .remember_once(
                // Keyed by the issuing entity, not by our provider record: whatever provider an
                // assertion is posted as, it signs in once.
                &format!("saml-assertion:{}", provider.metadata.entity_id),
                &valid.assertion_id,
                expires_ms,
                now_ms,
            )
            .await?
        {
            return Err(refuse(Refusal::Replayed {
                what: "assertion",
                id: valid.assertion_id.clone(),
            }));
        }
        tracing::info!(idp.id = %idp_id, saml.assertion_id = %valid.assertion_id, "SAML assertion accepted");
        let issued = self.federated_login(&idp_id, "saml", &valid.attributes, now_ms).await?;
        if let Some(origin) = &dashboard {
            self.check_dashboard(origin)?;
        }
        Ok(SamlSignIn { issued, dashboard })
    }

    /// Providers offering SAML browser sign-in, for the WebSSO chooser.
    pub async fn saml_websso_providers(&self, now_ms: i64) -> Result<Vec<String>> {
        let mut out = Vec::new();
        for idp in self.store.list_idps().await?.into_iter().filter(|i| i.enabled) {
            if let Some(p) = self.saml_provider(&idp.id, now_ms).await?
                && (p.metadata.endpoint(BINDING_REDIRECT).is_some() || p.metadata.endpoint(BINDING_POST).is_some())
            {
                out.push(idp.id);
            }
        }
        Ok(out)
    }
}

/// The Issuer of a Response (or of its assertion), to find the provider before verifying.
fn peek_issuer(xml: &str) -> std::result::Result<String, SamlError> {
    use crate::saml::response::{NS_ASSERTION, NS_PROTOCOL};
    crate::saml::metadata::check_untrusted_xml(xml, crate::saml::response::MAX_RESPONSE_BYTES)?;
    let root = xml::parse(xml)?;
    if !root.is(NS_PROTOCOL, "Response") {
        return Err(SamlError::UnexpectedRoot {
            expected: "samlp:Response",
            found: root.name,
        });
    }
    let issuer = root
        .child(NS_ASSERTION, "Issuer")
        .or_else(|| {
            root.child(NS_ASSERTION, "Assertion")
                .and_then(|a| a.child(NS_ASSERTION, "Issuer"))
        })
        .map(|i| i.text.trim().to_string())
        .filter(|i| !i.is_empty())
        .ok_or(SamlError::Missing("Issuer"))?;
    // Metadata import accepts entity ids up to this length; nothing longer can match.
    if issuer.len() > 1024 {
        return Err(SamlError::IssuerTooLong);
    }
    Ok(issuer)
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> std::result::Result<T, SamlError> + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Error::Internal(e.to_string()))?
        .map_err(|e| Error::Internal(e.to_string()))
}
