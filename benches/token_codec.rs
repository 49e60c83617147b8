//! Token validation cost: decrypt + authenticate + decode + expiry + revocation check, against
//! a realistic revocation list. The reference measured in the same run is the bare AES-256-GCM
//! open of the same bytes (the cryptographic floor), so the ratio shows what fedgate adds.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use criterion::{Criterion, Throughput, black_box, criterion_group, criterion_main};
use fedgate::token::{KeyRing, Methods, RevocationEvent, RevocationList, Scope, TokenKey, TokenPayload};

const NOW: i64 = 1_800_000_000_000;

fn payload() -> TokenPayload {
    TokenPayload {
        methods: Methods::PASSWORD,
        user_id: "7116d09f88fa41908676fdd4b039e1a2".into(),
        issued_at_ms: NOW,
        authenticated_at_ms: NOW,
        expires_at_ms: NOW + 86_400_000,
        audit_ids: vec![[7; 16]],
        scope: Scope::Project("aa2d97d7e62c4b7da3ffdfc11551f0c1".into()),
        federation: None,
        agency: None,
    }
}

fn revocations() -> RevocationList {
    let mut list = RevocationList::default();
    for i in 0..10_000u32 {
        let mut id = [0u8; 16];
        id[..4].copy_from_slice(&i.to_be_bytes());
        list.insert(RevocationEvent::AuditId(id), NOW + 86_400_000);
    }
    for i in 0..1_000 {
        list.insert(
            RevocationEvent::User {
                user_id: format!("{i:032x}"),
                authenticated_before_ms: NOW,
            },
            NOW + 86_400_000,
        );
    }
    list
}

fn bench(c: &mut Criterion) {
    let ring = KeyRing::new(&[TokenKey::new(1, [1; 32]), TokenKey::new(2, [2; 32])]).unwrap();
    let token = ring.seal(&payload(), [9; 12]);
    let list = revocations();
    let mut group = c.benchmark_group("token");
    group.throughput(Throughput::Elements(1));
    group.bench_function("validate (open + revocation check)", |b| {
        b.iter(|| {
            let p = ring.open(black_box(&token), NOW).unwrap();
            black_box(list.is_revoked(&p))
        })
    });
    // Reference: base64 decode + AES-256-GCM decrypt of the same token, nothing else.
    let cipher = Aes256Gcm::new(&[2u8; 32].into());
    group.bench_function("reference: bare AES-256-GCM open", |b| {
        b.iter(|| {
            let wire = URL_SAFE_NO_PAD.decode(black_box(&token)).unwrap();
            let (header, rest) = wire.split_at(5);
            let (nonce, sealed) = rest.split_at(12);
            black_box(
                cipher
                    .decrypt(
                        Nonce::from_slice(nonce),
                        Payload {
                            msg: sealed,
                            aad: header,
                        },
                    )
                    .unwrap(),
            )
        })
    });
    group.bench_function("seal", |b| {
        b.iter(|| black_box(ring.seal(black_box(&payload()), [3; 12])))
    });
    // As the service holds the list: behind a read-write lock, read on every validation.
    let shared = std::sync::RwLock::new(revocations());
    group.bench_function("validate, list behind the service's lock", |b| {
        b.iter(|| {
            let p = ring.open(black_box(&token), NOW).unwrap();
            black_box(shared.read().unwrap().is_revoked(&p))
        })
    });
    group.finish();

    // A revoke adds one entry in place; the reference is what a revoke used to cost, a copy
    // of the whole list (11,000 events here) plus the insert.
    let mut revokes = c.benchmark_group("revoke");
    revokes.throughput(Throughput::Elements(1));
    let mut n = 0u32;
    let mut list = revocations();
    revokes.bench_function("insert one event", |b| {
        b.iter(|| {
            // 100,000 distinct ids, then the same again: the list stays the size it would be.
            n = (n + 1) % 100_000;
            let mut id = [7u8; 16];
            id[12..].copy_from_slice(&n.to_be_bytes());
            list.insert(RevocationEvent::AuditId(id), NOW + 1_000);
        })
    });
    let base = revocations();
    revokes.bench_function("reference: copy the list, then insert", |b| {
        b.iter(|| {
            let mut copy = base.clone();
            copy.insert(RevocationEvent::AuditId([8; 16]), NOW + 1_000);
            black_box(copy)
        })
    });
    revokes.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
