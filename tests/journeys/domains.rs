//! Accounts (Keystone domains) through the API: a cloud admin creates one (with its
//! `<name>-admins` group, as bootstrap gives it), its first admin signs in and works, disabling
//! it stops every token of it for good, and deleting it (only when disabled) removes what hangs
//! off it on both backends.

use serde_json::{Value, json};

use crate::support::{Db, TestApp, spawn_app};

const PASSWORD: &str = "Acct-Passw0rd";

async fn ok(app: &TestApp, method: &str, path: &str, token: &str, body: Option<Value>, want: u16) -> Value {
    let (s, v) = app.call(method, path, token, body).await;
    assert_eq!(s, want, "{method} {path}: {v}");
    v
}

fn keystone_error(code: u16, title: &str, message: &str) -> Value {
    json!({"error": {"code": code, "title": title, "message": message}})
}

async fn account_lifecycle(db: Db) {
    let Some(app) = spawn_app(db).await else { return };
    let t = app.admin_token.clone();
    let t = t.as_str();

    // Create: Keystone's body and answer.
    let v = ok(
        &app,
        "POST",
        "/v3/domains",
        t,
        Some(json!({"domain": {"name": "acct", "description": "A customer"}})),
        201,
    )
    .await;
    let id = v["domain"]["id"].as_str().unwrap().to_string();
    assert_eq!(id.len(), 32);
    assert_eq!(
        v,
        json!({"domain": {"id": id, "name": "acct", "enabled": true, "description": "A customer",
            "links": {"self": format!("{}/v3/domains/{id}", app.base)}}})
    );
    let (s, listed) = app.call("GET", "/v3/domains?name=acct", t, None).await;
    assert_eq!((s, listed["domains"][0]["id"].as_str()), (200, Some(id.as_str())));

    // Bad input: exact statuses and messages, nothing created.
    let bad = [
        (
            json!({"domain": {"name": "acct"}}),
            409,
            "Conflict occurred attempting to store domain name acct exists.",
        ),
        (
            json!({"domain": {"description": "x"}}),
            400,
            "'domain.name' is a required property.",
        ),
        (
            json!({"domain": {"name": "x".repeat(65)}}),
            400,
            "Invalid input for field 'domain.name': length must be between 1 and 64 characters.",
        ),
        (
            json!({"domain": {"name": "a\nb"}}),
            400,
            "Invalid input for field 'domain.name': must be non-blank text without control characters.",
        ),
        (
            json!({"domain": {"name": "chosen", "id": "0000000000000000000000000000beef"}}),
            400,
            "Invalid input for field 'domain.id': is chosen by the server.",
        ),
    ];
    for (body, status, message) in bad {
        let (s, v) = app.call("POST", "/v3/domains", t, Some(body.clone())).await;
        let title = if status == 409 { "Conflict" } else { "Bad Request" };
        assert_eq!((s, v), (status, keystone_error(status, title, message)), "{body}");
    }
    let (_, all) = app.call("GET", "/v3/domains", t, None).await;
    assert_eq!(
        all["domains"].as_array().unwrap().len(),
        2,
        "admin and acct only: {all}"
    );

    // The account's admin group, as bootstrap makes it: admin on the domain, also inherited.
    let v = ok(&app, "GET", &format!("/v3/groups?domain_id={id}"), t, None, 200).await;
    let groups = v["groups"].as_array().unwrap();
    assert_eq!(groups.len(), 1, "{v}");
    assert_eq!(groups[0]["name"], "acct-admins");
    let admins = groups[0]["id"].as_str().unwrap().to_string();
    let v = ok(
        &app,
        "GET",
        &format!("/v3/role_assignments?group.id={admins}&include_names"),
        t,
        None,
        200,
    )
    .await;
    let mut held: Vec<(String, bool)> = v["role_assignments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                format!(
                    "{}@{}",
                    a["role"]["name"].as_str().unwrap(),
                    a["scope"]["domain"]["name"].as_str().unwrap()
                ),
                a["scope"].get("OS-INHERIT:inherited_to").is_some(),
            )
        })
        .collect();
    held.sort();
    assert_eq!(
        held,
        vec![("admin@acct".into(), false), ("admin@acct".into(), true)],
        "{v}"
    );

    // Its first admin: a user in the group, who then administers the account.
    let v = ok(
        &app,
        "POST",
        "/v3/users",
        t,
        Some(json!({"user": {"name": "acct-admin", "domain_id": id, "password": PASSWORD}})),
        201,
    )
    .await;
    let owner = v["user"]["id"].as_str().unwrap().to_string();
    ok(&app, "PUT", &format!("/v3/groups/{admins}/users/{owner}"), t, None, 204).await;
    let (s, acct, body) = app
        .password_token(
            "acct-admin",
            "acct",
            PASSWORD,
            Some(json!({"domain": {"name": "acct"}})),
        )
        .await;
    assert_eq!(s, 201, "{body}");
    let v = ok(
        &app,
        "POST",
        "/v3/projects",
        &acct,
        Some(json!({"project": {"name": "deploy"}})),
        201,
    )
    .await;
    assert_eq!(v["project"]["domain_id"], json!(id));
    let project = v["project"]["id"].as_str().unwrap().to_string();
    let (s, in_project, body) = app
        .password_token(
            "acct-admin",
            "acct",
            PASSWORD,
            Some(crate::support::project_scope("deploy", "acct")),
        )
        .await;
    assert_eq!(s, 201, "the inherited grant reaches the new project: {body}");
    // What hangs off the account, for the delete below.
    let v = ok(
        &app,
        "POST",
        "/v3/users",
        &acct,
        Some(json!({"user": {"name": "dev", "password": PASSWORD}})),
        201,
    )
    .await;
    let dev = v["user"]["id"].as_str().unwrap().to_string();
    let v = ok(
        &app,
        "POST",
        "/v3/groups",
        &acct,
        Some(json!({"group": {"name": "devs"}})),
        201,
    )
    .await;
    let devs = v["group"]["id"].as_str().unwrap().to_string();
    ok(&app, "PUT", &format!("/v3/groups/{devs}/users/{dev}"), &acct, None, 204).await;
    let (_, roles) = app.call("GET", "/v3/roles?name=member", t, None).await;
    let member = roles["roles"][0]["id"].as_str().unwrap().to_string();
    ok(
        &app,
        "PUT",
        &format!("/v3/projects/{project}/groups/{devs}/roles/{member}"),
        &acct,
        None,
        204,
    )
    .await;
    let v = ok(
        &app,
        "POST",
        "/v3.0/OS-CREDENTIAL/credentials",
        &acct,
        Some(json!({"credential": {"user_id": owner}})),
        201,
    )
    .await;
    let access = v["credential"]["access"].as_str().unwrap().to_string();
    ok(
        &app,
        "POST",
        "/v3.0/OS-AGENCY/agencies",
        &acct,
        Some(json!({"agency": {"name": "ops", "domain_id": id, "trust_domain_name": "admin"}})),
        201,
    )
    .await;
    let idp = format!("acct-idp-{}", db as u8);
    ok(
        &app,
        "PUT",
        &format!("/v3/OS-FEDERATION/identity_providers/{idp}"),
        &acct,
        Some(json!({"identity_provider": {"enabled": true}})),
        201,
    )
    .await;
    let rules = json!({"mapping": {"rules": [{"local": [{"user": {"name": "{0}"}}], "remote": [{"type": "uid"}]}]}});
    let mapping = format!("acct-map-{}", db as u8);
    ok(
        &app,
        "PUT",
        &format!("/v3/OS-FEDERATION/mappings/{mapping}"),
        &acct,
        Some(rules),
        201,
    )
    .await;
    ok(
        &app,
        "PUT",
        &format!("/v3/OS-FEDERATION/identity_providers/{idp}/protocols/saml"),
        &acct,
        Some(json!({"protocol": {"mapping_id": mapping}})),
        201,
    )
    .await;

    // Deleting an enabled domain is refused, as Keystone refuses it.
    let (s, v) = app.call("DELETE", &format!("/v3/domains/{id}"), t, None).await;
    assert_eq!(
        (s, v),
        (
            403,
            keystone_error(
                403,
                "Forbidden",
                "Cannot delete a domain that is enabled, please disable it first."
            )
        )
    );

    // Disable: every token of the account stops at once, and sign-in is refused.
    let v = ok(
        &app,
        "PATCH",
        &format!("/v3/domains/{id}"),
        t,
        Some(json!({"domain": {"enabled": false}})),
        200,
    )
    .await;
    assert_eq!(v["domain"]["enabled"], false);
    for token in [&acct, &in_project] {
        assert_eq!(app.validate(t, token).await.0, 404);
        assert_eq!(app.call("GET", "/v3/projects", token, None).await.0, 401);
    }
    let (s, _, _) = app.password_token("acct-admin", "acct", PASSWORD, None).await;
    assert_eq!(s, 401, "a disabled account's users cannot sign in");
    // Enabling again does not bring the old tokens back; new sign-ins work.
    let v = ok(
        &app,
        "PATCH",
        &format!("/v3/domains/{id}"),
        t,
        Some(json!({"domain": {"enabled": true, "name": "acct2"}})),
        200,
    )
    .await;
    assert_eq!(
        (v["domain"]["enabled"].clone(), v["domain"]["name"].clone()),
        (json!(true), json!("acct2"))
    );
    assert_eq!(app.validate(t, &acct).await.0, 404, "revoked for good");
    let (s, _, body) = app.password_token("acct-admin", "acct2", PASSWORD, None).await;
    assert_eq!(s, 201, "{body}");
    // Renaming onto a taken name conflicts; unknown ids are 404.
    let (s, v) = app
        .call(
            "PATCH",
            &format!("/v3/domains/{id}"),
            t,
            Some(json!({"domain": {"name": "admin"}})),
        )
        .await;
    assert_eq!((s, v["error"]["code"].clone()), (409, json!(409)), "{v}");
    let (s, _) = app
        .call(
            "PATCH",
            "/v3/domains/0000000000000000000000000000dead",
            t,
            Some(json!({"domain": {"enabled": false}})),
        )
        .await;
    assert_eq!(s, 404);

    // Delete once disabled: the account and everything in it are gone.
    ok(
        &app,
        "PATCH",
        &format!("/v3/domains/{id}"),
        t,
        Some(json!({"domain": {"enabled": false}})),
        200,
    )
    .await;
    let (s, body) = app.call("DELETE", &format!("/v3/domains/{id}"), t, None).await;
    assert_eq!((s, body), (204, Value::Null));
    let (s, v) = app.call("DELETE", &format!("/v3/domains/{id}"), t, None).await;
    assert_eq!(
        (s, v),
        (
            404,
            keystone_error(404, "Not Found", &format!("Could not find domain: {id}."))
        )
    );
    assert_eq!(app.call("GET", &format!("/v3/domains/{id}"), t, None).await.0, 404);
    let store = &app.store;
    for user in [&owner, &dev] {
        assert!(store.get_user(user).await.unwrap().is_none(), "user {user}");
    }
    for group in [&admins, &devs] {
        assert!(store.get_group(group).await.unwrap().is_none(), "group {group}");
    }
    assert!(store.get_project(&project).await.unwrap().is_none());
    assert!(store.get_access_key(&access).await.unwrap().is_none());
    assert!(store.get_idp(&idp).await.unwrap().is_none());
    assert!(store.get_mapping(&mapping).await.unwrap().is_none());
    let agencies = store
        .list_agencies(&fedgate::model::AgencyFilter {
            domain_id: Some(id.clone()),
            name: None,
            trust_domain_id: None,
        })
        .await
        .unwrap();
    assert!(agencies.is_empty());
    let grants = store
        .list_grants(&fedgate::model::GrantFilter::default())
        .await
        .unwrap();
    let dangling: Vec<_> = grants
        .iter()
        .filter(|g| [&admins, &devs, &project, &id].contains(&&g.actor_id) || [&project, &id].contains(&&g.target_id))
        .collect();
    assert!(dangling.is_empty(), "{dangling:?}");
    // The name is free again; the admin domain cannot be touched.
    ok(
        &app,
        "POST",
        "/v3/domains",
        t,
        Some(json!({"domain": {"name": "acct2"}})),
        201,
    )
    .await;
    let (_, me) = app.validate(t, t).await;
    let admin_domain = me["token"]["project"]["domain"]["id"].as_str().unwrap().to_string();
    let message = "the admin domain (admin, admin_domain in fedgate.toml) cannot be";
    for (method, body, what) in [
        ("PATCH", Some(json!({"domain": {"enabled": false}})), "disabled"),
        ("PATCH", Some(json!({"domain": {"name": "root"}})), "renamed"),
        ("DELETE", None, "deleted"),
    ] {
        let (s, v) = app.call(method, &format!("/v3/domains/{admin_domain}"), t, body).await;
        let want = format!("{message} {what}: its admins administer every domain");
        assert_eq!((s, v), (400, keystone_error(400, "Bad Request", &want)), "{what}");
    }
    assert_eq!(app.validate(t, t).await.0, 200, "the cloud admin still works");
    app.stop().await;
}

on_both_backends!(account_lifecycle);
