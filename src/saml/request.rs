//! Messages fedgate sends as a service provider: the AuthnRequest (signed for the Redirect
//! binding by a query-string signature, for POST and PAOS by an enveloped XML signature), the
//! ECP PAOS request envelope, and reading the ECP client's relayed SOAP response.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private};
use openssl::sign::Signer;
use quick_xml::escape::escape;
use samael::crypto::{CryptoProvider, XmlSec};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::SamlError;
use super::response::{NS_ASSERTION, NS_PROTOCOL};
use super::xml::{self, Element};

pub const NS_SOAP: &str = "http://schemas.xmlsoap.org/soap/envelope/";
pub const NS_PAOS: &str = "urn:liberty:paos:2003-08";
pub const NS_ECP: &str = "urn:oasis:names:tc:SAML:2.0:profiles:SSO:ecp";
pub const PAOS_CONTENT_TYPE: &str = "application/vnd.paos+xml";
const RSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";
const SHA256: &str = "http://www.w3.org/2001/04/xmlenc#sha256";
/// Largest ECP envelope accepted from a client.
pub const MAX_ENVELOPE_BYTES: usize = 256 * 1024;

pub struct AuthnRequestParams<'a> {
    /// 128 random bits or more, an NCName.
    pub id: &'a str,
    pub issue_instant_secs: i64,
    /// The IdP endpoint the request goes to.
    pub destination: &'a str,
    pub sp_entity_id: &'a str,
    pub acs_url: &'a str,
    pub protocol_binding: &'a str,
}

pub fn format_instant(secs: i64) -> String {
    OffsetDateTime::from_unix_timestamp(secs)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| "1970-01-01T00:00:00Z".into())
}

/// An empty enveloped signature over the element with ID `reference_id` (exclusive
/// canonicalisation), for [`sign_enveloped`] to fill in; with `certificate` (base64 DER) in
/// KeyInfo.
pub fn enveloped_signature_template(
    reference_id: &str,
    signature_algorithm: &str,
    digest_algorithm: &str,
    certificate: Option<&str>,
) -> String {
    let key_info = certificate
        .map(|c| {
            format!("<ds:KeyInfo><ds:X509Data><ds:X509Certificate>{c}</ds:X509Certificate></ds:X509Data></ds:KeyInfo>")
        })
        .unwrap_or_default();
    format!(
        "<ds:Signature xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\"><ds:SignedInfo>\
         <ds:CanonicalizationMethod Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"/>\
         <ds:SignatureMethod Algorithm=\"{signature}\"/><ds:Reference URI=\"#{id}\"><ds:Transforms>\
         <ds:Transform Algorithm=\"http://www.w3.org/2000/09/xmldsig#enveloped-signature\"/>\
         <ds:Transform Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"/></ds:Transforms>\
         <ds:DigestMethod Algorithm=\"{digest}\"/><ds:DigestValue/></ds:Reference></ds:SignedInfo>\
         <ds:SignatureValue/>{key_info}</ds:Signature>",
        id = escape(reference_id),
        signature = escape(signature_algorithm),
        digest = escape(digest_algorithm),
    )
}

/// The AuthnRequest; with `signature_template` an empty enveloped signature after the Issuer
/// that [`sign_enveloped`] fills in.
pub fn render_authn_request(p: &AuthnRequestParams, signature_template: bool) -> String {
    let signature = if signature_template {
        enveloped_signature_template(p.id, RSA_SHA256, SHA256, None)
    } else {
        String::new()
    };
    format!(
        "<samlp:AuthnRequest xmlns:samlp=\"{NS_PROTOCOL}\" xmlns:saml=\"{NS_ASSERTION}\" ID=\"{id}\" \
         Version=\"2.0\" IssueInstant=\"{instant}\"{destination} \
         AssertionConsumerServiceURL=\"{acs}\" ProtocolBinding=\"{binding}\">\
         <saml:Issuer>{issuer}</saml:Issuer>{signature}\
         <samlp:NameIDPolicy AllowCreate=\"true\"/></samlp:AuthnRequest>",
        id = escape(p.id),
        instant = format_instant(p.issue_instant_secs),
        // Without an endpoint (ECP to an IdP whose metadata names none) there is no Destination.
        destination = if p.destination.is_empty() {
            String::new()
        } else {
            format!(" Destination=\"{}\"", escape(p.destination))
        },
        acs = escape(p.acs_url),
        binding = escape(p.protocol_binding),
        issuer = escape(p.sp_entity_id),
    )
}

