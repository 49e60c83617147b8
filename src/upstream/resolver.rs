//! Name resolution for outgoing requests: every address a name resolves to is judged by the
//! egress policy, and the HTTP client connects only to the addresses that pass, so what was
//! checked is what is connected to (a DNS answer that changes between a check and a connect
//! cannot matter: there is no separate check). `localhost` is answered here, never asked of
//! DNS. How names are looked up is a trait so tests can give any answer without real DNS.

use std::future::Future;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;

use crate::egress::{EgressError, EgressPolicy, is_localhost};

pub type Lookup = Pin<Box<dyn Future<Output = io::Result<Vec<IpAddr>>> + Send>>;

/// Looks a host name up; production uses the system resolver.
pub trait HostLookup: Send + Sync + 'static {
    fn lookup(&self, host: &str) -> Lookup;
}

/// The operating system's resolver (getaddrinfo, on tokio's blocking pool).
pub struct SystemLookup;

impl HostLookup for SystemLookup {
    fn lookup(&self, host: &str) -> Lookup {
        let host = host.to_string();
        Box::pin(async move {
            let addrs = tokio::net::lookup_host((host.as_str(), 0)).await?;
            Ok(addrs.map(|a| a.ip()).collect())
        })
    }
}

/// The resolver the HTTP client uses.
#[derive(Clone)]
pub struct CheckedResolver {
    policy: Arc<EgressPolicy>,
    lookup: Arc<dyn HostLookup>,
}

impl CheckedResolver {
    pub fn new(policy: Arc<EgressPolicy>, lookup: Arc<dyn HostLookup>) -> CheckedResolver {
        CheckedResolver { policy, lookup }
    }

    /// The addresses of `host` that fedgate may connect to; an error when there are none.
    pub async fn permitted(&self, host: &str) -> Result<Vec<IpAddr>, ResolveError> {
        let host = host.to_ascii_lowercase();
        let all = if is_localhost(&host) {
            vec![IpAddr::V4(Ipv4Addr::LOCALHOST), IpAddr::V6(Ipv6Addr::LOCALHOST)]
        } else {
            self.lookup.lookup(&host).await.map_err(|e| ResolveError::Lookup {
                host: host.clone(),
                reason: e.to_string(),
            })?
        };
        let (permitted, refused): (Vec<IpAddr>, Vec<IpAddr>) =
            all.into_iter().partition(|ip| self.policy.permits(&host, *ip).is_ok());
        if permitted.is_empty() {
            return Err(ResolveError::Refused(EgressError::NoPermittedAddress { host, refused }));
        }
        Ok(permitted)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    #[error("{0}")]
    Refused(EgressError),
    #[error("resolving {host}: {reason}")]
    Lookup { host: String, reason: String },
}

impl reqwest::dns::Resolve for CheckedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let this = self.clone();
        let host = name.as_str().to_string();
        Box::pin(async move {
            let addrs = this.permitted(&host).await?;
            // Port 0: the client puts the URL's port in.
            let addrs: reqwest::dns::Addrs = Box::new(addrs.into_iter().map(|ip| SocketAddr::new(ip, 0)));
            Ok(addrs)
        })
    }
}
