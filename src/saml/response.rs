//! Validating a SAML 2.0 `Response` (Web Browser SSO and ECP profiles) for one identity
//! provider. A pure function of (document, expectations, now): signature verification goes
//! through samael/xmlsec with the certificates of the imported metadata only (never a key from
//! KeyInfo), and from then on only what the signatures cover is read. Replay and InResponseTo
//! bookkeeping need storage and are the caller's; this returns what they need.
//!
//! Stricter than the profile in a few places, each on purpose: Destination and the bearer
//! Recipient are required, at least one AudienceRestriction is required, comments inside an
//! assertion are refused (they only ever appear in signature-preserving truncation attacks),
//! and an assertion older than `max_age_secs` is refused so replay records stay bounded.
//!
//! Each refusal is the `SamlError` variant of its check, with what was expected and what came;
//! the unit table in `response/tests.rs` has a case for every one.

use std::collections::BTreeMap;

use samael::crypto::{AllowedSignatureAlgorithm, CertificateDer, CryptoProvider, ReduceMode, XmlSec};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::xml::{self, Element};
use super::{ALLOWED_SIGNATURES, NS_DSIG, SamlError, xmlenc};

pub const NS_ASSERTION: &str = "urn:oasis:names:tc:SAML:2.0:assertion";
pub const NS_PROTOCOL: &str = "urn:oasis:names:tc:SAML:2.0:protocol";
pub const STATUS_SUCCESS: &str = "urn:oasis:names:tc:SAML:2.0:status:Success";
pub const CM_BEARER: &str = "urn:oasis:names:tc:SAML:2.0:cm:bearer";
/// A decoded Response larger than this is refused before parsing.
pub const MAX_RESPONSE_BYTES: usize = 256 * 1024;

const RSA_SHA1: &str = "http://www.w3.org/2000/09/xmldsig#rsa-sha1";
const SHA1: &str = "http://www.w3.org/2000/09/xmldsig#sha1";

/// Which part of a Response must carry the IdP's signature.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SignedPart {
    Response,
    Assertion,
    /// The Response or the Assertion (or both).
    #[default]
    Either,
}

pub struct ResponseExpectations<'a> {
    pub idp_entity_id: &'a str,
    pub sp_entity_id: &'a str,
    /// URLs the Response may be addressed to (Destination, bearer Recipient).
    pub destinations: &'a [String],
    /// The IdP's signing certificates, from its metadata.
    pub certificates: &'a [CertificateDer],
    pub signed_part: SignedPart,
    /// RSA-SHA1 signatures and SHA-1 digests, for an IdP that can do nothing better.
    pub allow_sha1: bool,
    pub skew_secs: i64,
    /// The oldest IssueInstant accepted, in seconds before now.
    pub max_age_secs: i64,
    pub decryption_key: Option<&'a openssl::pkey::PKey<openssl::pkey::Private>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidResponse {
    pub response_id: String,
    pub assertion_id: String,
    pub in_response_to: Option<String>,
    pub name_id: Option<String>,
    pub name_id_format: Option<String>,
    pub session_index: Option<String>,
    /// Unix seconds until which the assertion could still be accepted: how long a replay
    /// record must live.
    pub usable_until_secs: i64,
    /// Attribute values by Name and by FriendlyName; the NameID as `NameID`.
    pub attributes: BTreeMap<String, Vec<String>>,
}

fn instant(e: &Element, attribute: &'static str) -> Result<Option<i64>, SamlError> {
    e.attr(attribute)
        .map(|v| {
            OffsetDateTime::parse(v.trim(), &Rfc3339)
                .map(OffsetDateTime::unix_timestamp)
                .map_err(|_| SamlError::BadInstant {
                    element: e.name.clone(),
                    attribute,
                    value: v.to_string(),
                })
        })
        .transpose()
}

