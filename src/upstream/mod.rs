//! Outgoing HTTP: OpenID Provider discovery and JWKS documents. Every request goes through the
//! egress policy (`crate::egress`): the URL is checked before the request, names are resolved
//! by [`resolver::CheckedResolver`] so the connection goes only to addresses that passed,
//! redirects are not followed and no proxy is used (a proxy would resolve the name itself).
//! Bounded in time and size, no credentials sent; what is fetched is parsed by the pure `oidc`
//! module.

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
    #[error("{0}")]
    Invalid(String),
}

#[derive(Clone)]
pub struct Upstream {
    client: reqwest::Client,
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

impl Upstream {
    pub fn new(policy: EgressPolicy) -> Result<Upstream, UpstreamError> {
        Upstream::with_lookup(policy, Arc::new(SystemLookup))
    }

    /// As [`new`](Self::new), with names looked up by `lookup` (tests answer without DNS).
    pub fn with_lookup(policy: EgressPolicy, lookup: Arc<dyn HostLookup>) -> Result<Upstream, UpstreamError> {
        let policy = Arc::new(policy);
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .connect_timeout(Duration::from_secs(3))
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .dns_resolver(Arc::new(CheckedResolver::new(policy.clone(), lookup)))
            .user_agent(concat!("fedgate/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| UpstreamError::Invalid(format!("HTTP client: {e}")))?;
        Ok(Upstream { client, policy })
    }

    async fn get_text(&self, url: &CheckedUrl) -> Result<String, UpstreamError> {
        let text = url.url().as_str();
        let fail = |reason: String| UpstreamError::Fetch {
            url: text.to_string(),
            reason,
        };
        let mut response = self
            .client
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
    pub async fn discover_keys(&self, issuer: &str) -> Result<KeySet, UpstreamError> {
        let url = format!("{}/.well-known/openid-configuration", issuer.trim_end_matches('/'));
        let refused = |url: &str, reason| UpstreamError::Refused {
            url: url.to_string(),
            reason,
        };
        let discovery = self.policy.check_fetch(&url).map_err(|e| refused(&url, e))?;
        let text = self.get_text(&discovery).await?;
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
        let jwks = self.get_text(&jwks_url).await?;
        let keys = key_set(&jwks).map_err(|e| UpstreamError::Invalid(format!("{jwks_uri}: {e}")))?;
        if keys.keys().is_empty() {
            return Err(UpstreamError::Invalid(format!("{jwks_uri} holds no usable key")));
        }
        Ok(keys)
    }
}
