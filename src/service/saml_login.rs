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
use super::ttl_cache::{Spoil, TtlCache};
use super::websso::{digest, random_b64};
use super::xmlsec_log::spawn_blocking_in_span;
use super::{Error, Refusal, Result, Services, SignIn};
use crate::model::Protocol;
use crate::saml::request::{AuthnRequestParams, paos_envelope, redirect_url, render_authn_request, sign_enveloped};
use crate::saml::request::{EcpRelay, read_ecp_envelope};
use crate::saml::response::{ResponseExpectations, SignedPart, ValidResponse, validate_response};
use crate::saml::sp_metadata::{ACS_ECP_PATH, ACS_POST_PATH};
use crate::saml::{BINDING_PAOS, BINDING_POST, BINDING_REDIRECT, IdpMetadata, SamlError, xml};

/// Where the IdP-initiated token API lives (reference §5.13.6.1).
pub const TOKENS_PATH: &str = "/v3.0/OS-FEDERATION/tokens";
const REQUEST_TTL_MS: i64 = 10 * 60 * 1000;
const REQUEST_NAMESPACE: &str = "saml-authn-request";
/// Inputs up to this size are read on the async runtime (microseconds); larger ones on the
/// blocking pool, so a burst of large Responses cannot hold the runtime (`read_by_size`).
const INLINE_DECODE_BYTES: usize = 64 * 1024;
/// The oldest IssueInstant accepted.
const MAX_RESPONSE_AGE_SECS: i64 = 10 * 60;

