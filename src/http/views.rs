//! JSON shapes of the API's objects, as the reference and Keystone show them.

use serde_json::{Value, json};

use super::extract::Paging;
use crate::model::{ActorKind, Agency, Domain, FederatedUser, Grant, Group, Project, Role, User};
use crate::service::access_keys::Credential;
use crate::service::assignments::{Assignment, AssignmentNames};
use crate::service::catalog::Catalog;
use crate::service::federated_users::AnyUser;
use crate::service::{AuthContext, NameRef, ScopeView};

/// `2020-01-04T09:05:22.701000Z`: tokens and credentials.
pub fn token_time(ms: i64) -> String {
    format_ms(ms, true)
}

/// `2020-01-04T09:05:22.701000`: agencies and user password expiry.
pub fn local_time(ms: i64) -> String {
    format_ms(ms, false)
}

fn format_ms(ms: i64, zulu: bool) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}{}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.microsecond(),
        if zulu { "Z" } else { "" }
    )
}

/// `YYYY-MM-DD HH:mm:ss`: OS-USER fields.
pub fn plain_time(ms: i64) -> String {
    let s = format_ms(ms, false);
    format!("{} {}", &s[..10], &s[11..19])
}

/// A permanent access key as list, show and update answer it (L3951, L4048, L4137); create
/// adds `secret`, show adds `last_use_time`.
pub fn credential(k: &Credential) -> Value {
    json!({
        "access": k.access,
        "status": k.status(),
        "user_id": k.user_id,
        "create_time": token_time(k.created_at_ms),
        "description": k.description,
    })
}

fn name_ref(r: &NameRef) -> Value {
    json!({"id": r.id, "name": r.name})
}

pub fn list_links(base: &str, path: &str) -> Value {
    json!({"self": format!("{base}{path}"), "previous": null, "next": null})
}

/// `links` of a paged list: this request, and the neighbouring pages when there are any.
pub fn paged_links(base: &str, uri: &axum::http::Uri, paging: Option<Paging>, more: bool) -> Value {
    let self_link = match uri.query() {
        Some(q) => format!("{base}{}?{q}", uri.path()),
        None => format!("{base}{}", uri.path()),
    };
    let Some(p) = paging else {
        return json!({"self": self_link, "previous": null, "next": null});
    };
    let at_page = |page: usize| {
        let pairs: Vec<(String, String)> =
            serde_urlencoded::from_str::<Vec<(String, String)>>(uri.query().unwrap_or(""))
                .unwrap_or_default()
                .into_iter()
                .map(|(k, v): (String, String)| if k == "page" { (k, page.to_string()) } else { (k, v) })
                .collect();
        let query = serde_urlencoded::to_string(pairs).unwrap_or_default();
        Value::String(format!("{base}{}?{query}", uri.path()))
    };
    json!({
        "self": self_link,
        "previous": if p.page > 1 { at_page(p.page - 1) } else { Value::Null },
        "next": if more { at_page(p.page + 1) } else { Value::Null },
    })
}

pub fn token(ctx: &AuthContext, catalog: &Catalog, with_catalog: bool) -> Value {
    let t = &ctx.token;
    let id = &ctx.identity;
    let user_view = |u: &crate::service::UserView| {
        json!({
            "id": u.id,
            "name": u.name,
            "domain": name_ref(&u.domain),
            "password_expires_at": u.password_expires_at_ms.map(token_time).unwrap_or_default(),
        })
    };
    let mut user = user_view(&id.user);
    if let (Some(fed), None) = (&t.federation, &id.assumed_by) {
        user["OS-FEDERATION"] = json!({
            "identity_provider": {"id": fed.idp_id},
            "protocol": {"id": fed.protocol_id},
            "groups": id.groups.iter().map(name_ref).collect::<Vec<_>>(),
        });
    }
    let audit_ids: Vec<String> = t.audit_ids.iter().map(|a| base64_url(a)).collect();
    let mut body = json!({
        "methods": t.methods.names(),
        "issued_at": token_time(t.issued_at_ms),
        "expires_at": token_time(t.expires_at_ms),
        "audit_ids": audit_ids,
        "user": user,
    });
    if let Some(assumer) = &id.assumed_by {
        body["assumed_by"] = json!({"user": user_view(assumer)});
    }
    let project_id = match &id.scope {
        ScopeView::Unscoped => None,
        ScopeView::Domain(d) => {
            body["domain"] = name_ref(d);
            None
        }
        ScopeView::Project { id: pid, name, domain } => {
            body["project"] = json!({"id": pid, "name": name, "domain": name_ref(domain)});
            body["is_domain"] = json!(false);
            Some(pid.as_str())
        }
    };
    if !matches!(id.scope, ScopeView::Unscoped) {
        body["roles"] = json!(id.roles.iter().map(name_ref).collect::<Vec<_>>());
        body["catalog"] = if with_catalog {
            catalog_entries(catalog, project_id)
        } else {
            json!([])
        };
    }
    json!({"token": body})
}

