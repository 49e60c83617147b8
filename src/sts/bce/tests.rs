//! The verifier against requests signed by bce-python-sdk's own client
//! (`tests/fixtures/bce_signer/generate`), and against each way a request can be tampered with.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::*;

const VECTORS: &str = include_str!("../../../tests/fixtures/bce_signer/vectors.json");
/// 2026-12-06T10:15:00Z, the vectors' timestamp.
const SIGNED_AT: i64 = 1_796_552_100;
/// The SDK's default expiration, which the vectors use but one.
const EXPIRATION: i64 = 1800;

#[derive(Clone)]
struct Vector {
    name: String,
    method: String,
    path: String,
    query: Option<String>,
    headers: Vec<(String, Vec<u8>)>,
    body: Vec<u8>,
    key_text: String,
    canonical: String,
    authorization: String,
}

fn vectors() -> (String, Vec<Vector>) {
    let doc: Value = serde_json::from_str(VECTORS).unwrap();
    let secret = doc["secret"].as_str().unwrap().to_string();
    let text = |v: &Value| v.as_str().unwrap().to_string();
    let vectors = doc["vectors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| Vector {
            name: text(&v["name"]),
            method: text(&v["method"]),
            path: text(&v["path"]),
            query: v["query"].as_str().map(str::to_string),
            headers: v["headers"]
                .as_array()
                .unwrap()
                .iter()
                .map(|h| {
                    // Recorded as Latin-1 code points: the bytes on the wire.
                    let value: Vec<u8> = h[1].as_str().unwrap().chars().map(|c| c as u32 as u8).collect();
                    (text(&h[0]), value)
                })
                .collect(),
            body: STANDARD.decode(v["body_base64"].as_str().unwrap()).unwrap(),
            key_text: text(&v["signing_key_text"]),
            canonical: text(&v["canonical_request"]),
            authorization: text(&v["authorization"]),
        })
        .collect();
    (secret, vectors)
}

/// Runs `check` with the vector as the server receives it (its Authorization header too).
fn received<T>(v: &Vector, check: impl FnOnce(&Received<'_>) -> T) -> T {
    let headers: Vec<(&str, &[u8])> = v.headers.iter().map(|(k, val)| (k.as_str(), val.as_slice())).collect();
    let req = Received {
        method: &v.method,
        path: &v.path,
        query: v.query.as_deref(),
        headers: &headers,
        body: &v.body,
        body_sha256: None,
    };
    check(&req)
}

/// Parses the vector's Authorization and verifies it, as a caller does.
fn check(v: &Vector, secret: &str, now: i64) -> Result<Verified, StsError> {
    let auth = Authorization::parse(&v.authorization)?;
    received(v, |req| verify(req, &auth, secret.as_bytes(), now))
}

fn find<'v>(vectors: &'v [Vector], name: &str) -> &'v Vector {
    vectors.iter().find(|v| v.name == name).unwrap()
}

const SIGNED: Result<Verified, StsError> = Ok(Verified { body_signed: true });
const BODY_UNSIGNED: Result<Verified, StsError> = Ok(Verified { body_signed: false });

#[test]
fn every_sdk_signed_vector_is_rebuilt_and_verifies() {
    let (secret, vectors) = vectors();
    assert!(vectors.len() >= 10);
    for v in &vectors {
        let auth = Authorization::parse(&v.authorization).unwrap();
        assert_eq!(auth.access, "a1b2c3d4e5f60718293a4b5c6d7e8f90", "{}", v.name);
        assert_eq!(auth.signed_at, SIGNED_AT, "{}", v.name);
        assert_eq!(auth.key_text, v.key_text, "{}: signing-key text", v.name);
        received(v, |req| {
            let canonical = canonical_request(req, &auth).unwrap();
            assert_eq!(
                String::from_utf8_lossy(&canonical),
                v.canonical,
                "{}: canonical request",
                v.name
            );
        });
        // A body is signed when it is empty or its digest was sent.
        let body_signed = v.body.is_empty() || v.headers.iter().any(|(k, _)| k == "x-bce-content-sha256");
        assert_eq!(
            check(v, &secret, SIGNED_AT + 60),
            Ok(Verified { body_signed }),
            "{}",
            v.name
        );
    }
    let explicit = find(&vectors, "explicit signed headers and a shorter expiration");
    let auth = Authorization::parse(&explicit.authorization).unwrap();
    assert_eq!(
        (auth.expiration_secs, auth.signed_headers),
        (600, vec!["content-type", "host", "x-bce-date"])
    );
}

