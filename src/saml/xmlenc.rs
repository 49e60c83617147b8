//! Decrypting an `EncryptedAssertion` (XML Encryption 1.1) with the SP's encryption key:
//! key transport RSA-OAEP (`rsa-oaep-mgf1p`, or xmlenc11 `rsa-oaep` with SHA-1/256/384/512
//! digests and MGF1), content AES-128/192/256 in CBC or GCM. RSA PKCS#1 v1.5 key transport is
//! refused (Bleichenbacher oracles), as is any other algorithm. The plaintext still has to pass
//! signature verification; decryption proves nothing about who wrote it.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use openssl::md::Md;
use openssl::pkey::{PKey, Private};
use openssl::pkey_ctx::PkeyCtx;
use openssl::rsa::Padding;
use openssl::symm::{Cipher, Crypter, Mode};

use super::xml::Element;
use super::{NS_DSIG, SamlError};

pub const NS_XENC: &str = "http://www.w3.org/2001/04/xmlenc#";
pub const NS_XENC11: &str = "http://www.w3.org/2009/xmlenc11#";

fn not_allowed(uri: &str) -> SamlError {
    SamlError::EncryptionAlgorithmNotAllowed(uri.to_string())
}

fn cipher_value(parent: &Element) -> Result<Vec<u8>, SamlError> {
    let value = parent
        .child(NS_XENC, "CipherData")
        .and_then(|d| d.child(NS_XENC, "CipherValue"))
        .ok_or(SamlError::Missing("xenc:CipherValue"))?;
    let compact: String = value.text.chars().filter(|c| !c.is_whitespace()).collect();
    STANDARD
        .decode(compact)
        .map_err(|_| SamlError::Undecryptable("CipherValue is not base64"))
}

fn algorithm(parent: &Element) -> Result<&str, SamlError> {
    parent
        .child(NS_XENC, "EncryptionMethod")
        .and_then(|m| m.attr("Algorithm"))
        .ok_or(SamlError::Missing("xenc:EncryptionMethod"))
}

fn digest_by_uri(uri: &str) -> Option<&'static openssl::md::MdRef> {
    Some(match uri {
        "http://www.w3.org/2000/09/xmldsig#sha1" => Md::sha1(),
        "http://www.w3.org/2001/04/xmlenc#sha256" => Md::sha256(),
        "http://www.w3.org/2001/04/xmldsig-more#sha384" => Md::sha384(),
        "http://www.w3.org/2001/04/xmlenc#sha512" => Md::sha512(),
        _ => return None,
    })
}

fn mgf_by_uri(uri: &str) -> Option<&'static openssl::md::MdRef> {
    Some(match uri {
        "http://www.w3.org/2009/xmlenc11#mgf1sha1" => Md::sha1(),
        "http://www.w3.org/2009/xmlenc11#mgf1sha256" => Md::sha256(),
        "http://www.w3.org/2009/xmlenc11#mgf1sha384" => Md::sha384(),
        "http://www.w3.org/2009/xmlenc11#mgf1sha512" => Md::sha512(),
        _ => return None,
    })
}

