//! Outgoing HTTP: OpenID Provider discovery and JWKS documents. Every request goes through the
//! egress policy (`crate::egress`): the URL is checked before the request, names are resolved
//! by [`resolver::CheckedResolver`] so the connection goes only to addresses that passed,
//! redirects are not followed and no proxy is used (a proxy would resolve the name itself).
//! Bounded in time and size, no credentials sent; what is fetched is parsed by the pure `oidc`
//! module. A provider with certificate fingerprints is fetched only from a server presenting
//! one of the pinned certificates (see [`Upstream::discover_keys`]).

pub mod resolver;

use std::sync::Arc;
use std::time::Duration;

use crate::egress::{CheckedUrl, EgressError, EgressPolicy};
use crate::oidc::{KeySet, key_set};
use resolver::{CheckedResolver, HostLookup, ResolveError, SystemLookup};

/// Discovery documents and key sets larger than this are refused.
const MAX_DOCUMENT_BYTES: usize = 256 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    /// The egress policy refused the URL or every address of its host.
    #[error("{url}: {reason}")]
    Refused { url: String, reason: EgressError },
    /// A redirect: not followed, so no request goes where no one checked.
    #[error("{url} redirects to {location:?}; redirects are not followed")]
    Redirect { url: String, location: String },
    #[error("fetching {url}: {reason}")]
    Fetch { url: String, reason: String },
    /// A pinned provider's server presented a certificate that is not pinned.
    #[error(
        "{url} presented a TLS certificate with SHA-1 fingerprint {presented}, which is not among the provider's fingerprints"
    )]
    CertificateMismatch { url: String, presented: String },
    /// A pinned provider's answer came without a TLS certificate (an http URL).
    #[error("{url} presented no TLS certificate to check against the provider's fingerprints")]
    NoCertificate { url: String },
    #[error("{0}")]
    Invalid(String),
}

#[derive(Clone)]
pub struct Upstream {
    /// Verifies servers against the system's CA roots.
    client: reqwest::Client,
    /// For pinned providers only: accepts any certificate in the handshake and keeps it with
    /// the response, which [`check_pin`] judges before anything of the answer is used. A
    /// separate client, so its unverified connections are never pooled for unpinned fetches.
    pinned: reqwest::Client,
    policy: Arc<EgressPolicy>,
}

/// The policy's refusal inside a client error, if that is what stopped the request.
fn refusal(error: &reqwest::Error) -> Option<EgressError> {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = source {
        if let Some(ResolveError::Refused(reason)) = e.downcast_ref::<ResolveError>() {
            return Some(reason.clone());
        }
        source = e.source();
    }
    None
}

/// An error with its causes (reqwest's own message does not say why a connection failed).
fn causes(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(e) = source {
        text.push_str(": ");
        text.push_str(&e.to_string());
        source = e.source();
    }
    text
}

/// Refuses an answer unless its connection presented a certificate whose SHA-1 (of the DER) is
/// one of `fingerprints` (lower-case hex). The TLS handshake has proved the server holds that
/// certificate's private key, so a match authenticates the server without any CA; nothing was
/// sent but the GET of a public document before this check.
fn check_pin(response: &reqwest::Response, url: &str, fingerprints: &[String]) -> Result<(), UpstreamError> {
    let der = response
        .extensions()
        .get::<reqwest::tls::TlsInfo>()
        .and_then(|info| info.peer_certificate());
    let Some(der) = der else {
        return Err(UpstreamError::NoCertificate { url: url.to_string() });
    };
    let presented = hex::encode(openssl::sha::sha1(der));
    if !fingerprints.contains(&presented) {
        return Err(UpstreamError::CertificateMismatch {
            url: url.to_string(),
            presented,
        });
    }
    Ok(())
}

impl Upstream {
    pub fn new(policy: EgressPolicy) -> Result<Upstream, UpstreamError> {
        Upstream::with_lookup(policy, Arc::new(SystemLookup))
    }

    /// As [`new`](Self::new), with names looked up by `lookup` (tests answer without DNS).
    pub fn with_lookup(policy: EgressPolicy, lookup: Arc<dyn HostLookup>) -> Result<Upstream, UpstreamError> {
        let policy = Arc::new(policy);
        let resolver = Arc::new(CheckedResolver::new(policy.clone(), lookup));
        // Both clients follow the same egress rules; only certificate checking differs.
        let builder = || {
            reqwest::Client::builder()
                .timeout(Duration::from_secs(5))
                .connect_timeout(Duration::from_secs(3))
                .redirect(reqwest::redirect::Policy::none())
                .no_proxy()
                .dns_resolver(resolver.clone())
                .user_agent(concat!("fedgate/", env!("CARGO_PKG_VERSION")))
        };
        let built = |b: reqwest::ClientBuilder| {
            b.build()
                .map_err(|e| UpstreamError::Invalid(format!("HTTP client: {e}")))
        };
        let client = built(builder())?;
        let pinned = built(builder().danger_accept_invalid_certs(true).tls_info(true))?;
        Ok(Upstream { client, pinned, policy })
    }

