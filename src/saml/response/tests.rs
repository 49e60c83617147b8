//! The Response validation table, as dex's `saml_test.go` has it: a case names a document
//! (a `Spec` bent one way), the `now` it is checked at and the exact result; one `check`
//! calls the API. Every check has a case, and the time checks have theirs at exactly the skew,
//! one second inside and one second outside it. `independent` checks every allow-listed
//! signature algorithm and AES-GCM with documents xmlsec1 made.

mod build;
mod independent;

use super::*;
use crate::saml::request::format_instant;
use build::*;

/// What a case's expectations differ in from the default.
#[derive(Clone, Copy, PartialEq)]
enum Trust {
    /// The IdP's certificate, the SP's decryption key, either part signed.
    Default,
    SignedPart(SignedPart),
    NoCertificates,
    NoDecryptionKey,
}

struct Case {
    name: &'static str,
    xml: String,
    now: i64,
    trust: Trust,
    want: Result<(), SamlError>,
}

fn check(keys: &Keys, case: &Case) -> Result<ValidResponse, SamlError> {
    let destinations = [ACS.to_string()];
    let certificates = match case.trust {
        Trust::NoCertificates => vec![],
        _ => vec![keys.idp_cert.clone()],
    };
    let expect = ResponseExpectations {
        idp_entity_id: IDP,
        sp_entity_id: SP,
        destinations: &destinations,
        certificates: &certificates,
        signed_part: match case.trust {
            Trust::SignedPart(part) => part,
            _ => SignedPart::Either,
        },
        allow_sha1: false,
        skew_secs: SKEW,
        max_age_secs: MAX_AGE,
        decryption_key: (case.trust != Trust::NoDecryptionKey).then_some(&keys.sp),
    };
    validate_response(&case.xml, &expect, case.now)
}

/// The exact refusal; xmlsec's and quick-xml's texts (`SignatureInvalid`, `Malformed`) are
/// theirs, so only their variant is compared.
fn assert_result(name: &str, got: Result<ValidResponse, SamlError>, want: &Result<(), SamlError>) {
    match (got, want) {
        (Ok(_), Ok(())) => {}
        (Err(SamlError::SignatureInvalid(_)), Err(SamlError::SignatureInvalid(_)))
        | (Err(SamlError::Malformed(_)), Err(SamlError::Malformed(_))) => {}
        (Err(got), Err(want)) => assert_eq!(&got, want, "{name}"),
        (got, want) => panic!("{name}: got {got:?}, want {want:?}"),
    }
}