/// Fills enveloped signature templates (references by `ID`) with `private_key_der`.
pub fn sign_enveloped(template: &str, private_key_der: &[u8]) -> Result<String, SamlError> {
    let signed = XmlSec::sign_xml(template, private_key_der).map_err(|e| SamlError::Signing(e.to_string()))?;
    // libxml2 prepends an XML declaration; the request is embedded in other documents.
    let signed = signed.trim_start();
    Ok(
        match signed.strip_prefix("<?xml").and_then(|rest| rest.split_once("?>")) {
            Some((_, rest)) => rest.trim_start().to_string(),
            None => signed.to_string(),
        },
    )
}

/// The Redirect-binding URL (saml-bindings §3.4.4.1): DEFLATE, base64, and an RSA-SHA256
/// signature over `SAMLRequest=…&RelayState=…&SigAlg=…` exactly as sent.
pub fn redirect_url(
    endpoint: &str,
    request_xml: &str,
    relay_state: &str,
    key: &PKey<Private>,
) -> Result<String, SamlError> {
    use std::io::Write;
    let fail = |e: &dyn std::fmt::Display| SamlError::Signing(e.to_string());
    let mut deflater = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
    deflater.write_all(request_xml.as_bytes()).map_err(|e| fail(&e))?;
    let deflated = deflater.finish().map_err(|e| fail(&e))?;
    let signed_part = serde_urlencoded::to_string([
        ("SAMLRequest", STANDARD.encode(deflated).as_str()),
        ("RelayState", relay_state),
        ("SigAlg", RSA_SHA256),
    ])
    .map_err(|e| fail(&e))?;
    let mut signer = Signer::new(MessageDigest::sha256(), key).map_err(|e| fail(&e))?;
    signer.update(signed_part.as_bytes()).map_err(|e| fail(&e))?;
    let signature = signer.sign_to_vec().map_err(|e| fail(&e))?;
    let signature = serde_urlencoded::to_string([("Signature", STANDARD.encode(signature))]).map_err(|e| fail(&e))?;
    let separator = if endpoint.contains('?') { '&' } else { '?' };
    Ok(format!("{endpoint}{separator}{signed_part}&{signature}"))
}

/// The PAOS request an ECP client receives (SAML ECP profile §4.2.2): SOAP Header first, with
/// paos:Request (responseConsumerURL = the ACS), ecp:Request and ecp:RelayState; the signed
/// AuthnRequest in the Body.
pub fn paos_envelope(signed_authn_request: &str, acs_url: &str, sp_entity_id: &str, relay_state: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\
         <S:Envelope xmlns:S=\"{NS_SOAP}\"><S:Header>\
         <paos:Request xmlns:paos=\"{NS_PAOS}\" S:actor=\"http://schemas.xmlsoap.org/soap/actor/next\" \
         S:mustUnderstand=\"1\" responseConsumerURL=\"{acs}\" service=\"{NS_ECP}\"/>\
         <ecp:Request xmlns:ecp=\"{NS_ECP}\" S:actor=\"http://schemas.xmlsoap.org/soap/actor/next\" \
         S:mustUnderstand=\"1\" IsPassive=\"0\">\
         <saml:Issuer xmlns:saml=\"{NS_ASSERTION}\">{issuer}</saml:Issuer></ecp:Request>\
         <ecp:RelayState xmlns:ecp=\"{NS_ECP}\" S:actor=\"http://schemas.xmlsoap.org/soap/actor/next\" \
         S:mustUnderstand=\"1\">{relay}</ecp:RelayState>\
         </S:Header><S:Body>{signed_authn_request}</S:Body></S:Envelope>",
        acs = escape(acs_url),
        issuer = escape(sp_entity_id),
        relay = escape(relay_state),
    )
}

/// What an ECP client relays back: the IdP's Response (as a standalone document, with the
/// namespace declarations it inherited from the envelope) and the RelayState header.
#[derive(Debug)]
pub struct EcpRelay {
    pub response_xml: String,
    pub relay_state: Option<String>,
}

