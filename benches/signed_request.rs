//! Verifying a request signed with a temporary credential, as a replica does it without the
//! database: parse Authorization, open the security token (AES-256-GCM), rebuild the canonical
//! request, HMAC-SHA256 the string to sign, compare. The reference measured in the same run is
//! the bare HMAC-SHA256 of the same string to sign: the cryptographic floor of the check.
//!
//! Then the Alibaba Cloud (`ACS3-HMAC-SHA256`) and Baidu Cloud (`bce-auth-v1`) dialects, each
//! with a permanent key whose secret is given: parse Authorization, rebuild the canonical
//! request, digest the body, HMAC, compare; beside the bare HMAC-SHA256 of the same input
//! (bce-auth-v1 needs two HMACs: the signing key, then the signature).

use criterion::{Criterion, Throughput, black_box, criterion_group, criterion_main};
use fedgate::sts::signing::{Authorization, Received, signature, string_to_sign, verify};
use fedgate::sts::{acs3, bce};
use fedgate::token::{KeyRing, Methods, Scope, TemporaryCredential, TokenKey, TokenPayload};
use sha2::{Digest, Sha256};

const NOW_SECS: i64 = 1_796_552_100;

fn credential() -> TemporaryCredential {
    TemporaryCredential {
        access: "HST3WQ7ZK9P2M4R8T6YB".into(),
        secret: "Vq1zG8uJc0pXkR3dLm5nB7tY2wE4aS6hF9iK1oPq".into(),
        token: TokenPayload {
            methods: Methods::TOKEN,
            user_id: "7116d09f88fa41908676fdd4b039e1a2".into(),
            issued_at_ms: NOW_SECS * 1000,
            authenticated_at_ms: NOW_SECS * 1000 - 60_000,
            expires_at_ms: NOW_SECS * 1000 + 900_000,
            audit_ids: vec![[1; 16], [2; 16]],
            scope: Scope::Project("aa2d97d7e62c4b7da3ffdfc11551f0c1".into()),
            federation: None,
            agency: None,
        },
        policies: Vec::new(),
    }
}

fn bench(c: &mut Criterion) {
    let ring = KeyRing::new(&[TokenKey::new(1, [1; 32])]).unwrap();
    let cred = credential();
    let security_token = ring.seal_credential(&cred, [7; 12]);
    let ua = b"huaweicloud-usdk-python/3.0 (Linux; #1 SMP; x86_64) Python/3.11.7".as_slice();
    let mut headers: Vec<(&str, &[u8])> = vec![
        ("Content-Type", b"application/json".as_slice()),
        ("Host", b"iam.example.com".as_slice()),
        ("User-Agent", ua),
        ("X-Project-Id", b"aa2d97d7e62c4b7da3ffdfc11551f0c1".as_slice()),
        ("X-Sdk-Date", b"20261206T101500Z".as_slice()),
        ("X-Security-Token", security_token.as_bytes()),
    ];
    // Sign it as the SDK would, with this module's own functions (the SDK vectors prove they
    // agree with the SDK's signer).
    let unsigned = "SDK-HMAC-SHA256 Access=HST3WQ7ZK9P2M4R8T6YB, SignedHeaders=content-type;host;user-agent;x-project-id;x-sdk-date;x-security-token, Signature=0000000000000000000000000000000000000000000000000000000000000000";
    let req = Received {
        method: "GET",
        path: "/v3/projects",
        query: Some("name=ap-southeast-1"),
        headers: &headers,
        body: b"",
        body_sha256: None,
    };
    let auth = Authorization::parse(unsigned).unwrap();
    let canonical = fedgate::sts::signing::canonical_request(&req, &auth).unwrap();
    let to_sign = string_to_sign(b"20261206T101500Z", &canonical);
    let sig = hex::encode(signature(cred.secret.as_bytes(), &to_sign));
    let authorization = unsigned.replace(&"0".repeat(64), &sig);
    headers.push(("Authorization", authorization.as_bytes()));

    let mut group = c.benchmark_group("signed request");
    group.throughput(Throughput::Elements(1));
    group.bench_function("verify (parse, open security token, canonical request, HMAC)", |b| {
        b.iter(|| {
            let req = Received {
                method: "GET",
                path: "/v3/projects",
                query: Some("name=ap-southeast-1"),
                headers: &headers,
                body: b"",
                body_sha256: None,
            };
            let auth = Authorization::parse(black_box(&authorization)).unwrap();
            let opened = ring
                .open_credential(black_box(&security_token), NOW_SECS * 1000)
                .unwrap();
            assert_eq!(opened.access, auth.access);
            black_box(verify(&req, &auth, opened.secret.as_bytes(), NOW_SECS).unwrap())
        })
    });
    group.bench_function("reference: bare HMAC-SHA256 of the string to sign", |b| {
        b.iter(|| black_box(signature(cred.secret.as_bytes(), black_box(&to_sign))))
    });
    group.finish();
}

const SECRET: &[u8] = b"Vq1zG8uJc0pXkR3dLm5nB7tY2wE4aS6hF9iK1oPq";
const UNSIGNED: &str = "0000000000000000000000000000000000000000000000000000000000000000";

