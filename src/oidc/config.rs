//! `openid_connect_config` (reference §5.13.3): every field checked at write time, so a
//! provider that is stored can be used.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::jwk::SIGNING_ALGS;
use super::{OidcError, invalid};
use crate::egress::{CheckedUrl, EgressError, EgressPolicy, check_url};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AccessMode {
    /// API and command-line access only.
    Program,
    /// Also browser sign-in through the authorization endpoint.
    ProgramConsole,
}

/// The request body; every field optional so one type serves create (POST) and modify (PUT).
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct OidcConfigInput {
    pub access_mode: Option<AccessMode>,
    pub idp_url: Option<String>,
    pub client_id: Option<String>,
    pub authorization_endpoint: Option<String>,
    pub scope: Option<String>,
    pub response_type: Option<String>,
    pub response_mode: Option<String>,
    pub signing_key: Option<String>,
    /// fedgate extensions: see `OidcConfig`.
    pub replay_protection: Option<bool>,
    pub max_token_age: Option<i64>,
    pub max_token_lifetime: Option<i64>,
    pub fingerprints: Option<Vec<String>>,
    pub other_client_ids: Option<Vec<String>>,
}

/// A validated configuration, as stored and shown. Console fields are `None` in program mode.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct OidcConfig {
    pub access_mode: AccessMode,
    pub idp_url: String,
    pub client_id: String,
    pub authorization_endpoint: Option<String>,
    pub scope: Option<String>,
    pub response_type: Option<String>,
    pub response_mode: Option<String>,
    /// The JWKS as JSON text, normalised (`kty`, never the `key` alias). `None`: keys are
    /// discovered from `{idp_url}/.well-known/openid-configuration` (a fedgate extension; the
    /// reference requires this field).
    pub signing_key: Option<String>,
    /// Refuse a second use of a token's `jti` (default: on for program-only providers, whose
    /// tokens are bearer credentials for machines; off for console providers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replay_protection: Option<bool>,
    /// Seconds since `iat` after which a token is refused (default 3600).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_token_age: Option<i64>,
    /// Largest `exp - iat` accepted, in seconds (default 86400).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_token_lifetime: Option<i64>,
    /// SHA-1 digests of the certificate the issuer's TLS server presents as its own (Alibaba
    /// Cloud's OIDC provider fingerprints), 40 lower-case hex digits each, at most 5. When any
    /// are set, discovery and JWKS are fetched only from a server presenting one of these
    /// certificates, which is then the trust anchor instead of the CA roots
    /// (`upstream::Upstream::discover_keys`). Unused while `signing_key` is set: nothing is
    /// fetched then.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schema(required = false)]
    pub fingerprints: Vec<String>,
    /// Further audiences accepted beside `client_id` (Alibaba Cloud's OIDC providers hold up
    /// to 50 client ids), at most `MAX_CLIENT_IDS - 1`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schema(required = false)]
    pub other_client_ids: Vec<String>,
}

pub const DEFAULT_MAX_TOKEN_AGE_SECS: i64 = 3600;
pub const DEFAULT_MAX_TOKEN_LIFETIME_SECS: i64 = 86_400;
/// Alibaba Cloud's limit of client ids per OIDC provider, `client_id` included.
pub const MAX_CLIENT_IDS: usize = 50;
/// Alibaba Cloud's limit of fingerprints per OIDC provider.
pub const MAX_FINGERPRINTS: usize = 5;

/// A client id: 5-255 characters, no spaces or control characters.
fn check_client_id(field: &str, id: &str) -> Result<(), OidcError> {
    length(field, id, 5, 255)?;
    if id.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(invalid(field, "must not contain spaces or control characters"));
    }
    Ok(())
}

fn length(field: &str, value: &str, min: usize, max: usize) -> Result<(), OidcError> {
    let n = value.chars().count();
    if n < min || n > max {
        return Err(invalid(field, format!("must be {min}-{max} characters")));
    }
    Ok(())
}

/// A URL field: its length, then the egress rules (`crate::egress`) `check` applies.
fn url_field(
    field: &str,
    url: &str,
    check: impl FnOnce(&str) -> Result<CheckedUrl, EgressError>,
) -> Result<CheckedUrl, OidcError> {
    length(field, url, 10, 255)?;
    check(url).map_err(|e| invalid(field, e.to_string()))
}