/// Per-provider choices made at metadata import (fedgate extensions of the import body).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
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
    binding.is_some_and(|binding| {
        let seen = binding_digest(binding);
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

/// What an AuthnRequest ID carries after its random part, as JSON. The IdP signs the ID back
/// as InResponseTo, so the encoding (one-letter names, this field order, empty fields left out)
/// must not change while requests are outstanding: `request_id_encoding_is_stable` pins it.
#[derive(Debug, PartialEq, Eq, Serialize, Deserialize)]
struct EncodedPurpose {
    #[serde(rename = "i")]
    idp_id: String,
    /// `b` browser, `d` dashboard, `e` ECP.
    #[serde(rename = "k")]
    kind: char,
    #[serde(rename = "o", default, skip_serializing_if = "String::is_empty")]
    dashboard_origin: String,
    /// Dashboards: digest of the browser-binding cookie (base64url SHA-256).
    #[serde(rename = "b", default, skip_serializing_if = "String::is_empty")]
    binding_digest: String,
}

impl Purpose {
    /// The one letter a request ID and the log carry.
    fn kind(&self) -> char {
        match self {
            Purpose::Browser => 'b',
            Purpose::Dashboard { .. } => 'd',
            Purpose::Ecp => 'e',
        }
    }
}

impl EncodedPurpose {
    fn new(idp_id: &str, purpose: &Purpose) -> Self {
        let (dashboard_origin, binding_digest) = match purpose {
            Purpose::Dashboard { origin, binding_digest } => (origin.clone(), binding_digest.clone()),
            Purpose::Browser | Purpose::Ecp => (String::new(), String::new()),
        };
        EncodedPurpose {
            idp_id: idp_id.to_string(),
            kind: purpose.kind(),
            dashboard_origin,
            binding_digest,
        }
    }

    /// The provider and the purpose as the consumer acts on it: any kind but `d` and `e` is a
    /// browser's.
    fn into_parts(self) -> (String, Purpose) {
        let purpose = match self.kind {
            'd' => Purpose::Dashboard {
                origin: self.dashboard_origin,
                binding_digest: self.binding_digest,
            },
            'e' => Purpose::Ecp,
            _ => Purpose::Browser,
        };
        (self.idp_id, purpose)
    }
}

/// A fresh AuthnRequest ID: `_<128 random bits>.<base64url of the encoded purpose>`.
fn new_request_id(idp_id: &str, purpose: &Purpose) -> Result<String> {
    let purpose_json = serde_json::to_vec(&EncodedPurpose::new(idp_id, purpose)).map_err(Error::internal)?;
    let mut id_bytes = [0u8; 16];
    super::fill_random(&mut id_bytes);
    Ok(format!(
        "_{}.{}",
        hex::encode(id_bytes),
        URL_SAFE_NO_PAD.encode(purpose_json)
    ))
}

/// The provider and purpose an InResponseTo names, when it has the form of our request IDs.
fn decode_request_id(request_id: &str) -> Option<(String, Purpose)> {
    let (_, encoded) = request_id.split_once('.')?;
    let json = URL_SAFE_NO_PAD.decode(encoded).ok()?;
    let decoded: EncodedPurpose = serde_json::from_slice(&json).ok()?;
    Some(decoded.into_parts())
}

/// An AuthnRequest remembered as outstanding: its ID and the RelayState it travels with.
struct OutstandingRequest {
    id: String,
    relay_state: String,
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

    pub fn spoil(&self, how: Spoil) {
        self.providers.spoil(how);
        self.by_entity.spoil(how);
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

impl SignIn {
    pub fn acs_url(&self, acs: Acs) -> String {
        let path = match acs {
            Acs::Post => ACS_POST_PATH,
            Acs::Ecp => ACS_ECP_PATH,
            Acs::Tokens => TOKENS_PATH,
        };
        format!("{}{path}", self.config.public_url)
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
            .find(|idp| idp.remote_ids.iter().any(|remote_id| remote_id == entity_id))
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

    /// SP-initiated sign-in: check the provider can be asked, remember an outstanding request,
    /// then render it for the binding the purpose calls for.
    async fn start_saml(&self, idp_id: &str, purpose: Purpose, now_ms: i64) -> Result<SamlStart> {
        // Unauthenticated, and it writes to the shared store and signs: admitted like a hash.
        let _admitted = self.admission.sign_in.admit().await?;
        let provider = self.provider_to_ask(idp_id, &purpose, now_ms).await?;
        let request = self.remember_new_request(&provider.idp_id, &purpose, now_ms).await?;
        tracing::info!(
            idp.id = %provider.idp_id,
            saml.request_id = %request.id,
            purpose = %purpose.kind(),
            "SAML sign-in started"
        );
        match purpose {
            Purpose::Ecp => Ok(self.ecp_authn_request(&provider, request, now_ms)),
            Purpose::Browser | Purpose::Dashboard { .. } => {
                self.browser_authn_request(&provider, request, now_ms).await
            }
        }
    }

    /// The enabled provider with a SAML protocol and metadata; for a browser, its sign-in
    /// endpoint must still pass the egress URL rules.
    async fn provider_to_ask(&self, idp_id: &str, purpose: &Purpose, now_ms: i64) -> Result<Arc<SamlProvider>> {
        let idp = self.enabled_idp(idp_id).await?;
        if self.store.get_protocol(&idp.id, Protocol::Saml).await?.is_none() {
            return Err(Error::not_found("protocol", format!("{idp_id}/saml")));
        }
        let provider = self
            .saml_provider(&idp.id, now_ms)
            .await?
            .ok_or_else(|| Error::invalid("idp_id", "the identity provider has no SAML metadata"))?;
        if *purpose != Purpose::Ecp {
            let metadata = &provider.metadata;
            if let Some(location) = metadata
                .endpoint(BINDING_REDIRECT)
                .or_else(|| metadata.endpoint(BINDING_POST))
            {
                check_sso_location(location)?;
            }
        }
        Ok(provider)
    }

    /// A new request ID and RelayState, their digest stored as outstanding (single use).
    async fn remember_new_request(&self, idp_id: &str, purpose: &Purpose, now_ms: i64) -> Result<OutstandingRequest> {
        let request = OutstandingRequest {
            id: new_request_id(idp_id, purpose)?,
            relay_state: random_b64(16),
        };
        self.store
            .remember_once(
                REQUEST_NAMESPACE,
                &request_key(&request.id, &request.relay_state),
                now_ms + REQUEST_TTL_MS,
                now_ms,
            )
            .await?;
        Ok(request)
    }

    fn authn_request_params<'a>(
        &'a self,
        request: &'a OutstandingRequest,
        destination: &'a str,
        acs_url: &'a str,
        protocol_binding: &'a str,
        now_ms: i64,
    ) -> AuthnRequestParams<'a> {
        AuthnRequestParams {
            id: &request.id,
            issue_instant_secs: now_ms.div_euclid(1000),
            destination,
            sp_entity_id: &self.config.public_url,
            acs_url,
            protocol_binding,
        }
    }

    /// The PAOS envelope for an ECP client. Unsigned, as Shibboleth and Keystone send it: the
    /// ECP client relays the request inside SOAP, and IdPs that re-serialise the body (pysaml2)
    /// break an enveloped signature. The answer can only reach the ACS in our metadata either
    /// way.
    fn ecp_authn_request(&self, provider: &SamlProvider, request: OutstandingRequest, now_ms: i64) -> SamlStart {
        let acs = self.acs_url(Acs::Ecp);
        let destination = provider.metadata.ecp_endpoint.clone().unwrap_or_default();
        let authn_request = render_authn_request(
            &self.authn_request_params(&request, &destination, &acs, BINDING_PAOS, now_ms),
            false,
        );
        SamlStart::Paos(paos_envelope(
            &authn_request,
            &acs,
            &self.config.public_url,
            &request.relay_state,
        ))
    }

    /// A signed request for a browser: the Redirect binding when the provider offers it (the
    /// query string signed), else an auto-submitted form (the document signed).
    async fn browser_authn_request(
        &self,
        provider: &SamlProvider,
        request: OutstandingRequest,
        now_ms: i64,
    ) -> Result<SamlStart> {
        let metadata = &provider.metadata;
        let acs = self.acs_url(Acs::Post);
        if let Some(endpoint) = metadata.endpoint(BINDING_REDIRECT) {
            let authn_request = render_authn_request(
                &self.authn_request_params(&request, endpoint, &acs, BINDING_POST, now_ms),
                false,
            );
            let endpoint = endpoint.to_string();
            let key = self.sp.signing.private_key.clone();
            let relay_state = request.relay_state;
            let url = blocking(move || redirect_url(&endpoint, &authn_request, &relay_state, &key)).await?;
            return Ok(SamlStart::Redirect(url));
        }
        let endpoint = metadata
            .endpoint(BINDING_POST)
            .ok_or_else(|| Error::invalid("idp_id", "the identity provider offers no browser sign-in endpoint"))?;
        let authn_request = render_authn_request(
            &self.authn_request_params(&request, endpoint, &acs, BINDING_POST, now_ms),
            true,
        );
        let sign_key = self.sp.signing.private_key_der.clone();
        let signed = blocking(move || sign_enveloped(&authn_request, &sign_key)).await?;
        Ok(SamlStart::Post {
            url: endpoint.to_string(),
            saml_request: STANDARD.encode(signed),
            relay_state: request.relay_state,
        })
    }

    /// The assertion consumers that receive a form post (the HTTP-POST binding, the token API):
    /// reads SAMLResponse and RelayState from the `form` body, then as [`finish_saml_login`].
    /// `binding` is the browser-binding cookie where a browser posted it.
    pub async fn finish_saml_post(
        &self,
        acs: Acs,
        idp_hint: Option<&str>,
        form: impl AsRef<[u8]> + Send + 'static,
        binding: Option<&str>,
        now_ms: i64,
    ) -> Result<SamlSignIn> {
        let read = read_by_size(form.as_ref().len(), move || read_saml_form(form.as_ref())).await;
        let form = match read.and_then(std::convert::identity) {
            Ok(form) => form,
            Err(e) => {
                self.audit_federated_sign_in(Protocol::Saml, None, Err(&e));
                return Err(e);
            }
        };
        let answer = Answer {
            relay_state: form.relay_state.as_deref(),
            binding,
        };
        self.finish_saml_login(acs, idp_hint, form.saml_response, answer, now_ms)
            .await
    }

    /// The assertion consumer: validates `saml_response` (base64, as posted), checks it
    /// answers an outstanding request (or is an allowed unsolicited one) and was not seen
    /// before, and signs the user in. `idp_hint` is X-Idp-Id where the API has it. Success or
    /// failure, the sign-in is audited.
    pub async fn finish_saml_login(
        &self,
        acs: Acs,
        idp_hint: Option<&str>,
        saml_response: String,
        answer: Answer<'_>,
        now_ms: i64,
    ) -> Result<SamlSignIn> {
        let mut provider = None;
        let result = self
            .saml_sign_in(acs, idp_hint, saml_response, answer, &mut provider, now_ms)
            .await;
        let signed_in = result.as_ref().map(|s| &s.issued.ctx);
        self.audit_federated_sign_in(Protocol::Saml, provider.as_deref(), signed_in);
        result
    }

    /// As [`finish_saml_login`]; `provider` is set once the Response's provider is known.
    async fn saml_sign_in(
        &self,
        acs: Acs,
        idp_hint: Option<&str>,
        saml_response: String,
        answer: Answer<'_>,
        provider: &mut Option<String>,
        now_ms: i64,
    ) -> Result<SamlSignIn> {
        // Decoding, reading and verifying a Response hold its text and a blocking thread:
        // bounded in number and in waiting time, 429 beyond (known Issuers included).
        let _admitted = self.admission.signatures.admit().await?;
        let xml = read_by_size(saml_response.len(), move || decode_saml_response(&saml_response))
            .await?
            .map_err(|why| refused(None, why))?;
        self.consume_saml_response(acs, idp_hint, xml, answer, provider, now_ms)
            .await
    }

    /// The ECP assertion consumer: reads the SOAP envelope an ECP client relays (the IdP's
    /// Response and our RelayState header), then as [`consume_saml_response`]. Audited as
    /// [`finish_saml_login`] is.
    pub async fn finish_ecp_login(&self, envelope: &[u8], now_ms: i64) -> Result<SamlSignIn> {
        let mut provider = None;
        let result = self.ecp_sign_in(envelope, &mut provider, now_ms).await;
        let signed_in = result.as_ref().map(|s| &s.issued.ctx);
        self.audit_federated_sign_in(Protocol::Saml, provider.as_deref(), signed_in);
        result
    }

    async fn ecp_sign_in(&self, envelope: &[u8], provider: &mut Option<String>, now_ms: i64) -> Result<SamlSignIn> {
        let _admitted = self.admission.signatures.admit().await?;
        let envelope = envelope.to_vec();
        let relay = read_by_size(envelope.len(), move || read_ecp_relay(&envelope))
            .await?
            .map_err(|why| refused(None, why))?;
        let answer = Answer {
            relay_state: relay.relay_state.as_deref(),
            binding: None,
        };
        self.consume_saml_response(Acs::Ecp, None, relay.response_xml, answer, provider, now_ms)
            .await
    }

    /// The work behind every consumer, for a decoded Response; callers hold a `signatures`
    /// admission. Reads as the checklist it runs, in order. `provider_found` is set once the
    /// Response's provider is known to exist.
    async fn consume_saml_response(
        &self,
        acs: Acs,
        idp_hint: Option<&str>,
        xml: String,
        answer: Answer<'_>,
        provider_found: &mut Option<String>,
        now_ms: i64,
    ) -> Result<SamlSignIn> {
        let result = self
            .check_saml_response(acs, idp_hint, xml, answer, provider_found, now_ms)
            .await;
        super::count_sign_in(Protocol::Saml, provider_found.as_deref(), &result);
        result
    }

    /// As [`consume_saml_response`]; `provider_found` is set once the Response's provider is
    /// known to exist (a label for the sign-in count that no client can invent).
    async fn check_saml_response(
        &self,
        acs: Acs,
        idp_hint: Option<&str>,
        xml: String,
        answer: Answer<'_>,
        provider_found: &mut Option<String>,
        now_ms: i64,
    ) -> Result<SamlSignIn> {
        let limit = crate::saml::response::MAX_RESPONSE_BYTES;
        if xml.len() > limit {
            return Err(refused(None, SamlError::TooLarge { limit }));
        }
        let (idp_id, xml) = match idp_hint {
            Some(id) => (id.to_string(), xml),
            None => self.idp_by_issuer(xml, now_ms).await?,
        };
        let provider = self
            .saml_provider(&idp_id, now_ms)
            .await?
            .ok_or_else(|| refused(Some(&idp_id), Refusal::NotConfigured("SAML metadata")))?;
        *provider_found = Some(idp_id.clone());
        let valid = self.verify_response(&provider, acs, xml, now_ms).await?;
        let dashboard = self
            .take_answered_request(&provider, acs, valid.in_response_to.as_deref(), answer, now_ms)
            .await?;
        self.refuse_replay(&provider, &valid, now_ms).await?;
        tracing::info!(idp.id = %idp_id, saml.assertion_id = %valid.assertion_id, "SAML assertion accepted");
        let issued = self
            .federated_login(&idp_id, Protocol::Saml, &valid.attributes, now_ms)
            .await?;
        if let Some(origin) = &dashboard {
            self.check_dashboard(origin)?;
        }
        Ok(SamlSignIn { issued, dashboard })
    }

    /// The provider whose remote ids hold the Response's Issuer, and the Response back.
    async fn idp_by_issuer(&self, xml: String, now_ms: i64) -> Result<(String, String)> {
        let (issuer, xml) = read_by_size(xml.len(), move || (peek_issuer(&xml), xml)).await?;
        let issuer = issuer.map_err(|e| refused(None, e))?;
        let idp_id = self
            .idp_for_entity(&issuer, now_ms)
            .await?
            .ok_or_else(|| refused(None, Refusal::UnknownIssuer(issuer)))?;
        Ok((idp_id, xml))
    }

    /// Signatures, then the profile's checks against what this consumer expects from
    /// `provider`; on the blocking pool, as xmlsec blocks.
    async fn verify_response(
        &self,
        provider: &Arc<SamlProvider>,
        acs: Acs,
        xml: String,
        now_ms: i64,
    ) -> Result<ValidResponse> {
        let mut destinations = vec![self.acs_url(acs)];
        if acs == Acs::Tokens {
            // The IdP addresses the response to the ACS it knows from our metadata.
            destinations.push(self.acs_url(Acs::Post));
        }
        let skew_secs = self.config.clock_skew_secs;
        let decryption_key = self.sp.encryption.private_key.clone();
        let sp_entity_id = self.config.public_url.clone();
        let checked = Arc::clone(provider);
        spawn_blocking_in_span(move || {
            let expect = ResponseExpectations {
                idp_entity_id: &checked.metadata.entity_id,
                sp_entity_id: &sp_entity_id,
                destinations: &destinations,
                certificates: &checked.certificates,
                signed_part: checked.settings.signed_part,
                allow_sha1: checked.settings.allow_sha1,
                skew_secs,
                max_age_secs: MAX_RESPONSE_AGE_SECS,
                decryption_key: Some(&decryption_key),
            };
            validate_response(&xml, &expect, now_ms.div_euclid(1000))
        })
        .await
        .map_err(Error::internal)?
        .map_err(|e| refused(Some(&provider.idp_id), e))
    }

    /// The request state a Response must match. With InResponseTo: the outstanding request it
    /// answers (with this RelayState), spent once the answer is known to fit it; without: an
    /// unsolicited answer, where the provider allows them and never over ECP. Gives the
    /// dashboard to post the token to, for WebSSO.
    async fn take_answered_request(
        &self,
        provider: &SamlProvider,
        acs: Acs,
        in_response_to: Option<&str>,
        answer: Answer<'_>,
        now_ms: i64,
    ) -> Result<Option<String>> {
        let idp_id = provider.idp_id.as_str();
        let refuse = |reason: Refusal| refused(Some(idp_id), reason);
        let Some(request_id) = in_response_to else {
            if !provider.settings.allow_idp_initiated || acs == Acs::Ecp {
                return Err(refuse(Refusal::Unsolicited));
            }
            return Ok(None);
        };
        let (asked, purpose) =
            decode_request_id(request_id).ok_or_else(|| refuse(Refusal::ForeignRequest(request_id.to_string())))?;
        // Checked before the request is spent, so a misdirected answer does not burn it.
        answer_fits(asked, &purpose, idp_id, acs, answer.binding).map_err(refuse)?;
        let relay_state = answer.relay_state.unwrap_or_default();
        if !self
            .store
            .take_once(REQUEST_NAMESPACE, &request_key(request_id, relay_state), now_ms)
            .await?
        {
            return Err(refuse(Refusal::RequestUnknown(request_id.to_string())));
        }
        Ok(match purpose {
            Purpose::Dashboard { origin, .. } => Some(origin),
            Purpose::Browser | Purpose::Ecp => None,
        })
    }

    /// An assertion signs in once, whatever provider it is posted as: the record is keyed by
    /// the issuing entity, not by our provider record.
    async fn refuse_replay(&self, provider: &SamlProvider, valid: &ValidResponse, now_ms: i64) -> Result<()> {
        let first_use = self
            .store
            .remember_once(
                &format!("saml-assertion:{}", provider.metadata.entity_id),
                &valid.assertion_id,
                valid.usable_until_secs.saturating_mul(1000),
                now_ms,
            )
            .await?;
        if !first_use {
            return Err(refused(
                Some(&provider.idp_id),
                Refusal::Replayed {
                    what: "assertion",
                    id: valid.assertion_id.clone(),
                },
            ));
        }
        Ok(())
    }

    /// Providers offering SAML browser sign-in, for the WebSSO chooser.
    pub async fn saml_websso_providers(&self, now_ms: i64) -> Result<Vec<String>> {
        let mut out = Vec::new();
        for idp in self.store.list_idps().await?.into_iter().filter(|idp| idp.enabled) {
            if let Some(provider) = self.saml_provider(&idp.id, now_ms).await?
                && (provider.metadata.endpoint(BINDING_REDIRECT).is_some()
                    || provider.metadata.endpoint(BINDING_POST).is_some())
            {
                out.push(idp.id);
            }
        }
        Ok(out)
    }
}

/// Whether an answer to a request for `asked` with `purpose` may be taken here: from the
/// provider asked, at the consumer for its binding, and for a dashboard in the browser that
/// started it (so nobody's answer can be posted into another person's browser). Checked before
/// the request is spent: an answer delivered to the wrong place must not cancel the right
/// sign-in.
fn answer_fits(
    asked: String,
    purpose: &Purpose,
    idp_id: &str,
    acs: Acs,
    binding: Option<&str>,
) -> std::result::Result<(), Refusal> {
    if asked != idp_id {
        return Err(Refusal::OtherProvider {
            expected: asked,
            got: idp_id.to_string(),
        });
    }
    if (*purpose == Purpose::Ecp) != (acs == Acs::Ecp) {
        return Err(Refusal::WrongConsumer);
    }
    if let Purpose::Dashboard { binding_digest, .. } = purpose
        && !binding_matches(binding, binding_digest)
    {
        return Err(Refusal::OtherBrowser);
    }
    Ok(())
}

/// Runs `read` over an input of `len` bytes: inline when it is at most `INLINE_DECODE_BYTES`,
/// on the blocking pool otherwise. Every reading of a Response before its verification (the
/// form, base64, the ECP envelope, the Issuer to route by) goes through here.
async fn read_by_size<T: Send + 'static>(len: usize, read: impl FnOnce() -> T + Send + 'static) -> Result<T> {
    if len > INLINE_DECODE_BYTES {
        spawn_blocking_in_span(read).await.map_err(Error::internal)
    } else {
        Ok(read())
    }
}

/// A form post's SAMLResponse and RelayState.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct SamlForm {
    /// The IdP's Response, base64; an empty or missing one is refused.
    #[serde(rename = "SAMLResponse")]
    #[schema(required = true, value_type = String)]
    saml_response: Option<String>,
    #[serde(rename = "RelayState")]
    relay_state: Option<String>,
}

/// A form post's non-empty SAMLResponse (required) and RelayState.
struct PostedResponse {
    saml_response: String,
    relay_state: Option<String>,
}

fn read_saml_form(body: &[u8]) -> Result<PostedResponse> {
    let form = serde_urlencoded::from_bytes::<SamlForm>(body)
        .map_err(|e| Error::BadRequest(format!("form body is malformed: {e}")))?;
    let saml_response = form
        .saml_response
        .filter(|r| !r.is_empty())
        .ok_or_else(|| Error::MissingField {
            field: "SAMLResponse".into(),
        })?;
    Ok(PostedResponse {
        saml_response,
        relay_state: form.relay_state.filter(|r| !r.is_empty()),
    })
}

/// A posted SAMLResponse: base64 (line breaks and spaces ignored) of UTF-8.
fn decode_saml_response(posted: &str) -> std::result::Result<String, Refusal> {
    let compact: String = posted.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    let decoded = STANDARD
        .decode(compact.as_bytes())
        .map_err(|_| Refusal::NotBase64("SAMLResponse"))?;
    String::from_utf8(decoded).map_err(|_| Refusal::NotUtf8("SAMLResponse"))
}

/// The IdP's Response and our RelayState from the SOAP envelope an ECP client relays.
fn read_ecp_relay(envelope: &[u8]) -> std::result::Result<EcpRelay, Refusal> {
    let envelope = std::str::from_utf8(envelope).map_err(|_| Refusal::NotUtf8("ECP envelope"))?;
    Ok(read_ecp_envelope(envelope)?)
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
                .and_then(|assertion| assertion.child(NS_ASSERTION, "Issuer"))
        })
        .map(|issuer| issuer.text.trim().to_string())
        .filter(|issuer| !issuer.is_empty())
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
    spawn_blocking_in_span(f)
        .await
        .map_err(Error::internal)?
        .map_err(Error::internal)
}

