//! Requests signed the Baidu Cloud way (`bce-auth-v1`, what bce-python-sdk's
//! `bce_v1_signer.sign` puts in the Authorization header of every IAM and STS request): the
//! verifier rebuilds, from the request as received, the canonical request the client's signer
//! built, and checks its HMAC under the signing key derived from the secret.
//!
//! Authorization: `bce-auth-v1/{ak}/{timestamp}/{expiration seconds}/{signed headers}/{hex}`.
//! Signing key: `hex(HMAC-SHA256(secret, "bce-auth-v1/{ak}/{timestamp}/{expiration}"))`;
//! signature: `hex(HMAC-SHA256(signing key as its hex text, canonical request))`.
//!
//! Canonical request, as the SDK builds it (vectors from the SDK's own client in
//! `tests/fixtures/bce_signer`): `METHOD \n URI \n QUERY \n HEADERS`, where "encoded" means
//! unreserved `A-Z a-z 0-9 - . _ ~` kept and every other byte `%XX`, and
//! - URI: the path decoded, then encoded with `/` kept (the SDK's paths are already in this
//!   form, and Baidu's servers read them this way);
//! - QUERY: `name=value`, both encoded, sorted, joined with `&`;
//! - HEADERS: `name:value`, lower-case name and trimmed value both encoded, sorted, joined with
//!   `\n`, for each header with a non-empty value that is listed, or, when none are listed,
//!   `host`, `content-length`, `content-md5` and `content-type`; every `x-bce-*` header is
//!   included either way (the SDK's signer does so; Baidu documents it for the unlisted case).
//!
//! Stricter than the SDK needs, because a verifier must be: `host` is present and covered;
//! listed headers are sorted, once each, lower case, and present; covered headers appear
//! exactly once; the timestamp is at most [`WINDOW_SECS`] ahead of `now` and `now` is within
//! its expiration, which may not exceed [`MAX_EXPIRATION_SECS`] (the SDK's default is 1800;
//! bce-auth-v1 has no nonce, so the expiration is the whole replay window); paths and queries
//! two readers could take apart differently are refused (`signing::check_unambiguous`), and so
//! is a query parameter named `authorization` (the Python signer signs it, Baidu's servers and
//! other SDKs leave it out); the signature is compared in constant time.
//!
//! The body is covered only through `x-bce-content-sha256`: when present it is signed (as
//! every `x-bce-*` header) and must be the body's digest ([`Verified::body_signed`]). Without
//! it bce-auth-v1 signs the body's length and type but not its bytes, and the IAM and STS
//! clients do not send it: such a body may have been changed on the way. `content-md5` is not
//! taken as covering the body.
//!
//! Pure: `now` is an argument; this module does not look keys up or remember signatures.

use percent_encoding::{AsciiSet, percent_decode_str, percent_encode};

use super::StsError;
use super::acs3::parse_header_list;
pub use super::signing::WINDOW_SECS;
use super::signing::{
    Received, UNRESERVED, check_unambiguous, constant_time_eq, parse_iso_date, signature, single_header, trim,
};

pub const PREFIX: &str = "bce-auth-v1/";
/// The longest expiration accepted: twice the SDK's default of 1800 seconds.
pub const MAX_EXPIRATION_SECS: i64 = 3600;
/// Covered when the Authorization header lists no headers.
const DEFAULT_HEADERS: [&str; 4] = ["content-length", "content-md5", "content-type", "host"];
/// The path's encoding keeps `/`.
const UNRESERVED_AND_SLASH: &AsciiSet = &UNRESERVED.remove(b'/');

/// The `Authorization` header of a bce-auth-v1 request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorization<'a> {
    pub access: &'a str,
    /// The timestamp, seconds since the epoch.
    pub signed_at: i64,
    pub expiration_secs: i64,
    /// Lower-case names, sorted, as listed; empty for the SDK's default set.
    pub signed_headers: Vec<&'a str>,
    /// 32 bytes, from 64 hex digits.
    pub signature: [u8; 32],
    /// `bce-auth-v1/{ak}/{timestamp}/{expiration}` as sent: what the signing key is derived
    /// from.
    pub key_text: &'a str,
}