/// One certificate fingerprint as written by an operator: 40 hex digits, or 20 pairs joined
/// by `:` as `openssl x509 -fingerprint -sha1` prints them, in either case. Stored lower-case
/// without separators, the form `upstream` compares with.
pub fn parse_fingerprint(text: &str) -> Option<String> {
    let digits = match text.len() {
        40 => text.to_string(),
        59 => {
            let pairs: Vec<&str> = text.split(':').collect();
            if pairs.len() != 20 || pairs.iter().any(|p| p.len() != 2) {
                return None;
            }
            pairs.concat()
        }
        _ => return None,
    };
    if !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    Some(digits.to_ascii_lowercase())
}

/// The `fingerprints` field: each parsed, at most [`MAX_FINGERPRINTS`], none repeated (after
/// normalising, so `AB:..` repeats `ab..`).
fn parse_fingerprints(list: Vec<String>) -> Result<Vec<String>, OidcError> {
    const FIELD: &str = "fingerprints";
    if list.len() > MAX_FINGERPRINTS {
        return Err(invalid(
            FIELD,
            format!("must hold at most {MAX_FINGERPRINTS} fingerprints"),
        ));
    }
    let mut parsed: Vec<String> = Vec::with_capacity(list.len());
    for (i, text) in list.iter().enumerate() {
        let field = format!("{FIELD}[{i}]");
        let fingerprint = parse_fingerprint(text).ok_or_else(|| {
            invalid(
                &field,
                "must be a SHA-1 fingerprint: 40 hex digits, or 20 pairs separated by ':'",
            )
        })?;
        if let Some(first) = parsed.iter().position(|f| *f == fingerprint) {
            return Err(invalid(&field, format!("repeats {FIELD}[{first}]")));
        }
        parsed.push(fingerprint);
    }
    Ok(parsed)
}

fn b64_len(field: &str, value: Option<&Value>) -> Result<usize, OidcError> {
    let text = value
        .and_then(Value::as_str)
        .ok_or_else(|| invalid(field, "is missing or not a string"))?;
    URL_SAFE_NO_PAD
        .decode(text.trim_end_matches('='))
        .map(|b| b.len())
        .map_err(|_| invalid(field, "is not base64url"))
}

/// Checks one JWK; returns whether it can verify signatures.
fn check_jwk(key: &mut Map<String, Value>, path: &str) -> Result<bool, OidcError> {
    // The reference's samples write `"key": "RSA"`; accept it and store the standard name.
    if !key.contains_key("kty")
        && let Some(alias) = key.remove("key")
    {
        key.insert("kty".into(), alias);
    }
    for private in ["d", "p", "q", "dp", "dq", "qi", "k"] {
        if key.contains_key(private) {
            return Err(invalid(
                &format!("{path}.{private}"),
                "private or secret key material must not be configured",
            ));
        }
    }
    if let Some(alg) = key.get("alg") {
        let alg = alg.as_str().unwrap_or("");
        if !SIGNING_ALGS.contains(&alg) {
            return Err(invalid(
                &format!("{path}.alg"),
                format!("{alg:?} is not an allowed signature algorithm"),
            ));
        }
    }
    let usable = match key.get("use").and_then(Value::as_str) {
        None | Some("sig") => true,
        Some("enc") => false,
        Some(other) => return Err(invalid(&format!("{path}.use"), format!("{other:?} must be sig or enc"))),
    };
    let kty = key.get("kty").and_then(Value::as_str).unwrap_or("");
    match kty {
        "RSA" => {
            let n = b64_len(&format!("{path}.n"), key.get("n"))?;
            let e = b64_len(&format!("{path}.e"), key.get("e"))?;
            if !(256..=1024).contains(&n) {
                return Err(invalid(&format!("{path}.n"), "RSA modulus must be 2048-8192 bits"));
            }
            if e == 0 || e > 8 {
                return Err(invalid(&format!("{path}.e"), "RSA exponent is malformed"));
            }
        }
        "EC" => {
            let size = match key.get("crv").and_then(Value::as_str) {
                Some("P-256") => 32,
                Some("P-384") => 48,
                _ => return Err(invalid(&format!("{path}.crv"), "EC keys must use P-256 or P-384")),
            };
            for c in ["x", "y"] {
                if b64_len(&format!("{path}.{c}"), key.get(c))? != size {
                    return Err(invalid(&format!("{path}.{c}"), "has the wrong length for the curve"));
                }
            }
        }
        "OKP" => {
            if key.get("crv").and_then(Value::as_str) != Some("Ed25519") {
                return Err(invalid(&format!("{path}.crv"), "OKP keys must use Ed25519"));
            }
            if b64_len(&format!("{path}.x"), key.get("x"))? != 32 {
                return Err(invalid(&format!("{path}.x"), "has the wrong length for Ed25519"));
            }
        }
        other => {
            return Err(invalid(
                &format!("{path}.kty"),
                format!("key type {other:?} is not supported"),
            ));
        }
    }
    Ok(usable)
}

