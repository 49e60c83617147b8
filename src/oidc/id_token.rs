//! Verifying an external id_token: the compact form and header first (JSON nesting bounded
//! before parsing; `typ` absent or a plain JWT, so access and logout tokens the same provider
//! signs are refused), then the signature with the one trusted key that fits the header
//! (by kid, use, type and the key's own alg), then the claims (no `events`: that is a logout token;
//! issuer, audience, azp, exp, nbf, iat, age, lifetime, jti, nonce) read in one borrowed pass.
//! Every refusal is an `IdTokenError` variant naming its check. Pure: keys and `now` come in,
//! nothing is fetched or remembered here.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use serde::de::{self, SeqAccess, Visitor};
use serde_json::{Map, Value};

use super::jwk::{Alg, Jwk, KeySet, signing_alg};

/// Compact id_tokens larger than this are refused before any parsing.
pub const MAX_ID_TOKEN_BYTES: usize = 16 * 1024;

/// What a provider's tokens must satisfy besides the signature.
#[derive(Debug, Clone)]
pub struct Expectations {
    /// `iss`, compared exactly.
    pub issuer: String,
    /// Must be among `aud`; `azp` must equal it when present or when `aud` has several entries.
    pub client_id: String,
    /// Further client ids accepted like `client_id` (Alibaba Cloud's several ClientIds).
    pub other_client_ids: Vec<String>,
    /// Tolerance for exp, nbf and iat, in seconds.
    pub skew_secs: i64,
    /// Refuse tokens issued longer ago than this.
    pub max_age_secs: i64,
    /// Refuse tokens whose exp - iat exceeds this.
    pub max_lifetime_secs: i64,
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
            serde_json::from_slice(&self.payload).map_err(|_| IdTokenError::NotJsonObject(JwsPart::Payload))?;
        Ok(claims_to_attributes(&claims))
    }
}

/// Which part of a compact token a refusal is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JwsPart {
    Header,
    Payload,
    Signature,
}

impl fmt::Display for JwsPart {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(match self {
            JwsPart::Header => "header",
            JwsPart::Payload => "payload",
            JwsPart::Signature => "signature",
        })
    }
}

/// Why an id_token was refused: one variant per check, in the order they run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdTokenError {
    #[error("token of {len} bytes exceeds the {limit}-byte limit")]
    TooLarge { len: usize, limit: usize },
    #[error("encrypted tokens (JWE) are not accepted")]
    Encrypted,
    #[error("compact form has {0} parts, not 3")]
    PartCount(usize),
    #[error("{0} is not base64url")]
    NotBase64Url(JwsPart),
    #[error("{0} is not a JSON object")]
    NotJsonObject(JwsPart),
    /// Checked on the JSON text before it is parsed, signed or not.
    #[error("{part} nests deeper than {limit} levels")]
    TooDeep { part: JwsPart, limit: usize },
    #[error("header is not usable: {0}")]
    MalformedHeader(String),
    #[error("algorithm {0:?} is not allowed")]
    AlgorithmNotAllowed(String),
    /// `typ` names another kind of JWT (`at+jwt`, `logout+jwt`, ...).
    #[error("a token of type {0:?} is not an id_token")]
    TypeNotAllowed(String),
    #[error("critical header parameters are not supported")]
    CriticalHeader,
    /// The header names a key id the trusted set lacks: the caller may refresh the set once.
    #[error("no trusted key with kid {0:?}")]
    UnknownKey(String),
    #[error("several trusted keys match and the token names no kid")]
    AmbiguousKey,
    #[error("no trusted key matches the token")]
    NoMatchingKey,
    #[error("signature verification failed")]
    SignatureInvalid,
    #[error("claims are not usable: {0}")]
    MalformedClaims(String),
    /// A logout token (OpenID Connect Back-Channel Logout 1.0 §2.4) carries `events`.
    #[error("a logout token (events claim) is not an id_token")]
    LogoutToken,
    #[error("claim {0} is missing")]
    MissingClaim(&'static str),
    #[error("issuer {got:?} is not the configured {expected:?}")]
    IssuerMismatch { expected: String, got: String },
    #[error("our client_id {expected:?} is not among the audiences {got:?}")]
    AudienceMismatch { expected: String, got: Vec<String> },
    #[error("azp {got:?} is not our client_id {expected:?}")]
    AzpMismatch { expected: String, got: String },
    #[error("several audiences and no azp")]
    AzpMissing,
    #[error("expired at {exp}")]
    Expired { exp: i64 },
    #[error("issued in the future ({iat})")]
    IssuedInFuture { iat: i64 },
    #[error("issued {age_secs}s ago, over the {limit_secs}s limit")]
    TooOld { age_secs: i64, limit_secs: i64 },
    #[error("not valid before {nbf}")]
    NotYetValid { nbf: i64 },
    #[error("lifetime {lifetime_secs}s exceeds the {limit_secs}s limit")]
    LifetimeTooLong { lifetime_secs: i64, limit_secs: i64 },
    #[error("nonce mismatch")]
    NonceMismatch,
    #[error("jti is not a usable string")]
    JtiUnusable,
    #[error("sub is empty")]
    EmptySubject,
}

