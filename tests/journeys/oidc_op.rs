//! A test OpenID provider: RSA and EC signing keys, JWKS, id_tokens signed exactly as asked
//! (including wrongly, for the hostile table), and a discovery endpoint on a loopback port
//! whose key set can be rotated while fedgate runs.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};

use axum::Json;
use axum::extract::State;
use axum::routing::get;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use openssl::bn::BigNumContext;
use openssl::ec::{EcGroup, EcKey, PointConversionForm};
use openssl::ecdsa::EcdsaSig;
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::rsa::{Padding, Rsa};
use openssl::sign::{RsaPssSaltlen, Signer};
use serde_json::{Value, json};

pub fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

#[derive(Clone)]
pub struct SigningKey {
    pub kid: String,
    pub key: PKey<Private>,
}

impl SigningKey {
    pub fn rsa(kid: &str) -> SigningKey {
        let key = PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap();
        SigningKey { kid: kid.into(), key }
    }

    pub fn ec(kid: &str) -> SigningKey {
        let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
        let key = PKey::from_ec_key(EcKey::generate(&group).unwrap()).unwrap();
        SigningKey { kid: kid.into(), key }
    }

    /// The public half as a JWK.
    pub fn jwk(&self) -> Value {
        if let Ok(rsa) = self.key.rsa() {
            return json!({"kty": "RSA", "kid": self.kid, "use": "sig",
                "n": b64(&rsa.n().to_vec()), "e": b64(&rsa.e().to_vec())});
        }
        let ec = self.key.ec_key().unwrap();
        let mut ctx = BigNumContext::new().unwrap();
        let point = ec
            .public_key()
            .to_bytes(ec.group(), PointConversionForm::UNCOMPRESSED, &mut ctx)
            .unwrap();
        json!({"kty": "EC", "crv": "P-256", "kid": self.kid, "use": "sig",
            "x": b64(&point[1..33]), "y": b64(&point[33..65])})
    }

    /// Signs `input` the way `alg` says, with this key.
    pub fn sign(&self, alg: &str, input: &[u8]) -> Vec<u8> {
        match alg {
            "RS256" | "PS256" => {
                let mut s = Signer::new(MessageDigest::sha256(), &self.key).unwrap();
                if alg == "PS256" {
                    s.set_rsa_padding(Padding::PKCS1_PSS).unwrap();
                    s.set_rsa_pss_saltlen(RsaPssSaltlen::DIGEST_LENGTH).unwrap();
                }
                s.sign_oneshot_to_vec(input).unwrap()
            }
            "RS1" => {
                let mut s = Signer::new(MessageDigest::sha1(), &self.key).unwrap();
                s.sign_oneshot_to_vec(input).unwrap()
            }
            "ES256" => {
                let mut s = Signer::new(MessageDigest::sha256(), &self.key).unwrap();
                let der = s.sign_oneshot_to_vec(input).unwrap();
                let sig = EcdsaSig::from_der(&der).unwrap();
                let mut out = sig.r().to_vec_padded(32).unwrap();
                out.extend(sig.s().to_vec_padded(32).unwrap());
                out
            }
            other => panic!("test OP cannot sign {other}"),
        }
    }
}

/// HMAC-SHA256 with `secret`: the classic confusion attack uses the RSA public key as secret.
pub fn hmac_sha256(secret: &[u8], input: &[u8]) -> Vec<u8> {
    let key = PKey::hmac(secret).unwrap();
    let mut s = Signer::new(MessageDigest::sha256(), &key).unwrap();
    s.sign_oneshot_to_vec(input).unwrap()
}

/// Compact JWS from a header and claims, signed by `key` with `alg` (or unsigned for `none`).
pub fn jwt(header: &Value, claims: &Value, key: &SigningKey, alg: &str) -> String {
    let input = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    );
    let signature = match alg {
        "none" => Vec::new(),
        _ => key.sign(alg, input.as_bytes()),
    };
    format!("{input}.{}", b64(&signature))
}