/// Parses a JWKS given as JSON text; returns it normalised. It must hold 1-16 keys, all of an
/// allowed type, at least one usable for signatures, and no private material.
pub fn parse_jwks(text: &str) -> Result<String, OidcError> {
    const FIELD: &str = "signing_key";
    length(FIELD, text, 10, 30_000)?;
    let mut doc: Value = serde_json::from_str(text).map_err(|_| invalid(FIELD, "is not a JSON document"))?;
    let keys = doc
        .get_mut("keys")
        .and_then(Value::as_array_mut)
        .ok_or_else(|| invalid(FIELD, "must be a JWKS: {\"keys\": [...]}"))?;
    if keys.is_empty() || keys.len() > 16 {
        return Err(invalid(FIELD, "must hold 1-16 keys"));
    }
    let mut usable = 0;
    for (i, key) in keys.iter_mut().enumerate() {
        let path = format!("{FIELD}.keys[{i}]");
        let obj = key.as_object_mut().ok_or_else(|| invalid(&path, "must be an object"))?;
        if check_jwk(obj, &path)? {
            usable += 1;
        }
    }
    if usable == 0 {
        return Err(invalid(FIELD, "holds no key usable to verify signatures"));
    }
    Ok(doc.to_string())
}

/// Where an id_token is presented: it decides whether the token may be presented again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdTokenUse {
    /// `POST /v3.0/OS-AUTH/id-token/tokens`, the CI exchange: one token, one exchange.
    Exchange,
    /// The WebSSO callback: the browser's answer, bound to its state and nonce.
    BrowserCallback,
    /// `.../protocols/oidc/auth` with `Authorization: Bearer`: keystoneauth1's
    /// v3oidcaccesstoken presents the same token for every `openstack` command, as Keystone
    /// users work with `OS_ACCESS_TOKEN`.
    KeystoneBearer,
}

impl OidcConfig {
    /// Whether an id_token accepted once is refused afterwards (its `jti`, or its digest when
    /// it has none, kept until it expires). `replay_protection`, when set, decides for every
    /// endpoint; by default the exchange and the browser callback are single-use for every
    /// provider, and the Keystone bearer path is for program-only (CI) providers, whose tokens
    /// are never meant to be reused.
    pub fn single_use(&self, at: IdTokenUse) -> bool {
        match (self.replay_protection, at) {
            (Some(explicit), _) => explicit,
            (None, IdTokenUse::KeystoneBearer) => self.access_mode == AccessMode::Program,
            (None, IdTokenUse::Exchange | IdTokenUse::BrowserCallback) => true,
        }
    }