fn unwrap_key(encrypted_key: &Element, key: &PKey<Private>) -> Result<Vec<u8>, SamlError> {
    let method = encrypted_key
        .child(NS_XENC, "EncryptionMethod")
        .ok_or(SamlError::Missing("xenc:EncryptionMethod of the EncryptedKey"))?;
    let (digest, mgf) = match method.attr("Algorithm").unwrap_or_default() {
        "http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p" => {
            let digest = match method.child(NS_DSIG, "DigestMethod").and_then(|d| d.attr("Algorithm")) {
                None => Md::sha1(),
                Some(uri) => digest_by_uri(uri).ok_or_else(|| not_allowed(uri))?,
            };
            (digest, Md::sha1())
        }
        "http://www.w3.org/2009/xmlenc11#rsa-oaep" => {
            let digest = match method.child(NS_DSIG, "DigestMethod").and_then(|d| d.attr("Algorithm")) {
                None => Md::sha1(),
                Some(uri) => digest_by_uri(uri).ok_or_else(|| not_allowed(uri))?,
            };
            let mgf = match method.child(NS_XENC11, "MGF").and_then(|d| d.attr("Algorithm")) {
                None => Md::sha1(),
                Some(uri) => mgf_by_uri(uri).ok_or_else(|| not_allowed(uri))?,
            };
            (digest, mgf)
        }
        other => return Err(not_allowed(other)),
    };
    let wrapped = cipher_value(encrypted_key)?;
    let fail = |_| SamlError::Undecryptable("the key does not decrypt with the SP encryption key");
    let mut ctx = PkeyCtx::new(key).map_err(fail)?;
    ctx.decrypt_init().map_err(fail)?;
    ctx.set_rsa_padding(Padding::PKCS1_OAEP).map_err(fail)?;
    ctx.set_rsa_oaep_md(digest).map_err(fail)?;
    ctx.set_rsa_mgf1_md(mgf).map_err(fail)?;
    let mut out = Vec::new();
    ctx.decrypt_to_vec(&wrapped, &mut out).map_err(fail)?;
    Ok(out)
}

fn decrypt_content(algorithm: &str, key: &[u8], data: &[u8]) -> Result<Vec<u8>, SamlError> {
    let (cipher, gcm) = match algorithm {
        "http://www.w3.org/2001/04/xmlenc#aes128-cbc" => (Cipher::aes_128_cbc(), false),
        "http://www.w3.org/2001/04/xmlenc#aes192-cbc" => (Cipher::aes_192_cbc(), false),
        "http://www.w3.org/2001/04/xmlenc#aes256-cbc" => (Cipher::aes_256_cbc(), false),
        "http://www.w3.org/2009/xmlenc11#aes128-gcm" => (Cipher::aes_128_gcm(), true),
        "http://www.w3.org/2009/xmlenc11#aes192-gcm" => (Cipher::aes_192_gcm(), true),
        "http://www.w3.org/2009/xmlenc11#aes256-gcm" => (Cipher::aes_256_gcm(), true),
        other => return Err(not_allowed(other)),
    };
    if key.len() != cipher.key_len() {
        return Err(SamlError::Undecryptable("the content key has the wrong length"));
    }
    let fail = |_| SamlError::Undecryptable("the content does not decrypt");
    if gcm {
        const IV: usize = 12;
        const TAG: usize = 16;
        if data.len() < IV + TAG {
            return Err(SamlError::Undecryptable("the ciphertext is too short"));
        }
        let (iv, rest) = data.split_at(IV);
        let (body, tag) = rest.split_at(rest.len() - TAG);
        return openssl::symm::decrypt_aead(cipher, key, Some(iv), &[], body, tag).map_err(fail);
    }
    const BLOCK: usize = 16;
    if data.len() < 2 * BLOCK || !data.len().is_multiple_of(BLOCK) {
        return Err(SamlError::Undecryptable("the ciphertext is not whole blocks"));
    }
    let (iv, body) = data.split_at(BLOCK);
    let mut crypter = Crypter::new(cipher, Mode::Decrypt, key, Some(iv)).map_err(fail)?;
    // XML Encryption's padding (ISO 10126: only the last byte is defined) is not PKCS#7.
    crypter.pad(false);
    let mut out = vec![0u8; body.len() + BLOCK];
    let mut n = crypter.update(body, &mut out).map_err(fail)?;
    n += crypter.finalize(&mut out[n..]).map_err(fail)?;
    out.truncate(n);
    let pad = usize::from(*out.last().ok_or(SamlError::Undecryptable("the plaintext is empty"))?);
    if pad == 0 || pad > BLOCK || pad > out.len() {
        return Err(SamlError::Undecryptable("the content does not decrypt"));
    }
    out.truncate(out.len() - pad);
    Ok(out)
}