#[test]
fn response_checks() {
    let keys = Keys::new();
    let keys = &keys;
    let at = |name: &'static str, now: i64, f: &dyn Fn(&mut Spec), want: Result<(), SamlError>| {
        let mut spec = good();
        f(&mut spec);
        Case {
            name,
            xml: render(keys, &spec),
            now,
            trust: Trust::Default,
            want,
        }
    };
    let case = |name: &'static str, f: &dyn Fn(&mut Spec), want: Result<(), SamlError>| at(name, NOW, f, want);
    let trusting = |trust: Trust, mut c: Case| {
        c.trust = trust;
        c
    };
    let document = |name: &'static str, xml: String, want: Result<(), SamlError>| Case {
        name,
        xml,
        now: NOW,
        trust: Trust::Default,
        want,
    };
    let response_signed_only = |s: &mut Spec| (s.sign_response, s.sign_assertion) = (true, false);
    let evil = "https://evil.example";

    let mut cases = vec![
        // Accepted shapes.
        case("assertion signed", &|_| {}, Ok(())),
        case("Response signed", &response_signed_only, Ok(())),
        case("both signed", &|s| s.sign_response = true, Ok(())),
        case("Response without Issuer", &|s| s.issuer = None, Ok(())),
        case("encrypted, signed inside", &|s| s.encrypt = Some(true), Ok(())),
        case(
            "encrypted, Response signed",
            &|s| {
                response_signed_only(s);
                s.encrypt = Some(true)
            },
            Ok(()),
        ),
        case(
            "InResponseTo on both, equal",
            &|s| (s.in_response_to, s.bearer_in_response_to) = (Some("_q1"), Some("_q1")),
            Ok(()),
        ),
        case(
            "InResponseTo only on a signed Response",
            &|s| {
                response_signed_only(s);
                s.in_response_to = Some("_q1")
            },
            Ok(()),
        ),
        case(
            "holder-of-key confirmation besides the bearer one",
            &|s| {
                s.assertion_edit = |x| {
                    x.replacen(
                        "<saml:SubjectConfirmation ",
                        "<saml:SubjectConfirmation Method=\"urn:oasis:names:tc:SAML:2.0:cm:holder-of-key\">\
                         <saml:SubjectConfirmationData/></saml:SubjectConfirmation><saml:SubjectConfirmation ",
                        1,
                    )
                }
            },
            Ok(()),
        ),
        case(
            "a second bearer confirmation is valid",
            &|s| {
                s.assertion_edit = |x| {
                    let valid = x
                        .split("<saml:SubjectConfirmation ")
                        .nth(1)
                        .unwrap()
                        .split("</saml:SubjectConfirmation>")
                        .next()
                        .unwrap()
                        .to_string();
                    x.replacen(
                        "<saml:SubjectConfirmation ",
                        &format!(
                            "<saml:SubjectConfirmation {}</saml:SubjectConfirmation><saml:SubjectConfirmation ",
                            valid.replace(ACS, "https://other.example/acs")
                        ),
                        1,
                    )
                }
            },
            Ok(()),
        ),
        case(
            "two audiences in the one restriction",
            &|s| s.audiences = vec![vec!["https://other.example", SP]],
            Ok(()),
        ),
        // What the document is.
        case(
            "over 256 KiB",
            &|s| s.assertion_edit = |x| x.replace(">engineers<", &format!(">{}<", "x".repeat(MAX_RESPONSE_BYTES))),
            Err(SamlError::TooLarge {
                limit: MAX_RESPONSE_BYTES,
            }),
        ),
        case(
            "DOCTYPE",
            &|s| s.after = |x| format!("<!DOCTYPE r>{}", without_declaration(&x)),
            Err(SamlError::Doctype),
        ),
        case(
            "truncated",
            &|s| s.after = |x| x[..x.len() / 2].to_string(),
            Err(SamlError::Malformed(String::new())),
        ),
        document(
            "not a Response",
            format!("<samlp:AuthnRequest xmlns:samlp=\"{NS_PROTOCOL}\" ID=\"_x\"/>"),
            Err(SamlError::UnexpectedRoot {
                expected: "samlp:Response",
                found: "AuthnRequest".into(),
            }),
        ),
        case(
            "duplicate ID",
            &|s| s.response_edit = |x| x.replace("ID=\"_r1\"", "ID=\"_a1\""),
            Err(SamlError::DuplicateId("_a1".into())),
        ),
        case(
            "comment in NameID",
            &|s| s.assertion_edit = |x| x.replace("alice@example.com<", "alice@example.com<!---->.evil.example<"),
            Err(SamlError::CommentInAssertion),
        ),
        case(
            "RSA-SHA1",
            &|s| {
                (s.signature_algorithm, s.digest_algorithm) = (
                    "http://www.w3.org/2000/09/xmldsig#rsa-sha1",
                    "http://www.w3.org/2000/09/xmldsig#sha1",
                )
            },
            Err(SamlError::SignatureAlgorithmNotAllowed(
                "http://www.w3.org/2000/09/xmldsig#rsa-sha1".into(),
            )),
        ),
        case(
            "SHA-1 digest",
            &|s| s.digest_algorithm = "http://www.w3.org/2000/09/xmldsig#sha1",
            Err(SamlError::DigestAlgorithmNotAllowed(
                "http://www.w3.org/2000/09/xmldsig#sha1".into(),
            )),
        ),
        case(
            "Signature without SignedInfo",
            &|s| {
                s.after = |x| {
                    x.replacen(
                        "<samlp:Status>",
                        "<ds:Signature xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\"><ds:SignatureValue/></ds:Signature><samlp:Status>",
                        1,
                    )
                }
            },
            Err(SamlError::Missing("ds:SignedInfo")),
        ),
        // Signatures.
        case("unsigned", &|s| s.sign_assertion = false, Err(SamlError::Unsigned)),
        case(
            "signed by an unknown key",
            &|s| s.signer = Signer::Evil,
            Err(SamlError::SignatureInvalid(String::new())),
        ),
        case(
            "Response signed by an unknown key",
            &|s| {
                response_signed_only(s);
                s.signer = Signer::Evil
            },
            Err(SamlError::SignatureInvalid(String::new())),
        ),
        case(
            "NameID changed after signing",
            &|s| s.after = |x| x.replace("alice@example.com<", "admin@example.com<"),
            Err(SamlError::SignatureInvalid(String::new())),
        ),
        trusting(
            Trust::NoCertificates,
            case(
                "no certificate to verify with",
                &|_| {},
                Err(SamlError::NoSigningCertificate),
            ),
        ),
        trusting(
            Trust::SignedPart(SignedPart::Response),
            case(
                "only the assertion signed, Response required",
                &|_| {},
                Err(SamlError::ResponseUnsigned),
            ),
        ),
        trusting(
            Trust::SignedPart(SignedPart::Assertion),
            case(
                "only the Response signed, assertion required",
                &response_signed_only,
                Err(SamlError::AssertionUnsigned),
            ),
        ),
        trusting(
            Trust::SignedPart(SignedPart::Assertion),
            case(
                "encrypted assertion unsigned, assertion required",
                &|s| {
                    response_signed_only(s);
                    s.encrypt = Some(true)
                },
                Err(SamlError::AssertionUnsigned),
            ),
        ),
        case(
            "encrypted, nothing signed",
            &|s| {
                s.sign_assertion = false;
                s.encrypt = Some(true)
            },
            Err(SamlError::Unsigned),
        ),
        // Encryption.
        trusting(
            Trust::NoDecryptionKey,
            case(
                "encrypted, no SP key",
                &|s| s.encrypt = Some(true),
                Err(SamlError::NoDecryptionKey),
            ),
        ),
        case(
            "encrypted to another key",
            &|s| s.encrypt = Some(false),
            Err(SamlError::Undecryptable(
                "the key does not decrypt with the SP encryption key",
            )),
        ),
        case(
            "RSA PKCS#1 v1.5 key transport",
            &|s| {
                s.encrypt = Some(true);
                s.after = |x| {
                    x.replace(
                        "http://www.w3.org/2009/xmlenc11#rsa-oaep\"",
                        "http://www.w3.org/2001/04/xmlenc#rsa-1_5\"",
                    )
                }
            },
            Err(SamlError::EncryptionAlgorithmNotAllowed(
                "http://www.w3.org/2001/04/xmlenc#rsa-1_5".into(),
            )),
        ),
        // The Response.
        case(
            "Response without ID",
            &|s| s.response_edit = |x| x.replacen(" ID=\"_r1\"", "", 1),
            Err(SamlError::BadId("Response")),
        ),
        case(
            "Response Version 1.1",
            &|s| s.version = "1.1",
            Err(SamlError::VersionMismatch {
                element: "Response",
                got: Some("1.1".into()),
            }),
        ),
        case(
            "Response Issuer of another IdP",
            &|s| s.issuer = Some(evil),
            Err(SamlError::IssuerMismatch {
                element: "Response",
                expected: IDP.into(),
                got: evil.into(),
            }),
        ),
        case(
            "status Requester",
            &|s| s.status = "urn:oasis:names:tc:SAML:2.0:status:Requester",
            Err(SamlError::StatusNotSuccess(
                "urn:oasis:names:tc:SAML:2.0:status:Requester".into(),
            )),
        ),
        case(
            "Destination elsewhere",
            &|s| s.destination = Some("https://other.example/acs"),
            Err(SamlError::DestinationMismatch {
                expected: vec![ACS.into()],
                got: "https://other.example/acs".into(),
            }),
        ),
        case(
            "no Destination",
            &|s| s.destination = None,
            Err(SamlError::Missing("Destination")),
        ),
        case(
            "no Response IssueInstant",
            &|s| s.response_instant = None,
            Err(SamlError::Missing("Response IssueInstant")),
        ),
        case(
            "IssueInstant not a dateTime",
            &|s| {
                s.response_edit = |x| {
                    let at = x.find("IssueInstant=\"").unwrap() + "IssueInstant=\"".len();
                    let end = at + x[at..].find('"').unwrap();
                    format!("{}yesterday{}", &x[..at], &x[end..])
                }
            },
            Err(SamlError::BadInstant {
                element: "Response".into(),
                attribute: "IssueInstant",
                value: "yesterday".into(),
            }),
        ),
        case(
            "no assertion",
            &|s| s.response_edit = |x| strip_assertion(&x),
            Err(SamlError::AssertionCount(0)),
        ),
        case(
            "two assertions",
            &|s| {
                s.response_edit = |x| {
                    let a = x.split("<saml:Assertion ").nth(1).unwrap();
                    let copy = format!("<saml:Assertion {}", a.split("</samlp:Response>").next().unwrap())
                        .replace("ID=\"_a1\"", "ID=\"_a2\"");
                    x.replace("</samlp:Response>", &format!("{copy}</samlp:Response>"))
                }
            },
            Err(SamlError::AssertionCount(2)),
        ),
        // The assertion.
        case(
            "assertion without ID",
            &|s| {
                response_signed_only(s);
                s.assertion_edit = |x| x.replacen(" ID=\"_a1\"", "", 1)
            },
            Err(SamlError::BadId("assertion")),
        ),
        case(
            "assertion ID of 257 characters",
            &|s| s.assertion_id = format!("_{}", "a".repeat(256)),
            Err(SamlError::BadId("assertion")),
        ),
        case(
            "assertion Version missing",
            &|s| s.assertion_edit = |x| x.replacen(" Version=\"2.0\"", "", 1),
            Err(SamlError::VersionMismatch {
                element: "assertion",
                got: None,
            }),
        ),
        case(
            "assertion Issuer of another IdP",
            &|s| s.assertion_issuer = Some(evil),
            Err(SamlError::IssuerMismatch {
                element: "assertion",
                expected: IDP.into(),
                got: evil.into(),
            }),
        ),
        case(
            "assertion without Issuer",
            &|s| {
                response_signed_only(s);
                s.assertion_issuer = None
            },
            Err(SamlError::Missing("assertion Issuer")),
        ),
        case(
            "no assertion IssueInstant",
            &|s| s.assertion_instant = None,
            Err(SamlError::Missing("assertion IssueInstant")),
        ),
        case(
            "no Subject",
            &|s| s.assertion_edit = |x| cut(&x, "<saml:Subject>", "</saml:Subject>"),
            Err(SamlError::Missing("Subject")),
        ),
        case(
            "EncryptedID",
            &|s| s.assertion_edit = |x| x.replacen("<saml:Subject>", "<saml:Subject><saml:EncryptedID/>", 1),
            Err(SamlError::Unsupported("encrypted NameIDs")),
        ),
        case(
            "no SubjectConfirmation",
            &|s| s.assertion_edit = |x| cut(&x, "<saml:SubjectConfirmation ", "</saml:SubjectConfirmation>"),
            Err(SamlError::Missing("bearer SubjectConfirmation")),
        ),
        case(
            "holder-of-key only",
            &|s| s.assertion_edit = |x| x.replace(CM_BEARER, HOLDER_OF_KEY),
            Err(SamlError::Missing("bearer SubjectConfirmation")),
        ),
        case(
            "no SubjectConfirmationData",
            &|s| s.assertion_edit = |x| cut(&x, "<saml:SubjectConfirmationData", "/>"),
            Err(SamlError::Missing("bearer SubjectConfirmationData")),
        ),
        case(
            "no bearer NotOnOrAfter",
            &|s| s.bearer_not_on_or_after = None,
            Err(SamlError::Missing("bearer SubjectConfirmationData@NotOnOrAfter")),
        ),
        case(
            "Recipient elsewhere",
            &|s| s.recipient = Some("https://other.example/acs"),
            Err(SamlError::RecipientMismatch {
                expected: vec![ACS.into()],
                got: "https://other.example/acs".into(),
            }),
        ),
        case(
            "no Recipient",
            &|s| s.recipient = None,
            Err(SamlError::Missing("Recipient")),
        ),
        case(
            "two bearer confirmations, neither valid: the first one's reason",
            &|s| {
                s.recipient = None;
                s.assertion_edit = |x| {
                    x.replacen(
                        "<saml:SubjectConfirmation ",
                        &format!(
                            "<saml:SubjectConfirmation Method=\"{CM_BEARER}\"><saml:SubjectConfirmationData NotOnOrAfter=\"{}\" Recipient=\"{ACS}\"/></saml:SubjectConfirmation><saml:SubjectConfirmation ",
                            format_instant(NOW - 3600)
                        ),
                        1,
                    )
                }
            },
            Err(SamlError::BearerExpired {
                not_on_or_after: NOW - 3600,
            }),
        ),
        case(
            "no Conditions",
            &|s| s.assertion_edit = |x| cut(&x, "<saml:Conditions", "</saml:Conditions>"),
            Err(SamlError::Missing("Conditions")),
        ),
        case(
            "no AudienceRestriction",
            &|s| s.audiences = vec![],
            Err(SamlError::Missing("AudienceRestriction")),
        ),
        case(
            "audience of another SP",
            &|s| s.audiences = vec![vec!["https://other.example"]],
            Err(SamlError::AudienceMismatch {
                expected: SP.into(),
                got: vec!["https://other.example".into()],
            }),
        ),
        case(
            "a second restriction without us",
            &|s| s.audiences = vec![vec![SP], vec!["https://other.example"]],
            Err(SamlError::AudienceMismatch {
                expected: SP.into(),
                got: vec!["https://other.example".into()],
            }),
        ),
        case(
            "InResponseTo differs",
            &|s| (s.in_response_to, s.bearer_in_response_to) = (Some("_q1"), Some("_q2")),
            Err(SamlError::InResponseToMismatch {
                response: "_q1".into(),
                assertion: "_q2".into(),
            }),
        ),
        case(
            "InResponseTo only on the unsigned Response",
            &|s| s.in_response_to = Some("_q1"),
            Err(SamlError::InResponseToUnsigned),
        ),
        case(
            "EncryptedAttribute",
            &|s| {
                s.assertion_edit = |x| {
                    x.replacen(
                        "<saml:AttributeStatement>",
                        "<saml:AttributeStatement><saml:EncryptedAttribute/>",
                        1,
                    )
                }
            },
            Err(SamlError::Unsupported("encrypted attributes")),
        ),
        // The same good document checked at another time.
        at(
            "an hour later",
            NOW + 3600,
            &|_| {},
            Err(SamlError::TooOld {
                element: "Response",
                issued: NOW,
                max_age_secs: MAX_AGE,
            }),
        ),
        at(
            "an hour before",
            NOW - 3600,
            &|_| {},
            Err(SamlError::IssuedInFuture {
                element: "Response",
                issued: NOW,
            }),
        ),
    ];

    // Signature wrapping.
    let spec = good();
    let signed = assertion(keys, &spec);
    let mut evil_spec = good();
    evil_spec.sign_assertion = false;
    evil_spec.assertion_id = "_evil".into();
    let evil_assertion = assertion(keys, &evil_spec).replace("alice@", "admin@");
    let moved_signature =
        evil_assertion.replacen("</saml:Issuer>", &format!("</saml:Issuer>{}", signature_of(&signed)), 1);
    cases.push(document(
        "XSW: the signed assertion hidden in Extensions",
        response_around(keys, &spec, &moved_signature).replacen(
            "<samlp:Status>",
            &format!(
                "<samlp:Extensions>{}</samlp:Extensions><samlp:Status>",
                strip_signatures(&signed)
            ),
            1,
        ),
        Err(SamlError::SignatureMisplaced("assertion")),
    ));
    let mut inner = good();
    response_signed_only(&mut inner);
    let signed_response = render(keys, &inner);
    let mut outer = good();
    outer.sign_assertion = false;
    outer.response_id = "_outer";
    outer.assertion_id = "_evil".into();
    let outer = render(keys, &outer).replacen(
        "</saml:Issuer>",
        &format!(
            "</saml:Issuer>{}<samlp:Extensions>{}</samlp:Extensions>",
            signature_of(&signed_response),
            strip_signatures(without_declaration(&signed_response))
        ),
        1,
    );
    cases.push(document(
        "XSW: the signed Response inside an unsigned one",
        outer,
        Err(SamlError::SignatureMisplaced("Response")),
    ));

    for c in &cases {
        assert_result(c.name, check(keys, c), &c.want);
    }
    assert!(cases.len() >= 60, "{} cases", cases.len());
}

