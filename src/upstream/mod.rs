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
    /// A pinned certificate was presented as a CA of the server's chain, but the chain does
    /// not lead from the server's certificate to it for this host name.
    #[error("{url}: the certificate chain up to the pinned certificate does not verify: {reason}")]
    ChainInvalid { url: String, reason: String },
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
    /// The addresses a pinned fetch's first handshake may go to (the clients' own resolver).
    resolver: Arc<CheckedResolver>,
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

/// The certificates a TLS server presents for `host` at `addrs` (its own first, then the
/// chain it sends), DER each, read from a handshake that verifies nothing and sends nothing.
fn presented_chain(addrs: &[std::net::SocketAddr], host: &str) -> Result<Vec<Vec<u8>>, String> {
    use openssl::ssl::{SslConnector, SslMethod, SslVerifyMode};
    let mut last = String::from("no address");
    for addr in addrs {
        let stream = match std::net::TcpStream::connect_timeout(addr, Duration::from_secs(3)) {
            Ok(s) => s,
            Err(e) => {
                last = format!("{addr}: {e}");
                continue;
            }
        };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
        let _ = stream.set_write_timeout(Some(Duration::from_secs(5)));
        let mut builder = SslConnector::builder(SslMethod::tls_client()).map_err(|e| e.to_string())?;
        builder.set_verify(SslVerifyMode::NONE);
        let mut config = builder.build().configure().map_err(|e| e.to_string())?;
        config.set_verify_hostname(false);
        let tls = config.connect(host, stream).map_err(|e| format!("{addr}: {e}"))?;
        let chain = tls
            .ssl()
            .peer_cert_chain()
            .map(|chain| chain.iter().filter_map(|c| c.to_der().ok()).collect::<Vec<_>>())
            .unwrap_or_default();
        return match tls.ssl().peer_certificate().and_then(|c| c.to_der().ok()) {
            // The client's chain starts with the server's own certificate; keep it first once.
            Some(own) => Ok(std::iter::once(own.clone())
                .chain(chain.into_iter().filter(|c| *c != own))
                .collect()),
            None => Err(format!("{addr}: no certificate")),
        };
    }
    Err(last)
}

