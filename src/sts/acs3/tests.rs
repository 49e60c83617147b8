//! The verifier against requests signed by alibabacloud-tea-openapi's own client
//! (`tests/fixtures/acs3_signer/generate`), and against each way a request can be tampered with.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;

use super::*;

const VECTORS: &str = include_str!("../../../tests/fixtures/acs3_signer/vectors.json");
/// 2026-12-06T10:15:00Z, the vectors' x-acs-date.
const SIGNED_AT: i64 = 1_796_552_100;

#[derive(Clone)]
struct Vector {
    name: String,
    method: String,
    path: String,
    query: Option<String>,
    headers: Vec<(String, Vec<u8>)>,
    body: Vec<u8>,
    canonical: String,
    string_to_sign: String,
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
                .map(|h| (text(&h[0]), text(&h[1]).into_bytes()))
                .collect(),
            body: STANDARD.decode(v["body_base64"].as_str().unwrap()).unwrap(),
            canonical: text(&v["canonical_request"]),
            string_to_sign: text(&v["string_to_sign"]),
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
fn check(v: &Vector, secret: &str, now: i64) -> Result<(), StsError> {
    let auth = Authorization::parse(&v.authorization)?;
    received(v, |req| verify(req, &auth, secret.as_bytes(), now).map(|_| ()))
}

fn find<'v>(vectors: &'v [Vector], name: &str) -> &'v Vector {
    vectors.iter().find(|v| v.name == name).unwrap()
}

#[test]
fn every_sdk_signed_vector_is_rebuilt_and_verifies() {
    let (secret, vectors) = vectors();
    assert!(vectors.len() >= 9);
    for v in &vectors {
        let auth = Authorization::parse(&v.authorization).unwrap();
        received(v, |req| {
            let canonical = canonical_request(req, &auth).unwrap();
            assert_eq!(
                String::from_utf8_lossy(&canonical),
                v.canonical,
                "{}: canonical request",
                v.name
            );
            assert_eq!(
                String::from_utf8_lossy(&string_to_sign(&canonical)),
                v.string_to_sign,
                "{}",
                v.name
            );
            let verified = verify(req, &auth, secret.as_bytes(), SIGNED_AT + 60).unwrap();
            let header = |name: &str| {
                let (_, value) = v.headers.iter().find(|(k, _)| k == name).unwrap();
                std::str::from_utf8(value).unwrap()
            };
            assert_eq!(
                verified,
                Verified {
                    nonce: header("x-acs-signature-nonce"),
                    signed_at: SIGNED_AT,
                    action: header("x-acs-action"),
                    version: header("x-acs-version"),
                },
                "{}",
                v.name
            );
        });
    }
    let temporary = find(&vectors, "byte body with a temporary credential");
    assert_eq!(
        Authorization::parse(&temporary.authorization).unwrap().access,
        "STS.NUVectors0000000000AK"
    );
}

