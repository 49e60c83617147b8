//! Verifying an external id_token: the compact form and header first, then the signature
//! with the one trusted key that fits the header (openidconnect's key-set rules), then the
//! claims (issuer, audience, azp, exp, nbf, iat, age, lifetime, jti, nonce) read in one
//! borrowed pass. Pure: keys and `now` come in, nothing is fetched or remembered here.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use openidconnect::core::CoreJwsSigningAlgorithm;
use openidconnect::{JsonWebKey, JsonWebKeyAlgorithm, JsonWebKeySet, JsonWebKeyUse, JwsSigningAlgorithm};
use serde::Deserialize;
use serde::de::{self, SeqAccess, Visitor};
use serde_json::{Map, Value};

use super::jwk::{Jwk, signing_alg};

/// Compact id_tokens larger than this are refused before any parsing.
pub const MAX_ID_TOKEN_BYTES: usize = 16 * 1024;

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
    /// The verified payload, decoded: JSON text of an object.
    payload: Vec<u8>,
}

impl VerifiedIdToken {
    /// Every claim as a mapping attribute (see `claims_to_attributes`).
    pub fn attributes(&self) -> Result<BTreeMap<String, Vec<String>>, IdTokenError> {
        let claims: Map<String, Value> =
            serde_json::from_slice(&self.payload).map_err(|_| reject("payload is not a JSON object"))?;
        Ok(claims_to_attributes(&claims))
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

/// Decodes a base64url part holding a JSON object. Typed reads of anything else are refused
/// here: serde would fill a struct from a JSON array by position.
fn decode_object(part: &str, what: &str) -> Result<Vec<u8>, IdTokenError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| reject(format!("{what} is not base64url")))?;
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(reject(format!("{what} is not a JSON object")));
    }
    Ok(bytes)
}

/// The header members fedgate reads. jwk, jku, x5u and x5c are never used to choose a key:
/// only the trusted set is.
#[derive(Deserialize)]
struct Header<'a> {
    #[serde(borrow, default)]
    alg: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    kid: Option<Cow<'a, str>>,
    /// Present at all, whatever its value.
    #[serde(default, deserialize_with = "present")]
    crit: bool,
}

fn present<'de, D: de::Deserializer<'de>>(deserializer: D) -> Result<bool, D::Error> {
    de::IgnoredAny::deserialize(deserializer).map(|_| true)
}

/// The claims fedgate checks, borrowed from the decoded payload. Other claims are skipped
/// here and read as mapping attributes later; a repeated claim is an error.
#[derive(Deserialize)]
struct Claims<'a> {
    #[serde(borrow)]
    iss: Cow<'a, str>,
    #[serde(borrow)]
    sub: Cow<'a, str>,
    #[serde(borrow)]
    aud: Audiences<'a>,
    #[serde(borrow, default)]
    azp: Option<Cow<'a, str>>,
    exp: NumericDate,
    iat: NumericDate,
    #[serde(default)]
    nbf: Option<NumericDate>,
    #[serde(borrow, default)]
    nonce: Option<Cow<'a, str>>,
    #[serde(default)]
    jti: Option<Value>,
}

/// `aud`: one string or an array of strings.
struct Audiences<'a>(Vec<Cow<'a, str>>);

impl<'de: 'a, 'a> Deserialize<'de> for Audiences<'a> {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct AudVisitor;
        impl<'de> Visitor<'de> for AudVisitor {
            type Value = Audiences<'de>;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string or an array of strings")
            }

            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Audiences(vec![Cow::Borrowed(v)]))
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Audiences(vec![Cow::Owned(v.to_string())]))
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut all = Vec::new();
                while let Some(aud) = seq.next_element::<Cow<'de, str>>()? {
                    all.push(aud);
                }
                Ok(Audiences(all))
            }
        }
        deserializer.deserialize_any(AudVisitor)
    }
}

/// Seconds since the epoch: a JSON number (fractions are cut), never a string.
struct NumericDate(i64);

impl<'de> Deserialize<'de> for NumericDate {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let n = serde_json::Number::deserialize(deserializer)?;
        n.as_i64()
            .or_else(|| n.as_f64().filter(|f| f.is_finite() && f.abs() < 1e15).map(|f| f as i64))
            .map(NumericDate)
            .ok_or_else(|| de::Error::custom("a date out of range"))
    }
}

