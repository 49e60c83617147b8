//! Federated logins from mapped attributes: ephemeral users with stable ids, groups confined to
//! the provider's account, iam_user_sso bound to local users, and what disabling does. The
//! SAML and OIDC endpoints call the same service once they have verified their input.

use fedgate::model::{Domain, Group};
use fedgate::service::Error;
use fedgate::service::federated_login::federated_user_id;
use serde_json::{Value, json};

use crate::support::{Db, TestApp, spawn_app};

fn attrs(v: Value) -> fedgate::mapping::Assertion {
    fedgate::mapping::assertion_from_json(v.as_object().unwrap())
}

async fn setup(app: &TestApp) -> (String, String) {
    let t = app.admin_token.as_str();
    let (_, me) = app.validate(t, t).await;
    let project_id = me["token"]["project"]["id"].as_str().unwrap().to_string();
    let (_, devs) = app
        .call("POST", "/v3/groups", t, Some(json!({"group": {"name": "devs"}})))
        .await;
    let devs = devs["group"]["id"].as_str().unwrap().to_string();
    let (_, roles) = app.call("GET", "/v3/roles?name=member", t, None).await;
    let member = roles["roles"][0]["id"].as_str().unwrap();
    assert_eq!(
        app.call(
            "PUT",
            &format!("/v3/projects/{project_id}/groups/{devs}/roles/{member}"),
            t,
            None
        )
        .await
        .0,
        204
    );
    // A group in another account, which a mapping must not be able to reach.
    let store = &app.store;
    store
        .create_domain(&Domain {
            id: "0ther0domain0000000000000000000a".into(),
            name: "other".into(),
            description: String::new(),
            enabled: true,
            created_at_ms: 0,
        })
        .await
        .unwrap();
    store
        .create_group(&Group {
            id: "0ther0group00000000000000000000b".into(),
            domain_id: "0ther0domain0000000000000000000a".into(),
            name: "devs".into(),
            description: String::new(),
            display_name: None,
            created_at_ms: 0,
        })
        .await
        .unwrap();
    let mapping = json!({"mapping": {"rules": [
        {"remote": [{"type": "UserName"}], "local": [{"user": {"name": "{0}"}}]},
        {"remote": [{"type": "Groups"}], "local": [{"groups": "{0}", "domain": {"name": "admin"}}]},
        {"remote": [{"type": "Ids"}], "local": [{"group_ids": "{0}"}]},
        {"remote": [{"type": "Groups", "any_one_of": ["devs"]}], "local": [{"group": {"name": "devs", "domain": {"name": "other"}}}]},
        {"remote": [{"type": "sub"}], "local": [{"user": {"name": "{0}"}}]},
    ]}});
    assert_eq!(
        app.call("PUT", "/v3/OS-FEDERATION/mappings/m", t, Some(mapping))
            .await
            .0,
        201
    );
    (project_id, devs)
}

