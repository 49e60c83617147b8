//! JSON Web Keys backed by OpenSSL: the public key is built once when the key set is loaded,
//! so verifying a signature costs one OpenSSL call. Only the allow-listed algorithms verify;
//! everything else (HMAC, `none`, unknown) fails closed.

use openssl::bn::BigNum;
use openssl::ecdsa::EcdsaSig;
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Public};
use openssl::rsa::Padding;
use openssl::sign::{RsaPssSaltlen, Verifier};
use serde::{Deserialize, Deserializer, Serialize};
use sha2::Digest;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// The members fedgate reads; others are ignored on input and not written back.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RawJwk {
    pub kty: String,
    #[serde(rename = "use", default, skip_serializing_if = "Option::is_none")]
    pub use_: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alg: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub e: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crv: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub x: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub y: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Curve {
    P256,
    P384,
}

#[derive(Debug, Clone)]
enum PublicKey {
    /// Both forms: PKCS#1 v1.5 goes through the RSA primitive directly (OpenSSL 3's EVP
    /// set-up costs half as much as the modular exponentiation: with EVP a whole RS256 id_token
    /// verification in benches/jwt_verify.rs took 24.7 µs instead of 20.3 µs); Wycheproof's
    /// vectors hold it to the exact encoding. PSS uses EVP.
    Rsa(openssl::rsa::Rsa<Public>, PKey<Public>),
    Ec(PKey<Public>, Curve),
    Ed25519(PKey<Public>),
}

/// A verification key. Deserializing fails for key types, curves and sizes outside the
/// allow-list, and `KeySet` skips such entries. Shared, so a key set is cheap to copy.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(try_from = "RawJwk", into = "RawJwk")]
pub struct Jwk(std::sync::Arc<JwkInner>);

#[derive(Debug)]
struct JwkInner {
    raw: RawJwk,
    kty: KeyType,
    use_: Option<KeyUse>,
    alg: JwkAlg,
    key: PublicKey,
}

/// `kty` values that load (RFC 7518 §6.1, RFC 8037 §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KeyType {
    Rsa,
    Ec,
    Okp,
}

/// `use` values that load (RFC 7517 §4.2); any other fails the key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KeyUse {
    Signature,
    Encryption,
}

/// A key's own `alg`, when it declares one: one of ours, or something else (which never fits).
#[derive(Debug, Clone, Copy)]
enum JwkAlg {
    Unspecified,
    Signing(Alg),
    Other,
}

/// A signature algorithm on the allow-list (`SIGNING_ALGS`, RFC 7518 §3.1, RFC 8037 §3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Alg {
    Rs256,
    Rs384,
    Rs512,
    Ps256,
    Ps384,
    Ps512,
    Es256,
    Es384,
    EdDsa,
}

impl Alg {
    /// The key type the algorithm signs with.
    fn key_type(self) -> KeyType {
        match self {
            Alg::Rs256 | Alg::Rs384 | Alg::Rs512 | Alg::Ps256 | Alg::Ps384 | Alg::Ps512 => KeyType::Rsa,
            Alg::Es256 | Alg::Es384 => KeyType::Ec,
            Alg::EdDsa => KeyType::Okp,
        }
    }
}

impl From<Jwk> for RawJwk {
    fn from(k: Jwk) -> RawJwk {
        k.0.raw.clone()
    }
}

fn b64(field: &str, value: &Option<String>) -> Result<Vec<u8>, String> {
    let text = value.as_deref().ok_or_else(|| format!("{field} missing"))?;
    URL_SAFE_NO_PAD
        .decode(text.trim_end_matches('='))
        .map_err(|_| format!("{field} is not base64url"))
}

/// The signature algorithms fedgate accepts, in JWS names: what a configured key may declare
/// and what a token may be signed with.
pub const SIGNING_ALGS: [&str; 9] = [
    "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA",
];

pub(crate) fn signing_alg(name: &str) -> Option<Alg> {
    Some(match name {
        "RS256" => Alg::Rs256,
        "RS384" => Alg::Rs384,
        "RS512" => Alg::Rs512,
        "PS256" => Alg::Ps256,
        "PS384" => Alg::Ps384,
        "PS512" => Alg::Ps512,
        "ES256" => Alg::Es256,
        "ES384" => Alg::Es384,
        "EdDSA" => Alg::EdDsa,
        _ => return None,
    })
}

