//! Outgoing HTTP: OpenID Provider discovery and JWKS documents. Bounded in time and size, no
//! credentials sent, redirects limited; what is fetched is parsed by the pure `oidc` module.

use std::time::Duration;

use crate::oidc::{KeySet, key_set};

/// Discovery documents and key sets larger than this are refused.
const MAX_DOCUMENT_BYTES: usize = 256 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    #[error("fetching {url}: {reason}")]
    Fetch { url: String, reason: String },
    #[error("{0}")]
    Invalid(String),
}

#[derive(Clone)]
pub struct Upstream {
    client: reqwest::Client,
}

impl Upstream {
    pub fn new() -> Result<Upstream, UpstreamError> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .connect_timeout(Duration::from_secs(3))
            .redirect(reqwest::redirect::Policy::limited(3))
            .user_agent(concat!("fedgate/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| UpstreamError::Invalid(format!("HTTP client: {e}")))?;
        Ok(Upstream { client })
    }

    async fn get_text(&self, url: &str) -> Result<String, UpstreamError> {
        let fail = |reason: String| UpstreamError::Fetch {
            url: url.to_string(),
            reason,
        };
        let mut response = self
            .client
            .get(url)
            .header("accept", "application/json")
            .send()
            .await
            .map_err(|e| fail(e.to_string()))?;
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
    /// same issuer exactly, and its `jwks_uri` (https, or http on loopback) gives the keys.
    pub async fn discover_keys(&self, issuer: &str) -> Result<KeySet, UpstreamError> {
        let url = format!("{}/.well-known/openid-configuration", issuer.trim_end_matches('/'));
        let text = self.get_text(&url).await?;
        let doc: serde_json::Value =
            serde_json::from_str(&text).map_err(|_| UpstreamError::Invalid(format!("{url} is not JSON")))?;
        if doc.get("issuer").and_then(|v| v.as_str()) != Some(issuer) {
            return Err(UpstreamError::Invalid(format!("{url} names another issuer")));
        }
        let jwks_uri = doc
            .get("jwks_uri")
            .and_then(|v| v.as_str())
            .ok_or_else(|| UpstreamError::Invalid(format!("{url} has no jwks_uri")))?;
        crate::oidc::check_url("jwks_uri", jwks_uri).map_err(|e| UpstreamError::Invalid(e.to_string()))?;
        let jwks = self.get_text(jwks_uri).await?;
        let keys = key_set(&jwks).map_err(|e| UpstreamError::Invalid(format!("{jwks_uri}: {e}")))?;
        if keys.keys().is_empty() {
            return Err(UpstreamError::Invalid(format!("{jwks_uri} holds no usable key")));
        }
        Ok(keys)
    }
}