/// One time check's boundary. `edge` is the last accepted instant of an inclusive bound, or
/// the first refused one of an exclusive bound (NotOnOrAfter: that instant is already too
/// late); `outward` is the direction in which instants are refused.
struct Bound {
    name: &'static str,
    set: fn(&mut Spec, i64),
    edge: i64,
    outward: i64,
    exclusive: bool,
    refusal: fn(i64) -> SamlError,
}

/// Every time check at exactly the skew, one second inside it and one second outside it
/// (core §2.5.1.2 and profiles §4.1.4.2 for the bounds, fedgate's own age limit for the
/// oldest IssueInstant).
#[test]
fn time_checks_hold_exactly_at_the_skew() {
    let keys = Keys::new();
    let bounds = [
        Bound {
            name: "Conditions NotBefore",
            set: |s, t| s.not_before = Some(t),
            edge: NOW + SKEW,
            outward: 1,
            exclusive: false,
            refusal: |t| SamlError::NotYetValid { not_before: t },
        },
        Bound {
            name: "Conditions NotOnOrAfter",
            set: |s, t| s.not_on_or_after = Some(t),
            edge: NOW - SKEW,
            outward: -1,
            exclusive: true,
            refusal: |t| SamlError::Expired { not_on_or_after: t },
        },
        Bound {
            name: "SubjectConfirmationData NotBefore",
            set: |s, t| s.bearer_not_before = Some(t),
            edge: NOW + SKEW,
            outward: 1,
            exclusive: false,
            refusal: |t| SamlError::BearerNotYetValid { not_before: t },
        },
        Bound {
            name: "SubjectConfirmationData NotOnOrAfter",
            set: |s, t| s.bearer_not_on_or_after = Some(t),
            edge: NOW - SKEW,
            outward: -1,
            exclusive: true,
            refusal: |t| SamlError::BearerExpired { not_on_or_after: t },
        },
        Bound {
            name: "Response IssueInstant in the future",
            set: |s, t| s.response_instant = Some(t),
            edge: NOW + SKEW,
            outward: 1,
            exclusive: false,
            refusal: |t| SamlError::IssuedInFuture {
                element: "Response",
                issued: t,
            },
        },
        Bound {
            name: "assertion IssueInstant in the future",
            set: |s, t| s.assertion_instant = Some(t),
            edge: NOW + SKEW,
            outward: 1,
            exclusive: false,
            refusal: |t| SamlError::IssuedInFuture {
                element: "assertion",
                issued: t,
            },
        },
        Bound {
            name: "Response IssueInstant too old",
            set: |s, t| s.response_instant = Some(t),
            edge: NOW - MAX_AGE - SKEW,
            outward: -1,
            exclusive: false,
            refusal: |t| SamlError::TooOld {
                element: "Response",
                issued: t,
                max_age_secs: MAX_AGE,
            },
        },
        Bound {
            name: "assertion IssueInstant too old",
            set: |s, t| s.assertion_instant = Some(t),
            edge: NOW - MAX_AGE - SKEW,
            outward: -1,
            exclusive: false,
            refusal: |t| SamlError::TooOld {
                element: "assertion",
                issued: t,
                max_age_secs: MAX_AGE,
            },
        },
    ];
    for b in &bounds {
        for (place, t, refused) in [
            ("at the skew", b.edge, b.exclusive),
            ("inside by 1s", b.edge - b.outward, false),
            ("outside by 1s", b.edge + b.outward, true),
        ] {
            let mut spec = good();
            (b.set)(&mut spec, t);
            let case = Case {
                name: b.name,
                xml: render(&keys, &spec),
                now: NOW,
                trust: Trust::Default,
                want: if refused { Err((b.refusal)(t)) } else { Ok(()) },
            };
            assert_result(&format!("{} {place}", b.name), check(&keys, &case), &case.want);
        }
    }
}