    /// Applies `input` over `current` (a modify) or alone (a create) and validates the result.
    /// `idp_url` is where keys are discovered, so it must be a URL `egress` lets fedgate fetch;
    /// `authorization_endpoint` is where browsers are sent, so it follows the URL rules only.
    pub fn build(
        input: OidcConfigInput,
        current: Option<OidcConfig>,
        egress: &EgressPolicy,
    ) -> Result<OidcConfig, OidcError> {
        let required = |field: &str| invalid(field, "is required");
        let (cur_mode, cur_url, cur_client, cur_key) = match &current {
            Some(c) => (
                Some(c.access_mode),
                Some(c.idp_url.clone()),
                Some(c.client_id.clone()),
                Some(c.signing_key.clone()),
            ),
            None => (None, None, None, None),
        };
        let access_mode = input.access_mode.or(cur_mode).ok_or_else(|| required("access_mode"))?;
        let idp_url = input.idp_url.or(cur_url).ok_or_else(|| required("idp_url"))?;
        let issuer = url_field("idp_url", &idp_url, |u| egress.check_fetch(u))?;
        let client_id = input.client_id.or(cur_client).ok_or_else(|| required("client_id"))?;
        check_client_id("client_id", &client_id)?;
        let other_client_ids = input
            .other_client_ids
            .or_else(|| current.as_ref().map(|c| c.other_client_ids.clone()))
            .unwrap_or_default();
        if other_client_ids.len() >= MAX_CLIENT_IDS {
            return Err(invalid(
                "other_client_ids",
                format!("must hold at most {} client ids", MAX_CLIENT_IDS - 1),
            ));
        }
        for (i, id) in other_client_ids.iter().enumerate() {
            let field = format!("other_client_ids[{i}]");
            check_client_id(&field, id)?;
            if *id == client_id || other_client_ids[..i].contains(id) {
                return Err(invalid(&field, "repeats a client id"));
            }
        }
        let signing_key = match input.signing_key {
            Some(text) => Some(parse_jwks(&text)?),
            None => cur_key.flatten(),
        };
        let bounded = |field: &str, v: Option<i64>, old: Option<i64>| -> Result<Option<i64>, OidcError> {
            match v.or(old) {
                Some(n) if !(60..=7 * 86_400).contains(&n) => Err(invalid(field, "must be 60-604800 seconds")),
                other => Ok(other),
            }
        };
        let max_token_age = bounded(
            "max_token_age",
            input.max_token_age,
            current.as_ref().and_then(|c| c.max_token_age),
        )?;
        let max_token_lifetime = bounded(
            "max_token_lifetime",
            input.max_token_lifetime,
            current.as_ref().and_then(|c| c.max_token_lifetime),
        )?;
        let replay_protection = input
            .replay_protection
            .or(current.as_ref().and_then(|c| c.replay_protection));
        let fingerprints = match input.fingerprints {
            Some(list) => parse_fingerprints(list)?,
            None => current.as_ref().map(|c| c.fingerprints.clone()).unwrap_or_default(),
        };
        // A pin is checked against a TLS certificate; an http (loopback) issuer presents none,
        // so the fingerprints would silently refuse every fetch.
        if !fingerprints.is_empty() && issuer.url().scheme() != "https" {
            return Err(invalid(
                "fingerprints",
                "pin a TLS certificate, so idp_url must use https",
            ));
        }
        let console = |new: Option<String>, old: Option<&OidcConfig>, get: fn(&OidcConfig) -> Option<String>| {
            new.or_else(|| old.and_then(get))
        };
        let old = current.as_ref();
        let mut config = OidcConfig {
            access_mode,
            idp_url,
            client_id,
            authorization_endpoint: console(input.authorization_endpoint, old, |c| c.authorization_endpoint.clone()),
            scope: console(input.scope, old, |c| c.scope.clone()),
            response_type: console(input.response_type, old, |c| c.response_type.clone()),
            response_mode: console(input.response_mode, old, |c| c.response_mode.clone()),
            signing_key,
            replay_protection,
            max_token_age,
            max_token_lifetime,
            fingerprints,
            other_client_ids,
        };
        if access_mode == AccessMode::Program {
            // Browser fields mean nothing without console access; the reference shows null.
            config.authorization_endpoint = None;
            config.scope = None;
            config.response_type = None;
            config.response_mode = None;
            return Ok(config);
        }
        let endpoint = config
            .authorization_endpoint
            .as_deref()
            .ok_or_else(|| required("authorization_endpoint"))?;
        url_field("authorization_endpoint", endpoint, check_url)?;
        let scope = config.scope.as_deref().ok_or_else(|| required("scope"))?;
        let scopes: Vec<&str> = scope.split(' ').collect();
        if scopes.is_empty()
            || scopes.len() > 10
            || scopes.iter().any(|s| !matches!(*s, "openid" | "email" | "profile"))
            || !scopes.contains(&"openid")
        {
            return Err(invalid(
                "scope",
                "must be 1-10 of openid, email, profile separated by spaces, openid included",
            ));
        }
        if config
            .response_type
            .as_deref()
            .ok_or_else(|| required("response_type"))?
            != "id_token"
        {
            return Err(invalid("response_type", "must be id_token"));
        }
        let mode = config
            .response_mode
            .as_deref()
            .ok_or_else(|| required("response_mode"))?;
        if mode != "fragment" && mode != "form_post" {
            return Err(invalid("response_mode", "must be fragment or form_post"));
        }
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn b64(n: usize) -> String {
        URL_SAFE_NO_PAD.encode(vec![7u8; n])
    }

    fn rsa() -> Value {
        json!({"kty": "RSA", "n": b64(256), "e": "AQAB", "kid": "k1", "alg": "RS256", "use": "sig"})
    }

    #[test]
    fn jwks_checks_refuse_what_cannot_verify_safely() {
        let jwks = |keys: Vec<Value>| json!({"keys": keys}).to_string();
        let cases: Vec<(&str, String, Result<(), &str>)> = vec![
            ("rsa 2048", jwks(vec![rsa()]), Ok(())),
            (
                "key alias",
                jwks(vec![json!({"key": "RSA", "n": b64(256), "e": "AQAB"})]),
                Ok(()),
            ),
            (
                "ec p-256",
                jwks(vec![json!({"kty": "EC", "crv": "P-256", "x": b64(32), "y": b64(32)})]),
                Ok(()),
            ),
            (
                "ed25519",
                jwks(vec![json!({"kty": "OKP", "crv": "Ed25519", "x": b64(32)})]),
                Ok(()),
            ),
            (
                "rsa 1024",
                jwks(vec![json!({"kty": "RSA", "n": b64(128), "e": "AQAB"})]),
                Err("signing_key.keys[0].n"),
            ),
            (
                "hmac secret",
                jwks(vec![json!({"kty": "oct", "k": b64(32)})]),
                Err("signing_key.keys[0].k"),
            ),
            (
                "private rsa",
                jwks(vec![json!({"kty": "RSA", "n": b64(256), "e": "AQAB", "d": b64(256)})]),
                Err("signing_key.keys[0].d"),
            ),
            (
                "hs256 alg",
                jwks(vec![json!({"kty": "RSA", "n": b64(256), "e": "AQAB", "alg": "HS256"})]),
                Err("signing_key.keys[0].alg"),
            ),
            (
                "none alg",
                jwks(vec![json!({"kty": "RSA", "n": b64(256), "e": "AQAB", "alg": "none"})]),
                Err("signing_key.keys[0].alg"),
            ),
            (
                "p-521",
                jwks(vec![json!({"kty": "EC", "crv": "P-521", "x": b64(66), "y": b64(66)})]),
                Err("signing_key.keys[0].crv"),
            ),
            (
                "short ec",
                jwks(vec![json!({"kty": "EC", "crv": "P-256", "x": b64(31), "y": b64(32)})]),
                Err("signing_key.keys[0].x"),
            ),
            (
                "enc only",
                jwks(vec![json!({"kty": "RSA", "n": b64(256), "e": "AQAB", "use": "enc"})]),
                Err("no key usable"),
            ),
            ("empty", jwks(vec![]), Err("1-16 keys")),
            ("not json", "{not json at all".into(), Err("not a JSON document")),
            (
                "no keys member",
                json!({"kty": "RSA"}).to_string(),
                Err("must be a JWKS"),
            ),
            (
                "bad base64",
                jwks(vec![json!({"kty": "RSA", "n": "***", "e": "AQAB"})]),
                Err("not base64url"),
            ),
        ];
        for (name, text, want) in cases {
            let got = parse_jwks(&text).map(|_| ()).map_err(|e| e.to_string());
            match (got, want) {
                (Ok(()), Ok(())) => {}
                (Err(e), Err(w)) => assert!(e.contains(w), "{name}: {e} should mention {w}"),
                (got, want) => panic!("{name}: got {got:?}, want {want:?}"),
            }
        }
        assert!(
            parse_jwks(&jwks(vec![json!({"key": "RSA", "n": b64(256), "e": "AQAB"})]))
                .unwrap()
                .contains("\"kty\"")
        );
    }

    fn console_input() -> OidcConfigInput {
        OidcConfigInput {
            access_mode: Some(AccessMode::ProgramConsole),
            idp_url: Some("https://accounts.example.com".into()),
            client_id: Some("client-123".into()),
            authorization_endpoint: Some("https://accounts.example.com/auth".into()),
            scope: Some("openid email".into()),
            response_type: Some("id_token".into()),
            response_mode: Some("form_post".into()),
            signing_key: Some(json!({"keys": [rsa()]}).to_string()),
            ..OidcConfigInput::default()
        }
    }

    #[test]
    fn configuration_fields_follow_the_reference() {
        assert!(OidcConfig::build(console_input(), None, &EgressPolicy::default()).is_ok());
        type Change = Box<dyn Fn(&mut OidcConfigInput)>;
        let bad: Vec<(&str, Change)> = vec![
            (
                "idp_url",
                Box::new(|i| i.idp_url = Some("http://accounts.example.com".into())),
            ),
            (
                "idp_url",
                Box::new(|i| i.idp_url = Some("https://user:pw@example.com".into())),
            ),
            ("idp_url", Box::new(|i| i.idp_url = None)),
            (
                "idp_url",
                Box::new(|i| i.idp_url = Some("https://169.254.169.254/latest".into())),
            ),
            (
                "idp_url",
                Box::new(|i| i.idp_url = Some("http://127.0.0.2:9000".into())),
            ),
            (
                "idp_url",
                Box::new(|i| i.idp_url = Some("https://2130706433/op".into())),
            ),
            (
                "authorization_endpoint",
                Box::new(|i| i.authorization_endpoint = Some("http://accounts.example.com/auth".into())),
            ),
            (
                "authorization_endpoint",
                Box::new(|i| i.authorization_endpoint = Some("https://a@accounts.example.com/auth".into())),
            ),
            ("client_id", Box::new(|i| i.client_id = Some("abc".into()))),
            ("scope", Box::new(|i| i.scope = Some("email profile".into()))),
            ("scope", Box::new(|i| i.scope = Some("openid groups".into()))),
            ("response_type", Box::new(|i| i.response_type = Some("code".into()))),
            ("response_mode", Box::new(|i| i.response_mode = Some("query".into()))),
            ("authorization_endpoint", Box::new(|i| i.authorization_endpoint = None)),
            ("access_mode", Box::new(|i| i.access_mode = None)),
            ("max_token_age", Box::new(|i| i.max_token_age = Some(5))),
            (
                "max_token_lifetime",
                Box::new(|i| i.max_token_lifetime = Some(10_000_000)),
            ),
        ];
        for (field, change) in bad {
            let mut input = console_input();
            change(&mut input);
            let err = OidcConfig::build(input, None, &EgressPolicy::default())
                .unwrap_err()
                .to_string();
            assert!(err.starts_with(field), "{err} should name {field}");
        }
        let mut local = console_input();
        local.idp_url = Some("http://127.0.0.1:9000/op".into());
        assert!(
            OidcConfig::build(local.clone(), None, &EgressPolicy::default()).is_err(),
            "loopback is closed until the operator opens it"
        );
        let loopback = EgressPolicy::new(&["127.0.0.1".into()]).unwrap();
        assert!(
            OidcConfig::build(local, None, &loopback).is_ok(),
            "http is fine on an opened loopback"
        );
        let mut intranet = console_input();
        intranet.authorization_endpoint = Some("https://10.0.0.5/auth".into());
        assert!(
            OidcConfig::build(intranet.clone(), None, &EgressPolicy::default()).is_ok(),
            "browsers may be sent to an intranet address"
        );
        intranet.idp_url = Some("https://10.0.0.5/realms/corp".into());
        assert!(OidcConfig::build(intranet.clone(), None, &EgressPolicy::default()).is_err());
        let allowed = EgressPolicy::new(&["10.0.0.0/8".into()]).unwrap();
        assert!(
            OidcConfig::build(intranet, None, &allowed).is_ok(),
            "the operator's allow-list opens a private issuer"
        );
        let mut discovered = console_input();
        discovered.signing_key = None;
        let config = OidcConfig::build(discovered, None, &EgressPolicy::default()).unwrap();
        assert_eq!(config.signing_key, None, "no JWKS: keys come from discovery");
        let mut program = console_input();
        program.access_mode = Some(AccessMode::Program);
        let program_default = OidcConfig::build(program.clone(), None, &EgressPolicy::default()).unwrap();
        program.replay_protection = Some(false);
        let program_reusable = OidcConfig::build(program, None, &EgressPolicy::default()).unwrap();
        let mut console = console_input();
        console.replay_protection = Some(true);
        let console_single_use = OidcConfig::build(console, None, &EgressPolicy::default()).unwrap();
        use IdTokenUse::{BrowserCallback, Exchange, KeystoneBearer};
        for (name, config, want) in [
            ("console default", &config, [true, true, false]),
            ("program default", &program_default, [true, true, true]),
            ("replay_protection false", &program_reusable, [false, false, false]),
            ("replay_protection true", &console_single_use, [true, true, true]),
        ] {
            let got = [Exchange, BrowserCallback, KeystoneBearer].map(|at| config.single_use(at));
            assert_eq!(got, want, "{name}: exchange, browser callback, Keystone bearer");
        }
    }

    const HEX: &str = "0123456789abcdef0123456789abcdef01234567";
    const OPENSSL: &str = "01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67";
    const FORMAT: &str = "must be a SHA-1 fingerprint: 40 hex digits, or 20 pairs separated by ':'";

    /// The n-th of some distinct well-formed fingerprints.
    fn fingerprint(n: usize) -> String {
        format!("{n:040x}")
    }

    #[test]
    fn fingerprints_are_normalised_or_refused_naming_the_entry() {
        let loopback = EgressPolicy::new(&["127.0.0.1".into()]).unwrap();
        let six: Vec<String> = (1..=6).map(fingerprint).collect();
        let five = six[..5].to_vec();
        type Want = Result<Vec<String>, OidcError>;
        let refused = |field: &str, reason: &str| -> Want { Err(invalid(field, reason)) };
        let https = "https://accounts.example.com";
        // (name, idp_url, fingerprints, stored fingerprints or the error)
        let cases: Vec<(&str, &str, Vec<String>, Want)> = vec![
            ("plain", https, vec![HEX.into()], Ok(vec![HEX.into()])),
            ("openssl form", https, vec![OPENSSL.into()], Ok(vec![HEX.into()])),
            ("upper case", https, vec![HEX.to_uppercase()], Ok(vec![HEX.into()])),
            (
                "lower case with colons",
                https,
                vec![OPENSSL.to_lowercase()],
                Ok(vec![HEX.into()]),
            ),
            ("none", https, vec![], Ok(vec![])),
            ("five", https, five.clone(), Ok(five)),
            (
                "six",
                https,
                six,
                refused("fingerprints", "must hold at most 5 fingerprints"),
            ),
            (
                "39 digits",
                https,
                vec![HEX[1..].into()],
                refused("fingerprints[0]", FORMAT),
            ),
            (
                "41 digits",
                https,
                vec![format!("{HEX}0")],
                refused("fingerprints[0]", FORMAT),
            ),
            (
                "not hex",
                https,
                vec![HEX.into(), HEX.replace('a', "g")],
                refused("fingerprints[1]", FORMAT),
            ),
            (
                "sha-256",
                https,
                vec![format!("{HEX}{HEX}")[..64].into()],
                refused("fingerprints[0]", FORMAT),
            ),
            (
                "colons misplaced",
                https,
                vec![format!("0:1{}", &OPENSSL[3..])],
                refused("fingerprints[0]", FORMAT),
            ),
            (
                "some colons",
                https,
                vec![format!("01:23:{}", &HEX[4..])],
                refused("fingerprints[0]", FORMAT),
            ),
            (
                "not ascii",
                https,
                vec![format!("{}é", &HEX[..38])],
                refused("fingerprints[0]", FORMAT),
            ),
            ("empty", https, vec![String::new()], refused("fingerprints[0]", FORMAT)),
            (
                "repeated in another form",
                https,
                vec![HEX.into(), fingerprint(1), OPENSSL.into()],
                refused("fingerprints[2]", "repeats fingerprints[0]"),
            ),
            (
                "http issuer",
                "http://127.0.0.1:9000/op",
                vec![HEX.into()],
                refused("fingerprints", "pin a TLS certificate, so idp_url must use https"),
            ),
            (
                "http issuer, no fingerprints",
                "http://127.0.0.1:9000/op",
                vec![],
                Ok(vec![]),
            ),
        ];
        for (name, idp_url, fingerprints, want) in cases {
            let mut input = console_input();
            input.idp_url = Some(idp_url.into());
            input.fingerprints = Some(fingerprints);
            let got = OidcConfig::build(input, None, &loopback).map(|c| c.fingerprints);
            assert_eq!(got, want, "{name}");
        }
    }

    #[test]
    fn other_client_ids_are_checked_like_client_id() {
        let policy = EgressPolicy::new(&["127.0.0.1".into()]).unwrap();
        let build = |ids: Vec<String>| {
            let mut input = console_input();
            input.other_client_ids = Some(ids);
            OidcConfig::build(input, None, &policy).map(|c| c.other_client_ids)
        };
        let client = console_input().client_id.unwrap();
        let many: Vec<String> = (0..MAX_CLIENT_IDS).map(|i| format!("client-{i:03}")).collect();
        type Want = Result<Vec<String>, OidcError>;
        let cases: Vec<(&str, Vec<String>, Want)> = vec![
            (
                "two more",
                vec!["ci-one".into(), "ci-two".into()],
                Ok(vec!["ci-one".into(), "ci-two".into()]),
            ),
            ("none", vec![], Ok(vec![])),
            (
                "too short",
                vec!["ci".into()],
                Err(invalid("other_client_ids[0]", "must be 5-255 characters")),
            ),
            (
                "a space",
                vec!["ci one".into()],
                Err(invalid(
                    "other_client_ids[0]",
                    "must not contain spaces or control characters",
                )),
            ),
            (
                "client_id again",
                vec![client],
                Err(invalid("other_client_ids[0]", "repeats a client id")),
            ),
            (
                "a repeat",
                vec!["ci-one".into(), "ci-one".into()],
                Err(invalid("other_client_ids[1]", "repeats a client id")),
            ),
            (
                "fifty more",
                many,
                Err(invalid("other_client_ids", "must hold at most 49 client ids")),
            ),
        ];
        for (name, ids, want) in cases {
            assert_eq!(build(ids), want, "{name}");
        }
    }

    #[test]
    fn fingerprints_are_kept_by_a_modify_and_absent_from_old_bytes() {
        let policy = EgressPolicy::new(&["127.0.0.1".into()]).unwrap();
        let mut input = console_input();
        input.fingerprints = Some(vec![OPENSSL.into()]);
        let pinned = OidcConfig::build(input, None, &policy).unwrap();
        let modify = |input: OidcConfigInput| OidcConfig::build(input, Some(pinned.clone()), &policy);
        let kept = modify(OidcConfigInput {
            client_id: Some("client-456".into()),
            ..OidcConfigInput::default()
        });
        assert_eq!(kept.map(|c| c.fingerprints), Ok(vec![HEX.to_string()]));
        let cleared = modify(OidcConfigInput {
            fingerprints: Some(vec![]),
            ..OidcConfigInput::default()
        });
        assert_eq!(cleared.map(|c| c.fingerprints), Ok(vec![]));
        // Moving a pinned provider to an http issuer is refused for the kept fingerprints.
        let to_http = modify(OidcConfigInput {
            idp_url: Some("http://127.0.0.1:9000/op".into()),
            ..OidcConfigInput::default()
        });
        assert_eq!(
            to_http,
            Err(invalid(
                "fingerprints",
                "pin a TLS certificate, so idp_url must use https"
            ))
        );

        // Without fingerprints the stored and shown bytes are those of before the field.
        let plain = OidcConfig::build(console_input(), None, &policy).unwrap();
        let text = serde_json::to_string(&plain).unwrap();
        assert!(!text.contains("fingerprints"), "{text}");
        assert_eq!(serde_json::from_str::<OidcConfig>(&text).unwrap(), plain);
        let shown = serde_json::to_value(&pinned).unwrap();
        assert_eq!(shown["fingerprints"], json!([HEX]));
        assert_eq!(serde_json::from_value::<OidcConfig>(shown).unwrap(), pinned);
    }

    #[test]
    fn program_mode_drops_console_fields_and_modify_keeps_the_rest() {
        let mut input = console_input();
        input.access_mode = Some(AccessMode::Program);
        let program = OidcConfig::build(input, None, &EgressPolicy::default()).unwrap();
        assert_eq!(program.authorization_endpoint, None);
        assert_eq!(program.scope, None);
        let modified = OidcConfig::build(
            OidcConfigInput {
                client_id: Some("client-456".into()),
                ..OidcConfigInput::default()
            },
            Some(program.clone()),
            &EgressPolicy::default(),
        )
        .unwrap();
        assert_eq!(modified.client_id, "client-456");
        assert_eq!(modified.idp_url, program.idp_url);
        assert_eq!(modified.signing_key, program.signing_key);
    }
}