fn openssl_key(raw: &RawJwk) -> Result<(KeyType, PublicKey), String> {
    let ossl = |e: openssl::error::ErrorStack| e.to_string();
    match raw.kty.as_str() {
        "RSA" => {
            let n = b64("n", &raw.n)?;
            let e = b64("e", &raw.e)?;
            if !(256..=1024).contains(&n.len()) || e.is_empty() || e.len() > 8 {
                return Err("RSA key outside 2048-8192 bits".into());
            }
            let rsa = openssl::rsa::Rsa::from_public_components(
                BigNum::from_slice(&n).map_err(ossl)?,
                BigNum::from_slice(&e).map_err(ossl)?,
            )
            .map_err(ossl)?;
            if rsa.size() < 256 {
                return Err("RSA modulus under 2048 bits".into());
            }
            let pkey = PKey::from_rsa(rsa.clone()).map_err(ossl)?;
            Ok((KeyType::Rsa, PublicKey::Rsa(rsa, pkey)))
        }
        "EC" => {
            let (nid, size, curve) = match raw.crv.as_deref() {
                Some("P-256") => (openssl::nid::Nid::X9_62_PRIME256V1, 32, Curve::P256),
                Some("P-384") => (openssl::nid::Nid::SECP384R1, 48, Curve::P384),
                _ => return Err("EC curve not allowed".into()),
            };
            let (x, y) = (b64("x", &raw.x)?, b64("y", &raw.y)?);
            if x.len() != size || y.len() != size {
                return Err("EC coordinates have the wrong length".into());
            }
            let group = openssl::ec::EcGroup::from_curve_name(nid).map_err(ossl)?;
            // Fails for points not on the curve.
            let (x, y) = (
                BigNum::from_slice(&x).map_err(ossl)?,
                BigNum::from_slice(&y).map_err(ossl)?,
            );
            let ec = openssl::ec::EcKey::from_public_key_affine_coordinates(&group, &x, &y).map_err(ossl)?;
            ec.check_key().map_err(ossl)?;
            Ok((KeyType::Ec, PublicKey::Ec(PKey::from_ec_key(ec).map_err(ossl)?, curve)))
        }
        "OKP" => {
            if raw.crv.as_deref() != Some("Ed25519") {
                return Err("OKP curve not allowed".into());
            }
            let x = b64("x", &raw.x)?;
            let key = PKey::public_key_from_raw_bytes(&x, openssl::pkey::Id::ED25519).map_err(ossl)?;
            Ok((KeyType::Okp, PublicKey::Ed25519(key)))
        }
        other => Err(format!("key type {other:?} not allowed")),
    }
}

impl TryFrom<RawJwk> for Jwk {
    type Error = String;

    fn try_from(raw: RawJwk) -> Result<Jwk, String> {
        let (kty, key) = openssl_key(&raw)?;
        let use_ = match raw.use_.as_deref() {
            None => None,
            Some("sig") => Some(KeyUse::Signature),
            Some("enc") => Some(KeyUse::Encryption),
            Some(_) => return Err("unknown key use".into()),
        };
        let alg = match raw.alg.as_deref() {
            None => JwkAlg::Unspecified,
            Some(name) => signing_alg(name).map(JwkAlg::Signing).unwrap_or(JwkAlg::Other),
        };
        Ok(Jwk(std::sync::Arc::new(JwkInner {
            raw,
            kty,
            use_,
            alg,
            key,
        })))
    }
}

impl Jwk {
    pub fn kid(&self) -> Option<&str> {
        self.0.raw.kid.as_deref()
    }

    /// Whether the key may check an `alg` signature: its `use`, when given, allows signatures,
    /// its type is the algorithm's, and its own `alg`, when given, is this one (a declared
    /// algorithm outside the allow-list never fits).
    pub(crate) fn fits(&self, alg: Alg) -> bool {
        self.0.use_ != Some(KeyUse::Encryption)
            && alg.key_type() == self.0.kty
            && match self.0.alg {
                JwkAlg::Unspecified => true,
                JwkAlg::Signing(own) => own == alg,
                JwkAlg::Other => false,
            }
    }
}

/// A provider's trusted keys. Entries that do not load (outside the allow-list, malformed)
/// are skipped, so a provider's other keys still verify.
#[derive(Debug, Clone, Deserialize)]
pub struct KeySet {
    #[serde(deserialize_with = "loadable_keys")]
    keys: Vec<Jwk>,
}

impl KeySet {
    pub fn new(keys: Vec<Jwk>) -> KeySet {
        KeySet { keys }
    }

    pub fn keys(&self) -> &[Jwk] {
        &self.keys
    }
}

