//! Audit events in the DMTF CADF event model (DSP0262), shaped as Keystone writes them with
//! `notification_format = cadf` (pycadf's `Event.as_dict()`): one JSON object per event, with
//! Keystone's actions (`authenticate`, `created.user`, `deleted.role_assignment`) and its
//! resource type URIs where it has them.
//!
//! Builds an event from plain values, `now` and 16 random bytes for its id. Does not write it,
//! read the clock, draw randomness or log: `service::audit` does that.

use serde::Serialize;

/// The CADF event `typeURI` (pycadf `cadftype.CADF_VERSION_1_0_0 + 'event'`).
pub const EVENT_TYPE_URI: &str = "http://schemas.dmtf.org/cloud/audit/1.0/event";
/// pycadf `taxonomy.ACCOUNT_USER`: who acts, and what a sign-in is about.
pub const ACCOUNT_USER: &str = "service/security/account/user";
/// pycadf `taxonomy.SERVICE_SECURITY`: the observer, an identity service.
pub const SERVICE_SECURITY: &str = "service/security";
/// pycadf `taxonomy.UNKNOWN`: an initiator or target not (yet) known.
pub const UNKNOWN: &str = "unknown";
/// Keystone's `SAML_AUDIT_TYPE`, the credential type of a SAML sign-in.
pub const SAML_CREDENTIAL: &str = "http://docs.oasis-open.org/security/saml/v2.0";
/// The credential type of an OpenID Connect id_token sign-in.
pub const OIDC_CREDENTIAL: &str = "http://openid.net/specs/openid-connect-core-1_0.html";

/// What an event records: a sign-in (`authenticate`, Keystone's), or a verb on a resource,
/// written `<verb>.<resource>` as Keystone's `_create_cadf_payload` writes `created.user`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Authenticate,
    Created(Resource),
    Updated(Resource),
    Deleted(Resource),
    /// A token revoked (DELETE /v3/auth/tokens); CADF's `revoke` action.
    Revoked(Resource),
}

impl Action {
    pub fn name(self) -> String {
        let (verb, resource) = match self {
            Action::Authenticate => return "authenticate".to_string(),
            Action::Created(r) => ("created", r),
            Action::Updated(r) => ("updated", r),
            Action::Deleted(r) => ("deleted", r),
            Action::Revoked(r) => ("revoked", r),
        };
        format!("{verb}.{}", resource.name())
    }

    /// The target's type URI: the account signing in, or the resource acted on.
    pub fn target_type_uri(self) -> &'static str {
        match self {
            Action::Authenticate => ACCOUNT_USER,
            Action::Created(r) | Action::Updated(r) | Action::Deleted(r) | Action::Revoked(r) => r.type_uri(),
        }
    }
}

/// What an action is done to. Names are Keystone's resource names where it has the resource
/// (`user`, `group`, `project`, `domain`, `role_assignment`, `credential`, `identity_provider`,
/// `mapping`, `protocol`); the rest are fedgate's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource {
    User,
    Group,
    Project,
    Domain,
    RoleAssignment,
    /// A delegation to another account, as Keystone's trust is: `data/security/trust`.
    Agency,
    IdentityProvider,
    Mapping,
    Protocol,
    OidcConfig,
    SamlMetadata,
    /// A permanent access key (Keystone's `credential` resource holds EC2 keys alike).
    Credential,
    /// A temporary credential: access key, secret and security token.
    SecurityToken,
    /// A console login token.
    LoginToken,
    /// An API token (X-Auth-Token); its id in an event is the audit id, never the token.
    Token,
}