impl<'a> Authorization<'a> {
    /// `bce-auth-v1/AK/YYYY-MM-DDTHH:MM:SSZ/SECONDS/a;b;c/hex` (the header list may be empty).
    pub fn parse(value: &'a str) -> Result<Self, StsError> {
        let rest = value.strip_prefix(PREFIX).ok_or(StsError::WrongScheme("bce-auth-v1"))?;
        let parts: Vec<&str> = rest.split('/').collect();
        let [access, timestamp, expiration, signed, signature] = parts[..] else {
            return Err(StsError::MalformedAuthorization);
        };
        if access.is_empty() || access.len() > 128 || !access.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(StsError::MalformedAuthorization);
        }
        let signed_at =
            parse_iso_date(timestamp.as_bytes()).ok_or(StsError::BadTimestamp("the bce-auth-v1 timestamp"))?;
        // As the SDK writes it (`%d`): digits, no sign, no leading zero.
        if expiration.is_empty()
            || expiration.len() > 10
            || expiration.starts_with('0')
            || !expiration.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(StsError::MalformedAuthorization);
        }
        let expiration_secs: i64 = expiration.parse().map_err(|_| StsError::MalformedAuthorization)?;
        if expiration_secs > MAX_EXPIRATION_SECS {
            return Err(StsError::ExpirationTooLong {
                got: expiration_secs,
                max: MAX_EXPIRATION_SECS,
            });
        }
        let signed_headers = if signed.is_empty() {
            Vec::new()
        } else {
            parse_header_list(signed)?
        };
        if !signed_headers.is_empty() && !signed_headers.contains(&"host") {
            return Err(StsError::UnsignedHeader("host"));
        }
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(signature, &mut bytes).map_err(|_| StsError::MalformedAuthorization)?;
        let key_len = PREFIX.len() + access.len() + timestamp.len() + expiration.len() + 2;
        Ok(Authorization {
            access,
            signed_at,
            expiration_secs,
            signed_headers,
            signature: bytes,
            key_text: &value[..key_len],
        })
    }

    /// Whether header `name` (lower case) is in the canonical request.
    fn covers(&self, name: &str) -> bool {
        let bce = name
            .as_bytes()
            .get(..6)
            .is_some_and(|p| p.eq_ignore_ascii_case(b"x-bce-"));
        let listed = |list: &[&str]| list.iter().any(|h| h.eq_ignore_ascii_case(name));
        bce || if self.signed_headers.is_empty() {
            listed(&DEFAULT_HEADERS)
        } else {
            listed(&self.signed_headers)
        }
    }
}

/// A request whose signature verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// True when the body is empty or its digest was signed (`x-bce-content-sha256`); false
    /// when a body came without it and may have been changed on the way.
    pub body_signed: bool,
}

/// Checks `req`'s signature under `auth` with `secret`, and its timestamp against `now_secs`.
pub fn verify(
    req: &Received<'_>,
    auth: &Authorization<'_>,
    secret: &[u8],
    now_secs: i64,
) -> Result<Verified, StsError> {
    if auth.signed_at - now_secs > WINDOW_SECS {
        return Err(StsError::OutsideWindow {
            signed_at: auth.signed_at,
            now: now_secs,
        });
    }
    let expires_at = auth.signed_at + auth.expiration_secs;
    if now_secs > expires_at {
        return Err(StsError::Expired {
            expires_at,
            now: now_secs,
        });
    }
    check_unambiguous(req.path, req.query)?;
    let body_signed = match single_header(req, "x-bce-content-sha256") {
        Ok(declared) if declared == req.body_hash().as_bytes() => true,
        Ok(_) => return Err(StsError::DigestMismatch("x-bce-content-sha256")),
        Err(StsError::MissingHeader(_)) => !req.has_body(),
        Err(e) => return Err(e),
    };
    let canonical = canonical_request(req, auth)?;
    let key = hex::encode(signature(secret, auth.key_text.as_bytes()));
    let expected = signature(key.as_bytes(), &canonical);
    if !constant_time_eq(&expected, &auth.signature) {
        return Err(StsError::BadSignature);
    }
    Ok(Verified { body_signed })
}