fn signature_algorithms_allowed(root: &Element, allow_sha1: bool) -> Result<(), SamlError> {
    let mut signatures: Vec<&str> = ALLOWED_SIGNATURES
        .iter()
        .map(AllowedSignatureAlgorithm::signature_uri)
        .collect();
    let mut digests: Vec<&str> = ALLOWED_SIGNATURES
        .iter()
        .map(AllowedSignatureAlgorithm::digest_uri)
        .collect();
    if allow_sha1 {
        signatures.push(RSA_SHA1);
        digests.push(SHA1);
    }
    for sig in root.descendants().into_iter().filter(|e| e.is(NS_DSIG, "Signature")) {
        let info = sig
            .child(NS_DSIG, "SignedInfo")
            .ok_or(SamlError::Missing("ds:SignedInfo"))?;
        let method = info
            .child(NS_DSIG, "SignatureMethod")
            .and_then(|m| m.attr("Algorithm"))
            .unwrap_or_default();
        if !signatures.contains(&method) {
            return Err(SamlError::SignatureAlgorithmNotAllowed(method.to_string()));
        }
        for reference in info.children_named(NS_DSIG, "Reference") {
            let digest = reference
                .child(NS_DSIG, "DigestMethod")
                .and_then(|m| m.attr("Algorithm"))
                .unwrap_or_default();
            if !digests.contains(&digest) {
                return Err(SamlError::DigestAlgorithmNotAllowed(digest.to_string()));
            }
        }
    }
    Ok(())
}

/// Two elements with one ID make "the element this signature references" ambiguous, which
/// is what signature wrapping relies on.
fn refuse_duplicate_ids(root: &Element) -> Result<(), SamlError> {
    let mut seen = std::collections::HashSet::new();
    for e in std::iter::once(root).chain(root.descendants()) {
        if let Some(id) = e.attr("ID")
            && !seen.insert(id)
        {
            return Err(SamlError::DuplicateId(id.to_string()));
        }
    }
    Ok(())
}

/// Comments never belong in an assertion; inside a value they are how signature-preserving
/// truncation (`admin@example.com<!---->.evil.example`) works.
fn refuse_comments_in_assertions(root: &Element) -> Result<(), SamlError> {
    let assertions = std::iter::once(root)
        .chain(root.descendants())
        .filter(|e| e.is(NS_ASSERTION, "Assertion"));
    for assertion in assertions {
        if assertion.contains_comment() {
            return Err(SamlError::CommentInAssertion);
        }
    }
    Ok(())
}

/// Verifies every signature in `xml` with the IdP's certificates and returns the signed
/// content only: the canonical form of the signed element, exactly as digested.
fn verified_content(xml: &str, expect: &ResponseExpectations) -> Result<Element, SamlError> {
    let allowed: Option<&[AllowedSignatureAlgorithm]> = if expect.allow_sha1 {
        None
    } else {
        Some(&ALLOWED_SIGNATURES)
    };
    // One certificate at a time: samael gives up at the first certificate xmlsec cannot use
    // for a signature (an RSA key, or another curve, for an ECDSA one), so metadata listing
    // such a certificate first would keep the right one from ever being tried.
    let mut refusal = SamlError::NoSigningCertificate;
    for certificate in expect.certificates {
        let reduced = XmlSec::reduce_xml_to_signed_with_allowed_algorithms(
            xml,
            std::slice::from_ref(certificate),
            // No ancestors, no unsigned siblings, and no second pass over the document to prune.
            ReduceMode::PreDigest,
            allowed,
        );
        match reduced {
            Ok(reduced) => return xml::parse(&reduced),
            Err(e) => refusal = SamlError::SignatureInvalid(e.to_string()),
        }
    }
    Err(refusal)
}

fn has_signature(e: &Element) -> bool {
    e.child(NS_DSIG, "Signature").is_some()
}

/// The Issuer of `e` (the `element`) is the IdP's; `missing` names it when it is required.
fn issuer_is(
    e: &Element,
    expect: &ResponseExpectations,
    element: &'static str,
    missing: Option<&'static str>,
) -> Result<(), SamlError> {
    match (e.child(NS_ASSERTION, "Issuer"), missing) {
        (Some(issuer), _) if issuer.text.trim() == expect.idp_entity_id => Ok(()),
        (Some(issuer), _) => Err(SamlError::IssuerMismatch {
            element,
            expected: expect.idp_entity_id.to_string(),
            got: issuer.text.trim().to_string(),
        }),
        (None, Some(what)) => Err(SamlError::Missing(what)),
        (None, None) => Ok(()),
    }
}

