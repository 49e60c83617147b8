//! Admin power follows its scope (ARCHITECTURE.md, "Authorization"): a table of callers ×
//! operations → the exact status, run over HTTP against two accounts, `acme` and `other`,
//! beside the bootstrapped cloud admin.
//!
//! Callers: `pat` holds `admin` on project p1 only; `dana` holds `admin` on the domain acme;
//! `olga` owns and administers the domain `other`; `admin` is the bootstrapped admin with a
//! token scoped to the admin project; `rita` holds `reader` on p1.

use fedgate::service::bootstrap::{BootstrapRequest, bootstrap};
use serde_json::{Value, json};

use crate::support::{Db, TestApp, project_scope, spawn_app};

pub(crate) const PASSWORD: &str = "Sc0ped-Passw0rd";

pub(crate) struct World {
    acme: String,
    p1: String,
    p2: String,
    staff: String,
    other_group: String,
    owner: String,
    pub(crate) sam: String,
    member: String,
    admin_role: String,
    admin_domain: String,
}

fn id(v: &Value, kind: &str) -> String {
    v[kind]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no {kind} id in {v}"))
        .to_string()
}

async fn created(app: &TestApp, path: &str, body: Value) -> Value {
    let (s, v) = app.call("POST", path, &app.admin_token, Some(body)).await;
    assert_eq!(s, 201, "POST {path}: {v}");
    v
}

async fn put(app: &TestApp, path: &str, token: &str, body: Option<Value>, want: u16) {
    let (s, v) = app.call("PUT", path, token, body).await;
    assert_eq!(s, want, "PUT {path}: {v}");
}

async fn role_id(app: &TestApp, name: &str) -> String {
    let (_, roles) = app
        .call("GET", &format!("/v3/roles?name={name}"), &app.admin_token, None)
        .await;
    roles["roles"][0]["id"].as_str().unwrap().to_string()
}

/// A user of `domain` in a new group holding `role` on `target` (`projects/<id>` or
/// `domains/<id>`).
async fn user_with_role(app: &TestApp, domain: &str, name: &str, role: &str, target: &str) -> String {
    let user = created(
        app,
        "/v3/users",
        json!({"user": {"name": name, "domain_id": domain, "password": PASSWORD}}),
    )
    .await;
    let group = created(
        app,
        "/v3/groups",
        json!({"group": {"name": format!("{name}-group"), "domain_id": domain}}),
    )
    .await;
    let (user, group) = (id(&user, "user"), id(&group, "group"));
    let t = &app.admin_token;
    put(app, &format!("/v3/groups/{group}/users/{user}"), t, None, 204).await;
    put(app, &format!("/v3/{target}/groups/{group}/roles/{role}"), t, None, 204).await;
    user
}

pub(crate) async fn token(app: &TestApp, user: &str, domain: &str, scope: Value) -> String {
    let (s, token, body) = app.password_token(user, domain, PASSWORD, Some(scope)).await;
    assert_eq!(s, 201, "{user} logs in: {body}");
    token
}

