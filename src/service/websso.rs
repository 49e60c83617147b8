//! Browser sign-in for dashboards (Keystone's WebSSO) through an OpenID provider: the start
//! redirects to the provider's authorization endpoint with a single-use `state` and a
//! `nonce`; the callback accepts the id_token only with the state it was issued for, from the
//! browser it was issued to, and with that nonce, then hands the token to a trusted dashboard.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::auth::Issued;
use super::{Error, Result, SignIn};
use crate::model::Protocol;
use crate::oidc::{AccessMode, IdTokenUse};

/// Where the provider sends the browser back (one URL for every provider: the state names it).
pub const OIDC_CALLBACK_PATH: &str = "/v3-ext/auth/OS-FEDERATION/SSO/OIDC/callback";
/// An authorization request must come back within this time.
const STATE_TTL_MS: i64 = 10 * 60 * 1000;
const STATE_NAMESPACE: &str = "websso-oidc-state";

/// What the state carries. It is not secret; it cannot be forged or reused because only the
/// digest of a state fedgate issued is in the one-time store, and taking it consumes it.
#[derive(Serialize, Deserialize)]
struct StateData {
    /// Identity provider.
    i: String,
    /// Dashboard origin to post the token to.
    o: String,
    /// Nonce the id_token must carry.
    n: String,
    /// Digest of the browser-binding cookie.
    b: String,
    /// Randomness, so equal requests get different states.
    r: String,
}

pub struct WebSsoStart {
    pub redirect_to: String,
    /// The value of the browser-binding cookie to set.
    pub binding: String,
}