impl Resource {
    pub fn name(self) -> &'static str {
        match self {
            Resource::User => "user",
            Resource::Group => "group",
            Resource::Project => "project",
            Resource::Domain => "domain",
            Resource::RoleAssignment => "role_assignment",
            Resource::Agency => "agency",
            Resource::IdentityProvider => "identity_provider",
            Resource::Mapping => "mapping",
            Resource::Protocol => "protocol",
            Resource::OidcConfig => "oidc_config",
            Resource::SamlMetadata => "saml_metadata",
            Resource::Credential => "credential",
            Resource::SecurityToken => "security_token",
            Resource::LoginToken => "login_token",
            Resource::Token => "token",
        }
    }

    /// Keystone's `CADF_TYPE_MAP` values (pycadf's `SECURITY_*`) where it has the resource;
    /// the others under pycadf's `data/security` and `data/security/credential`.
    pub fn type_uri(self) -> &'static str {
        match self {
            Resource::User => "data/security/account/user",
            Resource::Group => "data/security/group",
            Resource::Project => "data/security/project",
            Resource::Domain => "data/security/domain",
            Resource::RoleAssignment => "data/security/role",
            Resource::Agency => "data/security/trust",
            Resource::IdentityProvider => "data/security/identity_provider",
            Resource::Mapping => "data/security/mapping",
            Resource::Protocol => "data/security/protocol",
            Resource::OidcConfig => "data/security/identity_provider/oidc_config",
            Resource::SamlMetadata => "data/security/identity_provider/saml_metadata",
            Resource::Credential => "data/security/credential",
            Resource::SecurityToken => "data/security/credential/security_token",
            Resource::LoginToken => "data/security/credential/login_token",
            Resource::Token => "data/security/credential/token",
        }
    }
}

/// The HTTP request behind an event: its id (the one the answer carries as `x-request-id`),
/// the peer's address and its User-Agent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Request {
    pub id: String,
    pub address: Option<String>,
    pub agent: Option<String>,
}

/// Who acted, as far as it is known. A failed sign-in knows at most the user it named.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Actor {
    pub id: Option<String>,
    pub name: Option<String>,
    pub domain_id: Option<String>,
    pub project_id: Option<String>,
    /// The federated credential of a SAML or OIDC sign-in.
    pub credential: Option<Credential>,
}

/// pycadf's `FederatedCredential`, as Keystone's SAML audit sets it on the initiator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Credential {
    #[serde(rename = "type")]
    pub type_uri: &'static str,
    pub identity_provider: String,
    /// The issued token's audit id (never the token); absent when none was issued.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
}

/// How it ended. A failure names its class (the error's variant, or the refusal's for a
/// federated sign-in: `IdToken.Expired`) and the HTTP status the caller got; never a message,
/// which may quote what the caller sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Success,
    Failure { class: String, status: u16 },
}

/// The extra keys of a role assignment event, at the top level as Keystone writes them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Assignment {
    pub role: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agency: Option<String>,
    pub inherited_to_projects: bool,
}

/// What the service knows of an event; `event` adds the rest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub action: Action,
    pub outcome: Outcome,
    pub initiator: Actor,
    /// The target's id; for a sign-in, the user's.
    pub target_id: Option<String>,
    pub assignment: Option<Assignment>,
}