/// Reads the SOAP envelope an ECP client posts to the PAOS ACS.
pub fn read_ecp_envelope(envelope: &str) -> Result<EcpRelay, SamlError> {
    super::metadata::check_untrusted_xml(envelope, MAX_ENVELOPE_BYTES)?;
    let tree: Element = xml::parse(envelope)?;
    if !tree.is(NS_SOAP, "Envelope") {
        return Err(SamlError::UnexpectedRoot {
            expected: "S:Envelope",
            found: tree.name,
        });
    }
    let relay_state = tree
        .child(NS_SOAP, "Header")
        .and_then(|h| h.child(NS_ECP, "RelayState"))
        .map(|r| r.text.trim().to_string());
    let body = tree.child(NS_SOAP, "Body").ok_or(SamlError::Missing("S:Body"))?;
    let responses = body.children_named(NS_PROTOCOL, "Response").count();
    if responses != 1 || body.children.len() != 1 {
        return Err(SamlError::EnvelopeBody);
    }
    Ok(EcpRelay {
        response_xml: extract_body_child(envelope)?,
        relay_state,
    })
}

/// The text of the Body's only element, with the namespace declarations of Envelope and
/// Body copied onto it (exclusive canonicalisation ignores unused ones, so signatures hold).
fn extract_body_child(envelope: &str) -> Result<String, SamlError> {
    use quick_xml::events::Event;
    let malformed = |e: &dyn std::fmt::Display| SamlError::Malformed(e.to_string());
    let mut reader = quick_xml::reader::Reader::from_str(envelope);
    // Only markup is read here: a stray `&` in text passes, as it did with quick-xml 0.37; the
    // Response's own parse still refuses one inside the Response.
    reader.config_mut().allow_dangling_amp = true;
    let mut inherited: Vec<(String, String)> = Vec::new();
    let (mut depth, mut in_body) = (0usize, false);
    let mut start: Option<(usize, usize)> = None;
    loop {
        let before = reader.buffer_position() as usize;
        let event = reader.read_event().map_err(|e| malformed(&e))?;
        match event {
            Event::Start(ref e) | Event::Empty(ref e) => {
                let empty = matches!(event, Event::Empty(_));
                depth += 1;
                let is_body = depth == 2 && e.local_name().as_ref() == b"Body";
                if depth == 1 || is_body {
                    for a in e.attributes() {
                        let a = a.map_err(|e| malformed(&e))?;
                        let key = String::from_utf8_lossy(a.key.as_ref()).into_owned();
                        if key == "xmlns" || key.starts_with("xmlns:") {
                            let value = super::xml::attribute_value(&a)?;
                            inherited.push((key, value));
                        }
                    }
                }
                in_body |= is_body;
                if depth == 3 && in_body && start.is_none() {
                    start = Some((before, e.name().as_ref().len()));
                    if empty {
                        let end = reader.buffer_position() as usize;
                        return Ok(with_namespaces(
                            &envelope[before..end],
                            1 + e.name().as_ref().len(),
                            &inherited,
                        ));
                    }
                }
                if empty {
                    depth -= 1;
                }
            }
            Event::End(_) => {
                if depth == 3
                    && in_body
                    && let Some((from, name_len)) = start
                {
                    let end = reader.buffer_position() as usize;
                    return Ok(with_namespaces(&envelope[from..end], 1 + name_len, &inherited));
                }
                if depth == 2 {
                    in_body = false;
                }
                depth = depth.saturating_sub(1);
            }
            Event::Eof => return Err(SamlError::Missing("samlp:Response")),
            _ => {}
        }
    }
}