/// An accepted Response yields what the consumer needs: IDs for replay records,
/// InResponseTo, the NameID, and how long a replay record must live (the earliest of the
/// assertion's age limit, the bearer NotOnOrAfter and the Conditions' NotOnOrAfter, plus skew).
#[test]
fn accepted_response_yields_what_the_consumer_needs() {
    let keys = Keys::new();
    let mut spec = good();
    spec.sign_response = true;
    spec.in_response_to = Some("_q1");
    spec.bearer_in_response_to = Some("_q1");
    spec.bearer_not_on_or_after = Some(NOW + 120);
    let c = Case {
        name: "good",
        xml: render(&keys, &spec),
        now: NOW + 10,
        trust: Trust::Default,
        want: Ok(()),
    };
    let valid = check(&keys, &c).unwrap();
    let mut attributes = BTreeMap::new();
    attributes.insert("NameID".to_string(), vec!["alice@example.com".to_string()]);
    for name in ["urn:oid:1.3.6.1.4.1.5923.1.5.1.1", "groups"] {
        attributes.insert(name.to_string(), vec!["engineers".to_string(), "R&D".to_string()]);
    }
    assert_eq!(
        valid,
        ValidResponse {
            response_id: "_r1".into(),
            assertion_id: "_a1".into(),
            in_response_to: Some("_q1".into()),
            name_id: Some("alice@example.com".into()),
            name_id_format: Some("urn:oasis:names:tc:SAML:2.0:nameid-format:persistent".into()),
            session_index: Some("s1".into()),
            usable_until_secs: NOW + 120 + SKEW,
            attributes,
        }
    );
}