/// One CADF event, fields in the order pycadf's examples show them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Event {
    #[serde(rename = "typeURI")]
    pub type_uri: &'static str,
    pub id: String,
    #[serde(rename = "eventType")]
    pub event_type: &'static str,
    #[serde(rename = "eventTime")]
    pub event_time: String,
    pub action: String,
    pub outcome: &'static str,
    pub initiator: Initiator,
    pub target: Target,
    pub observer: Target,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<Reason>,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub assignment: Option<Assignment>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Initiator {
    #[serde(rename = "typeURI")]
    pub type_uri: &'static str,
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub domain_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub project_id: Option<String>,
    pub host: Host,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credential: Option<Credential>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Host {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agent: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Target {
    #[serde(rename = "typeURI")]
    pub type_uri: &'static str,
    pub id: String,
}

/// pycadf's `Reason`: Keystone fills `reasonType` with the failure and `reasonCode` with the
/// HTTP status, as text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reason {
    #[serde(rename = "reasonType")]
    pub reason_type: String,
    #[serde(rename = "reasonCode")]
    pub reason_code: String,
}

/// Characters kept of a value an event names: ids and names are far shorter, so only a value a
/// request made up (an id in a path, up to 64 KiB) is cut, and no caller grows the audit log
/// by more than this per value.
pub const MAX_VALUE_CHARS: usize = 256;

/// `value`, cut to `MAX_VALUE_CHARS` with a trailing `…` when longer.
fn bounded(value: String) -> String {
    match value.char_indices().nth(MAX_VALUE_CHARS) {
        None => value,
        Some((end, _)) => {
            let mut cut = value;
            cut.truncate(end);
            cut.push('…');
            cut
        }
    }
}

/// The event for `record`, observed by `observer` (fedgate's public URL) during `request`
/// (none outside HTTP), at `now_ms`, with an id made of `id_bytes`. Every value from the
/// record or the request is cut to `MAX_VALUE_CHARS`.
pub fn event(record: Record, request: Option<&Request>, observer: &str, now_ms: i64, id_bytes: [u8; 16]) -> Event {
    let Record {
        action,
        outcome,
        initiator,
        target_id,
        assignment,
    } = record;
    let bounded_opt = |v: Option<String>| v.map(bounded);
    let assignment = assignment.map(|a| Assignment {
        role: bounded(a.role),
        project: bounded_opt(a.project),
        domain: bounded_opt(a.domain),
        group: bounded_opt(a.group),
        agency: bounded_opt(a.agency),
        inherited_to_projects: a.inherited_to_projects,
    });
    let credential = initiator.credential.map(|c| Credential {
        identity_provider: bounded(c.identity_provider),
        token: bounded_opt(c.token),
        ..c
    });
    let (outcome, reason) = match outcome {
        Outcome::Success => ("success", None),
        Outcome::Failure { class, status } => (
            "failure",
            Some(Reason {
                reason_type: class,
                reason_code: status.to_string(),
            }),
        ),
    };
    Event {
        type_uri: EVENT_TYPE_URI,
        id: uuid::Builder::from_random_bytes(id_bytes).into_uuid().to_string(),
        event_type: "activity",
        event_time: event_time(now_ms),
        action: action.name(),
        outcome,
        initiator: Initiator {
            type_uri: ACCOUNT_USER,
            id: bounded(initiator.id.unwrap_or_else(|| UNKNOWN.to_string())),
            name: bounded_opt(initiator.name),
            domain_id: bounded_opt(initiator.domain_id),
            project_id: bounded_opt(initiator.project_id),
            host: Host {
                address: bounded_opt(request.and_then(|r| r.address.clone())),
                agent: bounded_opt(request.and_then(|r| r.agent.clone())),
            },
            request_id: bounded_opt(request.map(|r| r.id.clone())),
            credential,
        },
        target: Target {
            type_uri: action.target_type_uri(),
            id: bounded(target_id.unwrap_or_else(|| UNKNOWN.to_string())),
        },
        observer: Target {
            type_uri: SERVICE_SECURITY,
            id: observer.to_string(),
        },
        reason,
        assignment,
    }
}

impl Event {
    /// The event as one line of JSON (no newline). Besides what JSON escapes, characters that
    /// reorder or hide what a reader sees (C1 controls, DEL, bidirectional controls, line
    /// separators; `service::names::is_untypeable`'s set) are written as `\uXXXX`: a User-Agent
    /// or a name from a request cannot disguise the line.
    pub fn to_json(&self) -> String {
        let json = serde_json::to_string(self).expect("an event of strings, numbers and booleans always serialises");
        if !json.chars().any(hides_text) {
            return json;
        }
        let mut out = String::with_capacity(json.len() + 16);
        for c in json.chars() {
            if hides_text(c) {
                // Every such character is in the Basic Multilingual Plane: one escape.
                out.push_str(&format!("\\u{:04x}", c as u32));
            } else {
                out.push(c);
            }
        }
        out
    }
}

fn hides_text(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{2028}' | '\u{2029}'
        )
}