async fn federated_logins(db: Db) {
    let Some(app) = spawn_app(db).await else { return };
    let t = app.admin_token.as_str();
    let (project_id, devs) = setup(&app).await;
    assert_eq!(
        app.call(
            "PUT",
            "/v3/OS-FEDERATION/identity_providers/acme",
            t,
            Some(json!({"identity_provider": {"enabled": true}}))
        )
        .await
        .0,
        201
    );
    let proto = json!({"protocol": {"mapping_id": "m"}});
    assert_eq!(
        app.call(
            "PUT",
            "/v3/OS-FEDERATION/identity_providers/acme/protocols/saml",
            t,
            Some(proto.clone())
        )
        .await
        .0,
        201
    );
    let login = |a: Value| {
        let services = app.sign_in();
        async move {
            services
                .federated_login(
                    "acme",
                    fedgate::model::Protocol::Saml,
                    &attrs(a),
                    fedgate::service::now_ms(),
                )
                .await
        }
    };

    let issued =
        login(json!({"UserName": "alice", "Groups": "devs;ghosts", "Ids": "0ther0group00000000000000000000b"}))
            .await
            .unwrap();
    let (s, v) = app.validate(t, &issued.token).await;
    assert_eq!(s, 200, "{v}");
    let user = &v["token"]["user"];
    assert_eq!(v["token"]["methods"], json!(["mapped"]));
    assert_eq!(user["name"], "alice");
    assert_eq!(user["id"], json!(federated_user_id("acme", "alice")));
    assert_eq!(user["OS-FEDERATION"]["identity_provider"]["id"], "acme");
    assert_eq!(user["OS-FEDERATION"]["protocol"]["id"], "saml");
    assert_eq!(
        user["OS-FEDERATION"]["groups"],
        json!([{"id": devs, "name": "devs"}]),
        "unknown and foreign groups are ignored"
    );

    // The unscoped federated token scopes to what its mapped groups were granted.
    let (s, _, scoped) = app
        .post_auth(
            json!({"auth": {"identity": {"methods": ["token"], "token": {"id": issued.token}},
            "scope": {"project": {"id": project_id}}}}),
        )
        .await;
    assert_eq!(s, 201, "{scoped}");
    assert_eq!(scoped["token"]["roles"][0]["name"], "member");
    assert_eq!(
        scoped["token"]["user"]["OS-FEDERATION"]["identity_provider"]["id"],
        "acme"
    );
    let (_, projects) = app.call("GET", "/v3/OS-FEDERATION/projects", &issued.token, None).await;
    assert_eq!(projects["projects"][0]["id"], json!(project_id));

    let again = login(json!({"UserName": "alice"})).await.unwrap();
    assert_eq!(
        again.ctx.identity.user.id, issued.ctx.identity.user.id,
        "the same name maps to the same user"
    );
    assert!(
        again.ctx.identity.groups.is_empty(),
        "groups are per login, never stored"
    );
    assert!(matches!(
        login(json!({"Unrelated": "x"})).await,
        Err(Error::Unauthenticated(_))
    ));
    assert!(
        matches!(login(json!({"Groups": "devs"})).await, Err(Error::Unauthenticated(_))),
        "no user name"
    );

    assert_eq!(
        app.call(
            "PATCH",
            "/v3/OS-FEDERATION/identity_providers/acme",
            t,
            Some(json!({"identity_provider": {"enabled": false}}))
        )
        .await
        .0,
        200
    );
    assert!(matches!(
        login(json!({"UserName": "alice"})).await,
        Err(Error::Unauthenticated(_))
    ));
    assert_eq!(app.validate(t, &issued.token).await.0, 404);

    // iam_user_sso: the mapped name must be a local user's external id. The account's
    // virtual_user_sso provider goes first: the two kinds are exclusive.
    assert_eq!(
        app.call("DELETE", "/v3/OS-FEDERATION/identity_providers/acme", t, None)
            .await
            .0,
        204
    );
    let (_, bob) = app
        .call(
            "POST",
            "/v3.0/OS-USER/users",
            t,
            Some(
                json!({"user": {"name": "bob", "domain_id": issued.ctx.identity.user.domain.id,
            "xuser_type": "TenantIdp", "xuser_id": "bob@corp"}}),
            ),
        )
        .await;
    let bob_id = bob["user"]["id"].as_str().unwrap().to_string();
    assert_eq!(
        app.call(
            "PUT",
            "/v3/OS-FEDERATION/identity_providers/corp",
            t,
            Some(json!({"identity_provider": {"enabled": true, "sso_type": "iam_user_sso"}}))
        )
        .await
        .0,
        201
    );
    assert_eq!(
        app.call(
            "PUT",
            "/v3/OS-FEDERATION/identity_providers/corp/protocols/oidc",
            t,
            Some(proto)
        )
        .await
        .0,
        201
    );
    let corp = |sub: &str| {
        let services = app.sign_in();
        let a = attrs(json!({"sub": sub}));
        async move {
            services
                .federated_login("corp", fedgate::model::Protocol::Oidc, &a, fedgate::service::now_ms())
                .await
        }
    };
    let bob_token = corp("bob@corp").await.unwrap();
    let (s, v) = app.validate(t, &bob_token.token).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["token"]["user"]["id"], json!(bob_id));
    assert_eq!(v["token"]["user"]["OS-FEDERATION"]["identity_provider"]["id"], "corp");
    assert!(matches!(corp("mallory@corp").await, Err(Error::Unauthenticated(_))));
    assert_eq!(
        app.call(
            "PATCH",
            &format!("/v3/users/{bob_id}"),
            t,
            Some(json!({"user": {"enabled": false}}))
        )
        .await
        .0,
        200
    );
    assert_eq!(
        app.validate(t, &bob_token.token).await.0,
        404,
        "a disabled local user's federated token dies"
    );
    assert!(matches!(corp("bob@corp").await, Err(Error::Unauthenticated(_))));
    app.stop().await;
}

