//! Bare id_token verification (RS256, the checks production makes: signature, iss, aud, azp,
//! exp, nbf, iat, age, lifetime, jti present; turning claims into mapping attributes is the
//! mapping's input step and not part of it). Writes the token, its JWKS and the public
//! key to target/bench-jwt/ so `scripts/bench-oidc` can have PyJWT verify the same token with
//! the same checks in the same run.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use criterion::{Criterion, Throughput, black_box, criterion_group, criterion_main};
use fedgate::oidc::{Expectations, key_set, verify_id_token};
use openssl::hash::MessageDigest;
use openssl::pkey::PKey;
use openssl::rsa::Rsa;
use openssl::sign::Signer;
use serde_json::json;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const ISSUER: &str = "https://token.actions.githubusercontent.com";
const AUDIENCE: &str = "https://github.com/acme";

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn bench(c: &mut Criterion) {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64;
    let rsa = Rsa::generate(2048).unwrap();
    let key = PKey::from_rsa(rsa.clone()).unwrap();
    let jwks = json!({"keys": [{"kty": "RSA", "kid": "k1", "use": "sig", "alg": "RS256",
        "n": b64(&rsa.n().to_vec()), "e": b64(&rsa.e().to_vec())}]});
    // A GitHub Actions-sized token (about 1 KB).
    let claims = json!({
        "iss": ISSUER, "aud": AUDIENCE, "sub": "repo:acme/app:ref:refs/heads/main",
        "repository": "acme/app", "repository_owner": "acme", "repository_id": "74", "ref": "refs/heads/main",
        "ref_type": "branch", "ref_protected": "true", "sha": "e1b1f5c1a6f6c7d8e9f0a1b2c3d4e5f6a7b8c9d0",
        "workflow": "deploy", "job_workflow_ref": "acme/app/.github/workflows/deploy.yml@refs/heads/main",
        "event_name": "push", "run_id": "6123456789", "run_number": "42", "run_attempt": "1",
        "actor": "octocat", "actor_id": "583231", "runner_environment": "github-hosted",
        "jti": "5f3c9f4e-7a43-4c0b-9f54-6f3e2b8f2d11", "iat": now - 5, "nbf": now - 5, "exp": now + 3000,
    });
    let input = format!(
        "{}.{}",
        b64(json!({"alg": "RS256", "kid": "k1", "typ": "JWT"})
            .to_string()
            .as_bytes()),
        b64(claims.to_string().as_bytes())
    );
    let mut signer = Signer::new(MessageDigest::sha256(), &key).unwrap();
    let token = format!(
        "{input}.{}",
        b64(&signer.sign_oneshot_to_vec(input.as_bytes()).unwrap())
    );

    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/target/bench-jwt");
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(format!("{dir}/token"), &token).unwrap();
    std::fs::write(format!("{dir}/jwks.json"), jwks.to_string()).unwrap();
    std::fs::write(format!("{dir}/public.pem"), key.public_key_to_pem().unwrap()).unwrap();
    std::fs::write(format!("{dir}/private.pem"), key.private_key_to_pem_pkcs8().unwrap()).unwrap();

    let keys = key_set(&jwks.to_string()).unwrap();
    let expect = Expectations {
        issuer: ISSUER.into(),
        client_id: AUDIENCE.into(),
        other_client_ids: Vec::new(),
        skew_secs: 60,
        max_age_secs: 3600,
        max_lifetime_secs: 86_400,
    };
    verify_id_token(&token, &keys, &expect, now, None).expect("the bench token verifies");
    let mut group = c.benchmark_group("jwt");
    group.throughput(Throughput::Elements(1));
    group.bench_function("verify RS256 id_token", |b| {
        b.iter(|| verify_id_token(black_box(&token), &keys, &expect, now, None).unwrap())
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
