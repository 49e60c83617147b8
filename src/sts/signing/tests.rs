//! The verifier against requests signed by huaweicloudsdkcore's own signer
//! (`tests/fixtures/sdk_signer/generate`), and against each way a request can be tampered with.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;

use super::*;

const VECTORS: &str = include_str!("../../../tests/fixtures/sdk_signer/vectors.json");
/// 2026-12-06T10:15:00Z, the vectors' X-Sdk-Date.
const SIGNED_AT: i64 = 1_796_552_100;

struct Vector {
    name: String,
    method: String,
    uri: String,
    headers: Vec<(String, Vec<u8>)>,
    body: Vec<u8>,
    canonical: String,
    string_to_sign: String,
    authorization: String,
}

fn vectors() -> (String, Vec<Vector>) {
    let doc: Value = serde_json::from_str(VECTORS).unwrap();
    let secret = doc["secret"].as_str().unwrap().to_string();
    let vectors = doc["vectors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| Vector {
            name: v["name"].as_str().unwrap().into(),
            method: v["method"].as_str().unwrap().into(),
            uri: v["uri"].as_str().unwrap().into(),
            headers: v["headers"]
                .as_array()
                .unwrap()
                .iter()
                .map(|h| {
                    // The SDK sends UTF-8 text as latin-1 code points: the bytes on the wire.
                    let value: Vec<u8> = h[1].as_str().unwrap().chars().map(|c| c as u32 as u8).collect();
                    (h[0].as_str().unwrap().to_string(), value)
                })
                .collect(),
            body: STANDARD.decode(v["body_base64"].as_str().unwrap()).unwrap(),
            canonical: v["canonical_request"].as_str().unwrap().into(),
            string_to_sign: v["string_to_sign"].as_str().unwrap().into(),
            authorization: v["authorization"].as_str().unwrap().into(),
        })
        .collect();
    (secret, vectors)
}

/// Runs `check` with the vector as the server receives it.
fn received<T>(v: &Vector, check: impl FnOnce(&Received<'_>, &Authorization<'_>) -> T) -> T {
    let (path, query) = match v.uri.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (v.uri.as_str(), None),
    };
    let headers: Vec<(&str, &[u8])> = v
        .headers
        .iter()
        .filter(|(k, _)| k != "Authorization")
        .map(|(k, val)| (k.as_str(), val.as_slice()))
        .collect();
    let req = Received {
        method: &v.method,
        path,
        query,
        headers: &headers,
        body: &v.body,
        body_sha256: None,
    };
    let auth = Authorization::parse(&v.authorization).unwrap();
    check(&req, &auth)
}

#[test]
fn every_sdk_signed_vector_is_rebuilt_and_verifies() {
    let (secret, vectors) = vectors();
    assert!(vectors.len() >= 12);
    for v in &vectors {
        received(v, |req, auth| {
            let canonical = canonical_request(req, auth).unwrap();
            assert_eq!(
                String::from_utf8_lossy(&canonical),
                v.canonical,
                "{}: canonical request",
                v.name
            );
            let date = single_header(req, "x-sdk-date").unwrap();
            assert_eq!(
                String::from_utf8_lossy(&string_to_sign(date, &canonical)),
                v.string_to_sign,
                "{}",
                v.name
            );
            let verified = verify(req, auth, secret.as_bytes(), SIGNED_AT + 60).unwrap();
            assert_eq!(verified.access, "HSTAVECTORS0000000AK", "{}", v.name);
            assert_eq!(verified.signed_at_secs, SIGNED_AT);
        });
    }
}

