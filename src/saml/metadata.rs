//! Identity-provider metadata (SAML 2.0 Metadata, saml-metadata-2.0-os §2.4.3): the entity id,
//! single sign-on endpoints by binding (SOAP is the ECP endpoint), signing certificates (all of
//! them, for rollover) and NameID formats.
//!
//! Stricter than the specification requires: a DOCTYPE is refused outright (no entity
//! expansion), documents over 1 MiB are refused, and metadata without a signing certificate is
//! refused (fail closed, as dex does). Extensions (pysaml2's algorithm lists) are ignored. When
//! the metadata carries its own signature it must verify with one of its signing
//! certificates under the algorithm allow-list, and only the signed content is used.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use quick_xml::events::{BytesStart, Event};
use quick_xml::name::ResolveResult;
use quick_xml::reader::NsReader;
use samael::crypto::{CertificateDer, CryptoProvider, ReduceMode, XmlSec};
use serde::{Deserialize, Serialize};

use super::xml::{attribute_value, text_piece};
use super::{ALLOWED_SIGNATURES, BINDING_SOAP, NS_DSIG, NS_METADATA, SamlError};

pub const MAX_METADATA_BYTES: usize = 1 << 20;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Endpoint {
    pub binding: String,
    pub location: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdpMetadata {
    pub entity_id: String,
    pub sso_endpoints: Vec<Endpoint>,
    /// The SOAP single sign-on endpoint, used by ECP clients.
    pub ecp_endpoint: Option<String>,
    /// DER certificates, base64, in document order.
    pub signing_certificates: Vec<String>,
    pub name_id_formats: Vec<String>,
    pub want_authn_requests_signed: bool,
    /// Whether the document carried a signature (which then verified).
    pub signed: bool,
}

impl IdpMetadata {
    pub fn endpoint(&self, binding: &str) -> Option<&str> {
        self.sso_endpoints
            .iter()
            .find(|e| e.binding == binding)
            .map(|e| e.location.as_str())
    }
}

fn is(ns: &ResolveResult, want: &str) -> bool {
    matches!(ns, ResolveResult::Bound(n) if n.as_ref() == want.as_bytes())
}

fn attr(e: &BytesStart, name: &str) -> Result<Option<String>, SamlError> {
    for a in e.attributes() {
        let a = a.map_err(|err| SamlError::Malformed(err.to_string()))?;
        if a.key.local_name().as_ref() == name.as_bytes() && a.key.prefix().is_none() {
            return attribute_value(&a).map(Some);
        }
    }
    Ok(None)
}

/// Refuses what must never reach an XML parser: oversize input and DTDs.
pub fn check_untrusted_xml(xml: &str, limit: usize) -> Result<(), SamlError> {
    if xml.len() > limit {
        return Err(SamlError::TooLarge { limit });
    }
    let upper = xml.to_ascii_uppercase();
    if upper.contains("<!DOCTYPE") || upper.contains("<!ENTITY") {
        return Err(SamlError::Doctype);
    }
    Ok(())
}

#[derive(Default)]
struct Collected {
    root_seen: bool,
    entity_id: Option<String>,
    idp_seen: bool,
    want_signed: bool,
    sso: Vec<Endpoint>,
    certs: Vec<String>,
    formats: Vec<String>,
    signed: bool,
}

fn collect(xml: &str) -> Result<Collected, SamlError> {
    let mut reader = NsReader::from_str(xml);
    let mut out = Collected::default();
    // (namespace is md/ds, local name) of open elements.
    let mut stack: Vec<(u8, String)> = Vec::new();
    let mut key_use: Option<Option<String>> = None;
    // The text between two pieces of markup, gathered from its text and reference events; it
    // is read only when it holds more than XML whitespace.
    let mut run = String::new();
    let mut run_counts = false;
    loop {
        let (ns, event) = reader
            .read_resolved_event()
            .map_err(|e| SamlError::Malformed(e.to_string()))?;
        if let Some(piece) = text_piece(&event)? {
            run_counts |= matches!(event, Event::GeneralRef(_))
                || piece.bytes().any(|b| !matches!(b, b' ' | b'\t' | b'\r' | b'\n'));
            run.push_str(&piece);
            continue;
        }
        if run_counts {
            text_run(&run, &stack, &key_use, &mut out)?;
        }
        run.clear();
        run_counts = false;
        match event {
            Event::DocType(_) => return Err(SamlError::Doctype),
            Event::Start(ref e) | Event::Empty(ref e) => {
                let empty = matches!(event, Event::Empty(_));
                let local = String::from_utf8_lossy(e.local_name().as_ref()).into_owned();
                let kind = if is(&ns, NS_METADATA) {
                    b'm'
                } else if is(&ns, NS_DSIG) {
                    b'd'
                } else {
                    b'o'
                };
                if stack.is_empty() {
                    if kind != b'm' || local != "EntityDescriptor" {
                        return Err(SamlError::UnexpectedRoot {
                            expected: "md:EntityDescriptor",
                            found: local,
                        });
                    }
                    out.root_seen = true;
                    out.entity_id = attr(e, "entityID")?;
                }
                let parent = stack.last().map(|(k, n)| (*k, n.as_str()));
                match (kind, local.as_str(), parent) {
                    (b'd', "Signature", Some((b'm', "EntityDescriptor"))) if stack.len() == 1 => out.signed = true,
                    (b'm', "IDPSSODescriptor", Some((b'm', "EntityDescriptor"))) => {
                        out.idp_seen = true;
                        out.want_signed = attr(e, "WantAuthnRequestsSigned")?.as_deref() == Some("true");
                    }
                    (b'm', "KeyDescriptor", Some((b'm', "IDPSSODescriptor"))) => key_use = Some(attr(e, "use")?),
                    (b'm', "SingleSignOnService", Some((b'm', "IDPSSODescriptor"))) => {
                        if let (Some(binding), Some(location)) = (attr(e, "Binding")?, attr(e, "Location")?) {
                            out.sso.push(Endpoint { binding, location });
                        }
                    }
                    _ => {}
                }
                if !empty {
                    stack.push((kind, local));
                }
            }
            Event::End(_) => {
                if let Some((b'm', name)) = stack.pop()
                    && name == "KeyDescriptor"
                {
                    key_use = None;
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if !out.root_seen {
        return Err(SamlError::Malformed("no root element".into()));
    }
    Ok(out)
}

/// Reads a piece of text inside the element on top of `stack`: a signing certificate or a
/// NameID format of the IdP.
fn text_run(
    text: &str,
    stack: &[(u8, String)],
    key_use: &Option<Option<String>>,
    out: &mut Collected,
) -> Result<(), SamlError> {
    let in_idp = stack.iter().any(|(k, n)| *k == b'm' && n == "IDPSSODescriptor");
    match stack.last() {
        Some((b'd', name)) if name == "X509Certificate" && in_idp => {
            let signing = matches!(key_use, Some(None)) || matches!(key_use, Some(Some(u)) if u == "signing");
            if signing {
                let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
                STANDARD.decode(&compact).map_err(|_| SamlError::BadCertificate)?;
                if !out.certs.contains(&compact) {
                    out.certs.push(compact);
                }
            }
        }
        Some((b'm', name)) if name == "NameIDFormat" && in_idp => out.formats.push(text.trim().to_string()),
        _ => {}
    }
    Ok(())
}

/// Parses (and, when signed, verifies) IdP metadata.
pub fn parse_idp_metadata(xml: &str) -> Result<IdpMetadata, SamlError> {
    check_untrusted_xml(xml, MAX_METADATA_BYTES)?;
    let mut found = collect(xml)?;
    if found.signed {
        let certs: Vec<CertificateDer> = found
            .certs
            .iter()
            .filter_map(|c| STANDARD.decode(c).ok().map(CertificateDer::from))
            .collect();
        if certs.is_empty() {
            return Err(SamlError::NoSigningCertificate);
        }
        let reduced = XmlSec::reduce_xml_to_signed_with_allowed_algorithms(
            xml,
            &certs,
            ReduceMode::ValidateAndMarkNoAncestors,
            Some(&ALLOWED_SIGNATURES),
        )
        .map_err(|e| SamlError::SignatureInvalid(e.to_string()))?;
        // From here on only what the signature covers counts.
        let signed = collect(&reduced)?;
        found = Collected { signed: true, ..signed };
    }
    let entity_id = found
        .entity_id
        .filter(|e| !e.is_empty() && e.len() <= 1024)
        .ok_or(SamlError::Missing("entityID"))?;
    if !found.idp_seen {
        return Err(SamlError::Missing("IDPSSODescriptor"));
    }
    if found.certs.is_empty() {
        return Err(SamlError::NoSigningCertificate);
    }
    let ecp_endpoint = found
        .sso
        .iter()
        .find(|e| e.binding == BINDING_SOAP)
        .map(|e| e.location.clone());
    Ok(IdpMetadata {
        entity_id,
        sso_endpoints: found.sso,
        ecp_endpoint,
        signing_certificates: found.certs,
        name_id_formats: found.formats,
        want_authn_requests_signed: found.want_signed,
        signed: found.signed,
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use openssl::asn1::Asn1Time;
    use openssl::hash::MessageDigest;
    use openssl::pkey::PKey;
    use openssl::rsa::Rsa;
    use openssl::x509::{X509, X509NameBuilder};

    /// A test-only RSA key (PKCS#1 DER) and self-signed certificate (base64 DER).
    pub(crate) fn key_and_cert() -> (Vec<u8>, String) {
        // The tests' bad signatures would each print xmlsec's report to stderr.
        crate::service::xmlsec_log::install();
        let rsa = Rsa::generate(2048).unwrap();
        let der = rsa.private_key_to_der().unwrap();
        let key = PKey::from_rsa(rsa).unwrap();
        let mut name = X509NameBuilder::new().unwrap();
        name.append_entry_by_text("CN", "test-only idp").unwrap();
        let name = name.build();
        let mut b = X509::builder().unwrap();
        b.set_version(2).unwrap();
        b.set_subject_name(&name).unwrap();
        b.set_issuer_name(&name).unwrap();
        b.set_pubkey(&key).unwrap();
        b.set_not_before(&Asn1Time::days_from_now(0).unwrap()).unwrap();
        b.set_not_after(&Asn1Time::days_from_now(1).unwrap()).unwrap();
        b.sign(&key, MessageDigest::sha256()).unwrap();
        (der, STANDARD.encode(b.build().to_der().unwrap()))
    }

    fn signature_template(id: &str, sig_alg: &str, digest_alg: &str) -> String {
        format!(
            "<ds:Signature><ds:SignedInfo>\
             <ds:CanonicalizationMethod Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"/>\
             <ds:SignatureMethod Algorithm=\"{sig_alg}\"/><ds:Reference URI=\"#{id}\"><ds:Transforms>\
             <ds:Transform Algorithm=\"http://www.w3.org/2000/09/xmldsig#enveloped-signature\"/>\
             <ds:Transform Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"/></ds:Transforms>\
             <ds:DigestMethod Algorithm=\"{digest_alg}\"/><ds:DigestValue/></ds:Reference></ds:SignedInfo>\
             <ds:SignatureValue/></ds:Signature>"
        )
    }

    const RSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";
    const SHA256: &str = "http://www.w3.org/2001/04/xmlenc#sha256";

    fn key_descriptor(usage: Option<&str>, cert: &str) -> String {
        let usage = usage.map(|u| format!(" use=\"{u}\"")).unwrap_or_default();
        format!(
            "<md:KeyDescriptor{usage}><ds:KeyInfo><ds:X509Data><ds:X509Certificate>\n{cert}\n</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>"
        )
    }

    /// IdP metadata with the given key descriptors and optional signature template.
    pub(crate) fn idp_xml(entity: &str, keys: &str, signature: &str) -> String {
        format!(
            "<?xml version=\"1.0\"?>\
             <md:EntityDescriptor xmlns:md=\"urn:oasis:names:tc:SAML:2.0:metadata\" \
             xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\" entityID=\"{entity}\" ID=\"_meta1\">{signature}\
             <md:Extensions><alg:DigestMethod xmlns:alg=\"urn:oasis:names:tc:SAML:metadata:algsupport\" \
             Algorithm=\"http://www.w3.org/2001/04/xmldsig-more#md5\"/></md:Extensions>\
             <md:IDPSSODescriptor WantAuthnRequestsSigned=\"true\" \
             protocolSupportEnumeration=\"urn:oasis:names:tc:SAML:2.0:protocol\">{keys}\
             <md:NameIDFormat>urn:oasis:names:tc:SAML:2.0:nameid-format:transient</md:NameIDFormat>\
             <md:SingleSignOnService Binding=\"urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect\" Location=\"https://idp.example/sso/redirect\"/>\
             <md:SingleSignOnService Binding=\"urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST\" Location=\"https://idp.example/sso/post\"/>\
             <md:SingleSignOnService Binding=\"urn:oasis:names:tc:SAML:2.0:bindings:SOAP\" Location=\"https://idp.example/ecp\"/>\
             </md:IDPSSODescriptor></md:EntityDescriptor>"
        )
    }

    fn sign(template: &str, key: &[u8]) -> String {
        XmlSec::sign_xml(template, key).unwrap()
    }

    #[test]
    fn idp_metadata_cases() {
        let (key1, cert1) = key_and_cert();
        let (key2, cert2) = key_and_cert();
        let signing1 = key_descriptor(Some("signing"), &cert1);
        let both = format!(
            "{signing1}{}{}",
            key_descriptor(None, &cert2),
            key_descriptor(Some("encryption"), &cert2)
        );
        let signed = sign(
            &idp_xml(
                "https://idp.example",
                &signing1,
                &signature_template("_meta1", RSA_SHA256, SHA256),
            ),
            &key1,
        );
        let tampered = signed.replace("https://idp.example/sso/post", "https://evil.example/sso/post");
        let wrong_key = sign(
            &idp_xml(
                "https://idp.example",
                &signing1,
                &signature_template("_meta1", RSA_SHA256, SHA256),
            ),
            &key2,
        );
        let sha1 = sign(
            &idp_xml(
                "https://idp.example",
                &signing1,
                &signature_template(
                    "_meta1",
                    "http://www.w3.org/2000/09/xmldsig#rsa-sha1",
                    "http://www.w3.org/2000/09/xmldsig#sha1",
                ),
            ),
            &key1,
        );
        let doctype = format!(
            "<!DOCTYPE x [<!ENTITY a \"aaaa\">]>{}",
            idp_xml("https://idp.example", &signing1, "")
        );
        let encryption_only = idp_xml("https://idp.example", &key_descriptor(Some("encryption"), &cert1), "");
        let no_entity = idp_xml("", &signing1, "");
        let entities = format!(
            "<md:EntitiesDescriptor xmlns:md=\"urn:oasis:names:tc:SAML:2.0:metadata\">{}</md:EntitiesDescriptor>",
            idp_xml("https://idp.example", &signing1, "").trim_start_matches("<?xml version=\"1.0\"?>")
        );
        let huge = format!(
            "{}<!--{}-->",
            idp_xml("https://idp.example", &signing1, ""),
            "x".repeat(MAX_METADATA_BYTES)
        );
        let sp_only = "<md:EntityDescriptor xmlns:md=\"urn:oasis:names:tc:SAML:2.0:metadata\" entityID=\"x\"><md:SPSSODescriptor/></md:EntityDescriptor>";
        let bad_cert = idp_xml("https://idp.example", &key_descriptor(Some("signing"), "***"), "");
        // Lines ended by character references, as some IdPs write certificates, and escaped
        // attribute values: one certificate, one Location.
        let wrapped: Vec<&str> = cert1
            .as_bytes()
            .chunks(64)
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect();
        let references = idp_xml(
            "https://idp.example",
            &key_descriptor(Some("signing"), &wrapped.join("&#13;\n")),
            "",
        )
        .replace("/sso/redirect\"", "/sso/redirect?a=1&amp;b=&#x32;\"");
        let unknown_entity = idp_xml("https://idp.example", &signing1, "").replace("transient<", "transient&x;<");

        type Check = fn(&IdpMetadata) -> bool;
        let cases: Vec<(&str, String, Result<Check, SamlError>)> = vec![
            (
                "unsigned",
                idp_xml("https://idp.example", &signing1, ""),
                Ok(|m| {
                    m.entity_id == "https://idp.example"
                        && !m.signed
                        && m.ecp_endpoint.as_deref() == Some("https://idp.example/ecp")
                        && m.endpoint(crate::saml::BINDING_REDIRECT) == Some("https://idp.example/sso/redirect")
                        && m.name_id_formats == ["urn:oasis:names:tc:SAML:2.0:nameid-format:transient"]
                        && m.want_authn_requests_signed
                }),
            ),
            (
                "rollover: two signing certs, encryption cert ignored",
                idp_xml("https://idp.example", &both, ""),
                Ok(|m| m.signing_certificates.len() == 2),
            ),
            ("signed", signed, Ok(|m| m.signed && m.signing_certificates.len() == 1)),
            (
                "tampered after signing",
                tampered,
                Err(SamlError::SignatureInvalid(String::new())),
            ),
            (
                "signed by a key not in the metadata",
                wrong_key,
                Err(SamlError::SignatureInvalid(String::new())),
            ),
            (
                "signed with SHA-1",
                sha1,
                Err(SamlError::SignatureInvalid(String::new())),
            ),
            ("doctype", doctype, Err(SamlError::Doctype)),
            (
                "no signing certificate",
                encryption_only,
                Err(SamlError::NoSigningCertificate),
            ),
            ("empty entityID", no_entity, Err(SamlError::Missing("entityID"))),
            (
                "EntitiesDescriptor root",
                entities,
                Err(SamlError::UnexpectedRoot {
                    expected: "",
                    found: String::new(),
                }),
            ),
            (
                "over 1 MiB",
                huge,
                Err(SamlError::TooLarge {
                    limit: MAX_METADATA_BYTES,
                }),
            ),
            (
                "SP metadata",
                sp_only.to_string(),
                Err(SamlError::Missing("IDPSSODescriptor")),
            ),
            (
                "truncated",
                "<md:EntityDescriptor xmlns:md=\"urn:oasis:names:tc:SAML:2.0:metadata\" entityID=\"x\"><md:IDP".into(),
                Err(SamlError::Malformed(String::new())),
            ),
            ("certificate not base64", bad_cert, Err(SamlError::BadCertificate)),
            (
                "character and entity references",
                references,
                Ok(|m| {
                    m.signing_certificates.len() == 1
                        && !m.signing_certificates[0].contains(char::is_whitespace)
                        && m.endpoint(crate::saml::BINDING_REDIRECT) == Some("https://idp.example/sso/redirect?a=1&b=2")
                }),
            ),
            (
                "an entity no DTD declares",
                unknown_entity,
                Err(SamlError::Malformed(String::new())),
            ),
        ];
        for (name, xml, want) in cases {
            let got = parse_idp_metadata(&xml);
            match (got, want) {
                (Ok(m), Ok(check)) => assert!(check(&m), "{name}: {m:?}"),
                (Err(e), Err(w)) => assert_eq!(
                    std::mem::discriminant(&e),
                    std::mem::discriminant(&w),
                    "{name}: got {e}"
                ),
                (got, _) => panic!("{name}: unexpected {got:?}"),
            }
        }
    }
}
