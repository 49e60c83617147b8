//! Test documents for the Response table: a `Spec` with every knob of one Response, and
//! rendering and signing it (xmlsec through samael, keys generated per run).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use openssl::pkey::{PKey, Private};
use samael::crypto::CertificateDer;

use super::super::{CM_BEARER, NS_ASSERTION, NS_PROTOCOL, STATUS_SUCCESS};
use crate::saml::metadata::tests::key_and_cert;
use crate::saml::request::{enveloped_signature_template, format_instant, sign_enveloped};
use crate::saml::xmlenc;

pub(super) const NOW: i64 = 1_800_000_000;
pub(super) const SKEW: i64 = 60;
pub(super) const MAX_AGE: i64 = 600;
pub(super) const SP: &str = "https://sp.example";
pub(super) const ACS: &str = "https://sp.example/acs";
pub(super) const IDP: &str = "https://idp.example/saml";
pub(super) const RSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";
pub(super) const SHA256: &str = "http://www.w3.org/2001/04/xmlenc#sha256";
pub(super) const AES256_GCM: &str = "http://www.w3.org/2009/xmlenc11#aes256-gcm";
pub(super) const HOLDER_OF_KEY: &str = "urn:oasis:names:tc:SAML:2.0:cm:holder-of-key";

/// The keys of one run: the IdP's, an attacker's, and the SP's decryption key.
pub(super) struct Keys {
    pub(super) idp: Vec<u8>,
    pub(super) idp_cert: CertificateDer,
    pub(super) evil: Vec<u8>,
    pub(super) sp: PKey<Private>,
    pub(super) sp_cert: Vec<u8>,
    pub(super) evil_sp_cert: Vec<u8>,
}

impl Keys {
    pub(super) fn new() -> Keys {
        let (idp, idp_cert) = key_and_cert();
        let (evil, evil_sp_cert) = key_and_cert();
        let (sp, sp_cert) = key_and_cert();
        Keys {
            idp,
            idp_cert: CertificateDer::from(STANDARD.decode(idp_cert).unwrap()),
            evil,
            sp: PKey::from_rsa(openssl::rsa::Rsa::private_key_from_der(&sp).unwrap()).unwrap(),
            sp_cert: STANDARD.decode(sp_cert).unwrap(),
            evil_sp_cert: STANDARD.decode(evil_sp_cert).unwrap(),
        }
    }
}

#[derive(Clone, Copy, PartialEq)]
pub(super) enum Signer {
    Idp,
    Evil,
}

/// Edits the text of an element before it is signed (or, for `after`, the whole document
/// after signing).
pub(super) type Edit = fn(String) -> String;

/// Every knob of one Response. Times are unix seconds; `None` leaves the attribute out.
#[derive(Clone)]
pub(super) struct Spec {
    pub(super) response_id: &'static str,
    pub(super) assertion_id: String,
    pub(super) issuer: Option<&'static str>,
    pub(super) assertion_issuer: Option<&'static str>,
    pub(super) version: &'static str,
    pub(super) destination: Option<&'static str>,
    pub(super) status: &'static str,
    pub(super) response_instant: Option<i64>,
    pub(super) assertion_instant: Option<i64>,
    pub(super) in_response_to: Option<&'static str>,
    pub(super) bearer_in_response_to: Option<&'static str>,
    pub(super) bearer_not_before: Option<i64>,
    pub(super) bearer_not_on_or_after: Option<i64>,
    pub(super) recipient: Option<&'static str>,
    pub(super) not_before: Option<i64>,
    pub(super) not_on_or_after: Option<i64>,
    /// One AudienceRestriction per entry.
    pub(super) audiences: Vec<Vec<&'static str>>,
    pub(super) sign_response: bool,
    pub(super) sign_assertion: bool,
    pub(super) signer: Signer,
    pub(super) signature_algorithm: &'static str,
    pub(super) digest_algorithm: &'static str,
    /// Encrypt the assertion to the SP (or, `Some(false)`, to another key).
    pub(super) encrypt: Option<bool>,
    pub(super) assertion_edit: Edit,
    pub(super) response_edit: Edit,
    pub(super) after: Edit,
}