/// Arrays and objects may nest this deep in a header or a payload; id_tokens from real
/// providers nest three or four levels at most.
pub const MAX_JSON_DEPTH: usize = 16;

fn is_b64url(part: &str) -> bool {
    !part.is_empty()
        && part
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Decodes a base64url part holding a JSON object no deeper than `MAX_JSON_DEPTH`. Typed reads
/// of anything else are refused here: serde would fill a struct from a JSON array by position,
/// and would recurse as deep as the text goes before any check ran.
fn decode_object(text: &str, part: JwsPart) -> Result<Vec<u8>, IdTokenError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(text)
        .map_err(|_| IdTokenError::NotBase64Url(part))?;
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(IdTokenError::NotJsonObject(part));
    }
    if nests_deeper_than(&bytes, MAX_JSON_DEPTH) {
        return Err(IdTokenError::TooDeep {
            part,
            limit: MAX_JSON_DEPTH,
        });
    }
    Ok(bytes)
}

/// Whether arrays and objects in JSON text nest deeper than `limit`, counted without parsing:
/// brackets inside strings do not count, and text that is not JSON is left to the parser.
/// Strings, most of a token's bytes, are skipped with memchr.
fn nests_deeper_than(json: &[u8], limit: usize) -> bool {
    let mut depth = 0usize;
    let mut rest = json;
    while let Some((&b, tail)) = rest.split_first() {
        rest = tail;
        match b {
            b'"' => loop {
                let Some(at) = memchr::memchr2(b'"', b'\\', rest) else {
                    return false;
                };
                let escape = rest.get(at) == Some(&b'\\');
                rest = rest.get(at + 1 + usize::from(escape)..).unwrap_or_default();
                if !escape {
                    break;
                }
            },
            b'{' | b'[' => {
                depth += 1;
                if depth > limit {
                    return true;
                }
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    false
}

/// `typ` values an id_token may carry (RFC 7515 §4.1.9: case-insensitive, and `application/`
/// may be left out). OpenID Connect Core does not name one; RFC 8725 §3.11 asks that other
/// kinds of JWT (`at+jwt`, `logout+jwt`, `secevent+jwt`) be told apart by it.
fn is_id_token_type(typ: &str) -> bool {
    typ.eq_ignore_ascii_case("JWT") || typ.eq_ignore_ascii_case("application/jwt")
}

/// The header members fedgate reads. jwk, jku, x5u and x5c are never used to choose a key:
/// only the trusted set is.
#[derive(Deserialize)]
struct Header<'a> {
    #[serde(borrow, default)]
    alg: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    kid: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    typ: Option<Cow<'a, str>>,
    /// Present at all, whatever its value.
    #[serde(default, deserialize_with = "present")]
    crit: bool,
}

fn present<'de, D: de::Deserializer<'de>>(deserializer: D) -> Result<bool, D::Error> {
    de::IgnoredAny::deserialize(deserializer).map(|_| true)
}

/// The claims fedgate checks, borrowed from the decoded payload. Other claims are skipped
/// here and read as mapping attributes later; a repeated claim is an error. Required claims
/// are optional here so that their absence has its own refusal.
#[derive(Deserialize)]
struct Claims<'a> {
    #[serde(borrow, default)]
    iss: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    sub: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    aud: Option<Audiences<'a>>,
    #[serde(borrow, default)]
    azp: Option<Cow<'a, str>>,
    #[serde(default)]
    exp: Option<NumericDate>,
    #[serde(default)]
    iat: Option<NumericDate>,
    #[serde(default)]
    nbf: Option<NumericDate>,
    #[serde(borrow, default)]
    nonce: Option<Cow<'a, str>>,
    #[serde(default)]
    jti: Option<Value>,
    /// Present at all, whatever its value.
    #[serde(default, deserialize_with = "present")]
    events: bool,
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
fn signing_key<'k>(keys: &'k KeySet, kid: Option<&str>, alg: Alg) -> Result<&'k Jwk, IdTokenError> {
    let fits = |key: &&Jwk| (kid.is_none() || key.kid() == kid) && key.fits(alg);
    let mut candidates = keys.keys().iter().filter(fits);
    match (candidates.next(), candidates.next()) {
        (Some(key), None) => Ok(key),
        (Some(_), Some(_)) => Err(IdTokenError::AmbiguousKey),
        (None, _) => match kid {
            Some(kid) if !keys.keys().iter().any(|k| k.kid() == Some(kid)) => {
                Err(IdTokenError::UnknownKey(kid.to_string()))
            }
            _ => Err(IdTokenError::NoMatchingKey),
        },
    }
}