/// The fingerprint of the server certificate to accept, given the certificates a server
/// presented (its own first): its own when pinned; otherwise, when a pinned certificate is
/// among the rest, its own once the chain verifies from it up to that pinned certificate as the
/// only trust anchor, for `host` (name or address), now. Alibaba Cloud's fingerprints are
/// usually a CA's (the last certificate `openssl s_client -showcerts` prints).
fn accepted_leaf(
    presented: &[Vec<u8>],
    host: &str,
    url: &str,
    fingerprints: &[String],
) -> Result<String, UpstreamError> {
    use openssl::stack::Stack;
    use openssl::x509::store::X509StoreBuilder;
    use openssl::x509::verify::{X509VerifyFlags, X509VerifyParam};
    use openssl::x509::{X509, X509StoreContext};
    let invalid = |reason: String| UpstreamError::ChainInvalid {
        url: url.to_string(),
        reason,
    };
    let Some(own) = presented.first() else {
        return Err(UpstreamError::NoCertificate { url: url.to_string() });
    };
    let own_print = hex::encode(openssl::sha::sha1(own));
    if fingerprints.contains(&own_print) {
        return Ok(own_print);
    }
    let Some(anchor) = presented[1..]
        .iter()
        .find(|c| fingerprints.contains(&hex::encode(openssl::sha::sha1(c))))
    else {
        return Err(UpstreamError::CertificateMismatch {
            url: url.to_string(),
            presented: own_print,
        });
    };
    let result = (|| -> Result<bool, openssl::error::ErrorStack> {
        let mut store = X509StoreBuilder::new()?;
        store.add_cert(X509::from_der(anchor)?)?;
        // The pinned certificate is the anchor even when it is not self-signed (an
        // intermediate CA).
        store.set_flags(X509VerifyFlags::PARTIAL_CHAIN)?;
        let mut param = X509VerifyParam::new()?;
        match host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
        {
            Ok(ip) => param.set_ip(ip)?,
            Err(_) => param.set_host(host)?,
        }
        store.set_param(&param)?;
        let store = store.build();
        let mut untrusted = Stack::new()?;
        for der in &presented[1..] {
            untrusted.push(X509::from_der(der)?)?;
        }
        let mut context = X509StoreContext::new()?;
        let own = X509::from_der(own)?;
        context.init(&store, &own, &untrusted, |c| {
            let ok = c.verify_cert()?;
            if !ok {
                tracing::debug!(reason = %c.error(), "pinned chain refused");
            }
            Ok(ok)
        })
    })();
    match result {
        Ok(true) => Ok(own_print),
        Ok(false) => Err(invalid(format!(
            "the server's certificate {own_print} does not chain to the pinned one for {host}"
        ))),
        Err(e) => Err(invalid(e.to_string())),
    }
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
        Ok(Upstream {
            client,
            pinned,
            resolver,
            policy,
        })
    }

    /// The fingerprint of the certificate `url`'s server presents as its own, when the pins
    /// accept it ([`accepted_leaf`]); the addresses are the egress policy's, as for any fetch.
    async fn pinned_server_certificate(
        &self,
        url: &CheckedUrl,
        fingerprints: &[String],
    ) -> Result<String, UpstreamError> {
        let text = url.url().as_str().to_string();
        if url.url().scheme() != "https" {
            return Err(UpstreamError::NoCertificate { url: text });
        }
        let port = url.url().port_or_known_default().unwrap_or(443);
        let (host, ips) = match url.url().host() {
            Some(url::Host::Domain(name)) => {
                let ips = self.resolver.permitted(name).await.map_err(|e| match e {
                    ResolveError::Refused(reason) => UpstreamError::Refused {
                        url: text.clone(),
                        reason,
                    },
                    other => UpstreamError::Fetch {
                        url: text.clone(),
                        reason: other.to_string(),
                    },
                })?;
                (name.to_string(), ips)
            }
            Some(url::Host::Ipv4(ip)) => (ip.to_string(), vec![std::net::IpAddr::V4(ip)]),
            Some(url::Host::Ipv6(ip)) => (ip.to_string(), vec![std::net::IpAddr::V6(ip)]),
            None => return Err(UpstreamError::NoCertificate { url: text }),
        };
        let addrs: Vec<std::net::SocketAddr> = ips.into_iter().map(|ip| (ip, port).into()).collect();
        let sni = host.clone();
        let presented = tokio::task::spawn_blocking(move || presented_chain(&addrs, &sni))
            .await
            .map_err(|e| UpstreamError::Fetch {
                url: text.clone(),
                reason: e.to_string(),
            })?
            .map_err(|reason| UpstreamError::Fetch {
                url: text.clone(),
                reason,
            })?;
        accepted_leaf(&presented, &host, &text, fingerprints)
    }

    /// GETs `url`; with `fingerprints`, through the pinned client and only from a server
    /// presenting one of them or chaining to one.
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
        // A pin may be the server's own certificate or a CA of its chain: a first handshake
        // finds which server certificate the pins accept, and the fetch must present exactly
        // that one (so a second connection cannot show something else).
        let accepted = if fingerprints.is_empty() {
            Vec::new()
        } else {
            vec![self.pinned_server_certificate(url, fingerprints).await?]
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
            check_pin(&response, text, &accepted)?;
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
    /// of these certificates as its own (the leaf; a self-signed certificate works when
    /// pinned), or presenting a chain that verifies, for the URL's host, from its own up to a
    /// pinned CA certificate it also presents (Alibaba Cloud's fingerprints are usually the
    /// CA's): the pins replace the CA roots. The same set applies to the `jwks_uri`,
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