/// `len` random bytes, base64url: states, nonces, bindings, relay states.
pub(super) fn random_b64(len: usize) -> String {
    let mut bytes = vec![0u8; len];
    super::fill_random(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// What the one-time store keeps of a secret value: its SHA-256, hex.
pub(super) fn digest(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

impl SignIn {
    /// `origin` must be one of the configured trusted dashboards, exactly.
    pub fn check_dashboard(&self, origin: &str) -> Result<()> {
        if self.config.trusted_dashboards.iter().any(|d| d == origin) {
            Ok(())
        } else {
            Err(Error::invalid("origin", "is not a trusted dashboard"))
        }
    }

    /// An identity provider a browser may start signing in at: it exists and is enabled.
    pub async fn enabled_idp(&self, idp_id: &str) -> Result<crate::model::IdentityProvider> {
        self.store
            .get_idp(idp_id)
            .await?
            .filter(|i| i.enabled)
            .ok_or_else(|| Error::not_found("identity provider", idp_id))
    }

    pub fn oidc_callback_url(&self) -> String {
        format!("{}{OIDC_CALLBACK_PATH}", self.config.public_url)
    }

    /// Starts browser sign-in at `idp_id`'s OpenID provider for the dashboard at `origin`.
    pub async fn start_oidc_websso(&self, idp_id: &str, origin: &str, now_ms: i64) -> Result<WebSsoStart> {
        // Unauthenticated, and it writes to the shared store: bounded by admission control.
        let _admitted = self.admission.sign_in.admit().await?;
        self.check_dashboard(origin)?;
        let idp = self.enabled_idp(idp_id).await?;
        let provider = self
            .oidc
            .provider(self.store.as_ref(), &idp.id, now_ms)
            .await?
            .filter(|p| p.config.access_mode == AccessMode::ProgramConsole)
            .ok_or_else(|| Error::invalid("idp_id", "the identity provider offers no browser sign-in"))?;
        let config = &provider.config;
        let (Some(endpoint), Some(scope), Some(mode)) = (
            config.authorization_endpoint.as_deref(),
            config.scope.as_deref(),
            config.response_mode.as_deref(),
        ) else {
            return Err(Error::internal(format!(
                "console configuration of {idp_id} is incomplete"
            )));
        };
        // Stored before this rule existed, a configuration may hold an endpoint that fails it.
        crate::egress::check_url(endpoint).map_err(|e| {
            Error::invalid(
                "authorization_endpoint",
                format!("the identity provider's {endpoint:?} {e}"),
            )
        })?;
        let binding = random_b64(16);
        let data = StateData {
            i: idp.id.clone(),
            o: origin.to_string(),
            n: random_b64(16),
            b: digest(&binding),
            r: random_b64(16),
        };
        let state = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&data).map_err(Error::internal)?);
        self.store
            .remember_once(STATE_NAMESPACE, &digest(&state), now_ms + STATE_TTL_MS, now_ms)
            .await?;
        let query = serde_urlencoded::to_string([
            ("response_type", "id_token"),
            ("client_id", config.client_id.as_str()),
            ("redirect_uri", self.oidc_callback_url().as_str()),
            ("scope", scope),
            ("response_mode", mode),
            ("state", state.as_str()),
            ("nonce", data.n.as_str()),
        ])
        .map_err(Error::internal)?;
        let separator = if endpoint.contains('?') { '&' } else { '?' };
        tracing::info!(idp.id = %idp.id, "browser sign-in started");
        Ok(WebSsoStart {
            redirect_to: format!("{endpoint}{separator}{query}"),
            binding,
        })
    }

    /// Finishes browser sign-in: returns the federated token and the dashboard to post it to.
    /// `oidc_login` audits the sign-in; a callback refused before it is audited here.
    pub async fn finish_oidc_websso(
        &self,
        state: &str,
        id_token: &str,
        binding: Option<&str>,
        now_ms: i64,
    ) -> Result<(Issued, String)> {
        let mut signing_in = false;
        let result = self
            .oidc_callback(state, id_token, binding, &mut signing_in, now_ms)
            .await;
        if let (Err(e), false) = (&result, signing_in) {
            self.audit_federated_sign_in(Protocol::Oidc, None, Err(e));
        }
        result
    }

    /// As [`finish_oidc_websso`]; `signing_in` is set once the id_token goes to `oidc_login`.
    async fn oidc_callback(
        &self,
        state: &str,
        id_token: &str,
        binding: Option<&str>,
        signing_in: &mut bool,
        now_ms: i64,
    ) -> Result<(Issued, String)> {
        let refuse = |why: &str| Error::Unauthenticated(format!("browser sign-in callback: {why}"));
        if state.is_empty() || state.len() > 2048 {
            return Err(refuse("no usable state"));
        }
        if !self.store.take_once(STATE_NAMESPACE, &digest(state), now_ms).await? {
            return Err(refuse("state unknown, expired or already used"));
        }
        let data: StateData = URL_SAFE_NO_PAD
            .decode(state)
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .ok_or_else(|| refuse("state undecodable"))?;
        let bound = binding.is_some_and(|b| {
            let seen = digest(b);
            // memcmp::eq needs equal lengths.
            seen.len() == data.b.len() && openssl::memcmp::eq(seen.as_bytes(), data.b.as_bytes())
        });
        if !bound {
            return Err(refuse("the browser that started the sign-in did not finish it"));
        }
        self.check_dashboard(&data.o)?;
        *signing_in = true;
        let issued = self
            .oidc_login(&data.i, id_token, Some(&data.n), IdTokenUse::BrowserCallback, now_ms)
            .await?;
        Ok((issued, data.o))
    }

    /// Identity providers offering browser sign-in with `protocol`, for the chooser page.
    pub async fn websso_providers(&self, protocol: Protocol, now_ms: i64) -> Result<Vec<String>> {
        if protocol == Protocol::Saml {
            return self.saml_websso_providers(now_ms).await;
        }
        let mut out = Vec::new();
        for idp in self.store.list_idps().await?.into_iter().filter(|i| i.enabled) {
            if let Some(p) = self.oidc.provider(self.store.as_ref(), &idp.id, now_ms).await?
                && p.config.access_mode == AccessMode::ProgramConsole
            {
                out.push(idp.id);
            }
        }
        Ok(out)
    }
}