/// The `keys` array with the entries that fail to load left out; each entry is buffered, so
/// a failed one leaves the rest readable.
fn loadable_keys<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<Jwk>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Entry {
        Loaded(Jwk),
        Skipped(serde::de::IgnoredAny),
    }
    let entries = Vec::<Entry>::deserialize(deserializer)?;
    Ok(entries
        .into_iter()
        .filter_map(|e| match e {
            Entry::Loaded(key) => Some(key),
            Entry::Skipped(_) => None,
        })
        .collect())
}

fn digest(alg: Alg) -> Option<MessageDigest> {
    Some(match alg {
        Alg::Rs256 | Alg::Ps256 | Alg::Es256 => MessageDigest::sha256(),
        Alg::Rs384 | Alg::Ps384 | Alg::Es384 => MessageDigest::sha384(),
        Alg::Rs512 | Alg::Ps512 => MessageDigest::sha512(),
        Alg::EdDsa => return None,
    })
}

fn verify_with(key: &PKey<Public>, md: MessageDigest, pss: bool, message: &[u8], signature: &[u8]) -> bool {
    let run = || -> Result<bool, openssl::error::ErrorStack> {
        let mut v = Verifier::new(md, key)?;
        if pss {
            v.set_rsa_padding(Padding::PKCS1_PSS)?;
            v.set_rsa_pss_saltlen(RsaPssSaltlen::DIGEST_LENGTH)?;
            v.set_rsa_mgf1_md(md)?;
        }
        v.update(message)?;
        v.verify(signature)
    };
    run().unwrap_or(false)
}

/// DER DigestInfo prefixes (RFC 8017 §9.2 note 1) for SHA-256, SHA-384 and SHA-512.
const SHA256_INFO: [u8; 19] = [
    0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20,
];
const SHA384_INFO: [u8; 19] = [
    0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02, 0x05, 0x00, 0x04, 0x30,
];
const SHA512_INFO: [u8; 19] = [
    0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03, 0x05, 0x00, 0x04, 0x40,
];

/// Writes DigestInfo || digest into `out`; returns its length.
fn digest_info(out: &mut [u8; 19 + 64], info: &[u8; 19], digest: &[u8]) -> usize {
    out[..19].copy_from_slice(info);
    out[19..19 + digest.len()].copy_from_slice(digest);
    19 + digest.len()
}

/// RSASSA-PKCS1-v1_5 verification: OpenSSL removes the type-1 padding (00 01 FF.. 00), and
/// the rest must be exactly DigestInfo || H(message); an exact comparison leaves no room for
/// the lenient-parsing forgeries.
fn rsa_pkcs1_verify(rsa: &openssl::rsa::Rsa<Public>, alg: Alg, message: &[u8], signature: &[u8]) -> bool {
    let mut expected = [0u8; 19 + 64];
    let len = match alg {
        Alg::Rs256 => digest_info(&mut expected, &SHA256_INFO, &sha2::Sha256::digest(message)),
        Alg::Rs384 => digest_info(&mut expected, &SHA384_INFO, &sha2::Sha384::digest(message)),
        Alg::Rs512 => digest_info(&mut expected, &SHA512_INFO, &sha2::Sha512::digest(message)),
        _ => return false,
    };
    let size = rsa.size() as usize;
    // Keys are 2048-8192 bits (checked when the key set is loaded).
    let mut recovered = [0u8; 1024];
    if signature.len() != size || size > recovered.len() {
        return false;
    }
    match rsa.public_decrypt(signature, &mut recovered, Padding::PKCS1) {
        Ok(n) => n == len && openssl::memcmp::eq(&recovered[..n], &expected[..len]),
        Err(_) => false,
    }
}

/// JWS ECDSA signatures are r || s; OpenSSL wants DER.
fn ecdsa_der(signature: &[u8], size: usize) -> Option<Vec<u8>> {
    if signature.len() != 2 * size {
        return None;
    }
    let r = BigNum::from_slice(&signature[..size]).ok()?;
    let s = BigNum::from_slice(&signature[size..]).ok()?;
    EcdsaSig::from_private_components(r, s).ok()?.to_der().ok()
}

