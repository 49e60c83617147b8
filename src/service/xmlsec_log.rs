//! libxmlsec reports every failure it meets (each bad signature, each key it cannot use) by
//! printing a `func=…:file=…:line=…` line to the process's stderr, from C and outside any
//! request. fedgate logs the reason of each refusal itself, so xmlsec's lines go to `tracing`
//! at debug level instead, in the span of the request whose work raised them
//! (`spawn_blocking_in_span` carries it onto the blocking thread).
//!
//! samael keeps its xmlsec bindings private, so the two functions are declared here. samael
//! initialises xmlsec on first use, and that installs xmlsec-openssl's printing callback; so
//! `install` first turns the default callbacks' printing off (a flag initialisation leaves
//! alone: whatever the order, nothing prints), has samael initialise, then installs ours.

use std::borrow::Cow;
use std::ffi::{CStr, c_char, c_int};
use std::sync::Once;

use samael::crypto::{CertificateDer, CryptoProvider, XmlSec};

/// xmlsec's `xmlSecErrorsCallback`.
type ErrorsCallback = extern "C" fn(
    file: *const c_char,
    line: c_int,
    func: *const c_char,
    error_object: *const c_char,
    error_subject: *const c_char,
    reason: c_int,
    msg: *const c_char,
);

// libxmlsec1, which samael links.
unsafe extern "C" {
    fn xmlSecErrorsDefaultCallbackEnableOutput(enabled: c_int);
    fn xmlSecErrorsSetCallback(callback: Option<ErrorsCallback>);
}

/// Routes xmlsec's error reports into `tracing`; once per process, before any request.
pub fn install() {
    static INSTALLED: Once = Once::new();
    INSTALLED.call_once(|| {
        // SAFETY: sets a plain int flag in libxmlsec1, which needs no initialisation; the
        // prototype is the one xmlsec/errors.h declares.
        unsafe { xmlSecErrorsDefaultCallbackEnableOutput(0) };
        initialise_xmlsec();
        // SAFETY: stores a function pointer xmlsec calls with the prototype of
        // xmlSecErrorsCallback (declared above as `ErrorsCallback`), whose pointer arguments
        // are NUL-terminated strings or null for the duration of the call; `report` copies
        // what it keeps. Done once, after samael's initialisation (which would replace it).
        unsafe { xmlSecErrorsSetCallback(Some(report)) };
    });
}

/// samael initialises xmlsec (under its own lock) when it first loads a key; an empty
/// certificate is refused right after, quietly now that output is off.
fn initialise_xmlsec() {
    let _ = XmlSec::verify_signed_xml("<fedgate/>", &CertificateDer::from(Vec::new()), None);
    // xmlsec-openssl's callback also queued the refusal on this thread's OpenSSL error
    // queue, where a later OpenSSL error here would report it as its own.
    let _ = openssl::error::ErrorStack::get();
}

fn text<'a>(text: *const c_char) -> Cow<'a, str> {
    if text.is_null() {
        return Cow::Borrowed("unknown");
    }
    // SAFETY: xmlsec passes NUL-terminated strings valid for the call (see `install`); the
    // text is copied or borrowed only until `report` returns.
    unsafe { CStr::from_ptr(text) }.to_string_lossy()
}

extern "C" fn report(
    file: *const c_char,
    line: c_int,
    func: *const c_char,
    error_object: *const c_char,
    error_subject: *const c_char,
    reason: c_int,
    msg: *const c_char,
) {
    tracing::debug!(
        xmlsec.func = %text(func),
        xmlsec.file = %text(file),
        xmlsec.line = line,
        xmlsec.object = %text(error_object),
        xmlsec.subject = %text(error_subject),
        xmlsec.reason = reason,
        "xmlsec: {}",
        text(msg)
    );
}

/// `spawn_blocking` in the caller's span, so that what xmlsec reports there carries the
/// request's id.
pub fn spawn_blocking_in_span<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> tokio::task::JoinHandle<T> {
    let span = tracing::Span::current();
    tokio::task::spawn_blocking(move || span.in_scope(work))
}

#[cfg(test)]
mod tests {
    use std::process::Command;

    use samael::crypto::{CertificateDer, CryptoProvider, XmlSec};

    use crate::saml::request::{AuthnRequestParams, render_authn_request, sign_enveloped};
    use crate::service::saml::generate;

    const CHILD: &str = "FEDGATE_XMLSEC_LOG_CHILD";
    const CHILD_TEST: &str = "service::xmlsec_log::tests::child_verifies_a_bad_signature";

    /// The child's half of `bad_signatures_reach_tracing_not_stderr`: one document signed with
    /// one key and verified with another's certificate, the shim installed when asked, debug
    /// logs on stdout. Does nothing in an ordinary run.
    #[test]
    fn child_verifies_a_bad_signature() {
        let Ok(mode) = std::env::var(CHILD) else {
            return;
        };
        if mode == "installed" {
            tracing_subscriber::fmt()
                .with_max_level(tracing::Level::DEBUG)
                .with_ansi(false)
                .with_writer(std::io::stdout)
                .init();
            super::install();
        }
        // Not the saml tests' keys: making those installs the shim.
        let (signer, _) = generate("signer").unwrap();
        let (_, other_cert) = generate("other").unwrap();
        let request = render_authn_request(
            &AuthnRequestParams {
                id: "_bad-signature",
                issue_instant_secs: 1_800_000_000,
                destination: "https://idp.example/sso",
                sp_entity_id: "https://sp.example",
                acs_url: "https://sp.example/acs",
                protocol_binding: crate::saml::BINDING_POST,
            },
            true,
        );
        let signed = sign_enveloped(&request, &signer).unwrap();
        let other = CertificateDer::from(other_cert);
        assert!(XmlSec::verify_signed_xml(&signed, &other, Some("ID")).is_err());
    }

    /// xmlsec's own report of a bad signature goes to stderr without the shim, and to
    /// tracing (never stderr) with it. In a child process: C writes to file descriptor 2
    /// directly, past the test harness's capture.
    #[test]
    fn bad_signatures_reach_tracing_not_stderr() {
        let exe = std::env::current_exe().unwrap();
        let cases = [("raw", true), ("installed", false)];
        for (mode, printed) in cases {
            let out = Command::new(&exe)
                .args([CHILD_TEST, "--exact", "--nocapture", "--test-threads=1"])
                .env(CHILD, mode)
                .output()
                .unwrap();
            let stdout = String::from_utf8_lossy(&out.stdout);
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(out.status.success(), "{mode}: child failed\n{stdout}\n{stderr}");
            assert_eq!(stderr.contains("func="), printed, "{mode}: stderr was\n{stderr}");
            assert_eq!(
                stdout.contains("xmlsec.func="),
                !printed,
                "{mode}: stdout was\n{stdout}"
            );
        }
    }
}
