//! Requests signed the Huawei Cloud SDK way (`SDK-HMAC-SHA256`, huaweicloudsdkcore's
//! `Signer`): the verifier rebuilds, from the request as received, the canonical request the
//! client's signer built, and checks the HMAC of its string to sign with the secret key.
//!
//! Canonical request, as the SDK builds it (vectors from the SDK's own signer in
//! `tests/fixtures/sdk_signer`):
//! `METHOD \n URI \n QUERY \n HEADERS \n SIGNED-HEADERS \n PAYLOAD-HASH`, where
//! - URI: the path percent-decoded, split at `/`, each segment encoded (unreserved characters
//!   `A-Z a-z 0-9 - . _ ~` kept, the rest `%XX` of its UTF-8 bytes), joined, with a `/`
//!   appended unless it ends in one;
//! - QUERY: the parameters decoded, sorted by name then value, each `name=value` encoded as
//!   above and joined with `&`;
//! - HEADERS: `name:value` for each signed header, its value as sent with surrounding
//!   whitespace removed, each line ending in `\n`;
//! - PAYLOAD-HASH: the SHA-256 (hex) of the body; of nothing for an empty body; the
//!   `X-Sdk-Content-Sha256` header's value when present (the SDK sends `UNSIGNED-PAYLOAD` for
//!   bodies that are not JSON).
//!
//! The string to sign is `SDK-HMAC-SHA256 \n X-Sdk-Date \n hex(SHA-256(canonical request))`
//! and the signature `hex(HMAC-SHA256(secret, string to sign))`.
//!
//! Stricter than the SDK needs, because a verifier must be: the signed headers must include
//! `host` and `x-sdk-date`, each signed header must appear exactly once, `X-Sdk-Date` must be
//! within the window of `now`, and the signature is compared in constant time. Pure: `now` is
//! an argument; this module does not look keys up.

use hmac::{Hmac, Mac};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use sha2::{Digest, Sha256};

use super::StsError;

pub const ALGORITHM: &str = "SDK-HMAC-SHA256";
/// `X-Sdk-Date` may differ from `now` by this much either way (15 minutes, as Huawei's
/// gateways allow).
pub const WINDOW_SECS: i64 = 15 * 60;
const EMPTY_HASH: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
/// Signatures, headers and paths beyond these sizes are not ours to rebuild.
const MAX_SIGNED_HEADERS: usize = 64;

/// What `quote(s, safe='~')` leaves alone: letters, digits and `-._~`.
pub(super) const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// The parts of a received request the signature covers. `headers` holds every header as
/// received, names in any case, values as raw bytes.
pub struct Received<'a> {
    pub method: &'a str,
    /// The path as received, percent-encoded as the client sent it.
    pub path: &'a str,
    /// The raw query string, without `?`.
    pub query: Option<&'a str>,
    pub headers: &'a [(&'a str, &'a [u8])],
    pub body: &'a [u8],
    /// The body's SHA-256 in lower-case hex, when the verifier holds only that (a service
    /// asking fedgate to check a request it received); `body` is then ignored.
    pub body_sha256: Option<&'a str>,
}

impl Received<'_> {
    pub(super) fn has_body(&self) -> bool {
        self.body_sha256.is_some_and(|h| h != EMPTY_HASH) || (self.body_sha256.is_none() && !self.body.is_empty())
    }

    pub(super) fn body_hash(&self) -> String {
        match self.body_sha256 {
            Some(h) => h.to_ascii_lowercase(),
            None => hex::encode(Sha256::digest(self.body)),
        }
    }
}

/// The `Authorization` header of a signed request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorization<'a> {
    pub access: &'a str,
    /// Lower-case names, as listed.
    pub signed_headers: Vec<&'a str>,
    /// 32 bytes, from 64 hex digits.
    pub signature: [u8; 32],
}