/// The one trusted key that fits the header: its kid when the token names one, a use that
/// allows signatures, the algorithm's key type, and the key's own `alg` if it declares one.
/// No key, or several without a kid to choose, is a refusal.
fn signing_key<'k>(
    keys: &'k JsonWebKeySet<Jwk>,
    kid: Option<&str>,
    alg: &CoreJwsSigningAlgorithm,
) -> Result<&'k Jwk, IdTokenError> {
    let fits = |key: &&Jwk| {
        (kid.is_none() || key.kid() == kid)
            && key.key_use().is_none_or(|u| u.allows_signature())
            && alg.key_type().as_ref() == Some(key.key_type())
            && match key.signing_alg() {
                JsonWebKeyAlgorithm::Unspecified => true,
                JsonWebKeyAlgorithm::Algorithm(a) => a == alg,
                JsonWebKeyAlgorithm::Unsupported => false,
            }
    };
    let mut candidates = keys.keys().iter().filter(fits);
    match (candidates.next(), candidates.next()) {
        (Some(key), None) => Ok(key),
        (Some(_), Some(_)) => Err(reject("several trusted keys match and the token names no kid")),
        (None, _) => match kid {
            Some(kid) if !keys.keys().iter().any(|k| k.kid() == Some(kid)) => {
                Err(IdTokenError::UnknownKey(kid.to_string()))
            }
            _ => Err(reject("no trusted key matches the token")),
        },
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
    let mut parts = token.splitn(4, '.');
    let (header_b64, payload_b64, signature_b64) = match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(h), Some(p), Some(s), None) => (h, p, s),
        _ => match token.split('.').count() {
            5 => return Err(reject("encrypted tokens (JWE) are not accepted")),
            n => return Err(reject(format!("compact form has {n} parts, not 3"))),
        },
    };
    // An empty signature part gets as far as the signature check, which refuses it.
    if !is_b64url(header_b64) || !is_b64url(payload_b64) || !(signature_b64.is_empty() || is_b64url(signature_b64)) {
        return Err(reject("compact form holds characters outside base64url"));
    }
    let header_json = decode_object(header_b64, "header")?;
    let header: Header =
        serde_json::from_slice(&header_json).map_err(|e| reject(format!("header is not usable: {e}")))?;
    let alg_name = header.alg.as_deref().unwrap_or("");
    let alg = signing_alg(alg_name).ok_or_else(|| reject(format!("algorithm {alg_name:?} is not allowed")))?;
    if header.crit {
        return Err(reject("critical header parameters are not supported"));
    }
    let key = signing_key(keys, header.kid.as_deref(), &alg)?;
    let signature = URL_SAFE_NO_PAD
        .decode(signature_b64)
        .map_err(|_| reject("signature is not base64url"))?;
    let signed = &token[..header_b64.len() + 1 + payload_b64.len()];
    key.verify_signature(&alg, signed.as_bytes(), &signature)
        .map_err(|_| reject("Signature verification failed"))?;

    // Only signed bytes are read from here on.
    let payload = decode_object(payload_b64, "payload")?;
    let claims: Claims = serde_json::from_slice(&payload).map_err(|e| reject(format!("not an id_token: {e}")))?;
    let skew = expect.skew_secs;
    if claims.iss != expect.issuer {
        return Err(reject("issuer differs from the configured one"));
    }
    if !claims.aud.0.iter().any(|a| *a == expect.client_id) {
        return Err(reject("our client_id is not among the audiences"));
    }
    match &claims.azp {
        Some(azp) if *azp == expect.client_id => {}
        Some(_) => return Err(reject("azp is not our client_id")),
        None if claims.aud.0.len() > 1 => return Err(reject("several audiences and no azp")),
        None => {}
    }
    let (exp, iat) = (claims.exp.0, claims.iat.0);
    if exp <= now_secs - skew {
        return Err(reject(format!("expired at {exp}")));
    }
    if iat > now_secs + skew {
        return Err(reject(format!("issued in the future ({iat})")));
    }
    if now_secs - iat > expect.max_age_secs {
        return Err(reject(format!(
            "issued {}s ago, over the {}s limit",
            now_secs - iat,
            expect.max_age_secs
        )));
    }
    if let Some(NumericDate(nbf)) = claims.nbf
        && nbf > now_secs + skew
    {
        return Err(reject(format!("not valid before {nbf}")));
    }
    if exp - iat > expect.max_lifetime_secs {
        return Err(reject(format!(
            "lifetime {}s exceeds the {}s limit",
            exp - iat,
            expect.max_lifetime_secs
        )));
    }
    if let Some(want) = nonce
        && !claims.nonce.as_deref().is_some_and(|got| constant_time_eq(want, got))
    {
        return Err(reject("nonce mismatch"));
    }
    let jti = match &claims.jti {
        Some(Value::String(j)) if !j.is_empty() && j.len() <= 255 => Some(j.clone()),
        None | Some(Value::Null) => None,
        Some(_) => return Err(reject("jti is not a usable string")),
    };
    if expect.require_jti && jti.is_none() {
        return Err(reject("jti missing and replay protection is on"));
    }
    if claims.sub.is_empty() {
        return Err(reject("sub is empty"));
    }
    let (subject, nonce) = (claims.sub.into_owned(), claims.nonce.map(Cow::into_owned));
    Ok(VerifiedIdToken {
        subject,
        jti,
        expires_at_secs: exp,
        nonce,
        // Kept decoded: the claims become mapping attributes without a second base64 pass.
        payload,
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

    /// Claims written with JSON escapes or as fractions verify like plain ones; a claims
    /// array, a repeated claim and a string date do not, nor do headers with `crit` (even
    /// null), a repeated member, array form or a non-string kid.
    #[test]
    fn claims_are_read_whatever_their_json_spelling() {
        use openssl::{hash::MessageDigest, pkey::PKey, rsa::Rsa, sign::Signer};
        let rsa = Rsa::generate(2048).unwrap();
        let key = PKey::from_rsa(rsa.clone()).unwrap();
        let b64 = |b: &[u8]| URL_SAFE_NO_PAD.encode(b);
        let jwks =
            json!({"keys": [{"kty": "RSA", "kid": "k", "n": b64(&rsa.n().to_vec()), "e": b64(&rsa.e().to_vec())}]});
        let keys: JsonWebKeySet<Jwk> = serde_json::from_value(jwks).unwrap();
        let expect = Expectations {
            issuer: "https://idp.example/".into(),
            client_id: "fedgate".into(),
            skew_secs: 60,
            max_age_secs: 600,
            max_lifetime_secs: 3600,
            require_jti: false,
        };
        let sign_with = |header: &str, payload: &str| {
            let input = format!("{}.{}", b64(header.as_bytes()), b64(payload.as_bytes()));
            let mut signer = Signer::new(MessageDigest::sha256(), &key).unwrap();
            format!(
                "{input}.{}",
                b64(&signer.sign_oneshot_to_vec(input.as_bytes()).unwrap())
            )
        };
        let sign = |payload: &str| sign_with(r#"{"alg":"RS256","kid":"k"}"#, payload);
        let now = 1_800_000_000i64;
        let cases = [
            (
                format!(
                    r#"{{"iss":"https:\/\/idp.example\/","sub":"u\u0031","aud":["other","fed\u0067ate"],"azp":"fedgate","exp":{}.5,"iat":{}}}"#,
                    now + 60,
                    now
                ),
                Ok("u1"),
            ),
            (
                format!(
                    r#"{{"iss":"https://idp.example/","sub":"u","aud":"fedgate","exp":{},"iat":{},"nbf":{}.9}}"#,
                    now + 60,
                    now,
                    now
                ),
                Ok("u"),
            ),
            (
                format!(r#"["https://idp.example/","u","fedgate",{},{}]"#, now + 60, now),
                Err("payload is not a JSON object"),
            ),
            (
                format!(
                    r#"{{"iss":"https://evil.example/","iss":"https://idp.example/","sub":"u","aud":"fedgate","exp":{},"iat":{}}}"#,
                    now + 60,
                    now
                ),
                Err("duplicate field `iss`"),
            ),
            (
                format!(
                    r#"{{"iss":"https://idp.example/","sub":"u","aud":"fedgate","exp":"{}","iat":{}}}"#,
                    now + 60,
                    now
                ),
                Err("not an id_token"),
            ),
        ];
        for (payload, want) in cases {
            let got = verify_id_token(&sign(&payload), &keys, &expect, now, None);
            match (want, got) {
                (Ok(sub), Ok(v)) => assert_eq!(v.subject, sub, "{payload}"),
                (Err(why), Err(IdTokenError::Rejected(msg))) => assert!(msg.contains(why), "{payload}: {msg}"),
                (want, got) => panic!("{payload}: want {want:?}, got {got:?}"),
            }
        }
        // Headers are read as strictly, before any key is chosen.
        let good = format!(
            r#"{{"iss":"https://idp.example/","sub":"u","aud":"fedgate","exp":{},"iat":{}}}"#,
            now + 60,
            now
        );
        let headers = [
            (r#"{"alg":"RS256","kid":"k","crit":null}"#, "critical header parameters"),
            (r#"{"alg":"RS256","alg":"none","kid":"k"}"#, "duplicate field `alg`"),
            (r#"["RS256","k"]"#, "header is not a JSON object"),
            (r#"{"alg":"RS256","kid":5}"#, "header is not usable"),
        ];
        for (header, why) in headers {
            match verify_id_token(&sign_with(header, &good), &keys, &expect, now, None) {
                Err(IdTokenError::Rejected(msg)) => assert!(msg.contains(why), "{header}: {msg}"),
                other => panic!("{header}: {other:?}"),
            }
        }
        assert!(
            verify_id_token(&sign(&good), &keys, &expect, now, None).is_ok(),
            "the control verifies"
        );
    }

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