/// The provider's discovery document and JWKS served on a loopback port.
pub struct DiscoveryServer {
    pub issuer: String,
    pub jwks: Arc<RwLock<Value>>,
    pub fetches: Arc<AtomicUsize>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

#[derive(Clone)]
struct OpState {
    issuer: String,
    jwks: Arc<RwLock<Value>>,
    fetches: Arc<AtomicUsize>,
}

impl DiscoveryServer {
    pub async fn start(keys: &[&SigningKey]) -> DiscoveryServer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let issuer = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
        let state = OpState {
            issuer: issuer.clone(),
            jwks: Arc::new(RwLock::new(
                json!({"keys": keys.iter().map(|k| k.jwk()).collect::<Vec<_>>()}),
            )),
            fetches: Arc::new(AtomicUsize::new(0)),
        };
        let app = axum::Router::new()
            .route(
                "/.well-known/openid-configuration",
                get(|State(s): State<OpState>| async move {
                    Json(json!({"issuer": s.issuer, "jwks_uri": format!("{}/jwks", s.issuer),
                        "id_token_signing_alg_values_supported": ["RS256", "ES256"]}))
                }),
            )
            .route(
                "/jwks",
                get(|State(s): State<OpState>| async move {
                    s.fetches.fetch_add(1, Ordering::SeqCst);
                    let body = s.jwks.read().unwrap().clone();
                    Json(body)
                }),
            )
            .with_state(state.clone());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = rx.await;
                })
                .await;
        });
        DiscoveryServer {
            issuer,
            jwks: state.jwks,
            fetches: state.fetches,
            shutdown: Some(tx),
        }
    }

    pub fn publish(&self, keys: &[&SigningKey]) {
        *self.jwks.write().unwrap() = json!({"keys": keys.iter().map(|k| k.jwk()).collect::<Vec<_>>()});
    }

    pub fn fetch_count(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }

    pub fn stop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// A provider's discovery document and JWKS over HTTPS on a loopback port, with a fresh
/// self-signed certificate: what a pinned provider looks like. OpenSSL serves it on a thread
/// (axum's server speaks no TLS without another crate), one connection at a time, each closed
/// after its answer.
pub struct TlsDiscoveryServer {
    pub issuer: String,
    /// SHA-1 of the certificate's DER, lower-case hex (as fedgate stores fingerprints).
    pub fingerprint: String,
    /// The same, as `openssl x509 -fingerprint -sha1` prints it (`AB:CD:...`).
    pub openssl_fingerprint: String,
    /// The SHA-1 of the CA certificate the server presents after its own, when it does.
    pub ca_fingerprint: Option<String>,
    addr: std::net::SocketAddr,
    stop: Arc<std::sync::atomic::AtomicBool>,
}

/// A CA, and a certificate for `ip` it issued with its key: what a server presents with its
/// chain.
fn issued_by_ca(ip: &str) -> (openssl::x509::X509, openssl::x509::X509, PKey<Private>) {
    use openssl::asn1::Asn1Time;
    use openssl::x509::extension::{BasicConstraints, SubjectAlternativeName};
    use openssl::x509::{X509, X509NameBuilder};
    let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
    let new_key = || PKey::from_ec_key(EcKey::generate(&group).unwrap()).unwrap();
    let name = |cn: &str| {
        let mut name = X509NameBuilder::new().unwrap();
        name.append_entry_by_text("CN", cn).unwrap();
        name.build()
    };
    let serial = || {
        let mut serial = openssl::bn::BigNum::new().unwrap();
        serial.rand(64, openssl::bn::MsbOption::MAYBE_ZERO, false).unwrap();
        serial.to_asn1_integer().unwrap()
    };
    let (ca_key, leaf_key) = (new_key(), new_key());
    let mut ca = X509::builder().unwrap();
    ca.set_version(2).unwrap();
    ca.set_serial_number(&serial()).unwrap();
    ca.set_subject_name(&name("test-only CA")).unwrap();
    ca.set_issuer_name(&name("test-only CA")).unwrap();
    ca.set_pubkey(&ca_key).unwrap();
    ca.set_not_before(&Asn1Time::days_from_now(0).unwrap()).unwrap();
    ca.set_not_after(&Asn1Time::days_from_now(1).unwrap()).unwrap();
    ca.append_extension(BasicConstraints::new().critical().ca().build().unwrap())
        .unwrap();
    ca.sign(&ca_key, MessageDigest::sha256()).unwrap();
    let ca = ca.build();
    let mut leaf = X509::builder().unwrap();
    leaf.set_version(2).unwrap();
    leaf.set_serial_number(&serial()).unwrap();
    leaf.set_subject_name(&name(ip)).unwrap();
    leaf.set_issuer_name(ca.subject_name()).unwrap();
    leaf.set_pubkey(&leaf_key).unwrap();
    leaf.set_not_before(&Asn1Time::days_from_now(0).unwrap()).unwrap();
    leaf.set_not_after(&Asn1Time::days_from_now(1).unwrap()).unwrap();
    let san = SubjectAlternativeName::new()
        .ip(ip)
        .build(&leaf.x509v3_context(Some(&ca), None))
        .unwrap();
    leaf.append_extension(san).unwrap();
    leaf.sign(&ca_key, MessageDigest::sha256()).unwrap();
    (ca, leaf.build(), leaf_key)
}