impl Services {
    // Shared with other use-case services.
    /// The provider's imported metadata and settings, cached for the refresh interval.
    pub(super) async fn saml_provider(&self, idp_id: &str, now_ms: i64) -> Result<Option<Arc<SamlProvider>>> {
        let cache = &self.saml.providers;
        if let Some(found) = cache.get(&idp_id.to_string(), now_ms) {
            return Ok(Some(found));
        }
        let generation = cache.generation();
        let loaded = match self.store.get_saml_metadata(idp_id, Protocol::Saml).await? {
            None => None,
            Some(record) => {
                let stored: StoredIdpMetadata = serde_json::from_str(&record.parsed)
                    .map_err(|e| Error::internal(format!("stored metadata of {idp_id}: {e}")))?;
                let certificates = stored
                    .metadata
                    .signing_certificates
                    .iter()
                    .filter_map(|certificate| STANDARD.decode(certificate).ok().map(CertificateDer::from))
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
}

#[cfg(test)]
mod tests {
    use super::*;

    /// IdPs sign request IDs back as InResponseTo, and outstanding ones were issued with these
    /// bytes: encoding gives exactly them, and decoding reads them.
    #[test]
    fn request_id_encoding_is_stable() {
        let dashboard = Purpose::Dashboard {
            origin: "https://dashboard.example".into(),
            binding_digest: "q8Zr".into(),
        };
        let cases = [
            (Purpose::Browser, r#"{"i":"acme","k":"b"}"#),
            (Purpose::Ecp, r#"{"i":"acme","k":"e"}"#),
            (
                dashboard,
                r#"{"i":"acme","k":"d","o":"https://dashboard.example","b":"q8Zr"}"#,
            ),
        ];
        for (purpose, wire) in cases {
            let id = new_request_id("acme", &purpose).unwrap();
            let (random, encoded) = id.split_once('.').unwrap();
            assert_eq!(random.len(), 33, "{id}");
            assert_eq!(URL_SAFE_NO_PAD.decode(encoded).unwrap(), wire.as_bytes());
            let issued_before = format!("_{}.{}", "0".repeat(32), URL_SAFE_NO_PAD.encode(wire));
            assert_eq!(decode_request_id(&issued_before), Some(("acme".to_string(), purpose)));
        }
        // Not ours: no purpose, or one without the provider.
        for foreign in [
            "_abc",
            "_abc.!!",
            &format!("_abc.{}", URL_SAFE_NO_PAD.encode(r#"{"k":"b"}"#)),
        ] {
            assert_eq!(decode_request_id(foreign), None, "{foreign}");
        }
    }
}