#[test]
fn tampering_with_any_signed_part_fails() {
    let (secret, vectors) = vectors();
    let get = find(&vectors, "iam get user");
    let json = find(&vectors, "iam create user with a json body");
    let digest = find(&vectors, "body digest header");
    let query = find(&vectors, "query values needing encoding");
    let explicit = find(&vectors, "explicit signed headers and a shorter expiration");
    type Tamper = fn(&mut Vector);
    let cases: Vec<(&str, &Vector, Tamper, Result<Verified, StsError>)> = vec![
        (
            "another method",
            get,
            |v| v.method = "DELETE".into(),
            Err(StsError::BadSignature),
        ),
        (
            "another path",
            get,
            |v| v.path = "/v1/user/bob".into(),
            Err(StsError::BadSignature),
        ),
        (
            "a query parameter added",
            get,
            |v| v.query = Some("a=b".into()),
            Err(StsError::BadSignature),
        ),
        (
            "a query value changed",
            query,
            |v| v.query = v.query.as_ref().map(|q| q.replace("number=42", "number=43")),
            Err(StsError::BadSignature),
        ),
        (
            "another signed header value",
            get,
            |v| set(v, "Content-Type", "text/plain"),
            Err(StsError::BadSignature),
        ),
        (
            "another host",
            get,
            |v| set(v, "Host", "evil.example.com"),
            Err(StsError::BadSignature),
        ),
        (
            "another x-bce-date",
            get,
            |v| set(v, "x-bce-date", "2026-12-06T10:15:01Z"),
            Err(StsError::BadSignature),
        ),
        (
            "an x-bce header added",
            get,
            |v| v.headers.push(("x-bce-acl".into(), b"public-read".to_vec())),
            Err(StsError::BadSignature),
        ),
        (
            "another content length",
            json,
            |v| set(v, "Content-Length", "47"),
            Err(StsError::BadSignature),
        ),
        (
            "another body of the same length, with no digest: not covered",
            json,
            |v| v.body[0] = b'[',
            BODY_UNSIGNED,
        ),
        (
            "another body with a digest header",
            digest,
            |v| v.body[0] = b'[',
            Err(StsError::DigestMismatch("x-bce-content-sha256")),
        ),
        (
            "another body with its own digest",
            digest,
            |v| {
                v.body[0] = b'[';
                let own = hex::encode(Sha256::digest(&v.body));
                set(v, "x-bce-content-sha256", &own);
            },
            Err(StsError::BadSignature),
        ),
        (
            "the body's digest in upper case",
            digest,
            |v| {
                let upper = hex::encode_upper(Sha256::digest(&v.body));
                set(v, "x-bce-content-sha256", &upper);
            },
            Err(StsError::DigestMismatch("x-bce-content-sha256")),
        ),
        (
            "the host missing",
            get,
            |v| v.headers.retain(|(k, _)| k != "Host"),
            Err(StsError::MissingHeader("host".into())),
        ),
        (
            "the host empty",
            get,
            |v| set(v, "Host", ""),
            Err(StsError::MissingHeader("host".into())),
        ),
        (
            "a listed header missing",
            explicit,
            |v| v.headers.retain(|(k, _)| k != "Content-Type"),
            Err(StsError::MissingHeader("content-type".into())),
        ),
        (
            "a covered header twice",
            get,
            |v| v.headers.push(("X-Bce-Date".into(), b"2026-12-06T10:15:00Z".to_vec())),
            Err(StsError::RepeatedHeader("x-bce-date".into())),
        ),
        (
            "the host twice",
            get,
            |v| v.headers.push(("host".into(), b"iam.bj.baidubce.com".to_vec())),
            Err(StsError::RepeatedHeader("host".into())),
        ),
        (
            "an uncovered header twice",
            get,
            |v| v.headers.push(("User-Agent".into(), b"curl/8".to_vec())),
            SIGNED,
        ),
        (
            "an unlisted header changed",
            explicit,
            |v| set(v, "Content-Length", "7"),
            SIGNED,
        ),
        (
            "an authorization query parameter",
            get,
            |v| v.query = Some("Authorization=x".into()),
            Err(StsError::Ambiguous("an authorization query parameter")),
        ),
        (
            "'+' in the query",
            get,
            |v| v.query = Some("name=a+b".into()),
            Err(StsError::Ambiguous("'+' in the query (a space to some readers)")),
        ),
        (
            "a repeated query parameter",
            get,
            |v| v.query = Some("a=1&a=2".into()),
            Err(StsError::Ambiguous("a repeated query parameter")),
        ),
        (
            "an encoded '/' in the path",
            get,
            |v| v.path = "/v1/user%2Falice".into(),
            Err(StsError::Ambiguous("an encoded '/' in the path")),
        ),
    ];
    for (name, base, tamper, want) in cases {
        let mut v = base.clone();
        tamper(&mut v);
        assert_eq!(check(&v, &secret, SIGNED_AT), want, "{name}");
    }
    assert_eq!(
        check(get, "other", SIGNED_AT),
        Err(StsError::BadSignature),
        "another secret"
    );
    // The same path and query written another way a server reads the same.
    let mut rewritten = query.clone();
    rewritten.query = rewritten.query.map(|q| q.replace("a~b", "a%7Eb"));
    rewritten.path = "/v1/%75ser".into();
    assert_eq!(check(&rewritten, &secret, SIGNED_AT), SIGNED);
}