/// The canonical request the client's signer built, rebuilt from what was received.
pub fn canonical_request(req: &Received<'_>, auth: &Authorization<'_>) -> Result<Vec<u8>, StsError> {
    let mut out = Vec::with_capacity(512);
    out.extend_from_slice(req.method.as_bytes());
    out.push(b'\n');
    let path: Vec<u8> = percent_decode_str(req.path).collect();
    if path.is_empty() {
        out.push(b'/');
    }
    push_encoded(&mut out, &path, UNRESERVED_AND_SLASH);
    out.push(b'\n');
    push_canonical_query(&mut out, req.query)?;
    out.push(b'\n');
    push_canonical_headers(&mut out, req, auth)?;
    Ok(out)
}

fn push_encoded(out: &mut Vec<u8>, bytes: &[u8], set: &'static AsciiSet) {
    for piece in percent_encode(bytes, set) {
        out.extend_from_slice(piece.as_bytes());
    }
}

/// The canonical query of a received query string (already checked unambiguous).
fn push_canonical_query(out: &mut Vec<u8>, query: Option<&str>) -> Result<(), StsError> {
    let Some(query) = query.filter(|q| !q.is_empty()) else {
        return Ok(());
    };
    let mut lines: Vec<Vec<u8>> = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let name: Vec<u8> = percent_decode_str(name).collect();
        if name.eq_ignore_ascii_case(b"authorization") {
            return Err(StsError::Ambiguous("an authorization query parameter"));
        }
        let mut line = Vec::with_capacity(pair.len() + 8);
        push_encoded(&mut line, &name, UNRESERVED);
        line.push(b'=');
        push_encoded(&mut line, &percent_decode_str(value).collect::<Vec<u8>>(), UNRESERVED);
        lines.push(line);
    }
    lines.sort_unstable();
    out.extend_from_slice(&lines.join(&b'&'));
    Ok(())
}

/// The canonical headers: each covered header with a value, refused when repeated. `host`, and
/// every listed header, must have a value: the SDK would sign their absence.
fn push_canonical_headers(out: &mut Vec<u8>, req: &Received<'_>, auth: &Authorization<'_>) -> Result<(), StsError> {
    let mut seen: Vec<(String, bool)> = Vec::new();
    let mut lines: Vec<Vec<u8>> = Vec::new();
    for (name, value) in req.headers {
        if !auth.covers(name) {
            continue;
        }
        let name = name.to_ascii_lowercase();
        if seen.iter().any(|(s, _)| *s == name) {
            return Err(StsError::RepeatedHeader(name));
        }
        let value = trim(value);
        // The SDK leaves out headers whose value is empty.
        if !value.is_empty() {
            let mut line = Vec::with_capacity(name.len() + value.len() + 16);
            push_encoded(&mut line, name.as_bytes(), UNRESERVED);
            line.push(b':');
            push_encoded(&mut line, value, UNRESERVED);
            lines.push(line);
        }
        seen.push((name, !value.is_empty()));
    }
    let required = if auth.signed_headers.is_empty() {
        &["host"][..]
    } else {
        &auth.signed_headers[..]
    };
    if let Some(missing) = required
        .iter()
        .find(|h| !seen.iter().any(|(s, valued)| s == *h && *valued))
    {
        return Err(StsError::MissingHeader(missing.to_string()));
    }
    lines.sort_unstable();
    out.extend_from_slice(&lines.join(&b'\n'));
    Ok(())
}

#[cfg(test)]
mod tests;