    /// GETs `url`; with `fingerprints`, through the pinned client and only from a server
    /// presenting one of them.
    async fn get_text(&self, url: &CheckedUrl, fingerprints: &[String]) -> Result<String, UpstreamError> {
        let text = url.url().as_str();
        let fail = |reason: String| UpstreamError::Fetch {
            url: text.to_string(),
            reason,
        };
        let client = if fingerprints.is_empty() {
            &self.client
        } else {
            &self.pinned
        };
        let mut response = client
            .get(url.url().clone())
            .header("accept", "application/json")
            .send()
            .await
            .map_err(|e| match refusal(&e) {
                Some(reason) => UpstreamError::Refused {
                    url: text.to_string(),
                    reason,
                },
                None => fail(causes(&e)),
            })?;
        // Before the status or a Location is believed: they came from that server.
        if !fingerprints.is_empty() {
            check_pin(&response, text, fingerprints)?;
        }
        if response.status().is_redirection() {
            let location = response
                .headers()
                .get(reqwest::header::LOCATION)
                .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
                .unwrap_or_default();
            return Err(UpstreamError::Redirect {
                url: text.to_string(),
                location,
            });
        }
        if !response.status().is_success() {
            return Err(fail(format!("status {}", response.status())));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| fail(e.to_string()))? {
            if body.len() + chunk.len() > MAX_DOCUMENT_BYTES {
                return Err(fail(format!("larger than {MAX_DOCUMENT_BYTES} bytes")));
            }
            body.extend_from_slice(&chunk);
        }
        String::from_utf8(body).map_err(|_| fail("not UTF-8".into()))
    }

    /// The provider's signing keys: `{issuer}/.well-known/openid-configuration` must name the
    /// same issuer exactly, and its `jwks_uri` gives the keys. Both URLs pass the egress
    /// policy; the `jwks_uri` may be loopback only when the issuer is.
    ///
    /// `fingerprints` (SHA-1 of a certificate's DER, lower-case hex, as `OidcConfig` stores
    /// them): when not empty, both documents are fetched only from a TLS server presenting one
    /// of these certificates as its own (the leaf), which replaces CA and host-name checks, so
    /// a self-signed certificate works when pinned. The same set applies to the `jwks_uri`,
    /// which may be on another host: the discovery document that names it is only trusted
    /// because it was pinned, so the keys must be as well; a provider serving keys from
    /// another host pins that host's certificate too. Every other egress rule still applies.
    pub async fn discover_keys(&self, issuer: &str, fingerprints: &[String]) -> Result<KeySet, UpstreamError> {
        let url = format!("{}/.well-known/openid-configuration", issuer.trim_end_matches('/'));
        let refused = |url: &str, reason| UpstreamError::Refused {
            url: url.to_string(),
            reason,
        };
        let discovery = self.policy.check_fetch(&url).map_err(|e| refused(&url, e))?;
        let text = self.get_text(&discovery, fingerprints).await?;
        let doc: serde_json::Value =
            serde_json::from_str(&text).map_err(|_| UpstreamError::Invalid(format!("{url} is not JSON")))?;
        if doc.get("issuer").and_then(|v| v.as_str()) != Some(issuer) {
            return Err(UpstreamError::Invalid(format!("{url} names another issuer")));
        }
        let jwks_uri = doc
            .get("jwks_uri")
            .and_then(|v| v.as_str())
            .ok_or_else(|| UpstreamError::Invalid(format!("{url} has no jwks_uri")))?;
        let jwks_url = self
            .policy
            .check_fetch_named_by(jwks_uri, &discovery)
            .map_err(|e| refused(jwks_uri, e))?;
        let jwks = self.get_text(&jwks_url, fingerprints).await?;
        let keys = key_set(&jwks).map_err(|e| UpstreamError::Invalid(format!("{jwks_uri}: {e}")))?;
        if keys.keys().is_empty() {
            return Err(UpstreamError::Invalid(format!("{jwks_uri} holds no usable key")));
        }
        Ok(keys)
    }
}