/// `logintoken` of a login token (reference L20551): `method` is `federation_proxy` for an
/// agency session with a session user (a custom identity broker), else `token`.
pub fn login_token(ctx: &AuthContext) -> Value {
    let id = &ctx.identity;
    let session_user = ctx
        .token
        .agency
        .as_ref()
        .and_then(|a| a.session_user.as_ref().map(|n| (a, n)));
    let mut body = json!({
        "domain_id": id.user.domain.id,
        "expires_at": token_time(ctx.token.expires_at_ms),
        "method": if session_user.is_some() { "federation_proxy" } else { "token" },
        "user_id": id.user.id,
        "user_name": id.user.name,
        "session_id": ctx.token.audit_id().map(hex::encode).unwrap_or_default(),
    });
    if let Some((agency, name)) = session_user {
        use sha2::Digest;
        let digest = sha2::Sha256::digest(format!("{}/{name}", agency.agency_id));
        body["session_user_id"] = json!(hex::encode(&digest[..16]));
        body["session_name"] = json!(name);
    }
    if let Some(assumer) = &id.assumed_by {
        body["assumed_by"] = json!({"user": {
            "id": assumer.id,
            "name": assumer.name,
            "domain": name_ref(&assumer.domain),
            "password_expires_at": assumer.password_expires_at_ms.map(token_time).unwrap_or_default(),
        }});
    }
    if !ctx.session_policies.is_empty() {
        // Not in the reference: the console must apply the credential's session policies.
        let policies: Vec<Value> = ctx
            .session_policies
            .iter()
            .filter_map(|p| serde_json::from_str(p).ok())
            .collect();
        body["session_policies"] = json!(policies);
    }
    json!({"logintoken": body})
}