#[test]
fn timestamps_hold_until_their_expiration() {
    let (secret, vectors) = vectors();
    let get = find(&vectors, "iam get user");
    let short = find(&vectors, "explicit signed headers and a shorter expiration");
    for (name, v, now, want) in [
        ("at the signing second", get, SIGNED_AT, SIGNED),
        ("at the expiration", get, SIGNED_AT + EXPIRATION, SIGNED),
        (
            "a second after the expiration",
            get,
            SIGNED_AT + EXPIRATION + 1,
            Err(StsError::Expired {
                expires_at: SIGNED_AT + EXPIRATION,
                now: SIGNED_AT + EXPIRATION + 1,
            }),
        ),
        (
            "a second after a shorter expiration",
            short,
            SIGNED_AT + 601,
            Err(StsError::Expired {
                expires_at: SIGNED_AT + 600,
                now: SIGNED_AT + 601,
            }),
        ),
        ("signed at the window ahead", get, SIGNED_AT - WINDOW_SECS, SIGNED),
        (
            "signed beyond the window ahead",
            get,
            SIGNED_AT - WINDOW_SECS - 1,
            Err(StsError::OutsideWindow {
                signed_at: SIGNED_AT,
                now: SIGNED_AT - WINDOW_SECS - 1,
            }),
        ),
    ] {
        assert_eq!(check(v, &secret, now), want, "{name}");
    }
}

#[test]
fn a_body_digest_given_instead_of_the_body_is_checked_the_same() {
    let (secret, vectors) = vectors();
    let v = find(&vectors, "body digest header");
    let auth = Authorization::parse(&v.authorization).unwrap();
    let digest = hex::encode(Sha256::digest(&v.body));
    let other = hex::encode(Sha256::digest(b"other"));
    for (name, given, want) in [
        ("the body's digest", digest.as_str(), SIGNED),
        (
            "another digest",
            other.as_str(),
            Err(StsError::DigestMismatch("x-bce-content-sha256")),
        ),
    ] {
        let got = received(v, |req| {
            let req = Received {
                body: b"",
                body_sha256: Some(given),
                ..*req
            };
            verify(&req, &auth, secret.as_bytes(), SIGNED_AT)
        });
        assert_eq!(got, want, "{name}");
    }
}

fn set(v: &mut Vector, name: &str, value: &str) {
    for (k, val) in &mut v.headers {
        if k.eq_ignore_ascii_case(name) {
            *val = value.as_bytes().to_vec();
        }
    }
}