/// A mapped name or group that holds characters no one types (CR/LF, NUL, C1 controls, bidi
/// overrides, line separators) refuses the login with the reason logged escaped; nothing is
/// stored and the raw value reaches no log line.
async fn mapped_text_with_control_characters_is_refused(db: Db) {
    let Some(app) = spawn_app(db).await else { return };
    setup(&app).await;
    app.register_provider("acme", "saml", "m").await;
    let login = |a: Value| {
        let services = app.sign_in();
        async move {
            services
                .federated_login(
                    "acme",
                    fedgate::model::Protocol::Saml,
                    &attrs(a),
                    fedgate::service::now_ms(),
                )
                .await
        }
    };
    let cases = [
        (json!({"UserName": "alice\nadmin"}), "user name", "alice\\u{000a}admin"),
        (json!({"UserName": "alice\r"}), "user name", "alice\\u{000d}"),
        (json!({"UserName": "a\u{0}b"}), "user name", "a\\u{0000}b"),
        (json!({"UserName": "ali\u{85}ce"}), "user name", "ali\\u{0085}ce"),
        (json!({"UserName": "\u{202e}nimda"}), "user name", "\\u{202e}nimda"),
        (json!({"UserName": "bob\u{2066}"}), "user name", "bob\\u{2066}"),
        (json!({"UserName": "carol\u{2028}x"}), "user name", "carol\\u{2028}x"),
        (
            json!({"UserName": "dave", "Groups": "devs\u{202e}"}),
            "group name",
            "devs\\u{202e}",
        ),
        (
            json!({"UserName": "erin", "Ids": "abc\u{1b}[0m"}),
            "group id",
            "abc\\u{001b}[0m",
        ),
    ];
    for (attributes, what, shown) in cases {
        match login(attributes.clone()).await {
            Err(Error::Unauthenticated(reason)) => assert!(
                reason.ends_with(&format!(
                    "the mapping yielded a {what} with control characters: {shown}"
                )),
                "{attributes}: {reason}"
            ),
            other => panic!("{attributes}: {:?}", other.map(|i| i.ctx.identity.user.name.clone())),
        }
    }
    let stored = app.store.list_federated_users("acme").await.unwrap();
    assert!(stored.is_empty(), "nothing stored: {stored:?}");
    let logs = crate::support::captured_logs();
    for raw in [
        "alice\nadmin",
        "\u{202e}",
        "\u{2066}",
        "\u{2028}",
        "\u{1b}[0m",
        "\u{85}",
    ] {
        let line = logs.lines().find(|l| l.contains(raw)).unwrap_or_default();
        assert!(!logs.contains(raw), "{raw:?} reached the log: {line}");
    }
    // Text people do type is fine, accents and all.
    let issued = login(json!({"UserName": "Zoë Müller-Łukasz", "Groups": "devs"}))
        .await
        .unwrap();
    assert_eq!(issued.ctx.identity.user.name, "Zoë Müller-Łukasz");
    app.stop().await;
}