/// Validates a decoded Response document.
pub fn validate_response(xml: &str, expect: &ResponseExpectations, now_secs: i64) -> Result<ValidResponse, SamlError> {
    super::metadata::check_untrusted_xml(xml, MAX_RESPONSE_BYTES)?;
    let raw = xml::parse(xml)?;
    if !raw.is(NS_PROTOCOL, "Response") {
        return Err(SamlError::UnexpectedRoot {
            expected: "samlp:Response",
            found: raw.name.clone(),
        });
    }
    refuse_duplicate_ids(&raw)?;
    refuse_comments_in_assertions(&raw)?;
    signature_algorithms_allowed(&raw, expect.allow_sha1)?;
    let response_signed = has_signature(&raw);
    if expect.signed_part == SignedPart::Response && !response_signed {
        return Err(SamlError::ResponseUnsigned);
    }
    // From here on, a signed Response is read only as far as its signature covers it.
    let response = if response_signed {
        let signed = verified_content(xml, expect)?;
        if !signed.is(NS_PROTOCOL, "Response") || signed.attr("ID") != raw.attr("ID") {
            return Err(SamlError::SignatureMisplaced("Response"));
        }
        signed
    } else {
        raw
    };
    let response_id = response
        .attr("ID")
        .filter(|id| !id.is_empty())
        .ok_or(SamlError::BadId("Response"))?
        .to_string();
    version_is_2(&response, "Response")?;
    issuer_is(&response, expect, "Response", None)?;
    let status = response
        .child(NS_PROTOCOL, "Status")
        .and_then(|s| s.child(NS_PROTOCOL, "StatusCode"))
        .and_then(|c| c.attr("Value"))
        .unwrap_or_default();
    if status != STATUS_SUCCESS {
        return Err(SamlError::StatusNotSuccess(status.to_string()));
    }
    match response.attr("Destination") {
        Some(d) if expect.destinations.iter().any(|ok| ok == d) => {}
        Some(d) => {
            return Err(SamlError::DestinationMismatch {
                expected: expect.destinations.to_vec(),
                got: d.to_string(),
            });
        }
        None => return Err(SamlError::Missing("Destination")),
    }
    check_instant_fresh(&response, expect, now_secs, "Response", "Response IssueInstant")?;

    let plain: Vec<&Element> = response.children_named(NS_ASSERTION, "Assertion").collect();
    let encrypted: Vec<&Element> = response.children_named(NS_ASSERTION, "EncryptedAssertion").collect();
    if plain.len() + encrypted.len() != 1 {
        return Err(SamlError::AssertionCount(plain.len() + encrypted.len()));
    }
    let assertion: Element = if let Some(enc) = encrypted.first() {
        let key = expect.decryption_key.ok_or(SamlError::NoDecryptionKey)?;
        let inner_xml = xmlenc::decrypt_assertion(enc, key)?;
        super::metadata::check_untrusted_xml(&inner_xml, MAX_RESPONSE_BYTES)?;
        let inner = xml::parse(&inner_xml)?;
        if !inner.is(NS_ASSERTION, "Assertion") {
            return Err(SamlError::UnexpectedRoot {
                expected: "saml:Assertion",
                found: inner.name,
            });
        }
        refuse_duplicate_ids(&inner)?;
        refuse_comments_in_assertions(&inner)?;
        signature_algorithms_allowed(&inner, expect.allow_sha1)?;
        if has_signature(&inner) {
            let signed = verified_content(&inner_xml, expect)?;
            if !signed.is(NS_ASSERTION, "Assertion") || signed.attr("ID") != inner.attr("ID") {
                return Err(SamlError::SignatureMisplaced("assertion"));
            }
            signed
        } else if expect.signed_part != SignedPart::Response && !response_signed {
            return Err(SamlError::Unsigned);
        } else if expect.signed_part == SignedPart::Assertion {
            return Err(SamlError::AssertionUnsigned);
        } else {
            inner
        }
    } else {
        let candidate = plain[0];
        if has_signature(candidate) {
            if response_signed {
                // Already verified together with the Response.
                candidate.clone()
            } else {
                let signed = verified_content(xml, expect)?;
                if !signed.is(NS_ASSERTION, "Assertion") || signed.attr("ID") != candidate.attr("ID") {
                    return Err(SamlError::SignatureMisplaced("assertion"));
                }
                signed
            }
        } else if expect.signed_part == SignedPart::Assertion {
            return Err(SamlError::AssertionUnsigned);
        } else if !response_signed {
            return Err(SamlError::Unsigned);
        } else {
            candidate.clone()
        }
    };
    validate_assertion(&response, response_signed, &assertion, expect, now_secs, response_id)
}