/// A self-signed certificate for 127.0.0.1 and its key.
fn self_signed() -> (openssl::x509::X509, PKey<Private>) {
    use openssl::asn1::Asn1Time;
    use openssl::x509::extension::SubjectAlternativeName;
    use openssl::x509::{X509, X509NameBuilder};
    let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
    let key = PKey::from_ec_key(EcKey::generate(&group).unwrap()).unwrap();
    let mut name = X509NameBuilder::new().unwrap();
    name.append_entry_by_text("CN", "127.0.0.1").unwrap();
    let name = name.build();
    let mut cert = X509::builder().unwrap();
    cert.set_version(2).unwrap();
    let mut serial = openssl::bn::BigNum::new().unwrap();
    serial.rand(64, openssl::bn::MsbOption::MAYBE_ZERO, false).unwrap();
    cert.set_serial_number(&serial.to_asn1_integer().unwrap()).unwrap();
    cert.set_subject_name(&name).unwrap();
    cert.set_issuer_name(&name).unwrap();
    cert.set_pubkey(&key).unwrap();
    cert.set_not_before(&Asn1Time::days_from_now(0).unwrap()).unwrap();
    cert.set_not_after(&Asn1Time::days_from_now(1).unwrap()).unwrap();
    let san = SubjectAlternativeName::new()
        .ip("127.0.0.1")
        .build(&cert.x509v3_context(None, None))
        .unwrap();
    cert.append_extension(san).unwrap();
    cert.sign(&key, MessageDigest::sha256()).unwrap();
    (cert.build(), key)
}

impl TlsDiscoveryServer {
    /// Serves `keys` at `/jwks`; the discovery document names `jwks_uri`, or that `/jwks`.
    pub fn start(keys: &[&SigningKey], jwks_uri: Option<&str>) -> TlsDiscoveryServer {
        let (cert, key) = self_signed();
        Self::serve(keys, jwks_uri, cert, key, None)
    }

    /// As `start`, with a certificate for `ip` that a CA issued, presented with the CA's
    /// (`extra_ca`: another CA presented in its place, which issued nothing here).
    pub fn start_chained(keys: &[&SigningKey], ip: &str, extra_ca: bool) -> TlsDiscoveryServer {
        let (ca, cert, key) = issued_by_ca(ip);
        let presented = if extra_ca { issued_by_ca(ip).0 } else { ca };
        Self::serve(keys, None, cert, key, Some(presented))
    }

    fn serve(
        keys: &[&SigningKey],
        jwks_uri: Option<&str>,
        cert: openssl::x509::X509,
        key: PKey<Private>,
        ca: Option<openssl::x509::X509>,
    ) -> TlsDiscoveryServer {
        use openssl::ssl::{SslAcceptor, SslMethod};
        use std::io::{Read, Write};
        let digest = cert.digest(MessageDigest::sha1()).unwrap();
        let fingerprint = hex::encode(&*digest);
        let openssl_fingerprint = digest.iter().map(|b| format!("{b:02X}")).collect::<Vec<_>>().join(":");
        let ca_fingerprint = ca
            .as_ref()
            .map(|c| hex::encode(&*c.digest(MessageDigest::sha1()).unwrap()));
        let mut acceptor = SslAcceptor::mozilla_intermediate_v5(SslMethod::tls()).unwrap();
        acceptor.set_private_key(&key).unwrap();
        acceptor.set_certificate(&cert).unwrap();
        if let Some(ca) = ca {
            acceptor.add_extra_chain_cert(ca).unwrap();
        }
        let acceptor = acceptor.build();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let issuer = format!("https://127.0.0.1:{}", addr.port());
        let discovery = json!({"issuer": issuer,
            "jwks_uri": jwks_uri.map_or_else(|| format!("{issuer}/jwks"), str::to_string)})
        .to_string();
        let jwks = json!({"keys": keys.iter().map(|k| k.jwk()).collect::<Vec<_>>()}).to_string();
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let stopped = stop.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stopped.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(stream) = stream else { continue };
                let _ = stream.set_read_timeout(Some(std::time::Duration::from_secs(5)));
                // A client that refuses the certificate ends the handshake; the next may not.
                let Ok(mut tls) = acceptor.accept(stream) else { continue };
                let mut request = Vec::new();
                let mut buf = [0u8; 1024];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match tls.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => request.extend_from_slice(&buf[..n]),
                    }
                }
                let line = String::from_utf8_lossy(&request);
                let path = line.split(' ').nth(1).unwrap_or_default();
                let (status, body) = match path {
                    "/.well-known/openid-configuration" => ("200 OK", discovery.as_str()),
                    "/jwks" => ("200 OK", jwks.as_str()),
                    _ => ("404 Not Found", "{}"),
                };
                let answer = format!(
                    "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = tls.write_all(answer.as_bytes());
                let _ = tls.shutdown();
            }
        });
        TlsDiscoveryServer {
            issuer,
            fingerprint,
            openssl_fingerprint,
            ca_fingerprint,
            addr,
            stop,
        }
    }
}

impl Drop for TlsDiscoveryServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wakes the thread out of accept so it sees the flag.
        let _ = std::net::TcpStream::connect(self.addr);
    }
}