#[test]
fn authorization_headers_are_read_strictly() {
    let sig = "e97f10e7a2638aa84e9ca3752a97b98c021ce417f224c6d861e6b94ff2300f4e";
    let ak = "a1b2c3d4e5f60718293a4b5c6d7e8f90";
    let ts = "2026-12-06T10:15:00Z";
    let ok = format!("bce-auth-v1/{ak}/{ts}/3600/host;x-bce-date/{sig}");
    let auth = Authorization::parse(&ok).unwrap();
    assert_eq!(
        (auth.expiration_secs, auth.signed_headers, auth.key_text),
        (
            3600,
            vec!["host", "x-bce-date"],
            format!("bce-auth-v1/{ak}/{ts}/3600").as_str()
        )
    );
    for (name, value, want) in [
        (
            "another scheme",
            format!("bce-auth-v2/{ak}/{ts}/1800//{sig}"),
            StsError::WrongScheme("bce-auth-v1"),
        ),
        (
            "ACS3",
            "ACS3-HMAC-SHA256 Credential=AK1,SignedHeaders=host,Signature=00".to_string(),
            StsError::WrongScheme("bce-auth-v1"),
        ),
        (
            "a part missing",
            format!("bce-auth-v1/{ak}/{ts}/1800/{sig}"),
            StsError::MalformedAuthorization,
        ),
        (
            "a part too many",
            format!("bce-auth-v1/{ak}/{ts}/1800//{sig}/x"),
            StsError::MalformedAuthorization,
        ),
        (
            "no access key",
            format!("bce-auth-v1//{ts}/1800//{sig}"),
            StsError::MalformedAuthorization,
        ),
        (
            "an odd access key",
            format!("bce-auth-v1/a-b/{ts}/1800//{sig}"),
            StsError::MalformedAuthorization,
        ),
        (
            "a timestamp without separators",
            format!("bce-auth-v1/{ak}/20261206T101500Z/1800//{sig}"),
            StsError::BadTimestamp("the bce-auth-v1 timestamp"),
        ),
        (
            "a timestamp with an offset",
            format!("bce-auth-v1/{ak}/2026-12-06T10:15:00+08:00/1800//{sig}"),
            StsError::BadTimestamp("the bce-auth-v1 timestamp"),
        ),
        (
            "an empty expiration",
            format!("bce-auth-v1/{ak}/{ts}///{sig}"),
            StsError::MalformedAuthorization,
        ),
        (
            "a zero expiration",
            format!("bce-auth-v1/{ak}/{ts}/0//{sig}"),
            StsError::MalformedAuthorization,
        ),
        (
            "a leading zero",
            format!("bce-auth-v1/{ak}/{ts}/01800//{sig}"),
            StsError::MalformedAuthorization,
        ),
        (
            "a negative expiration",
            format!("bce-auth-v1/{ak}/{ts}/-1//{sig}"),
            StsError::MalformedAuthorization,
        ),
        (
            "an expiration too long",
            format!("bce-auth-v1/{ak}/{ts}/3601//{sig}"),
            StsError::ExpirationTooLong {
                got: 3601,
                max: MAX_EXPIRATION_SECS,
            },
        ),
        (
            "an expiration of a week",
            format!("bce-auth-v1/{ak}/{ts}/604800//{sig}"),
            StsError::ExpirationTooLong {
                got: 604_800,
                max: MAX_EXPIRATION_SECS,
            },
        ),
        (
            "listed headers without host",
            format!("bce-auth-v1/{ak}/{ts}/1800/content-type;x-bce-date/{sig}"),
            StsError::UnsignedHeader("host"),
        ),
        (
            "unsorted",
            format!("bce-auth-v1/{ak}/{ts}/1800/x-bce-date;host/{sig}"),
            StsError::MalformedAuthorization,
        ),
        (
            "listed twice",
            format!("bce-auth-v1/{ak}/{ts}/1800/host;host/{sig}"),
            StsError::MalformedAuthorization,
        ),
        (
            "upper case",
            format!("bce-auth-v1/{ak}/{ts}/1800/Host/{sig}"),
            StsError::MalformedAuthorization,
        ),
        (
            "the Authorization header itself",
            format!("bce-auth-v1/{ak}/{ts}/1800/authorization;host/{sig}"),
            StsError::MalformedAuthorization,
        ),
        (
            "short signature",
            format!("bce-auth-v1/{ak}/{ts}/1800//abcd"),
            StsError::MalformedAuthorization,
        ),
        (
            "no signature",
            format!("bce-auth-v1/{ak}/{ts}/1800//"),
            StsError::MalformedAuthorization,
        ),
    ] {
        assert_eq!(Authorization::parse(&value), Err(want), "{name}");
    }
}