#[test]
fn tampering_with_any_signed_part_fails() {
    let (secret, vectors) = vectors();
    let base = vectors.iter().find(|v| v.name == "json body").unwrap();
    type Tamper = Box<dyn Fn(&mut Vector)>;
    let cases: Vec<(&str, Tamper, StsError)> = vec![
        (
            "another method",
            Box::new(|v| v.method = "PUT".into()),
            StsError::BadSignature,
        ),
        (
            "another path",
            Box::new(|v| v.uri = "/v3.0/OS-CREDENTIAL/credentials".into()),
            StsError::BadSignature,
        ),
        (
            "a query added",
            Box::new(|v| v.uri.push_str("?a=b")),
            StsError::BadSignature,
        ),
        ("another body", Box::new(|v| v.body.push(b' ')), StsError::BadSignature),
        (
            "another signed header value",
            Box::new(|v| set(v, "User-Agent", "curl/8")),
            StsError::BadSignature,
        ),
        (
            "another host",
            Box::new(|v| set(v, "Host", "evil:5000")),
            StsError::BadSignature,
        ),
        ("another secret", Box::new(|_| {}), StsError::BadSignature),
        (
            "a signed header missing",
            Box::new(|v| v.headers.retain(|(k, _)| k != "User-Agent")),
            StsError::MissingHeader("user-agent".into()),
        ),
        (
            "a signed header twice",
            Box::new(|v| v.headers.push(("user-agent".into(), b"curl/8".to_vec()))),
            StsError::RepeatedHeader("user-agent".into()),
        ),
        (
            "the date twice",
            Box::new(|v| v.headers.push(("X-Sdk-Date".into(), b"20261206T101500Z".to_vec()))),
            StsError::RepeatedHeader("x-sdk-date".into()),
        ),
        (
            "a body declared unsigned without signing that",
            Box::new(|v| {
                v.headers
                    .push(("X-Sdk-Content-Sha256".into(), b"UNSIGNED-PAYLOAD".to_vec()))
            }),
            StsError::UnsignedHeader("x-sdk-content-sha256"),
        ),
        (
            "a date that is no date",
            Box::new(|v| set(v, "X-Sdk-Date", "2026-12-06T10:15:00Z")),
            StsError::BadDate,
        ),
    ];
    for (name, tamper, want) in cases {
        let mut v = Vector { ..clone(base) };
        tamper(&mut v);
        let key = if name == "another secret" {
            "other"
        } else {
            secret.as_str()
        };
        let got = received(&v, |req, auth| verify(req, auth, key.as_bytes(), SIGNED_AT));
        assert_eq!(got, Err(want), "{name}");
    }
    // The window: 15 minutes either way.
    let got = |now| received(base, |req, auth| verify(req, auth, secret.as_bytes(), now).map(|_| ()));
    assert_eq!(got(SIGNED_AT + WINDOW_SECS), Ok(()));
    assert_eq!(got(SIGNED_AT - WINDOW_SECS), Ok(()));
    assert_eq!(
        got(SIGNED_AT + WINDOW_SECS + 1),
        Err(StsError::OutsideWindow {
            signed_at: SIGNED_AT,
            now: SIGNED_AT + WINDOW_SECS + 1
        })
    );
    assert!(matches!(
        got(SIGNED_AT - WINDOW_SECS - 1),
        Err(StsError::OutsideWindow { .. })
    ));
}