/// IssueInstant: present, not in the future, and no older than `max_age_secs` (all with the
/// skew). The profile sets no age limit; fedgate's keeps replay records bounded.
fn check_instant_fresh(
    e: &Element,
    expect: &ResponseExpectations,
    now: i64,
    element: &'static str,
    missing: &'static str,
) -> Result<i64, SamlError> {
    let issued = instant(e, "IssueInstant")?.ok_or(SamlError::Missing(missing))?;
    if issued > now + expect.skew_secs {
        return Err(SamlError::IssuedInFuture { element, issued });
    }
    if issued < now - expect.max_age_secs - expect.skew_secs {
        return Err(SamlError::TooOld {
            element,
            issued,
            max_age_secs: expect.max_age_secs,
        });
    }
    Ok(issued)
}

fn version_is_2(e: &Element, element: &'static str) -> Result<(), SamlError> {
    match e.attr("Version") {
        Some("2.0") => Ok(()),
        got => Err(SamlError::VersionMismatch {
            element,
            got: got.map(str::to_string),
        }),
    }
}

fn validate_assertion(
    response: &Element,
    response_signed: bool,
    assertion: &Element,
    expect: &ResponseExpectations,
    now: i64,
    response_id: String,
) -> Result<ValidResponse, SamlError> {
    let skew = expect.skew_secs;
    let assertion_id = assertion
        .attr("ID")
        .filter(|id| !id.is_empty() && id.len() <= 256)
        .ok_or(SamlError::BadId("assertion"))?
        .to_string();
    version_is_2(assertion, "assertion")?;
    issuer_is(assertion, expect, "assertion", Some("assertion Issuer"))?;
    let issued = check_instant_fresh(assertion, expect, now, "assertion", "assertion IssueInstant")?;
    let mut usable_until = issued + expect.max_age_secs;

    let subject = assertion
        .child(NS_ASSERTION, "Subject")
        .ok_or(SamlError::Missing("Subject"))?;
    if subject.child(NS_ASSERTION, "EncryptedID").is_some() {
        return Err(SamlError::Unsupported("encrypted NameIDs"));
    }
    let name_id = subject.child(NS_ASSERTION, "NameID");

    // Bearer confirmation: one valid bearer SubjectConfirmation suffices (profile §4.1.4.2);
    // others (holder-of-key, sender-vouches) confirm nothing here. When none is valid, the
    // first one's refusal is the reason.
    let mut first_error = None;
    let mut confirmed: Option<(i64, Option<String>)> = None;
    let bearers = subject
        .children_named(NS_ASSERTION, "SubjectConfirmation")
        .filter(|c| c.attr("Method") == Some(CM_BEARER));
    for confirmation in bearers {
        match check_bearer(confirmation, expect, now) {
            Ok(found) => {
                confirmed = Some(found);
                break;
            }
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    let (bearer_until, scd_in_response_to) = match (confirmed, first_error) {
        (Some(found), _) => found,
        (None, Some(e)) => return Err(e),
        (None, None) => return Err(SamlError::Missing("bearer SubjectConfirmation")),
    };
    usable_until = usable_until.min(bearer_until);

    let conditions = assertion
        .child(NS_ASSERTION, "Conditions")
        .ok_or(SamlError::Missing("Conditions"))?;
    // Core §2.5.1.2: valid from NotBefore (inclusive) to NotOnOrAfter (exclusive).
    if let Some(not_before) = instant(conditions, "NotBefore")?
        && now + skew < not_before
    {
        return Err(SamlError::NotYetValid { not_before });
    }
    if let Some(not_on_or_after) = instant(conditions, "NotOnOrAfter")? {
        if now - skew >= not_on_or_after {
            return Err(SamlError::Expired { not_on_or_after });
        }
        usable_until = usable_until.min(not_on_or_after);
    }
    let restrictions: Vec<&Element> = conditions.children_named(NS_ASSERTION, "AudienceRestriction").collect();
    if restrictions.is_empty() {
        return Err(SamlError::Missing("AudienceRestriction"));
    }
    // Core §2.5.1.4: every AudienceRestriction must name us.
    for restriction in restrictions {
        let audiences: Vec<&str> = restriction
            .children_named(NS_ASSERTION, "Audience")
            .map(|a| a.text.trim())
            .collect();
        if !audiences.contains(&expect.sp_entity_id) {
            return Err(SamlError::AudienceMismatch {
                expected: expect.sp_entity_id.to_string(),
                got: audiences.into_iter().map(str::to_string).collect(),
            });
        }
    }

    let response_in_response_to = response.attr("InResponseTo").map(str::to_string);
    let in_response_to = match (response_in_response_to, scd_in_response_to) {
        (Some(response), Some(assertion)) if response != assertion => {
            return Err(SamlError::InResponseToMismatch { response, assertion });
        }
        // Only a signature makes InResponseTo worth anything.
        (Some(_), None) if !response_signed => return Err(SamlError::InResponseToUnsigned),
        (a, b) => b.or(a),
    };

    let mut attributes: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let (name_id_value, name_id_format) = match name_id {
        Some(n) => {
            let value = n.text.trim().to_string();
            if !value.is_empty() {
                attributes.insert("NameID".into(), vec![value.clone()]);
            }
            (Some(value), n.attr("Format").map(str::to_string))
        }
        None => (None, None),
    };
    for statement in assertion.children_named(NS_ASSERTION, "AttributeStatement") {
        if statement.child(NS_ASSERTION, "EncryptedAttribute").is_some() {
            return Err(SamlError::Unsupported("encrypted attributes"));
        }
        for attribute in statement.children_named(NS_ASSERTION, "Attribute") {
            let values: Vec<String> = attribute
                .children_named(NS_ASSERTION, "AttributeValue")
                .map(|v| v.text.clone())
                .collect();
            let names = [attribute.attr("Name"), attribute.attr("FriendlyName")];
            for (i, name) in names.into_iter().enumerate() {
                let Some(name) = name.filter(|n| !n.is_empty()) else {
                    continue;
                };
                if i == 1 && Some(name) == names[0] {
                    continue;
                }
                attributes
                    .entry(name.to_string())
                    .or_default()
                    .extend(values.iter().cloned());
            }
        }
    }
    let session_index = assertion
        .child(NS_ASSERTION, "AuthnStatement")
        .and_then(|s| s.attr("SessionIndex"))
        .map(str::to_string);
    Ok(ValidResponse {
        response_id,
        assertion_id,
        in_response_to,
        name_id: name_id_value,
        name_id_format,
        session_index,
        usable_until_secs: usable_until + skew,
        attributes,
    })
}

/// Checks one bearer SubjectConfirmation (profile §4.1.4.2: NotOnOrAfter and Recipient
/// required; NotBefore is not allowed there, but is honoured when present); returns its
/// NotOnOrAfter and InResponseTo.
fn check_bearer(
    confirmation: &Element,
    expect: &ResponseExpectations,
    now: i64,
) -> Result<(i64, Option<String>), SamlError> {
    let data = confirmation
        .child(NS_ASSERTION, "SubjectConfirmationData")
        .ok_or(SamlError::Missing("bearer SubjectConfirmationData"))?;
    let not_on_or_after =
        instant(data, "NotOnOrAfter")?.ok_or(SamlError::Missing("bearer SubjectConfirmationData@NotOnOrAfter"))?;
    if now - expect.skew_secs >= not_on_or_after {
        return Err(SamlError::BearerExpired { not_on_or_after });
    }
    if let Some(not_before) = instant(data, "NotBefore")?
        && now + expect.skew_secs < not_before
    {
        return Err(SamlError::BearerNotYetValid { not_before });
    }
    match data.attr("Recipient") {
        Some(r) if expect.destinations.iter().any(|ok| ok == r) => {}
        Some(r) => {
            return Err(SamlError::RecipientMismatch {
                expected: expect.destinations.to_vec(),
                got: r.to_string(),
            });
        }
        None => return Err(SamlError::Missing("Recipient")),
    }
    Ok((not_on_or_after, data.attr("InResponseTo").map(str::to_string)))
}

#[cfg(test)]
mod tests;