impl<'a> Authorization<'a> {
    /// `SDK-HMAC-SHA256 Access=AK, SignedHeaders=a;b;c, Signature=hex`.
    pub fn parse(value: &'a str) -> Result<Self, StsError> {
        let rest = value
            .strip_prefix(ALGORITHM)
            .and_then(|r| r.strip_prefix(' '))
            .ok_or(StsError::NotSdkSigned)?;
        let (mut access, mut signed, mut signature) = (None, None, None);
        for part in rest.split(',') {
            let (name, value) = part.trim().split_once('=').ok_or(StsError::MalformedAuthorization)?;
            let slot = match name {
                "Access" => &mut access,
                "SignedHeaders" => &mut signed,
                "Signature" => &mut signature,
                _ => return Err(StsError::MalformedAuthorization),
            };
            if slot.replace(value).is_some() {
                return Err(StsError::MalformedAuthorization);
            }
        }
        let (Some(access), Some(signed), Some(signature)) = (access, signed, signature) else {
            return Err(StsError::MalformedAuthorization);
        };
        if access.is_empty() || access.len() > 128 || !access.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(StsError::MalformedAuthorization);
        }
        let signed_headers: Vec<&str> = signed.split(';').collect();
        if signed_headers.len() > MAX_SIGNED_HEADERS
            || signed_headers.iter().any(|h| {
                h.is_empty()
                    || !h
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            })
        {
            return Err(StsError::MalformedAuthorization);
        }
        // The SDK lists them sorted; in any other order, or twice, they are not the SDK's.
        if signed_headers.windows(2).any(|w| w[0] >= w[1]) {
            return Err(StsError::MalformedAuthorization);
        }
        for required in ["host", "x-sdk-date"] {
            if !signed_headers.contains(&required) {
                return Err(StsError::UnsignedHeader(required));
            }
        }
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(signature, &mut bytes).map_err(|_| StsError::MalformedAuthorization)?;
        Ok(Authorization {
            access,
            signed_headers,
            signature: bytes,
        })
    }
}

/// The one value of header `name` (lower case), trimmed; refused when absent or repeated (two
/// values would let the signer and a proxy read different ones).
pub(super) fn single_header<'r>(req: &Received<'r>, name: &str) -> Result<&'r [u8], StsError> {
    let mut found = None;
    for (k, v) in req.headers {
        if k.eq_ignore_ascii_case(name) {
            if found.is_some() {
                return Err(StsError::RepeatedHeader(name.to_string()));
            }
            found = Some(trim(v));
        }
    }
    found.ok_or_else(|| StsError::MissingHeader(name.to_string()))
}

pub(super) fn trim(v: &[u8]) -> &[u8] {
    let start = v.iter().position(|b| !b.is_ascii_whitespace()).unwrap_or(v.len());
    let end = v
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(start, |i| i + 1);
    &v[start..end.max(start)]
}

pub(super) fn push_encoded(out: &mut Vec<u8>, text: &str) {
    for piece in utf8_percent_encode(text, UNRESERVED) {
        out.extend_from_slice(piece.as_bytes());
    }
}

fn decode(text: &str) -> String {
    percent_decode_str(text).decode_utf8_lossy().into_owned()
}

/// The canonical URI of a received path.
fn push_canonical_uri(out: &mut Vec<u8>, path: &str) {
    let decoded = decode(path);
    let start = out.len();
    for (i, segment) in decoded.split('/').enumerate() {
        if i > 0 {
            out.push(b'/');
        }
        push_encoded(out, segment);
    }
    if out.len() == start || out.last() != Some(&b'/') {
        out.push(b'/');
    }
}

/// The canonical query of a received query string.
fn push_canonical_query(out: &mut Vec<u8>, query: Option<&str>) {
    let Some(query) = query.filter(|q| !q.is_empty()) else {
        return;
    };
    let mut pairs: Vec<(String, String)> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (decode(k), decode(v)),
            None => (decode(p), String::new()),
        })
        .collect();
    pairs.sort();
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push(b'&');
        }
        push_encoded(out, k);
        out.push(b'=');
        push_encoded(out, v);
    }
}