/// Checks `token` against `keys` and `expect` at `now_secs`. `nonce`, when given, must equal
/// the token's nonce claim (browser flow).
pub fn verify_id_token(
    token: &str,
    keys: &KeySet,
    expect: &Expectations,
    now_secs: i64,
    nonce: Option<&str>,
) -> Result<VerifiedIdToken, IdTokenError> {
    if token.len() > MAX_ID_TOKEN_BYTES {
        return Err(IdTokenError::TooLarge {
            len: token.len(),
            limit: MAX_ID_TOKEN_BYTES,
        });
    }
    let mut parts = token.splitn(4, '.');
    let (header_b64, payload_b64, signature_b64) = match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(h), Some(p), Some(s), None) => (h, p, s),
        _ => match token.split('.').count() {
            5 => return Err(IdTokenError::Encrypted),
            n => return Err(IdTokenError::PartCount(n)),
        },
    };
    // An empty signature part gets as far as the signature check, which refuses it.
    for (text, part) in [(header_b64, JwsPart::Header), (payload_b64, JwsPart::Payload)] {
        if !is_b64url(text) {
            return Err(IdTokenError::NotBase64Url(part));
        }
    }
    if !(signature_b64.is_empty() || is_b64url(signature_b64)) {
        return Err(IdTokenError::NotBase64Url(JwsPart::Signature));
    }
    let header_json = decode_object(header_b64, JwsPart::Header)?;
    let header: Header =
        serde_json::from_slice(&header_json).map_err(|e| IdTokenError::MalformedHeader(e.to_string()))?;
    let alg_name = header.alg.as_deref().unwrap_or("");
    let alg = signing_alg(alg_name).ok_or_else(|| IdTokenError::AlgorithmNotAllowed(alg_name.to_string()))?;
    if let Some(typ) = header.typ.as_deref()
        && !is_id_token_type(typ)
    {
        return Err(IdTokenError::TypeNotAllowed(typ.to_string()));
    }
    if header.crit {
        return Err(IdTokenError::CriticalHeader);
    }
    let key = signing_key(keys, header.kid.as_deref(), alg)?;
    let signature = URL_SAFE_NO_PAD
        .decode(signature_b64)
        .map_err(|_| IdTokenError::NotBase64Url(JwsPart::Signature))?;
    let signed = &token[..header_b64.len() + 1 + payload_b64.len()];
    key.verify_signature(&alg, signed.as_bytes(), &signature)
        .map_err(|_| IdTokenError::SignatureInvalid)?;

    // Only signed bytes are read from here on.
    let payload = decode_object(payload_b64, JwsPart::Payload)?;
    let claims: Claims = serde_json::from_slice(&payload).map_err(|e| IdTokenError::MalformedClaims(e.to_string()))?;
    if claims.events {
        return Err(IdTokenError::LogoutToken);
    }
    let verified = check_claims(claims, expect, now_secs, nonce)?;
    Ok(VerifiedIdToken {
        // Kept decoded: the claims become mapping attributes without a second base64 pass.
        payload,
        ..verified
    })
}

