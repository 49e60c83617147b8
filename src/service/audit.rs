//! The audit log: a CADF event (`crate::audit`) for every sign-in, every token, credential and
//! key issued or revoked, and every configuration change, recorded by the use case where it
//! succeeds or fails. Validating a token or a signature records nothing.
//!
//! The request behind an event (its id, the peer's address, the User-Agent) comes from a
//! task-local the HTTP layer sets around each request (`within`): no use case takes HTTP
//! values, and events recorded outside a request (commands, tests) simply carry none.
//!
//! Events go to the `audit_log` file, appended one line per event in one write under one lock,
//! or else to the log (target `audit`, info). A failed write is logged and fails nothing.

use std::future::Future;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use super::{AuthContext, Error, Result, ScopeView, Services};
use crate::audit::{self, Action, Actor, Outcome, Record};
use crate::model::Protocol;
use crate::token::TokenPayload;

tokio::task_local! {
    static REQUEST: audit::Request;
}

/// Runs `work` (one request's handling) with `request` as what its events carry.
pub async fn within<F: Future>(request: audit::Request, work: F) -> F::Output {
    REQUEST.scope(request, work).await
}

/// Where events go, and who observes them (fedgate's public URL).
pub struct AuditLog {
    observer: String,
    file: Option<(PathBuf, Mutex<std::fs::File>)>,
}

impl AuditLog {
    /// Opens `path` for appending (created 0600 if missing); `None` writes to the log.
    pub fn open(path: Option<&Path>, observer: &str) -> Result<Self> {
        let file = match path {
            None => None,
            Some(path) => {
                let mut options = std::fs::OpenOptions::new();
                options.create(true).append(true);
                #[cfg(unix)]
                std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
                let file = options
                    .open(path)
                    .map_err(|e| Error::internal_in(format!("opening the audit log {}", path.display()), e))?;
                Some((path.to_path_buf(), Mutex::new(file)))
            }
        };
        Ok(AuditLog {
            observer: observer.to_string(),
            file,
        })
    }

    fn write(&self, event: &audit::Event) {
        let mut line = event.to_json();
        let Some((path, file)) = &self.file else {
            tracing::info!(target: "audit", "{line}");
            return;
        };
        line.push('\n');
        // One write of the whole line to a file opened for appending: lines never interleave,
        // and each is in the file (the operating system's) before the request is answered.
        let mut file = file.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Err(e) = file.write_all(line.as_bytes()) {
            tracing::error!(
                target: "audit",
                path = %path.display(),
                error = %e,
                event.id = %event.id,
                action = %event.action,
                "writing an audit event failed"
            );
        }
    }
}

/// How a use case ended, as an event says it.
pub(super) fn outcome_of<T>(result: &Result<T>) -> Outcome {
    match result {
        Ok(_) => Outcome::Success,
        Err(e) => Outcome::Failure {
            class: e.class(),
            status: e.status(),
        },
    }
}

/// The person behind `ctx` (for an agency session, who assumed it) and its scope.
pub(super) fn actor(ctx: &AuthContext) -> Actor {
    let identity = &ctx.identity;
    let person = identity.assumed_by.as_ref().unwrap_or(&identity.user);
    let (project_id, domain_id) = match &identity.scope {
        ScopeView::Unscoped => (None, None),
        ScopeView::Domain(d) => (None, Some(d.id.clone())),
        ScopeView::Project { id, domain, .. } => (Some(id.clone()), Some(domain.id.clone())),
    };
    Actor {
        id: Some(person.id.clone()),
        name: Some(person.name.clone()),
        domain_id,
        project_id,
        credential: None,
    }
}

/// A token's audit id as Keystone shows it (`audit_ids`: base64url), never the token.
pub(super) fn audit_id_text(token: &TokenPayload) -> Option<String> {
    use base64::Engine;
    token
        .audit_id()
        .map(|id| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(id))
}

/// The federated credential of a sign-in through `idp` with `protocol`.
pub(super) fn federated(protocol: Protocol, idp: &str) -> audit::Credential {
    audit::Credential {
        type_uri: match protocol {
            Protocol::Saml => audit::SAML_CREDENTIAL,
            Protocol::Oidc => audit::OIDC_CREDENTIAL,
        },
        identity_provider: idp.to_string(),
        token: None,
    }
}

impl Services {
    /// Records `record` now (the event's time is when it is recorded, as pycadf's is), with
    /// the request it happens in.
    pub(super) fn audit(&self, record: Record) {
        let request = REQUEST.try_with(Clone::clone).ok();
        let mut id = [0u8; 16];
        super::fill_random(&mut id);
        let event = audit::event(record, request.as_ref(), &self.audit_log.observer, super::now_ms(), id);
        self.audit_log.write(&event);
    }

    /// Records `action` by `caller` on the resource `target_id`, ending as `result` did.
    pub(super) fn audit_change<T>(
        &self,
        caller: &AuthContext,
        action: Action,
        target_id: Option<&str>,
        result: &Result<T>,
    ) {
        let record = Record {
            action,
            outcome: outcome_of(result),
            initiator: actor(caller),
            target_id: target_id.map(str::to_string),
            assignment: None,
        };
        self.audit(record);
    }

    /// Records a sign-in (`authenticate`): on success, who is signed in and the token's audit
    /// id; on failure, what was known of who tried (`attempt`: the user a name or token
    /// named, the identity provider) and the failure's class.
    pub(super) fn audit_sign_in(&self, result: std::result::Result<&AuthContext, &Error>, attempt: Actor) {
        let (outcome, initiator) = match result {
            Ok(ctx) => {
                let mut initiator = actor(ctx);
                initiator.credential = attempt.credential.map(|c| audit::Credential {
                    token: audit_id_text(&ctx.token),
                    ..c
                });
                (Outcome::Success, initiator)
            }
            Err(e) => (
                Outcome::Failure {
                    class: e.class(),
                    status: e.status(),
                },
                attempt,
            ),
        };
        let record = Record {
            action: Action::Authenticate,
            outcome,
            target_id: initiator.id.clone(),
            initiator,
            assignment: None,
        };
        self.audit(record);
    }

    /// Records a SAML or OIDC sign-in. `idp` is the configured provider it went through, once
    /// found: a provider a client merely named is `unknown`, as in the sign-in count.
    pub(super) fn audit_federated_sign_in(
        &self,
        protocol: Protocol,
        idp: Option<&str>,
        result: std::result::Result<&AuthContext, &Error>,
    ) {
        let attempt = Actor {
            credential: Some(federated(protocol, idp.unwrap_or(audit::UNKNOWN))),
            ..Actor::default()
        };
        self.audit_sign_in(result, attempt);
    }
}
