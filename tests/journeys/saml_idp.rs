//! A test-only SAML identity provider: its metadata, and Responses built from a `Spec` that
//! every hostile case bends one way. Signing goes through xmlsec (samael), as a real IdP's
//! would; the keys are generated per run.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

pub const RSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";
pub const RSA_SHA1: &str = "http://www.w3.org/2000/09/xmldsig#rsa-sha1";
pub const SHA256: &str = "http://www.w3.org/2001/04/xmlenc#sha256";
pub const SHA1: &str = "http://www.w3.org/2000/09/xmldsig#sha1";
pub const SUCCESS: &str = "urn:oasis:names:tc:SAML:2.0:status:Success";

pub struct SigningIdentity {
    pub key_der: Vec<u8>,
    pub cert_b64: String,
}

impl SigningIdentity {
    pub fn generate(common_name: &str) -> SigningIdentity {
        use openssl::{asn1::Asn1Time, hash::MessageDigest, pkey::PKey, rsa::Rsa, x509::X509, x509::X509NameBuilder};
        let rsa = Rsa::generate(2048).unwrap();
        let key_der = rsa.private_key_to_der().unwrap();
        let key = PKey::from_rsa(rsa).unwrap();
        let mut name = X509NameBuilder::new().unwrap();
        name.append_entry_by_text("CN", common_name).unwrap();
        let name = name.build();
        let mut b = X509::builder().unwrap();
        b.set_version(2).unwrap();
        b.set_subject_name(&name).unwrap();
        b.set_issuer_name(&name).unwrap();
        b.set_pubkey(&key).unwrap();
        b.set_not_before(&Asn1Time::days_from_now(0).unwrap()).unwrap();
        b.set_not_after(&Asn1Time::days_from_now(1).unwrap()).unwrap();
        b.sign(&key, MessageDigest::sha256()).unwrap();
        SigningIdentity {
            key_der,
            cert_b64: STANDARD.encode(b.build().to_der().unwrap()),
        }
    }

    /// Fills the first signature template of `template`.
    pub fn sign(&self, template: &str) -> String {
        fedgate::saml::request::sign_enveloped(template, &self.key_der).expect("test IdP signs")
    }
}

pub struct TestIdp {
    pub entity_id: String,
    pub signer: SigningIdentity,
}

