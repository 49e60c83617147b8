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
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
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

fn instant(node: &Element, attribute: &'static str) -> Result<Option<i64>, SamlError> {
    node.attr(attribute)
        .map(|value| {
            OffsetDateTime::parse(value.trim(), &Rfc3339)
                .map(OffsetDateTime::unix_timestamp)
                .map_err(|_| SamlError::BadInstant {
                    element: node.name.clone(),
                    attribute,
                    value: value.to_string(),
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
    for signature in root
        .descendants()
        .into_iter()
        .filter(|node| node.is(NS_DSIG, "Signature"))
    {
        let info = signature
            .child(NS_DSIG, "SignedInfo")
            .ok_or(SamlError::Missing("ds:SignedInfo"))?;
        let method = info
            .child(NS_DSIG, "SignatureMethod")
            .and_then(|method| method.attr("Algorithm"))
            .unwrap_or_default();
        if !signatures.contains(&method) {
            return Err(SamlError::SignatureAlgorithmNotAllowed(method.to_string()));
        }
        for reference in info.children_named(NS_DSIG, "Reference") {
            let digest = reference
                .child(NS_DSIG, "DigestMethod")
                .and_then(|method| method.attr("Algorithm"))
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
    for node in std::iter::once(root).chain(root.descendants()) {
        if let Some(id) = node.attr("ID")
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
        .filter(|node| node.is(NS_ASSERTION, "Assertion"));
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

fn has_signature(node: &Element) -> bool {
    node.child(NS_DSIG, "Signature").is_some()
}

/// The Issuer of `node` (the `element`) is the IdP's; `missing` names it when it is required.
fn issuer_is(
    node: &Element,
    expect: &ResponseExpectations,
    element: &'static str,
    missing: Option<&'static str>,
) -> Result<(), SamlError> {
    match (node.child(NS_ASSERTION, "Issuer"), missing) {
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

/// Validates a decoded Response document: refuse what only attacks contain, verify the
/// signatures and from then on read only what they cover, check the Response, pick its one
/// assertion (decrypted and verified where it is encrypted), and check that.
pub fn validate_response(xml: &str, expect: &ResponseExpectations, now_secs: i64) -> Result<ValidResponse, SamlError> {
    let raw = parse_untrusted(xml, Part::Response, expect)?;
    let response_signed = has_signature(&raw);
    if expect.signed_part == SignedPart::Response && !response_signed {
        return Err(SamlError::ResponseUnsigned);
    }
    // From here on, a signed Response is read only as far as its signature covers it.
    let response = if response_signed {
        signed_element(xml, &raw, Part::Response, expect)?
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
    status_is_success(&response)?;
    destination_is_ours(&response, expect)?;
    check_instant_fresh(&response, expect, now_secs, "Response", "Response IssueInstant")?;
    let assertion = readable_assertion(xml, &response, response_signed, expect)?;
    validate_assertion(&response, response_signed, &assertion, expect, now_secs, response_id)
}

/// The two elements a signature may cover.
#[derive(Clone, Copy)]
enum Part {
    Response,
    Assertion,
}

impl Part {
    fn is(self, node: &Element) -> bool {
        match self {
            Part::Response => node.is(NS_PROTOCOL, "Response"),
            Part::Assertion => node.is(NS_ASSERTION, "Assertion"),
        }
    }

    fn qualified_name(self) -> &'static str {
        match self {
            Part::Response => "samlp:Response",
            Part::Assertion => "saml:Assertion",
        }
    }

    /// As `SignatureMisplaced` names it.
    fn label(self) -> &'static str {
        match self {
            Part::Response => "Response",
            Part::Assertion => "assertion",
        }
    }
}

/// Parses a document no signature has vouched for yet, whose root must be `part`, and refuses
/// what only attacks contain: duplicate IDs, comments in assertions, signature algorithms
/// outside the allow-list.
fn parse_untrusted(xml: &str, part: Part, expect: &ResponseExpectations) -> Result<Element, SamlError> {
    super::metadata::check_untrusted_xml(xml, MAX_RESPONSE_BYTES)?;
    let root = xml::parse(xml)?;
    if !part.is(&root) {
        return Err(SamlError::UnexpectedRoot {
            expected: part.qualified_name(),
            found: root.name,
        });
    }
    refuse_duplicate_ids(&root)?;
    refuse_comments_in_assertions(&root)?;
    signature_algorithms_allowed(&root, expect.allow_sha1)?;
    Ok(root)
}

/// The signed content of `xml`, which must be the `part` with the ID of `unverified` (the
/// element that would otherwise be read): anything else is signature wrapping.
fn signed_element(
    xml: &str,
    unverified: &Element,
    part: Part,
    expect: &ResponseExpectations,
) -> Result<Element, SamlError> {
    let signed = verified_content(xml, expect)?;
    if !part.is(&signed) || signed.attr("ID") != unverified.attr("ID") {
        return Err(SamlError::SignatureMisplaced(part.label()));
    }
    Ok(signed)
}

fn status_is_success(response: &Element) -> Result<(), SamlError> {
    let status = response
        .child(NS_PROTOCOL, "Status")
        .and_then(|status| status.child(NS_PROTOCOL, "StatusCode"))
        .and_then(|code| code.attr("Value"))
        .unwrap_or_default();
    if status != STATUS_SUCCESS {
        return Err(SamlError::StatusNotSuccess(status.to_string()));
    }
    Ok(())
}

/// Destination is required (stricter than the profile) and must be one of our endpoints.
fn destination_is_ours(response: &Element, expect: &ResponseExpectations) -> Result<(), SamlError> {
    match response.attr("Destination") {
        Some(destination) if expect.destinations.iter().any(|ok| ok == destination) => Ok(()),
        Some(destination) => Err(SamlError::DestinationMismatch {
            expected: expect.destinations.to_vec(),
            got: destination.to_string(),
        }),
        None => Err(SamlError::Missing("Destination")),
    }
}

/// The Response's one assertion, as far as a signature covers it: decrypted and verified on
/// its own when it is encrypted, else verified in the document unless the Response's
/// signature already covers it. `signed_part` decides which signatures must be there.
fn readable_assertion(
    xml: &str,
    response: &Element,
    response_signed: bool,
    expect: &ResponseExpectations,
) -> Result<Element, SamlError> {
    let plain: Vec<&Element> = response.children_named(NS_ASSERTION, "Assertion").collect();
    let encrypted: Vec<&Element> = response.children_named(NS_ASSERTION, "EncryptedAssertion").collect();
    if plain.len() + encrypted.len() != 1 {
        return Err(SamlError::AssertionCount(plain.len() + encrypted.len()));
    }
    if let Some(encrypted) = encrypted.first() {
        return decrypted_assertion(encrypted, response_signed, expect);
    }
    let candidate = plain[0];
    if has_signature(candidate) {
        if response_signed {
            // Already verified together with the Response.
            Ok(candidate.clone())
        } else {
            signed_element(xml, candidate, Part::Assertion, expect)
        }
    } else if expect.signed_part == SignedPart::Assertion {
        Err(SamlError::AssertionUnsigned)
    } else if !response_signed {
        Err(SamlError::Unsigned)
    } else {
        Ok(candidate.clone())
    }
}

/// An EncryptedAssertion decrypted with our key, then treated as the untrusted document it
/// is: the same refusals, and its own signature verified when it has one.
fn decrypted_assertion(
    encrypted: &Element,
    response_signed: bool,
    expect: &ResponseExpectations,
) -> Result<Element, SamlError> {
    let key = expect.decryption_key.ok_or(SamlError::NoDecryptionKey)?;
    let inner_xml = xmlenc::decrypt_assertion(encrypted, key)?;
    let inner = parse_untrusted(&inner_xml, Part::Assertion, expect)?;
    if has_signature(&inner) {
        signed_element(&inner_xml, &inner, Part::Assertion, expect)
    } else if expect.signed_part != SignedPart::Response && !response_signed {
        Err(SamlError::Unsigned)
    } else if expect.signed_part == SignedPart::Assertion {
        Err(SamlError::AssertionUnsigned)
    } else {
        Ok(inner)
    }
}

/// IssueInstant: present, not in the future, and no older than `max_age_secs` (all with the
/// skew). The profile sets no age limit; fedgate's keeps replay records bounded.
fn check_instant_fresh(
    node: &Element,
    expect: &ResponseExpectations,
    now: i64,
    element: &'static str,
    missing: &'static str,
) -> Result<i64, SamlError> {
    let issued = instant(node, "IssueInstant")?.ok_or(SamlError::Missing(missing))?;
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

fn version_is_2(node: &Element, element: &'static str) -> Result<(), SamlError> {
    match node.attr("Version") {
        Some("2.0") => Ok(()),
        got => Err(SamlError::VersionMismatch {
            element,
            got: got.map(str::to_string),
        }),
    }
}

/// The assertion's own checks, in order: its ID, version, Issuer and age; the subject and a
/// bearer confirmation for this endpoint; the conditions (validity window, audiences); the
/// InResponseTo both parts agree on; then what is read from it.
fn validate_assertion(
    response: &Element,
    response_signed: bool,
    assertion: &Element,
    expect: &ResponseExpectations,
    now: i64,
    response_id: String,
) -> Result<ValidResponse, SamlError> {
    let assertion_id = assertion
        .attr("ID")
        .filter(|id| !id.is_empty() && id.len() <= 256)
        .ok_or(SamlError::BadId("assertion"))?
        .to_string();
    version_is_2(assertion, "assertion")?;
    issuer_is(assertion, expect, "assertion", Some("assertion Issuer"))?;
    let issued = check_instant_fresh(assertion, expect, now, "assertion", "assertion IssueInstant")?;
    let subject = assertion
        .child(NS_ASSERTION, "Subject")
        .ok_or(SamlError::Missing("Subject"))?;
    if subject.child(NS_ASSERTION, "EncryptedID").is_some() {
        return Err(SamlError::Unsupported("encrypted NameIDs"));
    }
    let bearer = confirmed_bearer(subject, expect, now)?;
    let conditions_until = check_conditions(assertion, expect, now)?;
    let in_response_to = agreed_in_response_to(response, response_signed, bearer.in_response_to)?;
    let name_id = subject.child(NS_ASSERTION, "NameID");
    let attributes = read_attributes(assertion, name_id)?;
    let usable_until = (issued + expect.max_age_secs)
        .min(bearer.not_on_or_after)
        .min(conditions_until.unwrap_or(i64::MAX));
    Ok(ValidResponse {
        response_id,
        assertion_id,
        in_response_to,
        name_id: name_id.map(|n| n.text.trim().to_string()),
        name_id_format: name_id.and_then(|n| n.attr("Format")).map(str::to_string),
        session_index: assertion
            .child(NS_ASSERTION, "AuthnStatement")
            .and_then(|statement| statement.attr("SessionIndex"))
            .map(str::to_string),
        usable_until_secs: usable_until + expect.skew_secs,
        attributes,
    })
}

/// What a valid bearer SubjectConfirmation gives.
struct Bearer {
    not_on_or_after: i64,
    in_response_to: Option<String>,
}

/// Bearer confirmation: one valid bearer SubjectConfirmation suffices (profile §4.1.4.2);
/// others (holder-of-key, sender-vouches) confirm nothing here. When none is valid, the first
/// one's refusal is the reason.
fn confirmed_bearer(subject: &Element, expect: &ResponseExpectations, now: i64) -> Result<Bearer, SamlError> {
    let mut first_error = None;
    let bearers = subject
        .children_named(NS_ASSERTION, "SubjectConfirmation")
        .filter(|confirmation| confirmation.attr("Method") == Some(CM_BEARER));
    for confirmation in bearers {
        match check_bearer(confirmation, expect, now) {
            Ok(bearer) => return Ok(bearer),
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    Err(first_error.unwrap_or(SamlError::Missing("bearer SubjectConfirmation")))
}

/// Conditions: required; the validity window (core §2.5.1.2: from NotBefore inclusive to
/// NotOnOrAfter exclusive) holds now; at least one AudienceRestriction, and every one names us
/// (core §2.5.1.4). Gives NotOnOrAfter.
fn check_conditions(assertion: &Element, expect: &ResponseExpectations, now: i64) -> Result<Option<i64>, SamlError> {
    let skew = expect.skew_secs;
    let conditions = assertion
        .child(NS_ASSERTION, "Conditions")
        .ok_or(SamlError::Missing("Conditions"))?;
    if let Some(not_before) = instant(conditions, "NotBefore")?
        && now + skew < not_before
    {
        return Err(SamlError::NotYetValid { not_before });
    }
    let not_on_or_after = instant(conditions, "NotOnOrAfter")?;
    if let Some(not_on_or_after) = not_on_or_after
        && now - skew >= not_on_or_after
    {
        return Err(SamlError::Expired { not_on_or_after });
    }
    let restrictions: Vec<&Element> = conditions.children_named(NS_ASSERTION, "AudienceRestriction").collect();
    if restrictions.is_empty() {
        return Err(SamlError::Missing("AudienceRestriction"));
    }
    for restriction in restrictions {
        let audiences: Vec<&str> = restriction
            .children_named(NS_ASSERTION, "Audience")
            .map(|audience| audience.text.trim())
            .collect();
        if !audiences.contains(&expect.sp_entity_id) {
            return Err(SamlError::AudienceMismatch {
                expected: expect.sp_entity_id.to_string(),
                got: audiences.into_iter().map(str::to_string).collect(),
            });
        }
    }
    Ok(not_on_or_after)
}

/// The request the Response answers: the bearer confirmation's InResponseTo, else the
/// Response's; where both are present they must agree, and the Response's alone counts only
/// when a signature covers it.
fn agreed_in_response_to(
    response: &Element,
    response_signed: bool,
    bearer_in_response_to: Option<String>,
) -> Result<Option<String>, SamlError> {
    let response_in_response_to = response.attr("InResponseTo").map(str::to_string);
    match (response_in_response_to, bearer_in_response_to) {
        (Some(response), Some(assertion)) if response != assertion => {
            Err(SamlError::InResponseToMismatch { response, assertion })
        }
        (Some(_), None) if !response_signed => Err(SamlError::InResponseToUnsigned),
        (from_response, from_bearer) => Ok(from_bearer.or(from_response)),
    }
}

/// Attribute values by Name and by FriendlyName (once when both are the same), and the NameID
/// as `NameID`.
fn read_attributes(assertion: &Element, name_id: Option<&Element>) -> Result<BTreeMap<String, Vec<String>>, SamlError> {
    let mut attributes: BTreeMap<String, Vec<String>> = BTreeMap::new();
    if let Some(name_id) = name_id.map(|n| n.text.trim()).filter(|n| !n.is_empty()) {
        attributes.insert("NameID".into(), vec![name_id.to_string()]);
    }
    for statement in assertion.children_named(NS_ASSERTION, "AttributeStatement") {
        if statement.child(NS_ASSERTION, "EncryptedAttribute").is_some() {
            return Err(SamlError::Unsupported("encrypted attributes"));
        }
        for attribute in statement.children_named(NS_ASSERTION, "Attribute") {
            let values: Vec<String> = attribute
                .children_named(NS_ASSERTION, "AttributeValue")
                .map(|value| value.text.clone())
                .collect();
            let name = attribute.attr("Name").filter(|n| !n.is_empty());
            let friendly_name = attribute
                .attr("FriendlyName")
                .filter(|n| !n.is_empty() && Some(*n) != name);
            for key in [name, friendly_name].into_iter().flatten() {
                attributes
                    .entry(key.to_string())
                    .or_default()
                    .extend(values.iter().cloned());
            }
        }
    }
    Ok(attributes)
}

/// Checks one bearer SubjectConfirmation (profile §4.1.4.2: NotOnOrAfter and Recipient
/// required; NotBefore is not allowed there, but is honoured when present).
fn check_bearer(confirmation: &Element, expect: &ResponseExpectations, now: i64) -> Result<Bearer, SamlError> {
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
        Some(recipient) if expect.destinations.iter().any(|ok| ok == recipient) => {}
        Some(recipient) => {
            return Err(SamlError::RecipientMismatch {
                expected: expect.destinations.to_vec(),
                got: recipient.to_string(),
            });
        }
        None => return Err(SamlError::Missing("Recipient")),
    }
    Ok(Bearer {
        not_on_or_after,
        in_response_to: data.attr("InResponseTo").map(str::to_string),
    })
}

#[cfg(test)]
mod tests;