pub(super) fn same(text: String) -> String {
    text
}

pub(super) fn good() -> Spec {
    Spec {
        response_id: "_r1",
        assertion_id: "_a1".into(),
        issuer: Some(IDP),
        assertion_issuer: Some(IDP),
        version: "2.0",
        destination: Some(ACS),
        status: STATUS_SUCCESS,
        response_instant: Some(NOW),
        assertion_instant: Some(NOW),
        in_response_to: None,
        bearer_in_response_to: None,
        bearer_not_before: None,
        bearer_not_on_or_after: Some(NOW + 300),
        recipient: Some(ACS),
        not_before: Some(NOW - 5),
        not_on_or_after: Some(NOW + 300),
        audiences: vec![vec![SP]],
        sign_response: false,
        sign_assertion: true,
        signer: Signer::Idp,
        signature_algorithm: RSA_SHA256,
        digest_algorithm: SHA256,
        encrypt: None,
        assertion_edit: same,
        response_edit: same,
        after: same,
    }
}

pub(super) fn attr(name: &str, value: Option<impl std::fmt::Display>) -> String {
    value.map(|v| format!(" {name}=\"{v}\"")).unwrap_or_default()
}

pub(super) fn instant_attr(name: &str, secs: Option<i64>) -> String {
    attr(name, secs.map(format_instant))
}

pub(super) fn sign(keys: &Keys, spec: &Spec, xml: String, id: &str) -> String {
    let template = enveloped_signature_template(id, spec.signature_algorithm, spec.digest_algorithm, None);
    // The signature goes after the Issuer (or first, without one), as the schema puts it.
    let signed = match xml.find("</saml:Issuer>") {
        Some(at) => {
            let at = at + "</saml:Issuer>".len();
            format!("{}{template}{}", &xml[..at], &xml[at..])
        }
        None => {
            let at = xml.find('>').unwrap() + 1;
            format!("{}{template}{}", &xml[..at], &xml[at..])
        }
    };
    let key = match spec.signer {
        Signer::Idp => &keys.idp,
        Signer::Evil => &keys.evil,
    };
    sign_enveloped(&signed, key).unwrap()
}

pub(super) fn assertion(keys: &Keys, spec: &Spec) -> String {
    let issuer = spec
        .assertion_issuer
        .map(|i| format!("<saml:Issuer>{i}</saml:Issuer>"))
        .unwrap_or_default();
    let audiences: String = spec
        .audiences
        .iter()
        .map(|list| {
            let inner: String = list
                .iter()
                .map(|a| format!("<saml:Audience>{a}</saml:Audience>"))
                .collect();
            format!("<saml:AudienceRestriction>{inner}</saml:AudienceRestriction>")
        })
        .collect();
    let xml = format!(
        "<saml:Assertion xmlns:saml=\"{NS_ASSERTION}\" ID=\"{id}\" Version=\"2.0\"{instant}>{issuer}\
         <saml:Subject><saml:NameID Format=\"urn:oasis:names:tc:SAML:2.0:nameid-format:persistent\">alice@example.com</saml:NameID>\
         <saml:SubjectConfirmation Method=\"{CM_BEARER}\"><saml:SubjectConfirmationData{bearer_nb}{bearer_noa}{recipient}{irt}/>\
         </saml:SubjectConfirmation></saml:Subject>\
         <saml:Conditions{nb}{noa}>{audiences}</saml:Conditions>\
         <saml:AuthnStatement AuthnInstant=\"{now}\" SessionIndex=\"s1\"/>\
         <saml:AttributeStatement><saml:Attribute Name=\"urn:oid:1.3.6.1.4.1.5923.1.5.1.1\" FriendlyName=\"groups\">\
         <saml:AttributeValue>engineers</saml:AttributeValue><saml:AttributeValue>R&amp;D</saml:AttributeValue>\
         </saml:Attribute></saml:AttributeStatement></saml:Assertion>",
        id = spec.assertion_id,
        instant = instant_attr("IssueInstant", spec.assertion_instant),
        bearer_nb = instant_attr("NotBefore", spec.bearer_not_before),
        bearer_noa = instant_attr("NotOnOrAfter", spec.bearer_not_on_or_after),
        recipient = attr("Recipient", spec.recipient),
        irt = attr("InResponseTo", spec.bearer_in_response_to),
        nb = instant_attr("NotBefore", spec.not_before),
        noa = instant_attr("NotOnOrAfter", spec.not_on_or_after),
        now = format_instant(NOW),
    );
    let xml = (spec.assertion_edit)(xml);
    if spec.sign_assertion {
        sign(keys, spec, xml, &spec.assertion_id)
    } else {
        xml
    }
}

