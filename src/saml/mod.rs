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
    #[error("{0}")]
    Rejected(String),
}