/// Inserts the inherited declarations the element does not make itself after its name.
fn with_namespaces(element: &str, head_len: usize, inherited: &[(String, String)]) -> String {
    let (head, rest) = element.split_at(head_len.min(element.len()));
    let start_tag = rest.split('>').next().unwrap_or_default();
    let mut extra = String::new();
    for (key, value) in inherited.iter().rev() {
        let declared = format!("{key}=");
        if start_tag.contains(&declared) || extra.contains(&declared) {
            continue;
        }
        extra.push_str(&format!(" {key}=\"{}\"", escape(value)));
    }
    format!("{head}{extra}{rest}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ecp_envelope_yields_a_standalone_response_and_the_relay_state() {
        let envelope = "<S:Envelope xmlns:S=\"http://schemas.xmlsoap.org/soap/envelope/\" xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\">\
            <S:Header><ecp:RelayState xmlns:ecp=\"urn:oasis:names:tc:SAML:2.0:profiles:SSO:ecp\" S:mustUnderstand=\"1\">rs1</ecp:RelayState></S:Header>\
            <S:Body><samlp:Response ID=\"r\"><x/></samlp:Response></S:Body></S:Envelope>";
        let relay = read_ecp_envelope(envelope).unwrap();
        assert_eq!(relay.relay_state.as_deref(), Some("rs1"));
        let doc = xml::parse(&relay.response_xml).unwrap();
        assert!(doc.is(NS_PROTOCOL, "Response"), "{}", relay.response_xml);
        assert!(
            read_ecp_envelope(
                "<S:Envelope xmlns:S=\"http://schemas.xmlsoap.org/soap/envelope/\"><S:Body/></S:Envelope>"
            )
            .is_err()
        );
    }

    #[test]
    fn authn_request_escapes_its_values_and_omits_an_unknown_destination() {
        let params = |destination| AuthnRequestParams {
            id: "_abc.x",
            issue_instant_secs: 1_800_000_000,
            destination,
            sp_entity_id: "https://sp.example/a?b=1&c=\"2\"",
            acs_url: "https://sp.example/acs",
            protocol_binding: crate::saml::BINDING_PAOS,
        };
        let with = xml::parse(&render_authn_request(&params("https://idp.example/sso"), false)).unwrap();
        assert_eq!(with.attr("Destination"), Some("https://idp.example/sso"));
        assert_eq!(with.attr("IssueInstant"), Some("2027-01-15T08:00:00Z"));
        let issuer = with.child(NS_ASSERTION, "Issuer").unwrap();
        assert_eq!(issuer.text, "https://sp.example/a?b=1&c=\"2\"");
        let without = xml::parse(&render_authn_request(&params(""), true)).unwrap();
        assert_eq!(without.attr("Destination"), None);
        assert!(without.child(super::super::NS_DSIG, "Signature").is_some());
    }

    /// The PAOS request's shape is what ECP clients parse (keystoneauth1 takes the RelayState
    /// and responseConsumerURL by XPath and removes the Header, the first child).
    #[test]
    fn paos_envelope_keeps_its_shape() {
        let request = render_authn_request(
            &AuthnRequestParams {
                id: "_00112233445566778899aabbccddeeff.eyJpIjoiYWNtZSIsImsiOiJlIn0",
                issue_instant_secs: 1_800_000_000,
                destination: "https://idp.example/idp/profile/SAML2/SOAP/ECP",
                sp_entity_id: "https://iam.example.com",
                acs_url: "https://iam.example.com/v3-ext/auth/OS-FEDERATION/SSO/SAML2/ECP",
                protocol_binding: crate::saml::BINDING_PAOS,
            },
            false,
        );
        let envelope = paos_envelope(
            &request,
            "https://iam.example.com/v3-ext/auth/OS-FEDERATION/SSO/SAML2/ECP",
            "https://iam.example.com",
            "relay-state-1",
        );
        let tree = xml::parse(&envelope).unwrap();
        assert!(tree.children[0].is(NS_SOAP, "Header"), "the Header comes first");
        insta::assert_snapshot!(envelope.replace("><", ">\n<"));
    }

    #[test]
    fn redirect_url_carries_a_verifiable_signature() {
        let key = PKey::from_rsa(openssl::rsa::Rsa::generate(2048).unwrap()).unwrap();
        let url = redirect_url("https://idp.example/sso?x=1", "<r/>", "relay&1", &key).unwrap();
        let (signed, signature) = url.split_once("x=1&").unwrap().1.rsplit_once("&Signature=").unwrap();
        let signature: String = serde_urlencoded::from_str::<Vec<(String, String)>>(&format!("s={signature}")).unwrap()
            [0]
        .1
        .clone();
        let mut verifier = openssl::sign::Verifier::new(MessageDigest::sha256(), &key).unwrap();
        verifier.update(signed.as_bytes()).unwrap();
        assert!(verifier.verify(&STANDARD.decode(signature).unwrap()).unwrap());
        assert!(signed.contains("RelayState=relay%261"));
    }
}