/// Decrypts `encrypted_assertion` (the `saml:EncryptedAssertion` element) to the assertion's
/// XML text.
pub fn decrypt_assertion(encrypted_assertion: &Element, key: &PKey<Private>) -> Result<String, SamlError> {
    let data = encrypted_assertion
        .child(NS_XENC, "EncryptedData")
        .ok_or(SamlError::Missing("xenc:EncryptedData"))?;
    // The EncryptedKey sits in EncryptedData's KeyInfo or beside EncryptedData.
    let encrypted_key = data
        .child(NS_DSIG, "KeyInfo")
        .and_then(|k| k.child(NS_XENC, "EncryptedKey"))
        .or_else(|| encrypted_assertion.child(NS_XENC, "EncryptedKey"))
        .ok_or(SamlError::Missing("xenc:EncryptedKey"))?;
    let content_key = zeroize::Zeroizing::new(unwrap_key(encrypted_key, key)?);
    let plain = decrypt_content(algorithm(data)?, &content_key, &cipher_value(data)?)?;
    String::from_utf8(plain).map_err(|_| SamlError::Undecryptable("the plaintext is not UTF-8"))
}

/// The inverse, for tests and the benchmark's test IdP: encrypts `assertion_xml` to an
/// `EncryptedAssertion` for the holder of `certificate_der`.
///
/// `random` supplies the content key and IV (at least 48 bytes), so this module draws no
/// randomness itself.
pub fn encrypt_assertion(
    assertion_xml: &str,
    certificate_der: &[u8],
    content_algorithm: &str,
    oaep_sha256: bool,
    random: &[u8; 48],
) -> Result<String, SamlError> {
    let fail = |e: openssl::error::ErrorStack| SamlError::Signing(e.to_string());
    let cert = openssl::x509::X509::from_der(certificate_der).map_err(fail)?;
    let public = cert.public_key().map_err(fail)?;
    let (cipher, gcm) = match content_algorithm {
        "http://www.w3.org/2001/04/xmlenc#aes128-cbc" => (Cipher::aes_128_cbc(), false),
        "http://www.w3.org/2001/04/xmlenc#aes256-cbc" => (Cipher::aes_256_cbc(), false),
        "http://www.w3.org/2009/xmlenc11#aes128-gcm" => (Cipher::aes_128_gcm(), true),
        "http://www.w3.org/2009/xmlenc11#aes256-gcm" => (Cipher::aes_256_gcm(), true),
        other => return Err(SamlError::Signing(format!("unsupported {other}"))),
    };
    let (key, iv) = random.split_at(32);
    let key = &key[..cipher.key_len()];
    let data = if gcm {
        let iv = &iv[..12];
        let mut tag = [0u8; 16];
        let body = openssl::symm::encrypt_aead(cipher, key, Some(iv), &[], assertion_xml.as_bytes(), &mut tag)
            .map_err(fail)?;
        [iv, &body, &tag].concat()
    } else {
        let mut plain = assertion_xml.as_bytes().to_vec();
        let pad = 16 - plain.len() % 16;
        plain.extend(std::iter::repeat_n(pad as u8, pad));
        let mut crypter = Crypter::new(cipher, Mode::Encrypt, key, Some(iv)).map_err(fail)?;
        crypter.pad(false);
        let mut out = vec![0u8; plain.len() + 16];
        let mut n = crypter.update(&plain, &mut out).map_err(fail)?;
        n += crypter.finalize(&mut out[n..]).map_err(fail)?;
        out.truncate(n);
        [iv, &out].concat()
    };
    let mut ctx = PkeyCtx::new(&public).map_err(fail)?;
    ctx.encrypt_init().map_err(fail)?;
    ctx.set_rsa_padding(Padding::PKCS1_OAEP).map_err(fail)?;
    let key_method = if oaep_sha256 {
        ctx.set_rsa_oaep_md(Md::sha256()).map_err(fail)?;
        ctx.set_rsa_mgf1_md(Md::sha256()).map_err(fail)?;
        "<xenc:EncryptionMethod Algorithm=\"http://www.w3.org/2009/xmlenc11#rsa-oaep\">\
             <ds:DigestMethod Algorithm=\"http://www.w3.org/2001/04/xmlenc#sha256\"/>\
             <xenc11:MGF xmlns:xenc11=\"http://www.w3.org/2009/xmlenc11#\" Algorithm=\"http://www.w3.org/2009/xmlenc11#mgf1sha256\"/>\
             </xenc:EncryptionMethod>"
    } else {
        "<xenc:EncryptionMethod Algorithm=\"http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p\"/>"
    };
    let mut wrapped = Vec::new();
    ctx.encrypt_to_vec(key, &mut wrapped).map_err(fail)?;
    Ok(format!(
        "<saml:EncryptedAssertion xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\">\
         <xenc:EncryptedData xmlns:xenc=\"{NS_XENC}\" xmlns:ds=\"{NS_DSIG}\" Type=\"http://www.w3.org/2001/04/xmlenc#Element\">\
         <xenc:EncryptionMethod Algorithm=\"{content_algorithm}\"/>\
         <ds:KeyInfo><xenc:EncryptedKey>{key_method}\
         <xenc:CipherData><xenc:CipherValue>{}</xenc:CipherValue></xenc:CipherData></xenc:EncryptedKey></ds:KeyInfo>\
         <xenc:CipherData><xenc:CipherValue>{}</xenc:CipherValue></xenc:CipherData>\
         </xenc:EncryptedData></saml:EncryptedAssertion>",
        STANDARD.encode(wrapped),
        STANDARD.encode(data)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::saml::xml;

    #[test]
    fn round_trips_every_content_algorithm_and_refuses_tampering() {
        let (key_der, cert) = crate::saml::metadata::tests::key_and_cert();
        let key = PKey::from_rsa(openssl::rsa::Rsa::private_key_from_der(&key_der).unwrap()).unwrap();
        let cert = STANDARD.decode(cert).unwrap();
        let plain = "<saml:Assertion xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\" ID=\"a\">é</saml:Assertion>";
        for alg in [
            "http://www.w3.org/2001/04/xmlenc#aes128-cbc",
            "http://www.w3.org/2001/04/xmlenc#aes256-cbc",
            "http://www.w3.org/2009/xmlenc11#aes128-gcm",
            "http://www.w3.org/2009/xmlenc11#aes256-gcm",
        ] {
            for sha256 in [false, true] {
                let enc = encrypt_assertion(plain, &cert, alg, sha256, &[7u8; 48]).unwrap();
                let tree = xml::parse(&enc).unwrap();
                assert_eq!(decrypt_assertion(&tree, &key).unwrap(), plain, "{alg}");
                // A flipped ciphertext byte must not decrypt to the same text.
                let tampered = enc.replacen("<xenc:CipherValue>", "<xenc:CipherValue>AAAA", 2);
                let tree = xml::parse(&tampered).unwrap();
                assert_ne!(decrypt_assertion(&tree, &key).ok().as_deref(), Some(plain), "{alg}");
            }
        }
        let v15 = encrypt_assertion(
            plain,
            &cert,
            "http://www.w3.org/2001/04/xmlenc#aes128-cbc",
            false,
            &[7u8; 48],
        )
        .unwrap()
        .replace("rsa-oaep-mgf1p", "rsa-1_5");
        assert_eq!(
            decrypt_assertion(&xml::parse(&v15).unwrap(), &key),
            Err(SamlError::EncryptionAlgorithmNotAllowed(
                "http://www.w3.org/2001/04/xmlenc#rsa-1_5".into()
            ))
        );
    }
}