fn clone(v: &Vector) -> Vector {
    Vector {
        name: v.name.clone(),
        method: v.method.clone(),
        uri: v.uri.clone(),
        headers: v.headers.clone(),
        body: v.body.clone(),
        canonical: v.canonical.clone(),
        string_to_sign: v.string_to_sign.clone(),
        authorization: v.authorization.clone(),
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
    let sig = "7c4a30e70caf45b284fba84af0e502b92ce821d3428f66fdb3adaacd958e4e36";
    let ok = format!("SDK-HMAC-SHA256 Access=AK1, SignedHeaders=host;x-sdk-date, Signature={sig}");
    assert_eq!(
        Authorization::parse(&ok).unwrap().signed_headers,
        ["host", "x-sdk-date"]
    );
    for (name, value, want) in [
        (
            "another scheme",
            format!("AWS4-HMAC-SHA256 Access=AK1, SignedHeaders=host;x-sdk-date, Signature={sig}"),
            StsError::NotSdkSigned,
        ),
        (
            "no host",
            format!("SDK-HMAC-SHA256 Access=AK1, SignedHeaders=x-sdk-date, Signature={sig}"),
            StsError::UnsignedHeader("host"),
        ),
        (
            "no date",
            format!("SDK-HMAC-SHA256 Access=AK1, SignedHeaders=host, Signature={sig}"),
            StsError::UnsignedHeader("x-sdk-date"),
        ),
        (
            "unsorted",
            format!("SDK-HMAC-SHA256 Access=AK1, SignedHeaders=x-sdk-date;host, Signature={sig}"),
            StsError::MalformedAuthorization,
        ),
        (
            "listed twice",
            format!("SDK-HMAC-SHA256 Access=AK1, SignedHeaders=host;host;x-sdk-date, Signature={sig}"),
            StsError::MalformedAuthorization,
        ),
        (
            "upper case",
            format!("SDK-HMAC-SHA256 Access=AK1, SignedHeaders=Host;x-sdk-date, Signature={sig}"),
            StsError::MalformedAuthorization,
        ),
        (
            "short signature",
            "SDK-HMAC-SHA256 Access=AK1, SignedHeaders=host;x-sdk-date, Signature=abcd".into(),
            StsError::MalformedAuthorization,
        ),
        (
            "no access",
            format!("SDK-HMAC-SHA256 SignedHeaders=host;x-sdk-date, Signature={sig}"),
            StsError::MalformedAuthorization,
        ),
        (
            "access twice",
            format!("SDK-HMAC-SHA256 Access=AK1, Access=AK2, SignedHeaders=host;x-sdk-date, Signature={sig}"),
            StsError::MalformedAuthorization,
        ),
        (
            "odd access",
            format!("SDK-HMAC-SHA256 Access=AK 1, SignedHeaders=host;x-sdk-date, Signature={sig}"),
            StsError::MalformedAuthorization,
        ),
        (
            "unknown part",
            format!("SDK-HMAC-SHA256 Access=AK1, SignedHeaders=host;x-sdk-date, Signature={sig}, Extra=1"),
            StsError::MalformedAuthorization,
        ),
    ] {
        assert_eq!(Authorization::parse(&value), Err(want), "{name}");
    }
}

#[test]
fn sdk_dates_are_read_exactly() {
    assert_eq!(parse_sdk_date(b"20261206T101500Z"), Ok(SIGNED_AT));
    assert_eq!(parse_sdk_date(b"19700101T000000Z"), Ok(0));
    for bad in [
        &b"20261306T101500Z"[..],
        b"20261232T101500Z",
        b"20261206T251500Z",
        b"2026120T101500Z",
        b"20261206 101500Z",
        b"2026120aT101500Z",
        b"",
    ] {
        assert_eq!(
            parse_sdk_date(bad),
            Err(StsError::BadDate),
            "{}",
            String::from_utf8_lossy(bad)
        );
    }
}

#[test]
fn requests_two_readers_could_read_apart_are_refused() {
    for (path, query, want) in [
        ("/v3/projects", Some("name=a%20b&enabled=true"), None),
        ("/v3/users/%E4%B8%AD", None, None),
        ("/v3/projects%2Fx", None, Some("an encoded '/' in the path")),
        ("/v3/%ff", None, Some("a path that is not UTF-8 once decoded")),
        (
            "/v3/projects",
            Some("name=a+b"),
            Some("'+' in the query (a space to some readers)"),
        ),
        (
            "/v3/projects",
            Some("name=a&name=b"),
            Some("a repeated query parameter"),
        ),
        (
            "/v3/projects",
            Some("%6Eocatalog"),
            Some("an encoded query parameter name"),
        ),
        (
            "/v3/projects",
            Some("name=%ff"),
            Some("a query that is not UTF-8 once decoded"),
        ),
    ] {
        let got = check_unambiguous(path, query).err();
        assert_eq!(got, want.map(StsError::Ambiguous), "{path}?{query:?}");
    }
}
