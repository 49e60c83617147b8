//! Verifying an external id_token: fedgate's own checks on the compact form and the header,
//! then openidconnect's verifier (signature with a key from the trusted set, issuer, audience,
//! expiry, issue time), then the claims openidconnect leaves alone (nbf, azp, token age and
//! lifetime, jti). Pure: keys and `now` come in, nothing is fetched or remembered here.

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use openidconnect::core::{CoreGenderClaim, CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm};
use openidconnect::{
    AdditionalClaims, ClaimsVerificationError, ClientId, IdToken, IdTokenVerifier, IssuerUrl, JsonWebKeySet, Nonce,
    SignatureVerificationError,
};
use serde_json::{Map, Value};

use super::jwk::{Jwk, SIGNING_ALGS, signing_alg};

/// Compact id_tokens larger than this are refused before any parsing.
pub const MAX_ID_TOKEN_BYTES: usize = 16 * 1024;

/// The claims openidconnect's typed form leaves out and fedgate checks, parsed in the same pass.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
struct Unlisted {
    #[serde(default)]
    nbf: Option<serde_json::Number>,
    #[serde(default)]
    jti: Option<Value>,
}

impl AdditionalClaims for Unlisted {}

type ExternalIdToken = IdToken<Unlisted, CoreGenderClaim, CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm>;

/// What a provider's tokens must satisfy besides the signature.
#[derive(Debug, Clone)]
pub struct Expectations {
    /// `iss`, compared exactly.
    pub issuer: String,
    /// Must be among `aud`; `azp` must equal it when present or when `aud` has several entries.
    pub client_id: String,
    /// Tolerance for exp, nbf and iat, in seconds.
    pub skew_secs: i64,
    /// Refuse tokens issued longer ago than this.
    pub max_age_secs: i64,
    /// Refuse tokens whose exp - iat exceeds this.
    pub max_lifetime_secs: i64,
    /// Refuse tokens without a `jti` (replay protection needs one).
    pub require_jti: bool,
}

/// A verified token's facts; its claims become mapping attributes on request.
#[derive(Debug, Clone, PartialEq)]
pub struct VerifiedIdToken {
    pub subject: String,
    pub jti: Option<String>,
    pub expires_at_secs: i64,
    pub nonce: Option<String>,
    /// The verified payload, base64url.
    payload: String,
}

impl VerifiedIdToken {
    /// Every claim as a mapping attribute (see `claims_to_attributes`).
    pub fn attributes(&self) -> Result<BTreeMap<String, Vec<String>>, IdTokenError> {
        Ok(claims_to_attributes(&decode_json(&self.payload, "payload")?))
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum IdTokenError {
    /// The header names a key id the trusted set lacks: the caller may refresh the set once.
    #[error("no trusted key with kid {0:?}")]
    UnknownKey(String),
    #[error("{0}")]
    Rejected(String),
}

fn reject(why: impl Into<String>) -> IdTokenError {
    IdTokenError::Rejected(why.into())
}

fn is_b64url(part: &str) -> bool {
    !part.is_empty()
        && part
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn decode_json(part: &str, what: &str) -> Result<Map<String, Value>, IdTokenError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| reject(format!("{what} is not base64url")))?;
    match serde_json::from_slice(&bytes) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(reject(format!("{what} is not a JSON object"))),
    }
}

