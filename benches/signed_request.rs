//! Verifying a request signed with a temporary credential, as a replica does it without the
//! database: parse Authorization, open the security token (AES-256-GCM), rebuild the canonical
//! request, HMAC-SHA256 the string to sign, compare. The reference measured in the same run is
//! the bare HMAC-SHA256 of the same string to sign: the cryptographic floor of the check.

use criterion::{Criterion, Throughput, black_box, criterion_group, criterion_main};
use fedgate::sts::signing::{Authorization, Received, signature, string_to_sign, verify};
use fedgate::token::{KeyRing, Methods, Scope, TemporaryCredential, TokenKey, TokenPayload};

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

criterion_group!(benches, bench);
criterion_main!(benches);