/// The two accounts and the callers of the table (also used by `credentials.rs`).
pub(crate) async fn world(app: &TestApp) -> (World, Vec<(&'static str, String)>) {
    let now = fedgate::service::now_ms();
    let store = app.store.as_ref();
    let account = |domain: &str, owner: &str| BootstrapRequest {
        domain_name: domain.into(),
        project_name: format!("{domain}-main"),
        user_name: owner.into(),
        password: PASSWORD.into(),
    };
    let acme = bootstrap(store, account("acme", "acme-owner"), now).await.unwrap();
    let other = bootstrap(store, account("other", "olga"), now).await.unwrap();
    let p1 = id(
        &created(
            app,
            "/v3/projects",
            json!({"project": {"name": "p1", "domain_id": acme.domain_id}}),
        )
        .await,
        "project",
    );
    let p2 = id(
        &created(
            app,
            "/v3/projects",
            json!({"project": {"name": "p2", "domain_id": acme.domain_id}}),
        )
        .await,
        "project",
    );
    let (admin_role, reader, member) = (
        role_id(app, "admin").await,
        role_id(app, "reader").await,
        role_id(app, "member").await,
    );
    let d = acme.domain_id.as_str();
    user_with_role(app, d, "pat", &admin_role, &format!("projects/{p1}")).await;
    user_with_role(app, d, "dana", &admin_role, &format!("domains/{d}")).await;
    user_with_role(app, d, "rita", &reader, &format!("projects/{p1}")).await;
    let sam = user_with_role(app, d, "sam", &member, &format!("projects/{p1}")).await;
    let staff = id(
        &created(app, "/v3/groups", json!({"group": {"name": "staff", "domain_id": d}})).await,
        "group",
    );
    let other_group = id(
        &created(
            app,
            "/v3/groups",
            json!({"group": {"name": "outsiders", "domain_id": other.domain_id}}),
        )
        .await,
        "group",
    );
    let domain_scope = |name: &str| json!({"domain": {"name": name}});
    let callers = vec![
        ("pat", token(app, "pat", "acme", project_scope("p1", "acme")).await),
        ("dana", token(app, "dana", "acme", domain_scope("acme")).await),
        ("olga", token(app, "olga", "other", domain_scope("other")).await),
        ("admin", app.admin_token.clone()),
        ("rita", token(app, "rita", "acme", project_scope("p1", "acme")).await),
    ];
    // The provider and mapping the federation rows act on, made by acme's admin.
    let dana = &callers[1].1;
    let idp_path = "/v3/OS-FEDERATION/identity_providers/acme-idp";
    put(
        app,
        idp_path,
        dana,
        Some(json!({"identity_provider": {"enabled": true}})),
        201,
    )
    .await;
    let rules = json!({"mapping": {"rules": [{"local": [{"user": {"name": "{0}"}}], "remote": [{"type": "uid"}]}]}});
    put(app, "/v3/OS-FEDERATION/mappings/acme-map", dana, Some(rules), 201).await;
    let (_, me) = app.validate(&app.admin_token, &app.admin_token).await;
    let admin_domain = me["token"]["project"]["domain"]["id"].as_str().unwrap().to_string();
    let world = World {
        admin_domain,
        acme: acme.domain_id,
        p1,
        p2,
        staff,
        other_group,
        owner: acme.user_id,
        sam,
        member,
        admin_role,
    };
    (world, callers)
}

/// Each caller's expected status, in the order pat, dana, olga, admin, rita.
type Row = (&'static str, &'static str, String, Option<Value>, [u16; 5]);

fn table(w: &World, run: usize) -> Vec<Row> {
    let (acme, p1, p2) = (&w.acme, &w.p1, &w.p2);
    let unique = |what: &str| format!("{what}-{run}");
    vec![
        (
            "read project p1",
            "GET",
            format!("/v3/projects/{p1}"),
            None,
            [200, 200, 403, 200, 200],
        ),
        (
            "update project p1",
            "PATCH",
            format!("/v3/projects/{p1}"),
            Some(json!({"project": {"description": unique("d")}})),
            [200, 200, 403, 200, 403],
        ),
        (
            "update another project of the domain",
            "PATCH",
            format!("/v3/projects/{p2}"),
            Some(json!({"project": {"description": unique("d")}})),
            [403, 200, 403, 200, 403],
        ),
        (
            "grant member on p1 to a group of the domain",
            "PUT",
            format!("/v3/projects/{p1}/groups/{}/roles/{}", w.staff, w.member),
            None,
            [204, 204, 403, 204, 403],
        ),
        (
            "list grants on p1",
            "GET",
            format!("/v3/projects/{p1}/groups/{}/roles", w.staff),
            None,
            [200, 200, 403, 200, 403],
        ),
        (
            "grant admin on the domain (the old escalation)",
            "PUT",
            format!("/v3/domains/{acme}/groups/{}/roles/{}", w.staff, w.admin_role),
            None,
            [403, 204, 403, 204, 403],
        ),
        (
            "grant on p1 to another domain's group",
            "PUT",
            format!("/v3/projects/{p1}/groups/{}/roles/{}", w.other_group, w.member),
            None,
            [403, 403, 403, 204, 403],
        ),
        (
            "create a user in the domain",
            "POST",
            "/v3/users".into(),
            Some(json!({"user": {"name": unique("user"), "domain_id": acme}})),
            [403, 201, 403, 201, 403],
        ),
        (
            "list the domain's users",
            "GET",
            format!("/v3/users?domain_id={acme}"),
            None,
            [403, 200, 403, 200, 403],
        ),
        (
            "create a group in the domain",
            "POST",
            "/v3/groups".into(),
            Some(json!({"group": {"name": unique("group"), "domain_id": acme}})),
            [403, 201, 403, 201, 403],
        ),
        (
            "add a member to a group",
            "PUT",
            format!("/v3/groups/{}/users/{}", w.staff, w.sam),
            None,
            [403, 204, 403, 204, 403],
        ),
        (
            "create an agency in the domain",
            "POST",
            "/v3.0/OS-AGENCY/agencies".into(),
            Some(json!({"agency": {"name": unique("agency"), "domain_id": acme, "trust_domain_name": "other"}})),
            [403, 201, 403, 201, 403],
        ),
        (
            "read the domain's identity provider",
            "GET",
            "/v3/OS-FEDERATION/identity_providers/acme-idp".into(),
            None,
            [200, 200, 403, 200, 200],
        ),
        (
            "update the domain's identity provider",
            "PATCH",
            "/v3/OS-FEDERATION/identity_providers/acme-idp".into(),
            Some(json!({"identity_provider": {"description": unique("d")}})),
            [403, 200, 403, 200, 403],
        ),
        (
            "update the domain's mapping",
            "PATCH",
            "/v3/OS-FEDERATION/mappings/acme-map".into(),
            Some(json!({"mapping": {"rules": [{"local": [{"user": {"name": "{0}"}}], "remote": [{"type": "mail"}]}]}})),
            [403, 200, 403, 200, 403],
        ),
        (
            "read the domain",
            "GET",
            format!("/v3/domains/{acme}"),
            None,
            [200, 200, 403, 200, 200],
        ),
        // Accounts themselves: cloud admins only, not even the account's own admin.
        (
            "create a domain",
            "POST",
            "/v3/domains".into(),
            Some(json!({"domain": {"name": unique("account")}})),
            [403, 403, 403, 201, 403],
        ),
        (
            "update the domain",
            "PATCH",
            format!("/v3/domains/{acme}"),
            Some(json!({"domain": {"description": unique("d")}})),
            [403, 403, 403, 200, 403],
        ),
        (
            "delete the (enabled) domain",
            "DELETE",
            format!("/v3/domains/{acme}"),
            None,
            [403, 403, 403, 403, 403],
        ),
        (
            "delete a domain that does not exist",
            "DELETE",
            "/v3/domains/0000000000000000000000000000dead".into(),
            None,
            [403, 403, 403, 404, 403],
        ),
        (
            "disable the admin domain",
            "PATCH",
            format!("/v3/domains/{}", w.admin_domain),
            Some(json!({"domain": {"enabled": false}})),
            [403, 403, 403, 400, 403],
        ),
        (
            "reset the account owner's password",
            "PATCH",
            format!("/v3/users/{}", w.owner),
            Some(json!({"user": {"password": format!("Taken-0ver{run}")}})),
            [403, 403, 403, 200, 403],
        ),
        (
            // A key signs as its user: the account's IAM admins cannot make one for its owner.
            "create an access key for the account owner",
            "POST",
            "/v3.0/OS-CREDENTIAL/credentials".into(),
            Some(json!({"credential": {"user_id": w.owner}})),
            [403, 403, 403, 201, 403],
        ),
    ]
}

const CALLERS: [&str; 5] = ["pat", "dana", "olga", "admin", "rita"];

async fn admin_power_follows_its_scope(db: Db) {
    let Some(app) = spawn_app(db).await else { return };
    let (world, callers) = world(&app).await;
    let mut failures = Vec::new();
    for (run, (caller, token)) in callers.iter().enumerate() {
        let column = CALLERS.iter().position(|c| c == caller).unwrap();
        for (name, method, path, body, want) in table(&world, run) {
            let (status, answer) = app.call(method, &path, token, body).await;
            if status != want[column] {
                failures.push(format!(
                    "{caller} / {name}: got {status}, want {} ({answer})",
                    want[column]
                ));
            }
        }
    }
    assert!(failures.is_empty(), "authorization table:\n{}", failures.join("\n"));

    // Validating another user's token: the user's domain admins and cloud admins only.
    let sam = token(&app, "sam", "acme", project_scope("p1", "acme")).await;
    for (caller, token) in &callers {
        let want = match *caller {
            "dana" | "admin" => 200,
            _ => 403,
        };
        assert_eq!(
            app.validate(token, &sam).await.0,
            want,
            "{caller} validates sam's token"
        );
    }
    app.stop().await;
}

/// A protocol names only a mapping of its provider's own account: another account's rules
/// could put the provider's users into groups its admins do not administer.
async fn a_protocol_cannot_use_another_accounts_mapping(db: Db) {
    let Some(app) = spawn_app(db).await else { return };
    let (_, callers) = world(&app).await;
    let (dana, olga) = (&callers[1].1, &callers[2].1);
    let rules = json!({"mapping": {"rules": [{"local": [{"user": {"name": "{0}"}}], "remote": [{"type": "uid"}]}]}});
    put(&app, "/v3/OS-FEDERATION/mappings/olga-map", olga, Some(rules), 201).await;
    let protocol = "/v3/OS-FEDERATION/identity_providers/acme-idp/protocols/saml";
    for (mapping, want) in [("olga-map", 404), ("acme-map", 201)] {
        let (s, v) = app
            .call(
                "PUT",
                protocol,
                dana,
                Some(json!({"protocol": {"mapping_id": mapping}})),
            )
            .await;
        assert_eq!(s, want, "protocol with {mapping}: {v}");
        if want == 404 {
            assert_eq!(v["error"]["message"], "Could not find mapping: olga-map.");
        }
    }
    let (s, v) = app
        .call(
            "PATCH",
            protocol,
            dana,
            Some(json!({"protocol": {"mapping_id": "olga-map"}})),
        )
        .await;
    assert_eq!(s, 404, "{v}");
    app.stop().await;
}

on_both_backends!(
    admin_power_follows_its_scope,
    a_protocol_cannot_use_another_accounts_mapping
);
