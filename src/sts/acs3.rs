//! Requests signed the Alibaba Cloud way (`ACS3-HMAC-SHA256`, the V3 signature that
//! alibabacloud-tea-openapi's `Client.do_request` sends by default, through
//! `Utils.get_authorization`): the verifier rebuilds, from the request as received, the
//! canonical request the client's signer built, and checks the HMAC of its string to sign with
//! the secret key.
//!
//! Canonical request, as the SDK builds it (vectors from the SDK's own client in
//! `tests/fixtures/acs3_signer`):
//! `METHOD \n URI \n QUERY \n HEADERS \n SIGNED-HEADERS \n PAYLOAD-HASH`, where
//! - URI: the path exactly as sent (the SDK signs the pathname it puts in the URL);
//! - QUERY: the parameters sorted by name, each `name=value` with the name as it is and the
//!   value `quote(value, safe='~')` (unreserved `A-Z a-z 0-9 - . _ ~` kept, the rest `%XX` of
//!   its UTF-8 bytes), joined with `&`. The SDK sends the query form-encoded (`+` for a space),
//!   so the verifier form-decodes it first;
//! - HEADERS: `name:value\n` for each signed header, lower-case name, value trimmed;
//! - PAYLOAD-HASH: the `x-acs-content-sha256` header, the hex SHA-256 of the body.
//!
//! The string to sign is `ACS3-HMAC-SHA256 \n hex(SHA-256(canonical request))` and the
//! signature `hex(HMAC-SHA256(secret, string to sign))`.
//!
//! Stricter than the SDK needs, because a verifier must be: the signed headers are listed
//! sorted, once each, in lower case, and include `host`, `x-acs-action`,
//! `x-acs-content-sha256`, `x-acs-date`, `x-acs-signature-nonce` and `x-acs-version` (the SDK
//! signs every header it sends), `x-acs-security-token` and `x-acs-accesskey-id` when the
//! request has them, and `content-type` when it has a body; each signed header appears exactly
//! once; `x-acs-date` is within [`WINDOW_SECS`] of `now` either way; `x-acs-content-sha256` is
//! the body's digest, so the body is always signed; query parameter names are only unreserved
//! characters (the SDK signs names unencoded, so `a%3D1%26b=2` and `a=1&b=2` would otherwise
//! share a signature) and appear once; the signature is compared in constant time.
//!
//! Pure: `now` is an argument; this module does not look keys up, and does not remember
//! nonces: the caller keeps [`Verified::nonce`] for the window to refuse a replay.
//!
//! Not covered: `ACS3-HMAC-SM3` and `ACS3-RSA-SHA256`. Signed header values are taken as the
//! bytes received; the Python SDK sends a value beyond ASCII as Latin-1 while signing its
//! UTF-8, so such a request does not verify (none of the headers it sets has one).

use percent_encoding::percent_decode;
use sha2::{Digest, Sha256};

use super::StsError;
pub use super::signing::WINDOW_SECS;
use super::signing::{Received, constant_time_eq, parse_iso_date, push_encoded, signature, single_header};

pub const ALGORITHM: &str = "ACS3-HMAC-SHA256";
/// Signed by every request the SDK sends; checked when the Authorization header is parsed.
const ALWAYS_SIGNED: [&str; 6] = [
    "host",
    "x-acs-action",
    "x-acs-content-sha256",
    "x-acs-date",
    "x-acs-signature-nonce",
    "x-acs-version",
];
/// Signed whenever the request has them: they name the credential.
const SIGNED_WHEN_SENT: [&str; 2] = ["x-acs-accesskey-id", "x-acs-security-token"];
const MAX_SIGNED_HEADERS: usize = 64;
const MAX_TEXT: usize = 128;

/// The `Authorization` header of an ACS3-signed request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorization<'a> {
    pub access: &'a str,
    /// Lower-case names, sorted, as listed.
    pub signed_headers: Vec<&'a str>,
    /// 32 bytes, from 64 hex digits.
    pub signature: [u8; 32],
}

