//! SAML 2.0 service-provider protocol code: IdP metadata parsing and verification, our own
//! SP metadata, AuthnRequests and ECP envelopes, and Response validation (with decryption). Pure functions of (bytes, keys); no I/O and no clock. XML signatures go through
//! samael (xmlsec), which is blocking: callers run these functions off the async runtime.

pub mod metadata;
pub mod request;
pub mod response;
pub mod sp_metadata;
pub mod xml;
pub mod xmlenc;

pub use metadata::{Endpoint, IdpMetadata, parse_idp_metadata};
pub use sp_metadata::{SpMetadataParams, render_sp_metadata, sign_sp_metadata};

pub const NS_METADATA: &str = "urn:oasis:names:tc:SAML:2.0:metadata";
pub const NS_DSIG: &str = "http://www.w3.org/2000/09/xmldsig#";
pub const BINDING_REDIRECT: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect";
pub const BINDING_POST: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST";
pub const BINDING_SOAP: &str = "urn:oasis:names:tc:SAML:2.0:bindings:SOAP";
pub const BINDING_PAOS: &str = "urn:oasis:names:tc:SAML:2.0:bindings:PAOS";

/// Signature algorithms accepted on anything fedgate verifies. SHA-1 is not among them.
pub const ALLOWED_SIGNATURES: [samael::crypto::AllowedSignatureAlgorithm; 6] = [
    samael::crypto::AllowedSignatureAlgorithm::RsaSha256,
    samael::crypto::AllowedSignatureAlgorithm::RsaSha384,
    samael::crypto::AllowedSignatureAlgorithm::RsaSha512,
    samael::crypto::AllowedSignatureAlgorithm::EcdsaSha256,
    samael::crypto::AllowedSignatureAlgorithm::EcdsaSha384,
    samael::crypto::AllowedSignatureAlgorithm::EcdsaSha512,
];

/// What went wrong with a SAML document: one variant per check, for the log and for tests
/// (which match the variant). Metadata import and Response validation share it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SamlError {
    #[error("document is larger than {limit} bytes")]
    TooLarge { limit: usize },
    #[error("document type declarations and entities are not accepted")]
    Doctype,
    #[error("XML is malformed: {0}")]
    Malformed(String),
    #[error("expected {expected}, found {found}")]
    UnexpectedRoot { expected: &'static str, found: String },
    #[error("{0} is missing")]
    Missing(&'static str),
    #[error("metadata has no signing certificate for the identity provider")]
    NoSigningCertificate,
    #[error("certificate is not valid base64 DER")]
    BadCertificate,
    #[error("signature does not verify with the identity provider's certificates: {0}")]
    SignatureInvalid(String),
    #[error("signing failed: {0}")]
    Signing(String),

    // Response validation (response.rs), in the order the checks run.
    #[error("duplicate ID {0:?}")]
    DuplicateId(String),
    #[error("the assertion contains XML comments")]
    CommentInAssertion,
    #[error("signature algorithm {0:?} is not allowed")]
    SignatureAlgorithmNotAllowed(String),
    #[error("digest algorithm {0:?} is not allowed")]
    DigestAlgorithmNotAllowed(String),
    #[error("the Response is not signed")]
    ResponseUnsigned,
    #[error("the assertion is not signed")]
    AssertionUnsigned,
    #[error("neither the Response nor the assertion is signed")]
    Unsigned,
    /// A signature verified, but over another element than the one that would be read
    /// (signature wrapping).
    #[error("the signature does not cover the {0} that is read")]
    SignatureMisplaced(&'static str),
    #[error("the {0} has no usable ID")]
    BadId(&'static str),
    #[error("the {element} is not SAML 2.0 (Version {got:?})")]
    VersionMismatch { element: &'static str, got: Option<String> },
    #[error("the {element} Issuer {got:?} is not the identity provider {expected:?}")]
    IssuerMismatch {
        element: &'static str,
        expected: String,
        got: String,
    },
    #[error("status is {0:?}, not Success")]
    StatusNotSuccess(String),
    #[error("Destination {got:?} is not this endpoint ({expected:?})")]
    DestinationMismatch { expected: Vec<String>, got: String },
    #[error("{element}@{attribute} is not a UTC dateTime: {value:?}")]
    BadInstant {
        element: String,
        attribute: &'static str,
        value: String,
    },
    #[error("the {element} was issued in the future ({issued})")]
    IssuedInFuture { element: &'static str, issued: i64 },
    #[error("the {element} was issued at {issued}, more than {max_age_secs} seconds ago")]
    TooOld {
        element: &'static str,
        issued: i64,
        max_age_secs: i64,
    },
    #[error("the Response carries {0} assertions; exactly one is accepted")]
    AssertionCount(usize),
    #[error("encrypted assertion but no SP decryption key")]
    NoDecryptionKey,
    #[error("encrypted assertion: {0:?} is not accepted")]
    EncryptionAlgorithmNotAllowed(String),
    #[error("encrypted assertion: {0}")]
    Undecryptable(&'static str),
    #[error("{0} are not supported")]
    Unsupported(&'static str),
    #[error("bearer SubjectConfirmationData has expired (NotOnOrAfter {not_on_or_after})")]
    BearerExpired { not_on_or_after: i64 },
    #[error("bearer SubjectConfirmationData is not yet valid (NotBefore {not_before})")]
    BearerNotYetValid { not_before: i64 },
    #[error("bearer Recipient {got:?} is not this endpoint ({expected:?})")]
    RecipientMismatch { expected: Vec<String>, got: String },
    #[error("the assertion is not yet valid (NotBefore {not_before})")]
    NotYetValid { not_before: i64 },
    #[error("the assertion has expired (NotOnOrAfter {not_on_or_after})")]
    Expired { not_on_or_after: i64 },
    #[error("the audience {got:?} does not include this service provider ({expected})")]
    AudienceMismatch { expected: String, got: Vec<String> },
    #[error("InResponseTo of the Response ({response:?}) and of the assertion ({assertion:?}) differ")]
    InResponseToMismatch { response: String, assertion: String },
    #[error("InResponseTo is not covered by a signature")]
    InResponseToUnsigned,

    // Reading what arrives before validation (ECP envelopes, the Issuer to route by).
    #[error("the SOAP Body must hold exactly one samlp:Response")]
    EnvelopeBody,
    #[error("the Issuer is longer than any entity id")]
    IssuerTooLong,
}