fn acs3_request<'a>(headers: &'a [(&'a str, &'a [u8])]) -> Received<'a> {
    Received {
        method: "POST",
        path: "/",
        query: Some(
            "DurationSeconds=900&RoleArn=acs%3Aram%3A%3A1234567890123456%3Arole%2Ffedgate-ci&RoleSessionName=ci+job+42",
        ),
        headers,
        body: b"",
        body_sha256: None,
    }
}

/// An STS AssumeRole as alibabacloud-tea-openapi sends it: query parameters, empty body,
/// nine signed headers.
fn bench_acs3(c: &mut Criterion) {
    let ua = b"AlibabaCloud (Linux; x86_64) Python/3.11.7 Core/0.4.3 TeaDSL/2".as_slice();
    let empty = hex::encode(Sha256::digest(b""));
    let mut headers: Vec<(&str, &[u8])> = vec![
        ("host", b"sts.example.com".as_slice()),
        ("x-acs-version", b"2015-04-01".as_slice()),
        ("x-acs-action", b"AssumeRole".as_slice()),
        ("user-agent", ua),
        ("x-acs-date", b"2026-12-06T10:15:00Z".as_slice()),
        ("x-acs-signature-nonce", b"3f2a9c1e7b5d4a6f8e0c2b4d6f8a0c1e".as_slice()),
        ("accept", b"application/json".as_slice()),
        ("x-acs-content-sha256", empty.as_bytes()),
        ("x-acs-credentials-provider", b"static_ak".as_slice()),
        ("Content-Length", b"0".as_slice()),
    ];
    let unsigned = format!(
        "ACS3-HMAC-SHA256 Credential=LTAI5tQ7ZK9P2M4R8T6YB,SignedHeaders=accept;host;user-agent;x-acs-action;x-acs-content-sha256;x-acs-credentials-provider;x-acs-date;x-acs-signature-nonce;x-acs-version,Signature={UNSIGNED}"
    );
    // Signed with this module's own functions (the SDK vectors prove they agree with the SDK).
    let auth = acs3::Authorization::parse(&unsigned).unwrap();
    let canonical = acs3::canonical_request(&acs3_request(&headers), &auth).unwrap();
    let to_sign = acs3::string_to_sign(&canonical);
    let authorization = unsigned.replace(UNSIGNED, &hex::encode(signature(SECRET, &to_sign)));
    headers.push(("Authorization", authorization.as_bytes()));

    let mut group = c.benchmark_group("acs3 signed request");
    group.throughput(Throughput::Elements(1));
    group.bench_function("verify (parse, canonical request, body digest, HMAC)", |b| {
        b.iter(|| {
            let auth = acs3::Authorization::parse(black_box(&authorization)).unwrap();
            let verified = acs3::verify(&acs3_request(&headers), &auth, SECRET, NOW_SECS).unwrap();
            black_box(verified.nonce.len())
        })
    });
    group.bench_function("reference: bare HMAC-SHA256 of the string to sign", |b| {
        b.iter(|| black_box(signature(SECRET, black_box(&to_sign))))
    });
    group.finish();
}

const BCE_BODY: &[u8] = br#"{"name": "alice", "description": "ci user"}"#;

fn bce_request<'a>(headers: &'a [(&'a str, &'a [u8])]) -> Received<'a> {
    Received {
        method: "POST",
        path: "/v1/user",
        query: None,
        headers,
        body: BCE_BODY,
        body_sha256: None,
    }
}

/// An IAM CreateUser as bce-python-sdk sends it: JSON body, the default header set.
fn bench_bce(c: &mut Criterion) {
    let ua = b"bce-sdk-python/0.9.79/3.11.7 (main, May  9 2026, 07:35:25) [GCC 12.2.0]/linux".as_slice();
    let length = BCE_BODY.len().to_string();
    let mut headers: Vec<(&str, &[u8])> = vec![
        ("Content-Type", b"application/json; charset=utf-8".as_slice()),
        ("User-Agent", ua),
        ("Host", b"iam.example.com".as_slice()),
        ("Content-Length", length.as_bytes()),
        ("x-bce-date", b"2026-12-06T10:15:00Z".as_slice()),
    ];
    let unsigned = format!("bce-auth-v1/a1b2c3d4e5f60718293a4b5c6d7e8f90/2026-12-06T10:15:00Z/1800//{UNSIGNED}");
    let auth = bce::Authorization::parse(&unsigned).unwrap();
    let canonical = bce::canonical_request(&bce_request(&headers), &auth).unwrap();
    let key = hex::encode(signature(SECRET, auth.key_text.as_bytes()));
    let authorization = unsigned.replace(UNSIGNED, &hex::encode(signature(key.as_bytes(), &canonical)));
    headers.push(("Authorization", authorization.as_bytes()));

    let mut group = c.benchmark_group("bce signed request");
    group.throughput(Throughput::Elements(1));
    group.bench_function("verify (parse, canonical request, two HMACs)", |b| {
        b.iter(|| {
            let auth = bce::Authorization::parse(black_box(&authorization)).unwrap();
            black_box(bce::verify(&bce_request(&headers), &auth, SECRET, NOW_SECS).unwrap())
        })
    });
    group.bench_function("reference: bare HMAC-SHA256 of the canonical request", |b| {
        b.iter(|| black_box(signature(key.as_bytes(), black_box(&canonical))))
    });
    group.finish();
}

criterion_group!(benches, bench, bench_acs3, bench_bce);
criterion_main!(benches);