fn base64_url(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn endpoint_url(url: &str, project_id: Option<&str>) -> String {
    match project_id {
        Some(p) => url
            .replace("${tenant_id}", p)
            .replace("$(project_id)s", p)
            .replace("$(tenant_id)s", p),
        None => url.to_string(),
    }
}

pub fn catalog_entries(catalog: &Catalog, project_id: Option<&str>) -> Value {
    json!(
        catalog
            .services
            .iter()
            .map(|s| json!({
                "id": s.id,
                "name": s.name,
                "type": s.service_type,
                "endpoints": s.endpoints.iter().map(|e| json!({
                    "id": e.id,
                    "interface": e.interface,
                    "region": e.region,
                    "region_id": e.region,
                    "url": endpoint_url(&e.url, project_id),
                })).collect::<Vec<_>>(),
            }))
            .collect::<Vec<_>>()
    )
}

pub fn domain(base: &str, d: &Domain) -> Value {
    json!({
        "id": d.id, "name": d.name, "enabled": d.enabled, "description": d.description,
        "links": {"self": format!("{base}/v3/domains/{}", d.id)},
    })
}

pub fn project(base: &str, p: &Project) -> Value {
    json!({
        "id": p.id, "name": p.name, "domain_id": p.domain_id,
        // Keystone: a top-level project's parent is its domain.
        "parent_id": p.parent_id.clone().unwrap_or_else(|| p.domain_id.clone()),
        "is_domain": false, "enabled": p.enabled, "description": p.description,
        "tags": [], "links": {"self": format!("{base}/v3/projects/{}", p.id)},
    })
}

pub fn user(base: &str, u: &User) -> Value {
    json!({
        "id": u.id, "name": u.name, "domain_id": u.domain_id, "enabled": u.enabled,
        "description": u.description,
        "password_expires_at": u.password_expires_at_ms.map(local_time),
        "pwd_status": u.pwd_status, "access_mode": u.access_mode,
        "last_project_id": u.last_project_id,
        "options": {},
        "links": {"self": format!("{base}/v3/users/{}", u.id)},
    })
}

/// A federated (shadow) user as Keystone shows one: its provider and the name it logs in as.
pub fn federated_user(base: &str, u: &FederatedUser) -> Value {
    json!({
        "id": u.id, "name": u.name, "domain_id": u.domain_id, "enabled": u.enabled,
        "password_expires_at": null,
        "options": {},
        "federated": [{"idp_id": u.idp_id, "protocols": [{"protocol_id": u.protocol_id, "unique_id": u.name}]}],
        "links": {"self": format!("{base}/v3/users/{}", u.id)},
    })
}

pub fn any_user(base: &str, u: &AnyUser) -> Value {
    match u {
        AnyUser::Local(user) => self::user(base, user),
        AnyUser::Federated(shadow) => federated_user(base, shadow),
    }
}

/// The OS-USER form: Keystone's fields plus contact and audit details.
pub fn user_extended(base: &str, u: &User) -> Value {
    let mut v = user(base, u);
    let extra = json!({
        "xuser_id": u.xuser_id, "xuser_type": u.xuser_type, "areacode": u.areacode,
        "email": u.email, "phone": u.phone,
        "pwd_create_time": u.password_changed_at_ms.map(plain_time),
        "modify_pwd_time": u.password_changed_at_ms.map(plain_time),
        "update_time": plain_time(u.updated_at_ms),
        "create_time": plain_time(u.created_at_ms),
        "last_login_time": u.last_login_at_ms.map(plain_time),
        "is_domain_owner": u.is_domain_owner,
    });
    if let (Some(obj), Some(more)) = (v.as_object_mut(), extra.as_object()) {
        obj.extend(more.clone());
        obj.remove("options");
    }
    v
}

pub fn group(base: &str, g: &Group) -> Value {
    json!({
        "id": g.id, "name": g.name, "domain_id": g.domain_id, "description": g.description,
        "create_time": g.created_at_ms,
        "links": {"self": format!("{base}/v3/groups/{}", g.id)},
    })
}

pub fn role(base: &str, r: &Role) -> Value {
    let policy: Value = serde_json::from_str(&r.policy).unwrap_or(Value::Null);
    json!({
        "id": r.id, "name": r.name, "display_name": r.display_name, "type": r.role_type,
        "catalog": r.catalog, "flag": r.flag, "description": r.description,
        "description_cn": r.description, "domain_id": r.domain_id, "policy": policy,
        "created_time": r.created_at_ms.to_string(), "updated_time": r.updated_at_ms.to_string(),
        "links": {"self": format!("{base}/v3/roles/{}", r.id)},
    })
}

pub fn agency(a: &Agency, trust_domain_name: &str) -> Value {
    json!({
        "id": a.id, "name": a.name, "domain_id": a.domain_id,
        "trust_domain_id": a.trust_domain_id, "trust_domain_name": trust_domain_name,
        "description": a.description, "duration": a.duration,
        "expire_time": a.expire_at_ms.map(local_time),
        "create_time": local_time(a.created_at_ms),
    })
}

/// One entry of Keystone's /v3/role_assignments: actor, role, scope and the links that say
/// where it comes from (the grant, and the group membership when expanded).
pub fn keystone_assignment(base: &str, a: &Assignment, names: Option<&AssignmentNames>) -> Value {
    let g = &a.grant;
    let (target_kind, target_id) = a.target();
    let mut scope = json!({target_kind.as_str(): {"id": target_id}});
    if g.inherited {
        scope["OS-INHERIT:inherited_to"] = json!("projects");
    }
    let actor_path = match g.actor_kind {
        ActorKind::Group => "groups",
        ActorKind::Agency => "agencies",
    };
    let grant_path = format!(
        "/{}s/{}/{actor_path}/{}/roles/{}",
        g.target_kind.as_str(),
        g.target_id,
        g.actor_id,
        g.role_id
    );
    let assignment_link = match (g.actor_kind, g.inherited) {
        (ActorKind::Group, false) => format!("{base}/v3{grant_path}"),
        (ActorKind::Group, true) => format!("{base}/v3/OS-INHERIT{grant_path}/inherited_to_projects"),
        (ActorKind::Agency, false) => format!("{base}/v3.0/OS-AGENCY{grant_path}"),
        (ActorKind::Agency, true) => format!("{base}/v3.0/OS-INHERIT{grant_path}/inherited_to_projects"),
    };
    let mut links = json!({"assignment": assignment_link});
    let (actor_key, actor_id) = match (&a.user_id, g.actor_kind) {
        (Some(user), _) => {
            links["membership"] = json!(format!("{base}/v3/groups/{}/users/{user}", g.actor_id));
            ("user", user.as_str())
        }
        (None, kind) => (kind.as_str(), g.actor_id.as_str()),
    };
    let mut v = json!({
        "role": {"id": g.role_id},
        "scope": scope,
        actor_key: {"id": actor_id},
        "links": links,
    });
    if let Some(n) = names {
        v["role"]["name"] = json!(n.role);
        v[actor_key]["name"] = json!(n.actor.0);
        v[actor_key]["domain"] = name_ref(&n.actor.1);
        v["scope"][target_kind.as_str()]["name"] = json!(n.target.0);
        if let Some(d) = &n.target.1 {
            v["scope"][target_kind.as_str()]["domain"] = name_ref(d);
        }
    }
    v
}

/// One record of the reference's role-assignment listing (§5.8, Table 5-328).
pub fn iam_assignment(g: &Grant) -> Value {
    json!({
        "role": {"id": g.role_id},
        g.actor_kind.as_str(): {"id": g.actor_id},
        "scope": {g.target_kind.as_str(): {"id": g.target_id}},
        "is_inherited": g.inherited,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_use_the_reference_formats() {
        let ms = 1_578_042_322_701; // 2020-01-03T09:05:22.701Z
        assert_eq!(token_time(ms), "2020-01-03T09:05:22.701000Z");
        assert_eq!(local_time(ms), "2020-01-03T09:05:22.701000");
        assert_eq!(plain_time(ms), "2020-01-03 09:05:22");
    }
}