/// Groups a mapping yields that a login cannot use (another account's, unknown) are listed
/// with the reason in the dry run, and logged as a warning with the group and the account at
/// every login, since the login may then fail for want of a role.
async fn dropped_groups_are_explained(db: Db) {
    let Some(app) = spawn_app(db).await else { return };
    let t = app.admin_token.as_str();
    let (_, devs) = setup(&app).await;
    let (_, me) = app.validate(t, t).await;
    let admin_domain = me["token"]["project"]["domain"]["id"].as_str().unwrap().to_string();
    let other = "0ther0domain0000000000000000000a";
    let own = format!("a mapping grants only groups of its own account ({admin_domain})");
    let assertion = json!({"UserName": "alice", "Groups": "devs;ghosts", "Ids": "0ther0group00000000000000000000b"});
    let (s, dry) = app
        .call(
            "POST",
            "/v3-ext/OS-FEDERATION/mappings/m/test",
            t,
            Some(json!({"assertion": assertion})),
        )
        .await;
    assert_eq!(s, 200, "{dry}");
    assert_eq!(
        dry["groups_dropped"],
        json!([
            {"group": "0ther0group00000000000000000000b", "account": other,
             "reason": format!("the group belongs to another account; {own}")},
            {"group": "ghosts", "account": null,
             "reason": format!("no group of that name or id in account {admin_domain}")},
            {"group": "devs", "account": other,
             "reason": format!("the group belongs to another account; {own}")},
        ]),
        "{dry}"
    );
    let (_, dry) = app
        .call(
            "POST",
            "/v3-ext/OS-FEDERATION/mappings/m/test",
            t,
            Some(json!({"assertion": {"UserName": "alice", "Groups": "devs"}})),
        )
        .await;
    assert_eq!(
        dry["groups_dropped"],
        json!([{"group": "devs", "account": other, "reason": format!("the group belongs to another account; {own}")}]),
        "{dry}"
    );
    let (_, dry) = app
        .call(
            "POST",
            "/v3-ext/OS-FEDERATION/mappings/m/test",
            t,
            Some(json!({"assertion": {"Nothing": "x"}})),
        )
        .await;
    assert_eq!(
        (dry["error"]["code"].clone(), dry.get("groups_dropped")),
        (json!(401), None)
    );

    let idp = format!("dropper-{}", db as u8);
    let body = json!({"identity_provider": {"enabled": true}});
    let path = format!("/v3/OS-FEDERATION/identity_providers/{idp}");
    assert_eq!(app.call("PUT", &path, t, Some(body)).await.0, 201);
    let proto = json!({"protocol": {"mapping_id": "m"}});
    assert_eq!(
        app.call("PUT", &format!("{path}/protocols/saml"), t, Some(proto))
            .await
            .0,
        201
    );
    let issued = app
        .sign_in()
        .federated_login(
            &idp,
            fedgate::model::Protocol::Saml,
            &attrs(assertion),
            fedgate::service::now_ms(),
        )
        .await
        .unwrap();
    let ids: Vec<_> = issued.ctx.identity.groups.iter().map(|g| g.id.clone()).collect();
    assert_eq!(ids, vec![devs]);
    let logs = crate::support::captured_logs();
    let warned: Vec<&str> = logs
        .lines()
        .filter(|l| l.contains("WARN") && l.contains("mapped group dropped") && l.contains(&format!("idp.id={idp}")))
        .collect();
    assert_eq!(warned.len(), 3, "{warned:#?}");
    assert!(
        warned[0].contains("group=0ther0group00000000000000000000b")
            && warned[0].contains(&format!("group.account={other}"))
            && warned[0].contains(&format!("idp.account={admin_domain}")),
        "{}",
        warned[0]
    );
    app.stop().await;
}

on_both_backends!(
    federated_logins,
    mapped_text_with_control_characters_is_refused,
    dropped_groups_are_explained
);