#[test]
fn tampering_with_any_signed_part_fails() {
    let (secret, vectors) = vectors();
    let form = find(&vectors, "form body");
    let temporary = find(&vectors, "byte body with a temporary credential");
    let query = find(&vectors, "query values needing encoding");
    type Tamper = fn(&mut Vector);
    let cases: Vec<(&str, &Vector, Tamper, StsError)> = vec![
        (
            "another method",
            form,
            |v| v.method = "PUT".into(),
            StsError::BadSignature,
        ),
        ("another path", form, |v| v.path = "/v3/".into(), StsError::BadSignature),
        (
            "a query parameter added",
            form,
            |v| v.query = Some("DurationSeconds=900&RoleArn=x".into()),
            StsError::BadSignature,
        ),
        (
            "a query value changed",
            query,
            |v| v.query = v.query.as_ref().map(|q| q.replace("Space=a+b", "Space=a+c")),
            StsError::BadSignature,
        ),
        (
            "another body, the declared digest kept",
            form,
            |v| v.body.push(b'&'),
            StsError::DigestMismatch("x-acs-content-sha256"),
        ),
        (
            "another body with its own digest",
            form,
            |v| {
                v.body.push(b'&');
                let digest = hex::encode(Sha256::digest(&v.body));
                set(v, "x-acs-content-sha256", &digest);
            },
            StsError::BadSignature,
        ),
        (
            "the body's digest in upper case",
            form,
            |v| {
                let digest = hex::encode_upper(Sha256::digest(&v.body));
                set(v, "x-acs-content-sha256", &digest);
            },
            StsError::DigestMismatch("x-acs-content-sha256"),
        ),
        (
            "another signed header value",
            form,
            |v| set(v, "user-agent", "curl/8"),
            StsError::BadSignature,
        ),
        (
            "another host",
            form,
            |v| set(v, "host", "evil.example.com"),
            StsError::BadSignature,
        ),
        (
            "another action",
            form,
            |v| set(v, "x-acs-action", "AssumeRole"),
            StsError::BadSignature,
        ),
        (
            "a signed header missing",
            form,
            |v| v.headers.retain(|(k, _)| k != "user-agent"),
            StsError::MissingHeader("user-agent".into()),
        ),
        (
            "a signed header twice",
            form,
            |v| v.headers.push(("User-Agent".into(), b"curl/8".to_vec())),
            StsError::RepeatedHeader("user-agent".into()),
        ),
        (
            "the date twice",
            form,
            |v| v.headers.push(("X-Acs-Date".into(), b"2026-12-06T10:15:00Z".to_vec())),
            StsError::RepeatedHeader("x-acs-date".into()),
        ),
        (
            "a security token that is not signed",
            form,
            |v| v.headers.push(("x-acs-security-token".into(), b"CAIS".to_vec())),
            StsError::UnsignedHeader("x-acs-security-token"),
        ),
        (
            "an access key id that is not signed",
            form,
            |v| {
                v.headers
                    .push(("x-acs-accesskey-id".into(), b"LTAI5tVectors000000000AK".to_vec()))
            },
            StsError::UnsignedHeader("x-acs-accesskey-id"),
        ),
        (
            "a body whose content-type is not signed",
            form,
            |v| v.authorization = v.authorization.replace("accept;content-type;", "accept;"),
            StsError::UnsignedHeader("content-type"),
        ),
        (
            "the action not signed",
            form,
            |v| v.authorization = v.authorization.replace("x-acs-action;", ""),
            StsError::UnsignedHeader("x-acs-action"),
        ),
        (
            "another access key id than the Credential's",
            temporary,
            |v| set(v, "x-acs-accesskey-id", "STS.NUOther"),
            StsError::AccessKeyMismatch,
        ),
        (
            "a date that is no ISO date",
            form,
            |v| set(v, "x-acs-date", "20261206T101500Z"),
            StsError::BadTimestamp("x-acs-date"),
        ),
        (
            "a date with fractions",
            form,
            |v| set(v, "x-acs-date", "2026-12-06T10:15:00.000Z"),
            StsError::BadTimestamp("x-acs-date"),
        ),
        (
            "an empty nonce",
            form,
            |v| set(v, "x-acs-signature-nonce", ""),
            StsError::BadHeaderValue("x-acs-signature-nonce"),
        ),
        (
            "a nonce with a space",
            form,
            |v| set(v, "x-acs-signature-nonce", "a b"),
            StsError::BadHeaderValue("x-acs-signature-nonce"),
        ),
        (
            "a nonce too long",
            form,
            |v| set(v, "x-acs-signature-nonce", &"n".repeat(129)),
            StsError::BadHeaderValue("x-acs-signature-nonce"),
        ),
        (
            "a repeated query parameter",
            form,
            |v| v.query = Some("DurationSeconds=900&DurationSeconds=3600".into()),
            StsError::Ambiguous("a repeated query parameter"),
        ),
        (
            "a query parameter name with '=' and '&' encoded",
            form,
            |v| v.query = Some("DurationSeconds%3D900%26X=1".into()),
            StsError::Ambiguous("a query parameter name beyond letters, digits and -._~"),
        ),
        (
            "a query parameter without '='",
            form,
            |v| v.query = Some("DurationSeconds".into()),
            StsError::Ambiguous("a query parameter without '='"),
        ),
        (
            "a query value that is not UTF-8",
            form,
            |v| v.query = Some("DurationSeconds=%ff".into()),
            StsError::Ambiguous("a query that is not UTF-8 once decoded"),
        ),
    ];
    for (name, base, tamper, want) in cases {
        let mut v = base.clone();
        tamper(&mut v);
        assert_eq!(check(&v, &secret, SIGNED_AT), Err(want), "{name}");
    }
    assert_eq!(
        check(form, "other", SIGNED_AT),
        Err(StsError::BadSignature),
        "another secret"
    );
    // Unsigned headers a proxy adds do not matter.
    let mut proxied = form.clone();
    proxied.headers.push(("X-Forwarded-For".into(), b"192.0.2.1".to_vec()));
    assert_eq!(check(&proxied, &secret, SIGNED_AT), Ok(()));
    // The same query written another way a server reads the same: `%20` for `+`, `~` encoded.
    let mut rewritten = query.clone();
    rewritten.query = rewritten
        .query
        .map(|q| q.replace("Space=a+b", "Space=a%20b").replace("a~b", "a%7Eb"));
    assert_eq!(check(&rewritten, &secret, SIGNED_AT), Ok(()));
}