pub(super) fn response_around(keys: &Keys, spec: &Spec, assertion: &str) -> String {
    let assertion = match spec.encrypt {
        Some(ours) => {
            let cert = if ours { &keys.sp_cert } else { &keys.evil_sp_cert };
            xmlenc::encrypt_assertion(assertion, cert, AES256_GCM, true, &[7u8; 48]).unwrap()
        }
        None => assertion.to_string(),
    };
    let issuer = spec
        .issuer
        .map(|i| format!("<saml:Issuer>{i}</saml:Issuer>"))
        .unwrap_or_default();
    let xml = format!(
        "<samlp:Response xmlns:samlp=\"{NS_PROTOCOL}\" xmlns:saml=\"{NS_ASSERTION}\" ID=\"{id}\" Version=\"{version}\"\
         {instant}{destination}{irt}>{issuer}\
         <samlp:Status><samlp:StatusCode Value=\"{status}\"/></samlp:Status>{assertion}</samlp:Response>",
        id = spec.response_id,
        version = spec.version,
        instant = instant_attr("IssueInstant", spec.response_instant),
        destination = attr("Destination", spec.destination),
        irt = attr("InResponseTo", spec.in_response_to),
        status = spec.status,
    );
    let xml = (spec.response_edit)(xml);
    let xml = if spec.sign_response {
        sign(keys, spec, xml, spec.response_id)
    } else {
        xml
    };
    (spec.after)(xml)
}

pub(super) fn render(keys: &Keys, spec: &Spec) -> String {
    response_around(keys, spec, &assertion(keys, spec))
}

/// The first ds:Signature element of `xml`.
pub(super) fn signature_of(xml: &str) -> String {
    let (start, end) = (xml.find("<ds:Signature").unwrap(), xml.find("</ds:Signature>").unwrap());
    xml[start..end + "</ds:Signature>".len()].to_string()
}

pub(super) fn strip_signatures(xml: &str) -> String {
    let mut out = xml.to_string();
    while let (Some(a), Some(b)) = (out.find("<ds:Signature"), out.find("</ds:Signature>")) {
        out.replace_range(a..b + "</ds:Signature>".len(), "");
    }
    out
}

pub(super) fn without_declaration(xml: &str) -> &str {
    match xml.trim_start().strip_prefix("<?xml") {
        Some(rest) => rest.split_once("?>").map(|(_, r)| r).unwrap_or(rest),
        None => xml,
    }
}

/// Removes the first element that starts with `start` and ends with `end`, both included.
pub(super) fn cut(xml: &str, start: &str, end: &str) -> String {
    let from = xml.find(start).unwrap();
    let to = from + xml[from..].find(end).unwrap() + end.len();
    format!("{}{}", &xml[..from], &xml[to..])
}

pub(super) fn strip_assertion(xml: &str) -> String {
    cut(xml, "<saml:Assertion ", "</saml:Assertion>")
}