/// Checks `token` against `keys` and `expect` at `now_secs`. `nonce`, when given, must equal
/// the token's nonce claim (browser flow).
pub fn verify_id_token(
    token: &str,
    keys: &JsonWebKeySet<Jwk>,
    expect: &Expectations,
    now_secs: i64,
    nonce: Option<&str>,
) -> Result<VerifiedIdToken, IdTokenError> {
    if token.len() > MAX_ID_TOKEN_BYTES {
        return Err(reject(format!("token of {} bytes exceeds the limit", token.len())));
    }
    let parts: Vec<&str> = token.split('.').collect();
    match parts.len() {
        3 => {}
        5 => return Err(reject("encrypted tokens (JWE) are not accepted")),
        n => return Err(reject(format!("compact form has {n} parts, not 3"))),
    }
    // An empty signature part gets as far as the algorithm check, which refuses it.
    if !is_b64url(parts[0]) || !is_b64url(parts[1]) || !(parts[2].is_empty() || is_b64url(parts[2])) {
        return Err(reject("compact form holds characters outside base64url"));
    }
    // Small: a map costs little, and a JSON array must not pass as a header by position.
    let header = decode_json(parts[0], "header")?;
    let alg = header.get("alg").and_then(Value::as_str).unwrap_or("");
    if signing_alg(alg).is_none() {
        return Err(reject(format!("algorithm {alg:?} is not allowed")));
    }
    if header.contains_key("crit") {
        return Err(reject("critical header parameters are not supported"));
    }
    // jwk, jku, x5u and x5c are never used to choose a key: only the trusted set is.

    let parsed: ExternalIdToken = token
        .parse()
        .map_err(|e: serde_json::Error| reject(format!("not an id_token: {e}")))?;
    let issuer = IssuerUrl::new(expect.issuer.clone()).map_err(|_| reject("configured issuer is not a URL"))?;
    let skew = expect.skew_secs;
    let now_minus_skew =
        chrono::DateTime::from_timestamp(now_secs - skew, 0).ok_or_else(|| reject("clock out of range"))?;
    let max_age = expect.max_age_secs;
    let verifier = IdTokenVerifier::new_public_client(ClientId::new(expect.client_id.clone()), issuer, keys.clone())
        .set_allowed_algs(SIGNING_ALGS.iter().filter_map(|a| signing_alg(a)))
        // Several audiences are acceptable; azp is checked below.
        .set_other_audience_verifier_fn(|_| true)
        .set_time_fn(move || now_minus_skew)
        .set_issue_time_verifier_fn(move |iat| {
            let iat = iat.timestamp();
            if iat > now_secs + skew {
                Err(format!("issued in the future ({iat})"))
            } else if now_secs - iat > max_age {
                Err(format!("issued {}s ago, over the {max_age}s limit", now_secs - iat))
            } else {
                Ok(())
            }
        });
    let expected_nonce = nonce.map(|n| Nonce::new(n.to_string()));
    let nonce_check = |found: Option<&Nonce>| match (&expected_nonce, found) {
        (None, _) => Ok(()),
        (Some(want), Some(got)) if constant_time_eq(want.secret(), got.secret()) => Ok(()),
        (Some(_), _) => Err("nonce mismatch".to_string()),
    };
    let verified = parsed.claims(&verifier, nonce_check).map_err(|e| match e {
        ClaimsVerificationError::SignatureVerification(SignatureVerificationError::NoMatchingKey) => {
            match header.get("kid").and_then(Value::as_str) {
                Some(kid) if !keys.keys().iter().any(|k| k.kid() == Some(kid)) => {
                    IdTokenError::UnknownKey(kid.to_string())
                }
                _ => reject("no trusted key matches the token"),
            }
        }
        other => reject(other.to_string()),
    })?;

    // openidconnect compares issuers as URLs; the claim must be the configured text exactly.
    if verified.issuer().as_str() != expect.issuer {
        return Err(reject("issuer differs from the configured one"));
    }
    match verified.authorized_party() {
        Some(azp) if azp.as_str() == expect.client_id => {}
        Some(_) => return Err(reject("azp is not our client_id")),
        None if verified.audiences().len() > 1 => return Err(reject("several audiences and no azp")),
        None => {}
    }
    let exp = verified.expiration().timestamp();
    let iat = verified.issue_time().timestamp();
    let unlisted = verified.additional_claims();
    if let Some(nbf) = &unlisted.nbf {
        let nbf = nbf
            .as_i64()
            .or_else(|| nbf.as_f64().filter(|f| f.is_finite()).map(|f| f as i64))
            .ok_or_else(|| reject("nbf is not a usable number"))?;
        if nbf > now_secs + skew {
            return Err(reject(format!("not valid before {nbf}")));
        }
    }
    if exp - iat > expect.max_lifetime_secs {
        return Err(reject(format!(
            "lifetime {}s exceeds the {}s limit",
            exp - iat,
            expect.max_lifetime_secs
        )));
    }
    let jti = match &unlisted.jti {
        Some(Value::String(j)) if !j.is_empty() && j.len() <= 255 => Some(j.clone()),
        None | Some(Value::Null) => None,
        Some(_) => return Err(reject("jti is not a usable string")),
    };
    if expect.require_jti && jti.is_none() {
        return Err(reject("jti missing and replay protection is on"));
    }
    let subject = verified.subject().as_str().to_string();
    if subject.is_empty() {
        return Err(reject("sub is empty"));
    }
    Ok(VerifiedIdToken {
        subject,
        jti,
        expires_at_secs: exp,
        nonce: verified.nonce().map(|n| n.secret().clone()),
        payload: parts[1].to_string(),
    })
}