#[test]
fn dates_are_accepted_within_the_window_either_way() {
    let (secret, vectors) = vectors();
    let v = find(&vectors, "sts assume role");
    for (now, want) in [
        (SIGNED_AT, Ok(())),
        (SIGNED_AT + WINDOW_SECS, Ok(())),
        (SIGNED_AT - WINDOW_SECS, Ok(())),
        (
            SIGNED_AT + WINDOW_SECS + 1,
            Err(StsError::OutsideWindow {
                signed_at: SIGNED_AT,
                now: SIGNED_AT + WINDOW_SECS + 1,
            }),
        ),
        (
            SIGNED_AT - WINDOW_SECS - 1,
            Err(StsError::OutsideWindow {
                signed_at: SIGNED_AT,
                now: SIGNED_AT - WINDOW_SECS - 1,
            }),
        ),
    ] {
        assert_eq!(check(v, &secret, now), want, "now = signed + {}", now - SIGNED_AT);
    }
}

#[test]
fn a_body_digest_given_instead_of_the_body_is_checked_the_same() {
    let (secret, vectors) = vectors();
    let v = find(&vectors, "json body");
    let auth = Authorization::parse(&v.authorization).unwrap();
    let digest = hex::encode(Sha256::digest(&v.body));
    let other = hex::encode(Sha256::digest(b"other"));
    for (name, given, want) in [
        ("the body's digest", digest.as_str(), Ok(())),
        (
            "another digest",
            other.as_str(),
            Err(StsError::DigestMismatch("x-acs-content-sha256")),
        ),
    ] {
        let got = received(v, |req| {
            let req = Received {
                body: b"",
                body_sha256: Some(given),
                ..*req
            };
            verify(&req, &auth, secret.as_bytes(), SIGNED_AT).map(|_| ())
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
    let sig = "8b98cccc32df8064439500aa368c8ca01db1953bced2e244bccc0515069fb73c";
    let signed = "host;x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;x-acs-version";
    let ok = format!("ACS3-HMAC-SHA256 Credential=STS.NU-a_1,SignedHeaders={signed},Signature={sig}");
    assert_eq!(
        Authorization::parse(&ok).unwrap().signed_headers,
        signed.split(';').collect::<Vec<_>>()
    );
    let with = |headers: &str| format!("ACS3-HMAC-SHA256 Credential=AK1,SignedHeaders={headers},Signature={sig}");
    for (name, value, want) in [
        (
            "another scheme",
            format!("ACS3-HMAC-SM3 Credential=AK1,SignedHeaders={signed},Signature={sig}"),
            StsError::WrongScheme(ALGORITHM),
        ),
        (
            "no space after the scheme",
            format!("ACS3-HMAC-SHA256Credential=AK1,SignedHeaders={signed},Signature={sig}"),
            StsError::WrongScheme(ALGORITHM),
        ),
        (
            "no host",
            with("x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;x-acs-version"),
            StsError::UnsignedHeader("host"),
        ),
        (
            "no body digest",
            with("host;x-acs-action;x-acs-date;x-acs-signature-nonce;x-acs-version"),
            StsError::UnsignedHeader("x-acs-content-sha256"),
        ),
        (
            "no date",
            with("host;x-acs-action;x-acs-content-sha256;x-acs-signature-nonce;x-acs-version"),
            StsError::UnsignedHeader("x-acs-date"),
        ),
        (
            "no nonce",
            with("host;x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-version"),
            StsError::UnsignedHeader("x-acs-signature-nonce"),
        ),
        (
            "no version",
            with("host;x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-signature-nonce"),
            StsError::UnsignedHeader("x-acs-version"),
        ),
        (
            "unsorted",
            with("x-acs-action;host;x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;x-acs-version"),
            StsError::MalformedAuthorization,
        ),
        (
            "listed twice",
            with("host;host;x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;x-acs-version"),
            StsError::MalformedAuthorization,
        ),
        (
            "upper case",
            with("Host;x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;x-acs-version"),
            StsError::MalformedAuthorization,
        ),
        (
            "an underscore",
            with("host;x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;x-acs-version;x_b"),
            StsError::MalformedAuthorization,
        ),
        (
            "the Authorization header itself",
            with("authorization;host;x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;x-acs-version"),
            StsError::MalformedAuthorization,
        ),
        (
            "an empty name",
            with("host;;x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;x-acs-version"),
            StsError::MalformedAuthorization,
        ),
        (
            "short signature",
            format!("ACS3-HMAC-SHA256 Credential=AK1,SignedHeaders={signed},Signature=abcd"),
            StsError::MalformedAuthorization,
        ),
        (
            "no credential",
            format!("ACS3-HMAC-SHA256 SignedHeaders={signed},Signature={sig}"),
            StsError::MalformedAuthorization,
        ),
        (
            "credential twice",
            format!("ACS3-HMAC-SHA256 Credential=AK1,Credential=AK2,SignedHeaders={signed},Signature={sig}"),
            StsError::MalformedAuthorization,
        ),
        (
            "empty credential",
            format!("ACS3-HMAC-SHA256 Credential=,SignedHeaders={signed},Signature={sig}"),
            StsError::MalformedAuthorization,
        ),
        (
            "odd credential",
            format!("ACS3-HMAC-SHA256 Credential=AK/1,SignedHeaders={signed},Signature={sig}"),
            StsError::MalformedAuthorization,
        ),
        (
            "a part without '='",
            format!("ACS3-HMAC-SHA256 Credential=AK1,SignedHeaders={signed},Signature"),
            StsError::MalformedAuthorization,
        ),
        (
            "unknown part",
            format!("ACS3-HMAC-SHA256 Credential=AK1,SignedHeaders={signed},Signature={sig},Extra=1"),
            StsError::MalformedAuthorization,
        ),
    ] {
        assert_eq!(Authorization::parse(&value), Err(want), "{name}");
    }
}

#[test]
fn iso_dates_are_read_exactly() {
    assert_eq!(parse_iso_date(b"2026-12-06T10:15:00Z"), Some(SIGNED_AT));
    assert_eq!(parse_iso_date(b"1970-01-01T00:00:00Z"), Some(0));
    assert_eq!(parse_iso_date(b"2028-02-29T23:59:59Z"), Some(1_835_481_599));
    for bad in [
        &b"2026-13-06T10:15:00Z"[..],
        b"2026-12-32T10:15:00Z",
        b"2027-02-29T10:15:00Z",
        b"2026-12-06T24:15:00Z",
        b"2026-12-06T10:60:00Z",
        b"2026-12-06 10:15:00Z",
        b"2026-12-06T10:15:00+00:00",
        b"2026-12-06T10:15:00z",
        b"2026-12-0aT10:15:00Z",
        b"+026-12-06T10:15:00Z",
        b"20261206T101500Z",
        b"",
    ] {
        assert_eq!(parse_iso_date(bad), None, "{}", String::from_utf8_lossy(bad));
    }
}