impl Jwk {
    /// Checks `signature` over `message` with this key under `alg`; an algorithm the key
    /// cannot do is an error like a wrong signature.
    pub(crate) fn verify_signature(&self, alg: &Alg, message: &[u8], signature: &[u8]) -> Result<(), &'static str> {
        let ok = match (&self.0.key, *alg) {
            (PublicKey::Rsa(rsa, _), Alg::Rs256 | Alg::Rs384 | Alg::Rs512) => {
                rsa_pkcs1_verify(rsa, *alg, message, signature)
            }
            (PublicKey::Rsa(_, k), Alg::Ps256 | Alg::Ps384 | Alg::Ps512) => {
                digest(*alg).is_some_and(|md| verify_with(k, md, true, message, signature))
            }
            (PublicKey::Ec(k, Curve::P256), Alg::Es256) => ecdsa_der(signature, 32)
                .is_some_and(|der| verify_with(k, MessageDigest::sha256(), false, message, &der)),
            (PublicKey::Ec(k, Curve::P384), Alg::Es384) => ecdsa_der(signature, 48)
                .is_some_and(|der| verify_with(k, MessageDigest::sha384(), false, message, &der)),
            (PublicKey::Ed25519(k), Alg::EdDsa) => Verifier::new_without_digest(k)
                .and_then(|mut v| v.verify_oneshot(signature, message))
                .unwrap_or(false),
            _ => return Err("algorithm does not fit the key"),
        };
        if ok { Ok(()) } else { Err("bad signature") }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Wycheproof's RSA PKCS#1 v1.5 vectors (tests/fixtures/wycheproof) for every key size and
    /// digest fedgate accepts, keys loaded as any JWK is: valid signatures verify; invalid ones
    /// (BER or altered padding, wrong or missing hash, edge-case integers, ...) and the
    /// "acceptable" ones (a DigestInfo without its NULL) do not, since the encoding is compared
    /// whole.
    #[test]
    fn rsa_pkcs1_v1_5_agrees_with_wycheproof() {
        let mut seen = [0usize; 2];
        for bits in [2048, 3072, 4096, 8192] {
            for sha in [256, 384, 512] {
                let path = format!(
                    "{}/tests/fixtures/wycheproof/rsa_pkcs1_{bits}_sha{sha}.json",
                    env!("CARGO_MANIFEST_DIR")
                );
                let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
                let vectors: serde_json::Value = serde_json::from_str(&text).unwrap();
                let alg = signing_alg(&format!("RS{sha}")).unwrap();
                for group in vectors["testGroups"].as_array().unwrap() {
                    assert_eq!(group["sha"], format!("SHA-{sha}"), "{path}");
                    let key: Jwk = serde_json::from_value(group["keyJwk"].clone()).unwrap();
                    for test in group["tests"].as_array().unwrap() {
                        let hex_field = |k: &str| hex::decode(test[k].as_str().unwrap()).unwrap();
                        let verified = key.verify_signature(&alg, &hex_field("msg"), &hex_field("sig")).is_ok();
                        let valid = test["result"] == "valid";
                        assert_eq!(
                            verified, valid,
                            "{bits}-bit SHA-{sha} tcId {} {}: {}",
                            test["tcId"], test["flags"], test["result"]
                        );
                        seen[usize::from(valid)] += 1;
                    }
                }
            }
        }
        assert!(
            seen[1] >= 80 && seen[0] >= 500,
            "valid and invalid vectors seen: {seen:?}"
        );
    }

    /// Entries that do not load are left out of a key set; a set that is not one is refused.
    #[test]
    fn key_sets_skip_keys_outside_the_allow_list() {
        let n = URL_SAFE_NO_PAD.encode([0xc5; 256]);
        let rsa = serde_json::json!({"kty": "RSA", "kid": "good", "n": n, "e": "AQAB"});
        let skipped = [
            serde_json::json!({"kty": "oct", "k": "c2VjcmV0"}),
            serde_json::json!({"kty": "RSA", "n": URL_SAFE_NO_PAD.encode([0xc5; 128]), "e": "AQAB"}),
            serde_json::json!({"kty": "RSA", "n": n, "e": "AQAB", "use": "other"}),
            serde_json::json!({"kty": "RSA", "n": n, "e": 65537}),
            serde_json::json!("not a key"),
        ];
        let mut all = skipped.to_vec();
        all.push(rsa);
        let set: KeySet = serde_json::from_value(serde_json::json!({"keys": all, "other": 1})).unwrap();
        assert_eq!(set.keys().len(), 1);
        assert_eq!(set.keys()[0].kid(), Some("good"));
        for bad in [
            serde_json::json!({}),
            serde_json::json!({"keys": {}}),
            serde_json::json!([]),
        ] {
            assert!(serde_json::from_value::<KeySet>(bad.clone()).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_allow_list_and_the_algorithm_names_agree() {
        for name in SIGNING_ALGS {
            assert!(signing_alg(name).is_some(), "{name} is allowed but not understood");
        }
        for refused in ["none", "HS256", "RS1", "ES512", "rs256"] {
            assert!(signing_alg(refused).is_none(), "{refused}");
        }
    }
}