/// Refuses paths and queries that two readers could take apart differently while the
/// canonical request stays the same, so a captured signature cannot be replayed onto a request
/// fedgate's handlers read otherwise (they take no repeated parameters, and read `+` as a
/// space). The SDK sends none of these to fedgate: it percent-encodes everything but `-._~`
/// and letters and digits. Not part of `verify`: other services may take repeated parameters.
pub fn check_unambiguous(path: &str, query: Option<&str>) -> Result<(), StsError> {
    let decodes = |text: &str| percent_decode_str(text).decode_utf8().is_ok();
    if !decodes(path) {
        return Err(StsError::Ambiguous("a path that is not UTF-8 once decoded"));
    }
    if path.to_ascii_lowercase().contains("%2f") {
        return Err(StsError::Ambiguous("an encoded '/' in the path"));
    }
    let Some(query) = query.filter(|q| !q.is_empty()) else {
        return Ok(());
    };
    if query.contains('+') {
        return Err(StsError::Ambiguous("'+' in the query (a space to some readers)"));
    }
    let mut names = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        if !decodes(name) || !decodes(value) {
            return Err(StsError::Ambiguous("a query that is not UTF-8 once decoded"));
        }
        if name.contains('%') {
            return Err(StsError::Ambiguous("an encoded query parameter name"));
        }
        if names.contains(&name) {
            return Err(StsError::Ambiguous("a repeated query parameter"));
        }
        names.push(name);
    }
    Ok(())
}