/// The claim checks of OpenID Connect Core §3.1.3.7 that apply to tokens fedgate receives,
/// plus the age and lifetime bounds.
fn check_claims(
    claims: Claims,
    expect: &Expectations,
    now_secs: i64,
    nonce: Option<&str>,
) -> Result<VerifiedIdToken, IdTokenError> {
    let iss = claims.iss.ok_or(IdTokenError::MissingClaim("iss"))?;
    let sub = claims.sub.ok_or(IdTokenError::MissingClaim("sub"))?;
    let aud = claims.aud.ok_or(IdTokenError::MissingClaim("aud"))?.0;
    let NumericDate(exp) = claims.exp.ok_or(IdTokenError::MissingClaim("exp"))?;
    let NumericDate(iat) = claims.iat.ok_or(IdTokenError::MissingClaim("iat"))?;
    let skew = expect.skew_secs;
    if iss != expect.issuer {
        return Err(IdTokenError::IssuerMismatch {
            expected: expect.issuer.clone(),
            got: iss.into_owned(),
        });
    }
    let ours = |id: &str| id == expect.client_id || expect.other_client_ids.iter().any(|o| o == id);
    if !aud.iter().any(|a| ours(a)) {
        return Err(IdTokenError::AudienceMismatch {
            expected: expect.client_id.clone(),
            got: aud.into_iter().map(Cow::into_owned).collect(),
        });
    }
    match &claims.azp {
        Some(azp) if ours(azp) => {}
        Some(azp) => {
            return Err(IdTokenError::AzpMismatch {
                expected: expect.client_id.clone(),
                got: azp.to_string(),
            });
        }
        None if aud.len() > 1 => return Err(IdTokenError::AzpMissing),
        None => {}
    }
    if exp <= now_secs - skew {
        return Err(IdTokenError::Expired { exp });
    }
    if iat > now_secs + skew {
        return Err(IdTokenError::IssuedInFuture { iat });
    }
    if now_secs - iat > expect.max_age_secs {
        return Err(IdTokenError::TooOld {
            age_secs: now_secs - iat,
            limit_secs: expect.max_age_secs,
        });
    }
    if let Some(NumericDate(nbf)) = claims.nbf
        && nbf > now_secs + skew
    {
        return Err(IdTokenError::NotYetValid { nbf });
    }
    if exp - iat > expect.max_lifetime_secs {
        return Err(IdTokenError::LifetimeTooLong {
            lifetime_secs: exp - iat,
            limit_secs: expect.max_lifetime_secs,
        });
    }
    if let Some(want) = nonce
        && !claims.nonce.as_deref().is_some_and(|got| constant_time_eq(want, got))
    {
        return Err(IdTokenError::NonceMismatch);
    }
    let jti = match &claims.jti {
        Some(Value::String(j)) if !j.is_empty() && j.len() <= 255 => Some(j.clone()),
        None | Some(Value::Null) => None,
        Some(_) => return Err(IdTokenError::JtiUnusable),
    };
    if sub.is_empty() {
        return Err(IdTokenError::EmptySubject);
    }
    Ok(VerifiedIdToken {
        subject: sub.into_owned(),
        jti,
        expires_at_secs: exp,
        nonce: claims.nonce.map(Cow::into_owned),
        // The caller moves the payload in once the borrowed claims are gone.
        payload: Vec::new(),
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
mod tests;