/// pycadf's timestamp (`%Y-%m-%dT%H:%M:%S.%f%z` in UTC): microseconds and `+0000`.
fn event_time(now_ms: i64) -> String {
    const FORMAT: &[time::format_description::BorrowedFormatItem<'_>] =
        time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]+0000");
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(now_ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(FORMAT).ok())
        .unwrap_or_else(|| "1970-01-01T00:00:00.000000+0000".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    const NOW: i64 = 1_408_655_096_204;

    fn request() -> Request {
        Request {
            id: "req-1".into(),
            address: Some("192.0.2.7".into()),
            agent: Some("curl/8.5.0".into()),
        }
    }

    fn admin() -> Actor {
        Actor {
            id: Some("u1".into()),
            name: Some("admin".into()),
            domain_id: Some("d1".into()),
            project_id: Some("p1".into()),
            credential: None,
        }
    }

    fn built(record: Record, request: Option<&Request>) -> Value {
        serde_json::from_str(&event(record, request, "https://iam.example.com", NOW, [7; 16]).to_json()).unwrap()
    }

    /// A value a request made up (an id in a path, up to 64 KiB) is cut, in characters, with
    /// a mark; what ids and names really are stays whole.
    #[test]
    fn values_from_requests_are_cut_to_a_bound() {
        let long = "é".repeat(MAX_VALUE_CHARS + 1000);
        let cut = format!("{}…", "é".repeat(MAX_VALUE_CHARS));
        let exact = "x".repeat(MAX_VALUE_CHARS);
        let record = Record {
            action: Action::Created(Resource::RoleAssignment),
            outcome: Outcome::Failure {
                class: "NotFound".into(),
                status: 404,
            },
            initiator: Actor {
                name: Some(exact.clone()),
                ..admin()
            },
            target_id: Some(long.clone()),
            assignment: Some(Assignment {
                role: long.clone(),
                project: Some(long.clone()),
                group: Some(long.clone()),
                ..Assignment::default()
            }),
        };
        let request = Request {
            agent: Some(long.clone()),
            ..request()
        };
        let event = built(record, Some(&request));
        for at in ["/target/id", "/role", "/project", "/group", "/initiator/host/agent"] {
            assert_eq!(event.pointer(at), Some(&json!(cut)), "{at}");
        }
        assert_eq!(event["initiator"]["name"], json!(exact));
    }

    #[test]
    fn a_change_is_written_as_keystone_writes_it() {
        let record = Record {
            action: Action::Created(Resource::User),
            outcome: Outcome::Success,
            initiator: admin(),
            target_id: Some("u2".into()),
            assignment: None,
        };
        assert_eq!(
            built(record, Some(&request())),
            json!({
                "typeURI": "http://schemas.dmtf.org/cloud/audit/1.0/event",
                "id": "07070707-0707-4707-8707-070707070707",
                "eventType": "activity",
                "eventTime": "2014-08-21T21:04:56.204000+0000",
                "action": "created.user",
                "outcome": "success",
                "initiator": {
                    "typeURI": "service/security/account/user",
                    "id": "u1",
                    "name": "admin",
                    "domain_id": "d1",
                    "project_id": "p1",
                    "host": {"address": "192.0.2.7", "agent": "curl/8.5.0"},
                    "request_id": "req-1"
                },
                "target": {"typeURI": "data/security/account/user", "id": "u2"},
                "observer": {"typeURI": "service/security", "id": "https://iam.example.com"}
            })
        );
    }

    #[test]
    fn a_failed_sign_in_has_an_unknown_initiator_and_a_reason() {
        let record = Record {
            action: Action::Authenticate,
            outcome: Outcome::Failure {
                class: "IdToken.Expired".into(),
                status: 401,
            },
            initiator: Actor {
                credential: Some(Credential {
                    type_uri: OIDC_CREDENTIAL,
                    identity_provider: "github".into(),
                    token: None,
                }),
                ..Actor::default()
            },
            target_id: None,
            assignment: None,
        };
        let v = built(record, None);
        assert_eq!(v["action"], "authenticate");
        assert_eq!(v["outcome"], "failure");
        assert_eq!(
            v["reason"],
            json!({"reasonType": "IdToken.Expired", "reasonCode": "401"})
        );
        assert_eq!(
            v["initiator"],
            json!({
                "typeURI": "service/security/account/user",
                "id": "unknown",
                "host": {},
                "credential": {"type": OIDC_CREDENTIAL, "identity_provider": "github"}
            })
        );
        assert_eq!(
            v["target"],
            json!({"typeURI": "service/security/account/user", "id": "unknown"})
        );
    }

    #[test]
    fn a_role_assignment_carries_keystones_top_level_keys() {
        let record = Record {
            action: Action::Deleted(Resource::RoleAssignment),
            outcome: Outcome::Success,
            initiator: admin(),
            target_id: Some("r1".into()),
            assignment: Some(Assignment {
                role: "r1".into(),
                project: Some("p9".into()),
                group: Some("g1".into()),
                ..Assignment::default()
            }),
        };
        let v = built(record, Some(&request()));
        assert_eq!(v["action"], "deleted.role_assignment");
        assert_eq!(v["role"], "r1");
        assert_eq!(v["project"], "p9");
        assert_eq!(v["group"], "g1");
        assert_eq!(v["inherited_to_projects"], false);
        assert!(v.get("domain").is_none() && v.get("agency").is_none());
    }

    #[test]
    fn actions_and_target_types_follow_keystone() {
        let cases = [
            (Action::Authenticate, "authenticate", "service/security/account/user"),
            (
                Action::Created(Resource::User),
                "created.user",
                "data/security/account/user",
            ),
            (
                Action::Updated(Resource::Project),
                "updated.project",
                "data/security/project",
            ),
            (Action::Deleted(Resource::Group), "deleted.group", "data/security/group"),
            (
                Action::Created(Resource::Domain),
                "created.domain",
                "data/security/domain",
            ),
            (
                Action::Created(Resource::RoleAssignment),
                "created.role_assignment",
                "data/security/role",
            ),
            (
                Action::Deleted(Resource::Agency),
                "deleted.agency",
                "data/security/trust",
            ),
            (
                Action::Created(Resource::IdentityProvider),
                "created.identity_provider",
                "data/security/identity_provider",
            ),
            (
                Action::Updated(Resource::Mapping),
                "updated.mapping",
                "data/security/mapping",
            ),
            (
                Action::Deleted(Resource::Protocol),
                "deleted.protocol",
                "data/security/protocol",
            ),
            (
                Action::Created(Resource::Credential),
                "created.credential",
                "data/security/credential",
            ),
            (
                Action::Created(Resource::SecurityToken),
                "created.security_token",
                "data/security/credential/security_token",
            ),
            (
                Action::Revoked(Resource::Token),
                "revoked.token",
                "data/security/credential/token",
            ),
        ];
        for (action, name, uri) in cases {
            assert_eq!(action.name(), name, "{action:?}");
            assert_eq!(action.target_type_uri(), uri, "{action:?}");
        }
    }

    #[test]
    fn event_times_are_pycadf_timestamps() {
        let cases = [
            (0, "1970-01-01T00:00:00.000000+0000"),
            (NOW, "2014-08-21T21:04:56.204000+0000"),
            (1_767_225_599_999, "2025-12-31T23:59:59.999000+0000"),
        ];
        for (ms, want) in cases {
            assert_eq!(event_time(ms), want);
        }
    }

    #[test]
    fn text_from_the_request_is_escaped_into_one_line() {
        let mut request = request();
        request.agent = Some("evil\n{\"outcome\":\"success\"}\u{202e}".into());
        let record = Record {
            action: Action::Authenticate,
            outcome: Outcome::Failure {
                class: "Unauthenticated".into(),
                status: 401,
            },
            initiator: Actor::default(),
            target_id: None,
            assignment: None,
        };
        let line = event(record, Some(&request), "o", NOW, [0; 16]).to_json();
        assert!(!line.contains('\n'), "{line}");
        assert!(line.contains("\\u202e"), "{line}");
        let v: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["outcome"], "failure");
        assert_eq!(v["initiator"]["host"]["agent"], request.agent.unwrap());
    }
}