impl<'a> Authorization<'a> {
    /// `ACS3-HMAC-SHA256 Credential=AK,SignedHeaders=a;b;c,Signature=hex`.
    pub fn parse(value: &'a str) -> Result<Self, StsError> {
        let rest = value
            .strip_prefix(ALGORITHM)
            .and_then(|r| r.strip_prefix(' '))
            .ok_or(StsError::WrongScheme(ALGORITHM))?;
        let (mut access, mut signed, mut signature) = (None, None, None);
        for part in rest.split(',') {
            let (name, value) = part.trim().split_once('=').ok_or(StsError::MalformedAuthorization)?;
            let slot = match name {
                "Credential" => &mut access,
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
        // Permanent keys are letters and digits; temporary ones look like `STS.NU...`.
        if access.is_empty()
            || access.len() > MAX_TEXT
            || !access
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
        {
            return Err(StsError::MalformedAuthorization);
        }
        let signed_headers = parse_header_list(signed)?;
        for required in ALWAYS_SIGNED {
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

/// `a;b;c`: lower-case names, sorted, each once, never `authorization` (no signer can sign
/// its own signature). No `_`: some proxies turn it into `-`. Shared with `bce`.
pub(super) fn parse_header_list(list: &str) -> Result<Vec<&str>, StsError> {
    let names: Vec<&str> = list.split(';').collect();
    let well_formed = |h: &&str| {
        !h.is_empty()
            && *h != "authorization"
            && h.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    };
    if names.len() > MAX_SIGNED_HEADERS || !names.iter().all(well_formed) {
        return Err(StsError::MalformedAuthorization);
    }
    // The SDKs list them sorted; in any other order, or twice, they are not an SDK's.
    if names.windows(2).any(|w| w[0] >= w[1]) {
        return Err(StsError::MalformedAuthorization);
    }
    Ok(names)
}

/// What the caller needs next: the nonce, to refuse a replay within the window, and the
/// operation the client asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified<'a> {
    /// `x-acs-signature-nonce`: 1 to 128 printable ASCII characters.
    pub nonce: &'a str,
    /// `x-acs-date`, seconds since the epoch.
    pub signed_at: i64,
    /// `x-acs-action`.
    pub action: &'a str,
    /// `x-acs-version`.
    pub version: &'a str,
}

/// Checks `req`'s signature under `auth` with `secret`, and its date against `now_secs`.
pub fn verify<'r>(
    req: &Received<'r>,
    auth: &Authorization<'_>,
    secret: &[u8],
    now_secs: i64,
) -> Result<Verified<'r>, StsError> {
    let signed_at = parse_iso_date(single_header(req, "x-acs-date")?).ok_or(StsError::BadTimestamp("x-acs-date"))?;
    if (signed_at - now_secs).abs() > WINDOW_SECS {
        return Err(StsError::OutsideWindow {
            signed_at,
            now: now_secs,
        });
    }
    for name in SIGNED_WHEN_SENT {
        let sent = req.headers.iter().any(|(k, _)| k.eq_ignore_ascii_case(name));
        if sent && !auth.signed_headers.contains(&name) {
            return Err(StsError::UnsignedHeader(name));
        }
    }
    if req.has_body() && !auth.signed_headers.contains(&"content-type") {
        return Err(StsError::UnsignedHeader("content-type"));
    }
    if auth.signed_headers.contains(&"x-acs-accesskey-id")
        && single_header(req, "x-acs-accesskey-id")? != auth.access.as_bytes()
    {
        return Err(StsError::AccessKeyMismatch);
    }
    let nonce = printable(req, "x-acs-signature-nonce")?;
    let action = printable(req, "x-acs-action")?;
    let version = printable(req, "x-acs-version")?;
    // The SDK sends lower-case hex; a claim in any other spelling is not its.
    if single_header(req, "x-acs-content-sha256")? != req.body_hash().as_bytes() {
        return Err(StsError::DigestMismatch("x-acs-content-sha256"));
    }
    let canonical = canonical_request(req, auth)?;
    let expected = signature(secret, &string_to_sign(&canonical));
    if !constant_time_eq(&expected, &auth.signature) {
        return Err(StsError::BadSignature);
    }
    Ok(Verified {
        nonce,
        signed_at,
        action,
        version,
    })
}

/// The one value of header `name`, 1 to 128 printable ASCII characters.
fn printable<'r>(req: &Received<'r>, name: &'static str) -> Result<&'r str, StsError> {
    let value = single_header(req, name)?;
    if value.is_empty() || value.len() > MAX_TEXT || !value.iter().all(u8::is_ascii_graphic) {
        return Err(StsError::BadHeaderValue(name));
    }
    std::str::from_utf8(value).map_err(|_| StsError::BadHeaderValue(name))
}

/// The canonical request the client's signer built, rebuilt from what was received. The
/// payload hash is the `x-acs-content-sha256` header; `verify` checks it against the body.
pub fn canonical_request(req: &Received<'_>, auth: &Authorization<'_>) -> Result<Vec<u8>, StsError> {
    let mut out = Vec::with_capacity(1024);
    out.extend_from_slice(req.method.as_bytes());
    out.push(b'\n');
    out.extend_from_slice(if req.path.is_empty() { "/" } else { req.path }.as_bytes());
    out.push(b'\n');
    push_canonical_query(&mut out, req.query)?;
    out.push(b'\n');
    for name in &auth.signed_headers {
        out.extend_from_slice(name.as_bytes());
        out.push(b':');
        out.extend_from_slice(single_header(req, name)?);
        out.push(b'\n');
    }
    out.push(b'\n');
    for (i, name) in auth.signed_headers.iter().enumerate() {
        if i > 0 {
            out.push(b';');
        }
        out.extend_from_slice(name.as_bytes());
    }
    out.push(b'\n');
    out.extend_from_slice(single_header(req, "x-acs-content-sha256")?);
    Ok(out)
}

/// The canonical query of a received query string: form-decoded (the SDK sends `+` for a
/// space), sorted by name, values encoded as the signer encodes them.
fn push_canonical_query(out: &mut Vec<u8>, query: Option<&str>) -> Result<(), StsError> {
    let Some(query) = query.filter(|q| !q.is_empty()) else {
        return Ok(());
    };
    let mut pairs: Vec<(&str, String)> = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        // The SDK writes `name=` for an empty value; a bare name is read apart by readers.
        let (name, value) = pair
            .split_once('=')
            .ok_or(StsError::Ambiguous("a query parameter without '='"))?;
        if name.is_empty() || !name.bytes().all(is_unreserved) {
            return Err(StsError::Ambiguous(
                "a query parameter name beyond letters, digits and -._~",
            ));
        }
        if pairs.iter().any(|(seen, _)| *seen == name) {
            return Err(StsError::Ambiguous("a repeated query parameter"));
        }
        let plus_as_space = value.replace('+', " ");
        let value = percent_decode(plus_as_space.as_bytes())
            .decode_utf8()
            .map_err(|_| StsError::Ambiguous("a query that is not UTF-8 once decoded"))?
            .into_owned();
        pairs.push((name, value));
    }
    // Names are unique, so sorting by name sorts by name then value.
    pairs.sort_unstable_by(|a, b| a.0.cmp(b.0));
    for (i, (name, value)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push(b'&');
        }
        out.extend_from_slice(name.as_bytes());
        out.push(b'=');
        push_encoded(out, value);
    }
    Ok(())
}

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

pub fn string_to_sign(canonical: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(ALGORITHM.len() + 65);
    out.extend_from_slice(ALGORITHM.as_bytes());
    out.push(b'\n');
    out.extend_from_slice(hex::encode(Sha256::digest(canonical)).as_bytes());
    out
}

#[cfg(test)]
mod tests;