/// The canonical request the client's signer built, rebuilt from what was received.
pub fn canonical_request(req: &Received<'_>, auth: &Authorization<'_>) -> Result<Vec<u8>, StsError> {
    let mut out = Vec::with_capacity(512);
    out.extend_from_slice(req.method.to_ascii_uppercase().as_bytes());
    out.push(b'\n');
    push_canonical_uri(&mut out, req.path);
    out.push(b'\n');
    push_canonical_query(&mut out, req.query);
    out.push(b'\n');
    for name in &auth.signed_headers {
        out.extend_from_slice(name.as_bytes());
        out.push(b':');
        out.extend_from_slice(single_header(req, name)?);
        out.push(b'\n');
    }
    out.push(b'\n');
    out.extend_from_slice(auth.signed_headers.join(";").as_bytes());
    out.push(b'\n');
    if !req.has_body() {
        out.extend_from_slice(EMPTY_HASH.as_bytes());
    } else {
        match single_header(req, "x-sdk-content-sha256") {
            // The SDK's unsigned payloads: only as a signed claim of the client's.
            Ok(UNSIGNED_PAYLOAD) if auth.signed_headers.contains(&"x-sdk-content-sha256") => {
                out.extend_from_slice(UNSIGNED_PAYLOAD)
            }
            // A declared digest is the body's or nothing: the signature covers the claim only.
            Ok(declared) if auth.signed_headers.contains(&"x-sdk-content-sha256") => {
                if !declared.eq_ignore_ascii_case(req.body_hash().as_bytes()) {
                    return Err(StsError::BodyMismatch);
                }
                out.extend_from_slice(declared)
            }
            Ok(_) => return Err(StsError::UnsignedHeader("x-sdk-content-sha256")),
            Err(StsError::MissingHeader(_)) => out.extend_from_slice(req.body_hash().as_bytes()),
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}

const UNSIGNED_PAYLOAD: &[u8] = b"UNSIGNED-PAYLOAD";

/// Whether the signature covers the body: it does unless the client declared it unsigned.
fn body_signed(req: &Received<'_>) -> bool {
    !req.has_body() || !matches!(single_header(req, "x-sdk-content-sha256"), Ok(UNSIGNED_PAYLOAD))
}

/// `YYYYMMDDTHHMMSSZ` as seconds since the epoch.
pub fn parse_sdk_date(text: &[u8]) -> Result<i64, StsError> {
    if text.len() != 16 || text[8] != b'T' || text[15] != b'Z' {
        return Err(StsError::BadDate);
    }
    utc_seconds(text, [0..4, 4..6, 6..8, 9..11, 11..13, 13..15]).ok_or(StsError::BadDate)
}

/// `YYYY-MM-DDTHH:MM:SSZ` (ISO 8601 extended, UTC, as `x-acs-date` and bce-auth-v1 write it) as
/// seconds since the epoch; `None` for anything else, fractions and offsets included.
pub fn parse_iso_date(text: &[u8]) -> Option<i64> {
    let separators = [(4, b'-'), (7, b'-'), (10, b'T'), (13, b':'), (16, b':'), (19, b'Z')];
    if text.len() != 20 || separators.iter().any(|&(i, c)| text[i] != c) {
        return None;
    }
    utc_seconds(text, [0..4, 5..7, 8..10, 11..13, 14..16, 17..19])
}

/// Seconds since the epoch of the year, month, day, hour, minute and second digits found at
/// `fields` of `text`, a valid calendar time.
fn utc_seconds(text: &[u8], fields: [std::ops::Range<usize>; 6]) -> Option<i64> {
    let mut n = [0u16; 6];
    for (slot, range) in n.iter_mut().zip(fields) {
        let digits = text.get(range)?;
        if !digits.iter().all(u8::is_ascii_digit) {
            return None;
        }
        *slot = digits.iter().fold(0u16, |n, d| n * 10 + u16::from(d - b'0'));
    }
    let [year, month, day, hour, minute, second] = n;
    let month = time::Month::try_from(u8::try_from(month).ok()?).ok()?;
    let date = time::Date::from_calendar_date(i32::from(year), month, u8::try_from(day).ok()?).ok()?;
    let at = date
        .with_hms(
            u8::try_from(hour).ok()?,
            u8::try_from(minute).ok()?,
            u8::try_from(second).ok()?,
        )
        .ok()?;
    Some(at.assume_utc().unix_timestamp())
}

pub fn string_to_sign(sdk_date: &[u8], canonical: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(ALGORITHM.len() + sdk_date.len() + 66);
    out.extend_from_slice(ALGORITHM.as_bytes());
    out.push(b'\n');
    out.extend_from_slice(sdk_date);
    out.push(b'\n');
    out.extend_from_slice(hex::encode(Sha256::digest(canonical)).as_bytes());
    out
}

/// `hex(HMAC-SHA256(secret, string_to_sign))`, as bytes.
pub fn signature(secret: &[u8], string_to_sign: &[u8]) -> [u8; 32] {
    // HMAC takes a key of any length.
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC accepts every key length");
    mac.update(string_to_sign);
    mac.finalize().into_bytes().into()
}

/// A request whose signature verified: who signed it (the access key) and when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedRequest {
    pub access: String,
    pub signed_at_secs: i64,
    /// False when the client sent `X-Sdk-Content-Sha256: UNSIGNED-PAYLOAD` with a body: the
    /// body may have been changed on the way, so it cannot speak for the signer.
    pub body_signed: bool,
}

/// Checks `req`'s signature under `auth` with `secret`, and its date against `now_secs`.
pub fn verify(
    req: &Received<'_>,
    auth: &Authorization<'_>,
    secret: &[u8],
    now_secs: i64,
) -> Result<VerifiedRequest, StsError> {
    let date = single_header(req, "x-sdk-date")?;
    let signed_at = parse_sdk_date(date)?;
    if (signed_at - now_secs).abs() > WINDOW_SECS {
        return Err(StsError::OutsideWindow {
            signed_at,
            now: now_secs,
        });
    }
    let canonical = canonical_request(req, auth)?;
    let expected = signature(secret, &string_to_sign(date, &canonical));
    if !constant_time_eq(&expected, &auth.signature) {
        return Err(StsError::BadSignature);
    }
    Ok(VerifiedRequest {
        access: auth.access.to_string(),
        signed_at_secs: signed_at,
        body_signed: body_signed(req),
    })
}

/// Equal bytes, compared in time that depends on the length only.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests;