fn constant_time_eq(a: &str, b: &str) -> bool {
    a.len() == b.len() && openssl::memcmp::eq(a.as_bytes(), b.as_bytes())
}

/// Depth and count limits keep a hostile claims object from growing the attribute map.
const MAX_CLAIM_DEPTH: usize = 4;
const MAX_ATTRIBUTES: usize = 256;

/// Claims as mapping attributes: strings as they are, numbers and booleans as text, arrays as
/// multi-valued attributes, nested objects under dotted names (`realm_access.roles`).
pub fn claims_to_attributes(claims: &Map<String, Value>) -> BTreeMap<String, Vec<String>> {
    fn scalar(v: &Value) -> Option<String> {
        match v {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            Value::Null => None,
            // An array or object inside an array: its JSON text.
            other => Some(other.to_string()),
        }
    }
    fn walk(prefix: &str, obj: &Map<String, Value>, depth: usize, out: &mut BTreeMap<String, Vec<String>>) {
        for (k, v) in obj {
            if out.len() >= MAX_ATTRIBUTES {
                return;
            }
            let name = if prefix.is_empty() {
                k.clone()
            } else {
                format!("{prefix}.{k}")
            };
            match v {
                Value::Object(inner) if depth < MAX_CLAIM_DEPTH => walk(&name, inner, depth + 1, out),
                Value::Object(_) | Value::Null => {}
                Value::Array(items) => {
                    out.insert(name, items.iter().filter_map(scalar).collect());
                }
                other => {
                    if let Some(s) = scalar(other) {
                        out.insert(name, vec![s]);
                    }
                }
            }
        }
    }
    let mut out = BTreeMap::new();
    walk("", claims, 0, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn claims_become_attributes_by_kind() {
        let claims = json!({
            "sub": "repo:acme/app:ref:refs/heads/main",
            "repository": "acme/app",
            "run_number": 42,
            "ref_protected": true,
            "groups": ["devs", "ops"],
            "aud": ["a", "b"],
            "realm_access": {"roles": ["admin"], "deep": {"x": 1}},
            "nothing": null,
        });
        let attrs = claims_to_attributes(claims.as_object().unwrap());
        let get = |k: &str| attrs.get(k).cloned();
        assert_eq!(get("repository"), Some(vec!["acme/app".to_string()]));
        assert_eq!(get("run_number"), Some(vec!["42".to_string()]));
        assert_eq!(get("ref_protected"), Some(vec!["true".to_string()]));
        assert_eq!(get("groups"), Some(vec!["devs".to_string(), "ops".to_string()]));
        assert_eq!(get("realm_access.roles"), Some(vec!["admin".to_string()]));
        assert_eq!(get("realm_access.deep.x"), Some(vec!["1".to_string()]));
        assert_eq!(get("nothing"), None);
        // A string with `;` stays one value: claims are not Keystone's joined environment.
        let attrs = claims_to_attributes(json!({"a": "x;y"}).as_object().unwrap());
        assert_eq!(attrs["a"], vec!["x;y".to_string()]);
    }

    #[test]
    fn nesting_and_count_are_bounded() {
        let mut deep = json!("leaf");
        for _ in 0..50 {
            deep = json!({ "k": deep });
        }
        let attrs = claims_to_attributes(json!({ "d": deep }).as_object().unwrap());
        assert!(attrs.is_empty(), "objects past the depth limit are dropped: {attrs:?}");
        let many: Map<String, Value> = (0..1000).map(|i| (format!("c{i}"), json!(i))).collect();
        assert_eq!(claims_to_attributes(&many).len(), MAX_ATTRIBUTES);
    }
}
