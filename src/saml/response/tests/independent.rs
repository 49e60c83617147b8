//! Every allow-listed XML signature algorithm and AES-GCM, with documents the xmlsec1
//! command line signed and encrypted (tests/fixtures/independent/generate): keys from the
//! openssl command line, checked at the instant the documents were dated.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use openssl::pkey::PKey;

use super::super::*;
use super::build::{MAX_AGE, NOW, SKEW};

fn fixture(path: &str) -> String {
    let full = format!("{}/tests/fixtures/independent/{path}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{full}: {e}"))
}

fn fixture_certificate(name: &str) -> CertificateDer {
    let pem = fixture(&format!("keys/test-only-{name}.crt"));
    CertificateDer::from(openssl::x509::X509::from_pem(pem.as_bytes()).unwrap().to_der().unwrap())
}

/// Checks an xmlsec1-made fixture as the SP it was made for, trusting all three IdP keys.
fn check_independent(xml: &str) -> Result<ValidResponse, SamlError> {
    let certificates: Vec<CertificateDer> = ["saml-idp-rsa", "saml-idp-p256", "saml-idp-p384"]
        .into_iter()
        .map(fixture_certificate)
        .collect();
    let sp_key = PKey::private_key_from_pem(fixture("keys/test-only-saml-sp-encryption.pem").as_bytes()).unwrap();
    let destinations = ["https://sp.independent.example/v3-ext/auth/OS-FEDERATION/SSO/SAML2/POST".to_string()];
    let expect = ResponseExpectations {
        idp_entity_id: "https://idp.independent.example/saml",
        sp_entity_id: "https://sp.independent.example",
        destinations: &destinations,
        certificates: &certificates,
        signed_part: SignedPart::Assertion,
        allow_sha1: false,
        skew_secs: SKEW,
        max_age_secs: MAX_AGE,
        decryption_key: Some(&sp_key),
    };
    validate_response(xml, &expect, NOW + 10)
}

/// Flips one bit in the decoded content of the first `<tag>` element after `after`.
fn flip_base64_in(xml: &str, after: &str, tag: &str) -> String {
    let from = xml.find(after).unwrap();
    let open = format!("<{tag}>");
    let start = from + xml[from..].find(&open).unwrap() + open.len();
    let end = start + xml[start..].find('<').unwrap();
    let compact: String = xml[start..end].chars().filter(|c| !c.is_whitespace()).collect();
    let mut bytes = STANDARD.decode(compact).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    format!("{}{}{}", &xml[..start], STANDARD.encode(bytes), &xml[end..])
}

/// Every signature algorithm on the allow-list verifies an assertion the xmlsec1 command line
/// signed, and the same document with one signature bit flipped, or its NameID changed, is
/// refused.
#[test]
fn every_allowed_algorithm_verifies_responses_signed_by_xmlsec1() {
    for allowed in ALLOWED_SIGNATURES {
        let uri = allowed.signature_uri();
        let name = uri.rsplit_once('#').unwrap().1;
        let xml = fixture(&format!("saml/{name}.xml"));
        assert!(
            xml.contains(&format!("Algorithm=\"{uri}\"")),
            "{name} is signed with {uri}"
        );
        let valid = check_independent(&xml).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(valid.name_id.as_deref(), Some("alice@example.com"), "{name}");
        assert_eq!(valid.attributes["groups"], vec!["engineers".to_string()], "{name}");

        let flipped = flip_base64_in(&xml, "<ds:SignedInfo", "ds:SignatureValue");
        assert!(
            matches!(check_independent(&flipped), Err(SamlError::SignatureInvalid(_))),
            "{name} with a flipped signature bit"
        );
        let renamed = xml.replace(">alice@example.com<", ">mallory@example.com<");
        assert!(
            matches!(check_independent(&renamed), Err(SamlError::SignatureInvalid(_))),
            "{name} with another NameID"
        );
    }
}

/// Assertions xmlsec1 encrypted with AES-128/192/256-GCM (key transport RSA-OAEP) decrypt, and
/// their signature inside verifies; a flipped bit in the content fails GCM's tag.
#[test]
fn aes_gcm_assertions_encrypted_by_xmlsec1_decrypt() {
    for name in ["aes128-gcm", "aes192-gcm", "aes256-gcm"] {
        let xml = fixture(&format!("saml/{name}.xml"));
        assert!(xml.contains(&format!("xmlenc11#{name}")), "{name}");
        let valid = check_independent(&xml).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(valid.assertion_id, format!("_a-{name}"));
        assert_eq!(valid.name_id.as_deref(), Some("alice@example.com"), "{name}");

        let flipped = flip_base64_in(&xml, "</xenc:EncryptedKey>", "xenc:CipherValue");
        assert_eq!(
            check_independent(&flipped),
            Err(SamlError::Undecryptable("the content does not decrypt")),
            "{name} with a flipped content bit"
        );
    }
}
