//! Token bodies: Keystone's `token`, the reference's `logintoken`.

use serde::Serialize;
use serde_json::Value;

use super::{CatalogEntry, IdRef, NameRefView, catalog_entries, name_ref, token_time};
use crate::service::catalog::Catalog;
use crate::service::{AuthContext, ScopeView};

/// `{"token": ...}`, as issuing, validating and the signed-request check answer.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TokenBody<'a> {
    pub token: TokenView<'a>,
}

/// A token: Keystone's fields, `assumed_by` for an agency session; scope, roles and catalog
/// only when scoped. `access` and `session_policies` only in the signed-request check.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TokenView<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub assumed_by: Option<AssumedBy<'a>>,
    pub audit_ids: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub catalog: Option<Vec<CatalogEntry<'a>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub domain: Option<NameRefView<'a>>,
    pub expires_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_domain: Option<bool>,
    pub issued_at: String,
    pub methods: Vec<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub project: Option<ProjectRef<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub roles: Option<Vec<NameRefView<'a>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session_policies: Option<Vec<Value>>,
    pub user: TokenUser<'a>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AssumedBy<'a> {
    pub user: TokenUser<'a>,
}

/// A token's user; `OS-FEDERATION` for a federated user's own token (not an agency session).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TokenUser<'a> {
    #[serde(rename = "OS-FEDERATION", skip_serializing_if = "Option::is_none")]
    pub federation: Option<TokenFederation<'a>>,
    pub domain: NameRefView<'a>,
    pub id: &'a str,
    pub name: &'a str,
    /// Empty when the password does not expire.
    pub password_expires_at: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TokenFederation<'a> {
    pub groups: Vec<NameRefView<'a>>,
    pub identity_provider: IdRef<'a>,
    pub protocol: IdRef<'a>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ProjectRef<'a> {
    pub domain: NameRefView<'a>,
    pub id: &'a str,
    pub name: &'a str,
}

fn token_user(u: &crate::service::UserView) -> TokenUser<'_> {
    TokenUser {
        federation: None,
        domain: name_ref(&u.domain),
        id: &u.id,
        name: &u.name,
        password_expires_at: u.password_expires_at_ms.map(token_time).unwrap_or_default(),
    }
}

pub fn token<'a>(ctx: &'a AuthContext, catalog: &'a Catalog, with_catalog: bool) -> TokenBody<'a> {
    let t = &ctx.token;
    let id = &ctx.identity;
    let mut user = token_user(&id.user);
    if let (Some(fed), None) = (&t.federation, &id.assumed_by) {
        user.federation = Some(TokenFederation {
            groups: id.groups.iter().map(name_ref).collect(),
            identity_provider: IdRef { id: &fed.idp_id },
            protocol: IdRef {
                id: fed.protocol_id.as_str(),
            },
        });
    }
    let (domain, project) = match &id.scope {
        ScopeView::Unscoped => (None, None),
        ScopeView::Domain(d) => (Some(name_ref(d)), None),
        ScopeView::Project { id: pid, name, domain } => (
            None,
            Some(ProjectRef {
                domain: name_ref(domain),
                id: pid,
                name,
            }),
        ),
    };
    let scoped = !matches!(id.scope, ScopeView::Unscoped);
    let catalog = match (scoped, with_catalog) {
        (false, _) => None,
        (true, false) => Some(Vec::new()),
        (true, true) => Some(catalog_entries(catalog, project.as_ref().map(|p| p.id))),
    };
    TokenBody {
        token: TokenView {
            access: None,
            assumed_by: id.assumed_by.as_ref().map(|a| AssumedBy { user: token_user(a) }),
            audit_ids: t.audit_ids.iter().map(|a| base64_url(a)).collect(),
            catalog,
            domain,
            is_domain: project.is_some().then_some(false),
            expires_at: token_time(t.expires_at_ms),
            issued_at: token_time(t.issued_at_ms),
            methods: t.methods.names(),
            project,
            roles: scoped.then(|| id.roles.iter().map(name_ref).collect()),
            session_policies: None,
            user,
        },
    }
}

/// `{"logintoken": ...}`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct LoginTokenBody<'a> {
    pub logintoken: LoginTokenView<'a>,
}

/// A login token (reference L20551): `method` is `federation_proxy` for an agency session with
/// a session user (a custom identity broker), else `token`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct LoginTokenView<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub assumed_by: Option<AssumedBy<'a>>,
    pub domain_id: &'a str,
    pub expires_at: String,
    pub method: &'static str,
    pub session_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session_name: Option<&'a str>,
    /// Not in the reference: the console must apply the credential's session policies.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session_policies: Option<Vec<Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session_user_id: Option<String>,
    pub user_id: &'a str,
    pub user_name: &'a str,
}

pub fn login_token(ctx: &AuthContext) -> LoginTokenBody<'_> {
    let id = &ctx.identity;
    let session_user = ctx
        .token
        .agency
        .as_ref()
        .and_then(|a| a.session_user.as_ref().map(|n| (a, n)));
    let session_user_id = session_user.map(|(agency, name)| {
        use sha2::Digest;
        let digest = sha2::Sha256::digest(format!("{}/{name}", agency.agency_id));
        hex::encode(&digest[..16])
    });
    LoginTokenBody {
        logintoken: LoginTokenView {
            assumed_by: id.assumed_by.as_ref().map(|a| AssumedBy { user: token_user(a) }),
            domain_id: &id.user.domain.id,
            expires_at: token_time(ctx.token.expires_at_ms),
            method: if session_user.is_some() {
                "federation_proxy"
            } else {
                "token"
            },
            session_id: ctx.token.audit_id().map(hex::encode).unwrap_or_default(),
            session_name: session_user.map(|(_, name)| name.as_str()),
            session_policies: (!ctx.session_policies.is_empty()).then(|| session_policies(ctx)),
            session_user_id,
            user_id: &id.user.id,
            user_name: &id.user.name,
        },
    }
}

/// The session policies of the credential behind `ctx`, as JSON.
pub fn session_policies(ctx: &AuthContext) -> Vec<Value> {
    ctx.session_policies
        .iter()
        .filter_map(|p| serde_json::from_str(p).ok())
        .collect()
}

fn base64_url(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}