/// One Response's every knob. Times are unix seconds.
#[derive(Clone)]
pub struct Spec {
    pub response_id: String,
    pub assertion_id: String,
    pub issuer: String,
    pub assertion_issuer: String,
    pub destination: Option<String>,
    pub recipient: Option<String>,
    pub audience: Option<String>,
    pub in_response_to: Option<String>,
    pub name_id: String,
    pub attributes: Vec<(String, Option<String>, Vec<String>)>,
    pub status: String,
    pub issue_instant: i64,
    pub not_before: i64,
    pub not_on_or_after: i64,
    pub bearer_not_on_or_after: i64,
    pub sign_response: bool,
    pub sign_assertion: bool,
    pub signature_algorithm: &'static str,
    pub digest_algorithm: &'static str,
    /// The signer's certificate in the signature's KeyInfo.
    pub key_info: bool,
    /// Encrypt the (signed) assertion to this SP certificate (base64 DER) with this algorithm.
    pub encrypt_to: Option<(String, &'static str)>,
}

fn time(secs: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(secs)
        .unwrap()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap()
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

pub fn random_id() -> String {
    let mut b = [0u8; 16];
    fedgate::service::fill_random(&mut b);
    format!("_{}", hex::encode(b))
}

impl TestIdp {
    pub fn new(entity_id: &str) -> TestIdp {
        TestIdp {
            entity_id: entity_id.to_string(),
            signer: SigningIdentity::generate("test-only saml idp"),
        }
    }

    /// Metadata with the given SingleSignOnService bindings (`redirect`, `post`, `soap`).
    pub fn metadata(&self, bindings: &[&str]) -> String {
        let services: String = bindings
            .iter()
            .map(|b| {
                let binding = match *b {
                    "redirect" => "HTTP-Redirect",
                    "post" => "HTTP-POST",
                    _ => "SOAP",
                };
                format!(
                    "<md:SingleSignOnService Binding=\"urn:oasis:names:tc:SAML:2.0:bindings:{binding}\" \
                     Location=\"https://idp.test/sso/{b}\"/>"
                )
            })
            .collect();
        format!(
            "<md:EntityDescriptor xmlns:md=\"urn:oasis:names:tc:SAML:2.0:metadata\" \
             xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\" entityID=\"{entity}\">\
             <md:IDPSSODescriptor protocolSupportEnumeration=\"urn:oasis:names:tc:SAML:2.0:protocol\">\
             <md:KeyDescriptor use=\"signing\"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{cert}\
             </ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>\
             <md:NameIDFormat>urn:oasis:names:tc:SAML:2.0:nameid-format:persistent</md:NameIDFormat>\
             {services}</md:IDPSSODescriptor></md:EntityDescriptor>",
            entity = escape(&self.entity_id),
            cert = self.signer.cert_b64,
        )
    }

    /// A Response that passes every check of an SP at `public_url`.
    pub fn spec(&self, public_url: &str, now: i64) -> Spec {
        let acs = format!("{public_url}/v3-ext/auth/OS-FEDERATION/SSO/SAML2/POST");
        Spec {
            response_id: random_id(),
            assertion_id: random_id(),
            issuer: self.entity_id.clone(),
            assertion_issuer: self.entity_id.clone(),
            destination: Some(acs.clone()),
            recipient: Some(acs),
            audience: Some(public_url.to_string()),
            in_response_to: None,
            name_id: "alice@example.com".into(),
            attributes: vec![
                (
                    "urn:oid:1.3.6.1.4.1.5923.1.5.1.1".into(),
                    Some("groups".into()),
                    vec!["engineers".into(), "saml-users".into()],
                ),
                ("email".into(), None, vec!["alice@example.com".into()]),
                // Text that must be escaped, through signing and verification.
                ("department".into(), None, vec!["R&D <cloud>".into()]),
            ],
            status: SUCCESS.into(),
            issue_instant: now,
            not_before: now - 5,
            not_on_or_after: now + 300,
            bearer_not_on_or_after: now + 300,
            sign_response: false,
            sign_assertion: true,
            signature_algorithm: RSA_SHA256,
            digest_algorithm: SHA256,
            key_info: true,
            encrypt_to: None,
        }
    }

    fn signature_template(&self, spec: &Spec, reference: &str) -> String {
        fedgate::saml::request::enveloped_signature_template(
            reference,
            spec.signature_algorithm,
            spec.digest_algorithm,
            spec.key_info.then_some(self.signer.cert_b64.as_str()),
        )
    }

    /// The assertion alone, signed when the spec says so.
    pub fn assertion(&self, spec: &Spec) -> String {
        let attributes: String = spec
            .attributes
            .iter()
            .map(|(name, friendly, values)| {
                let friendly = friendly
                    .as_ref()
                    .map(|f| format!(" FriendlyName=\"{}\"", escape(f)))
                    .unwrap_or_default();
                let values: String = values
                    .iter()
                    .map(|v| format!("<saml:AttributeValue xsi:type=\"xs:string\">{}</saml:AttributeValue>", escape(v)))
                    .collect();
                format!(
                    "<saml:Attribute Name=\"{}\"{friendly} NameFormat=\"urn:oasis:names:tc:SAML:2.0:attrname-format:uri\">{values}</saml:Attribute>",
                    escape(name)
                )
            })
            .collect();
        let in_response_to = spec
            .in_response_to
            .as_ref()
            .map(|i| format!(" InResponseTo=\"{}\"", escape(i)))
            .unwrap_or_default();
        let recipient = spec
            .recipient
            .as_ref()
            .map(|r| format!(" Recipient=\"{}\"", escape(r)))
            .unwrap_or_default();
        let audience = spec
            .audience
            .as_ref()
            .map(|a| {
                format!(
                    "<saml:AudienceRestriction><saml:Audience>{}</saml:Audience></saml:AudienceRestriction>",
                    escape(a)
                )
            })
            .unwrap_or_default();
        let signature = if spec.sign_assertion {
            self.signature_template(spec, &spec.assertion_id)
        } else {
            String::new()
        };
        let xml = format!(
            "<saml:Assertion xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\" \
             xmlns:xs=\"http://www.w3.org/2001/XMLSchema\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" \
             ID=\"{id}\" Version=\"2.0\" IssueInstant=\"{instant}\">\
             <saml:Issuer>{issuer}</saml:Issuer>{signature}\
             <saml:Subject><saml:NameID Format=\"urn:oasis:names:tc:SAML:2.0:nameid-format:persistent\">{name_id}</saml:NameID>\
             <saml:SubjectConfirmation Method=\"urn:oasis:names:tc:SAML:2.0:cm:bearer\">\
             <saml:SubjectConfirmationData NotOnOrAfter=\"{bearer_until}\"{recipient}{in_response_to}/>\
             </saml:SubjectConfirmation></saml:Subject>\
             <saml:Conditions NotBefore=\"{not_before}\" NotOnOrAfter=\"{not_after}\">{audience}</saml:Conditions>\
             <saml:AuthnStatement AuthnInstant=\"{instant}\" SessionIndex=\"{id}\"><saml:AuthnContext>\
             <saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport</saml:AuthnContextClassRef>\
             </saml:AuthnContext></saml:AuthnStatement>\
             <saml:AttributeStatement>{attributes}</saml:AttributeStatement></saml:Assertion>",
            id = spec.assertion_id,
            instant = time(spec.issue_instant),
            issuer = escape(&spec.assertion_issuer),
            name_id = escape(&spec.name_id),
            bearer_until = time(spec.bearer_not_on_or_after),
            not_before = time(spec.not_before),
            not_after = time(spec.not_on_or_after),
        );
        if spec.sign_assertion {
            self.signer.sign(&xml)
        } else {
            xml
        }
    }

    /// The whole Response, around `assertion` (as built, or bent by a test).
    pub fn response_around(&self, spec: &Spec, assertion: &str) -> String {
        let assertion = match &spec.encrypt_to {
            Some((cert, algorithm)) => {
                let mut random = [0u8; 48];
                fedgate::service::fill_random(&mut random);
                fedgate::saml::xmlenc::encrypt_assertion(
                    assertion,
                    &STANDARD.decode(cert).unwrap(),
                    algorithm,
                    true,
                    &random,
                )
                .unwrap()
            }
            None => assertion.to_string(),
        };
        let destination = spec
            .destination
            .as_ref()
            .map(|d| format!(" Destination=\"{}\"", escape(d)))
            .unwrap_or_default();
        let in_response_to = spec
            .in_response_to
            .as_ref()
            .map(|i| format!(" InResponseTo=\"{}\"", escape(i)))
            .unwrap_or_default();
        let signature = if spec.sign_response {
            self.signature_template(spec, &spec.response_id)
        } else {
            String::new()
        };
        let xml = format!(
            "<samlp:Response xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\" \
             xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\" ID=\"{id}\" Version=\"2.0\" \
             IssueInstant=\"{instant}\"{destination}{in_response_to}>\
             <saml:Issuer>{issuer}</saml:Issuer>{signature}\
             <samlp:Status><samlp:StatusCode Value=\"{status}\"/></samlp:Status>{assertion}</samlp:Response>",
            id = spec.response_id,
            instant = time(spec.issue_instant),
            issuer = escape(&spec.issuer),
            status = escape(&spec.status),
        );
        if spec.sign_response {
            self.signer.sign(&xml)
        } else {
            xml
        }
    }

    pub fn response(&self, spec: &Spec) -> String {
        self.response_around(spec, &self.assertion(spec))
    }
}

/// The ID and RelayState of the AuthnRequest in a Redirect-binding URL, after checking the
/// request says what an IdP needs.
pub fn read_redirect(location: &str) -> (String, String, String) {
    use std::io::Read;
    let query = location.split_once('?').unwrap().1;
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query).unwrap();
    let get = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()).unwrap();
    let deflated = STANDARD.decode(get("SAMLRequest")).unwrap();
    let mut xml = String::new();
    flate2::read::DeflateDecoder::new(&deflated[..])
        .read_to_string(&mut xml)
        .unwrap();
    let id = first_id(&xml);
    assert_eq!(get("SigAlg"), RSA_SHA256);
    assert!(!get("Signature").is_empty());
    (id, get("RelayState"), xml)
}

/// The value of the first `ID` attribute in `xml`.
fn first_id(xml: &str) -> String {
    xml.split("ID=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string()
}

/// The AuthnRequest ID and the RelayState of a PAOS request envelope.
pub fn read_paos(envelope: &str) -> (String, String) {
    let relay = envelope
        .split("<ecp:RelayState")
        .nth(1)
        .and_then(|s| s.split('>').nth(1))
        .and_then(|s| s.split('<').next())
        .unwrap()
        .to_string();
    (first_id(envelope), relay)
}
