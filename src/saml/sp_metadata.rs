//! fedgate's own SP metadata (reference §5.13.6, L19079-19160): an `md:EntityDescriptor` whose
//! entityID is the public URL, with the signing and encryption certificates, NameID formats and
//! the two assertion consumer services (HTTP-POST and PAOS for ECP). Signed enveloped with
//! RSA-SHA256, SHA-256 digests and exclusive canonicalisation (DESIGN.md decision 9).

use quick_xml::escape::escape;
use samael::crypto::{CryptoProvider, XmlSec};

use super::{BINDING_PAOS, BINDING_POST, SamlError};

pub const ACS_POST_PATH: &str = "/v3-ext/auth/OS-FEDERATION/SSO/SAML2/POST";
pub const ACS_ECP_PATH: &str = "/v3-ext/auth/OS-FEDERATION/SSO/SAML2/ECP";

pub struct SpMetadataParams<'a> {
    /// The public URL: entityID and base of the ACS URLs.
    pub public_url: &'a str,
    /// Document ID, an NCName (`_` + hex).
    pub id: &'a str,
    /// base64 DER certificates.
    pub signing_certificate: &'a str,
    pub encryption_certificate: &'a str,
}

fn key_descriptor(usage: &str, cert: &str, extra: &str) -> String {
    format!(
        "    <md:KeyDescriptor use=\"{usage}\">\n      <ds:KeyInfo>\n        <ds:X509Data>\n          \
         <ds:X509Certificate>{cert}</ds:X509Certificate>\n        </ds:X509Data>\n      </ds:KeyInfo>\n{extra}    \
         </md:KeyDescriptor>\n"
    )
}

/// The metadata document; with `with_signature_template`, an empty enveloped signature that
/// `sign_sp_metadata` fills in.
pub fn render_sp_metadata(p: &SpMetadataParams, with_signature_template: bool) -> String {
    let entity_id = escape(p.public_url);
    let signature = if with_signature_template {
        format!(
            "  <ds:Signature>\n    <ds:SignedInfo>\n      \
             <ds:CanonicalizationMethod Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"/>\n      \
             <ds:SignatureMethod Algorithm=\"http://www.w3.org/2001/04/xmldsig-more#rsa-sha256\"/>\n      \
             <ds:Reference URI=\"#{id}\">\n        <ds:Transforms>\n          \
             <ds:Transform Algorithm=\"http://www.w3.org/2000/09/xmldsig#enveloped-signature\"/>\n          \
             <ds:Transform Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"/>\n        </ds:Transforms>\n        \
             <ds:DigestMethod Algorithm=\"http://www.w3.org/2001/04/xmlenc#sha256\"/>\n        \
             <ds:DigestValue></ds:DigestValue>\n      </ds:Reference>\n    </ds:SignedInfo>\n    \
             <ds:SignatureValue></ds:SignatureValue>\n    <ds:KeyInfo>\n      <ds:X509Data>\n        \
             <ds:X509Certificate>{cert}</ds:X509Certificate>\n      </ds:X509Data>\n    </ds:KeyInfo>\n  \
             </ds:Signature>\n",
            id = escape(p.id),
            cert = p.signing_certificate
        )
    } else {
        String::new()
    };
    let encryption_methods = "      <md:EncryptionMethod Algorithm=\"http://www.w3.org/2009/xmlenc11#aes256-gcm\"/>\n      \
         <md:EncryptionMethod Algorithm=\"http://www.w3.org/2009/xmlenc11#aes128-gcm\"/>\n      \
         <md:EncryptionMethod Algorithm=\"http://www.w3.org/2001/04/xmlenc#aes256-cbc\"/>\n      \
         <md:EncryptionMethod Algorithm=\"http://www.w3.org/2001/04/xmlenc#aes128-cbc\"/>\n      \
         <md:EncryptionMethod Algorithm=\"http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p\"/>\n";
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <md:EntityDescriptor xmlns:md=\"urn:oasis:names:tc:SAML:2.0:metadata\" \
         xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\" entityID=\"{entity_id}\" ID=\"{id}\">\n\
         {signature}  <md:SPSSODescriptor AuthnRequestsSigned=\"true\" WantAssertionsSigned=\"true\" \
         protocolSupportEnumeration=\"urn:oasis:names:tc:SAML:2.0:protocol\">\n\
         {signing}{encryption}    \
         <md:NameIDFormat>urn:oasis:names:tc:SAML:2.0:nameid-format:transient</md:NameIDFormat>\n    \
         <md:NameIDFormat>urn:oasis:names:tc:SAML:2.0:nameid-format:persistent</md:NameIDFormat>\n    \
         <md:NameIDFormat>urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress</md:NameIDFormat>\n    \
         <md:AssertionConsumerService index=\"0\" isDefault=\"true\" Binding=\"{post}\" Location=\"{entity_id}{acs_post}\"/>\n    \
         <md:AssertionConsumerService index=\"1\" Binding=\"{paos}\" Location=\"{entity_id}{acs_ecp}\"/>\n  \
         </md:SPSSODescriptor>\n</md:EntityDescriptor>\n",
        id = escape(p.id),
        signing = key_descriptor("signing", p.signing_certificate, ""),
        encryption = key_descriptor("encryption", p.encryption_certificate, encryption_methods),
        post = BINDING_POST,
        paos = BINDING_PAOS,
        acs_post = ACS_POST_PATH,
        acs_ecp = ACS_ECP_PATH,
    )
}

/// Fills the signature template with an RSA-SHA256 signature by `private_key_der` (PKCS#1 or
/// PKCS#8 DER).
pub fn sign_sp_metadata(template: &str, private_key_der: &[u8]) -> Result<String, SamlError> {
    XmlSec::sign_xml(template, private_key_der).map_err(|e| SamlError::Signing(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::saml::metadata::tests::key_and_cert;
    use base64::Engine;
    use samael::crypto::{CertificateDer, ReduceMode};

    #[test]
    fn sp_metadata_is_signed_verifiably_and_escapes_its_inputs() {
        let (key, cert) = key_and_cert();
        let params = SpMetadataParams {
            public_url: "https://id.example.com/a&b",
            id: "_abc",
            signing_certificate: &cert,
            encryption_certificate: &cert,
        };
        let unsigned = render_sp_metadata(&params, false);
        assert!(!unsigned.contains("Signature"));
        assert!(unsigned.contains("entityID=\"https://id.example.com/a&amp;b\""));
        assert!(
            unsigned.contains("Location=\"https://id.example.com/a&amp;b/v3-ext/auth/OS-FEDERATION/SSO/SAML2/ECP\"")
        );
        let signed = sign_sp_metadata(&render_sp_metadata(&params, true), &key).unwrap();
        let der = base64::engine::general_purpose::STANDARD.decode(&cert).unwrap();
        let certs = [CertificateDer::from(der)];
        XmlSec::reduce_xml_to_signed(&signed, &certs, ReduceMode::ValidateAndMarkNoAncestors)
            .expect("signature verifies");
        let tampered = signed.replace("index=\"1\"", "index=\"2\"");
        assert!(XmlSec::reduce_xml_to_signed(&tampered, &certs, ReduceMode::ValidateAndMarkNoAncestors).is_err());
    }
}
