//! Federation configuration over HTTP: identity providers, mappings, protocols, the mapping
//! dry run, cascades and conflicts, and bad input.

use serde_json::{Value, json};

use crate::support::{Db, TestApp, spawn_app};
use fedgate::token::{Federation, Methods, Scope, TokenPayload};

const IDP: &str = "/v3/OS-FEDERATION/identity_providers";
const MAPPINGS: &str = "/v3/OS-FEDERATION/mappings";

fn rules() -> Value {
    json!({"rules": [{
        "remote": [{"type": "UserName"}, {"type": "Groups", "whitelist": ["admin-admins"]}],
        "local": [{"user": {"name": "{0}"}}, {"groups": "{1}", "domain": {"name": "admin"}}],
    }]})
}

async fn admin_domain_id(app: &TestApp) -> String {
    let (_, me) = app.validate(&app.admin_token, &app.admin_token).await;
    me["token"]["project"]["domain"]["id"].as_str().unwrap().to_string()
}

async fn federation_configuration_round_trips(db: Db) {
    let Some(app) = spawn_app(db).await else { return };
    let t = app.admin_token.as_str();

    let (s, m) = app
        .call(
            "PUT",
            &format!("{MAPPINGS}/acme-map"),
            t,
            Some(json!({"mapping": rules()})),
        )
        .await;
    assert_eq!(s, 201, "{m}");
    assert_eq!(m["mapping"]["id"], "acme-map");
    assert_eq!(m["mapping"]["rules"], rules()["rules"]);
    let (s, _) = app
        .call(
            "PUT",
            &format!("{MAPPINGS}/acme-map"),
            t,
            Some(json!({"mapping": rules()})),
        )
        .await;
    assert_eq!(s, 409, "a mapping id is taken once");

    let body = json!({"identity_provider": {"description": "ACME", "enabled": true, "remote_ids": ["https://idp.acme.example/saml"]}});
    let (s, idp) = app.call("PUT", &format!("{IDP}/acme"), t, Some(body)).await;
    assert_eq!(s, 201, "{idp}");
    assert_eq!(idp["identity_provider"]["sso_type"], "virtual_user_sso");
    assert_eq!(
        idp["identity_provider"]["remote_ids"],
        json!(["https://idp.acme.example/saml"])
    );
    let taken = json!({"identity_provider": {"remote_ids": ["https://idp.acme.example/saml"]}});
    assert_eq!(
        app.call("PUT", &format!("{IDP}/other"), t, Some(taken)).await.0,
        409,
        "remote ids are unique"
    );
    let iam = json!({"identity_provider": {"sso_type": "iam_user_sso"}});
    let (s, v) = app.call("PUT", &format!("{IDP}/iam1"), t, Some(iam.clone())).await;
    assert_eq!(
        s, 409,
        "an account with virtual_user_sso providers takes no iam_user_sso one: {v}"
    );
    // An account of its own: one iam_user_sso provider, and nothing beside it (L16930).
    let corp = app.account_admin("corp").await;
    assert_eq!(
        app.call("PUT", &format!("{IDP}/iam1"), &corp, Some(iam.clone()))
            .await
            .0,
        201
    );
    let (s, v) = app.call("PUT", &format!("{IDP}/iam2"), &corp, Some(iam)).await;
    assert_eq!(s, 409, "one iam_user_sso per account: {v}");
    let virtual_idp = json!({"identity_provider": {"sso_type": "virtual_user_sso"}});
    let (s, v) = app.call("PUT", &format!("{IDP}/v1"), &corp, Some(virtual_idp)).await;
    assert_eq!(s, 409, "no virtual_user_sso beside it: {v}");
    let (s, list) = app.call("GET", IDP, t, None).await;
    assert_eq!(s, 200);
    assert_eq!(list["identity_providers"].as_array().unwrap().len(), 2);

    let proto = json!({"protocol": {"mapping_id": "acme-map"}});
    let (s, p) = app
        .call("PUT", &format!("{IDP}/acme/protocols/saml"), t, Some(proto.clone()))
        .await;
    assert_eq!(s, 201, "{p}");
    assert_eq!(p["protocol"]["mapping_id"], "acme-map");
    assert_eq!(
        app.call("PUT", &format!("{IDP}/acme/protocols/saml"), t, Some(proto))
            .await
            .0,
        409
    );
    let (s, listed) = app.call("GET", &format!("{IDP}/acme/protocols"), t, None).await;
    assert_eq!((s, listed["protocols"][0]["id"].as_str()), (200, Some("saml")));

    // A mapping in use cannot go; its rules can change, and the dry run uses the new ones.
    assert_eq!(
        app.call("DELETE", &format!("{MAPPINGS}/acme-map"), t, None).await.0,
        409
    );
    let assertion = json!({"assertion": {"UserName": "alice", "Groups": "admin-admins;x"}});
    let (s, dry) = app
        .call(
            "POST",
            "/v3-ext/OS-FEDERATION/mappings/acme-map/test",
            t,
            Some(assertion.clone()),
        )
        .await;
    assert_eq!(s, 200, "{dry}");
    assert_eq!(dry["user"]["name"], "alice");
    assert_eq!(dry["group_names"][0]["name"], "admin-admins");
    assert_eq!(dry["trace"][0]["matched"], true);
    let mut changed = rules();
    changed["rules"][0]["local"][0]["user"]["name"] = json!("fed-{0}");
    let (s, _) = app
        .call(
            "PATCH",
            &format!("{MAPPINGS}/acme-map"),
            t,
            Some(json!({"mapping": changed})),
        )
        .await;
    assert_eq!(s, 200);
    let (_, dry) = app
        .call(
            "POST",
            "/v3-ext/OS-FEDERATION/mappings/acme-map/test",
            t,
            Some(assertion),
        )
        .await;
    assert_eq!(dry["user"]["name"], "fed-alice", "the dry run sees the updated rules");
    let (_, dry) = app
        .call(
            "POST",
            "/v3-ext/OS-FEDERATION/mappings/acme-map/test",
            t,
            Some(json!({"assertion": {"UserName": "bob"}})),
        )
        .await;
    assert_eq!(dry["error"]["code"], 401);
    assert_eq!(dry["trace"][0]["failed"]["attribute"], "Groups");

    // Deleting the provider takes its protocols along; then the mapping is free.
    assert_eq!(app.call("DELETE", &format!("{IDP}/acme"), t, None).await.0, 204);
    assert_eq!(
        app.call("GET", &format!("{IDP}/acme/protocols/saml"), t, None).await.0,
        404
    );
    assert_eq!(
        app.call("DELETE", &format!("{MAPPINGS}/acme-map"), t, None).await.0,
        204
    );
    assert_eq!(app.call("GET", &format!("{MAPPINGS}/acme-map"), t, None).await.0, 404);
    app.stop().await;
}

#[tokio::test]
async fn disabling_an_identity_provider_revokes_its_tokens() {
    let Some(app) = spawn_app(Db::Sqlite).await else { return };
    let t = app.admin_token.as_str();
    let body = json!({"identity_provider": {"enabled": true}});
    assert_eq!(app.call("PUT", &format!("{IDP}/acme"), t, Some(body)).await.0, 201);
    // A federated token as the SAML/OIDC login will mint it.
    let now = fedgate::service::now_ms();
    let payload = TokenPayload {
        methods: Methods::MAPPED,
        user_id: "0123456789abcdef0123456789abcdef".into(),
        issued_at_ms: now - 10,
        authenticated_at_ms: now - 10,
        expires_at_ms: now + 3_600_000,
        audit_ids: vec![[5; 16]],
        scope: Scope::Unscoped,
        federation: Some(Federation {
            idp_id: "acme".into(),
            protocol_id: fedgate::model::Protocol::Saml,
            user_name: "alice".into(),
            domain_id: admin_domain_id(&app).await,
            group_ids: vec![],
            local_user: false,
        }),
        agency: None,
    };
    let shadow = fedgate::model::FederatedUser {
        id: payload.user_id.clone(),
        idp_id: "acme".into(),
        protocol_id: fedgate::model::Protocol::Saml,
        name: "alice".into(),
        domain_id: admin_domain_id(&app).await,
        enabled: true,
        created_at_ms: now,
        last_login_at_ms: now,
    };
    app.store.record_federated_login(&shadow).await.unwrap();
    let federated = app.services.tokens.seal(&payload);
    let (s, v) = app.validate(t, &federated).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["token"]["methods"], json!(["mapped"]));
    assert_eq!(v["token"]["user"]["OS-FEDERATION"]["identity_provider"]["id"], "acme");
    let (s, _) = app
        .call(
            "PATCH",
            &format!("{IDP}/acme"),
            t,
            Some(json!({"identity_provider": {"enabled": false}})),
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(
        app.validate(t, &federated).await.0,
        404,
        "tokens minted through a disabled IdP stop validating"
    );
    app.stop().await;
}

#[tokio::test]
async fn bad_federation_input_is_refused_and_changes_nothing() {
    let Some(app) = spawn_app(Db::Sqlite).await else { return };
    let t = app.admin_token.as_str();
    assert_eq!(
        app.call("PUT", &format!("{MAPPINGS}/m1"), t, Some(json!({"mapping": rules()})))
            .await
            .0,
        201
    );
    assert_eq!(
        app.call("PUT", &format!("{IDP}/idp1"), t, Some(json!({"identity_provider": {}})))
            .await
            .0,
        201
    );
    assert_eq!(
        app.call(
            "PUT",
            &format!("{IDP}/idp1/protocols/oidc"),
            t,
            Some(json!({"protocol": {"mapping_id": "m1"}}))
        )
        .await
        .0,
        201
    );
    let rule = |remote: Value| json!({"mapping": {"rules": [{"remote": remote, "local": []}]}});
    let cases: Vec<(&str, &str, String, Value, u16, &str)> = vec![
        (
            "mapping not an object",
            "PUT",
            format!("{MAPPINGS}/m2"),
            json!({"mapping": []}),
            400,
            "field 'mapping': must be an object",
        ),
        (
            "rules missing",
            "PUT",
            format!("{MAPPINGS}/m2"),
            json!({"mapping": {}}),
            400,
            "needs the property 'rules'",
        ),
        (
            "rules empty",
            "PUT",
            format!("{MAPPINGS}/m2"),
            json!({"mapping": {"rules": []}}),
            400,
            "rules must not be empty",
        ),
        (
            "regex not boolean",
            "PUT",
            format!("{MAPPINGS}/m2"),
            rule(json!([{"type": "a", "any_one_of": ["x"], "regex": "yes"}])),
            400,
            "rules[0].remote[0].regex must be a boolean",
        ),
        (
            "bad regex",
            "PUT",
            format!("{MAPPINGS}/m2"),
            rule(json!([{"type": "a", "any_one_of": ["(("], "regex": true}])),
            400,
            "not a valid regular expression",
        ),
        (
            "two lists",
            "PUT",
            format!("{MAPPINGS}/m2"),
            rule(json!([{"type": "a", "any_one_of": ["x"], "whitelist": ["y"]}])),
            400,
            "may hold only one of",
        ),
        (
            "remote empty",
            "PUT",
            format!("{MAPPINGS}/m2"),
            rule(json!([])),
            400,
            "rules[0].remote must not be empty",
        ),
        (
            "slot out of range",
            "PUT",
            format!("{MAPPINGS}/m2"),
            json!({"mapping": {"rules": [{"remote": [{"type": "a"}], "local": [{"user": {"name": "{3}"}}]}]}}),
            400,
            "refers to {3}",
        ),
        (
            "unknown schema version",
            "PUT",
            format!("{MAPPINGS}/m2"),
            json!({"mapping": {"schema_version": "4.0", "rules": rules()["rules"]}}),
            400,
            "schema_version",
        ),
        (
            "mapping id with a slash-like char",
            "PUT",
            format!("{MAPPINGS}/bad%20id"),
            json!({"mapping": rules()}),
            400,
            "mapping_id",
        ),
        (
            "patch missing mapping",
            "PATCH",
            format!("{MAPPINGS}/nope"),
            json!({"mapping": rules()}),
            404,
            "mapping",
        ),
        (
            "patch with invalid rules",
            "PATCH",
            format!("{MAPPINGS}/m1"),
            json!({"mapping": {"rules": "x"}}),
            400,
            "rules must be an array",
        ),
        (
            "delete missing mapping",
            "DELETE",
            format!("{MAPPINGS}/nope"),
            Value::Null,
            404,
            "mapping",
        ),
        (
            "delete used mapping",
            "DELETE",
            format!("{MAPPINGS}/m1"),
            Value::Null,
            409,
            "used by a protocol",
        ),
        (
            "unknown sso_type",
            "PUT",
            format!("{IDP}/idp2"),
            json!({"identity_provider": {"sso_type": "magic"}}),
            400,
            "sso_type",
        ),
        (
            "enabled not boolean",
            "PUT",
            format!("{IDP}/idp2"),
            json!({"identity_provider": {"enabled": "yes"}}),
            400,
            "identity_provider.enabled",
        ),
        (
            "remote_ids not a list",
            "PUT",
            format!("{IDP}/idp2"),
            json!({"identity_provider": {"remote_ids": "x"}}),
            400,
            "identity_provider.remote_ids",
        ),
        (
            "empty remote id",
            "PUT",
            format!("{IDP}/idp2"),
            json!({"identity_provider": {"remote_ids": [""]}}),
            400,
            "remote_ids[0]",
        ),
        (
            "idp id too long",
            "PUT",
            format!("{IDP}/{}", "x".repeat(65)),
            json!({"identity_provider": {}}),
            400,
            "idp_id",
        ),
        (
            "duplicate idp",
            "PUT",
            format!("{IDP}/idp1"),
            json!({"identity_provider": {}}),
            409,
            "exists",
        ),
        (
            "sso_type change",
            "PATCH",
            format!("{IDP}/idp1"),
            json!({"identity_provider": {"sso_type": "iam_user_sso"}}),
            400,
            "cannot be changed",
        ),
        (
            "patch missing idp",
            "PATCH",
            format!("{IDP}/nope"),
            json!({"identity_provider": {"enabled": true}}),
            404,
            "identity provider",
        ),
        (
            "protocol not saml or oidc",
            "PUT",
            format!("{IDP}/idp1/protocols/ldap"),
            json!({"protocol": {"mapping_id": "m1"}}),
            400,
            "protocol_id",
        ),
        (
            "protocol without mapping",
            "PUT",
            format!("{IDP}/idp1/protocols/saml"),
            json!({"protocol": {}}),
            400,
            "protocol.mapping_id",
        ),
        (
            "protocol with unknown mapping",
            "PUT",
            format!("{IDP}/idp1/protocols/saml"),
            json!({"protocol": {"mapping_id": "nope"}}),
            404,
            "mapping",
        ),
        (
            "protocol on unknown idp",
            "PUT",
            format!("{IDP}/nope/protocols/saml"),
            json!({"protocol": {"mapping_id": "m1"}}),
            404,
            "identity provider",
        ),
        (
            "rebind to unknown mapping",
            "PATCH",
            format!("{IDP}/idp1/protocols/oidc"),
            json!({"protocol": {"mapping_id": "nope"}}),
            404,
            "mapping",
        ),
        (
            "dry run without assertion",
            "POST",
            "/v3-ext/OS-FEDERATION/mappings/m1/test".into(),
            json!({}),
            400,
            "assertion",
        ),
        (
            "dry run on unknown mapping",
            "POST",
            "/v3-ext/OS-FEDERATION/mappings/nope/test".into(),
            json!({"assertion": {}}),
            404,
            "Could not find mapping: nope.",
        ),
    ];
    assert!(cases.len() >= 25);
    let before = (
        app.call("GET", IDP, t, None).await.1,
        app.call("GET", MAPPINGS, t, None).await.1,
    );
    for (name, method, path, body, want, says) in cases {
        let body = (!body.is_null()).then_some(body);
        let (status, reply) = app.call(method, &path, t, body).await;
        assert_eq!(status, want, "case {name:?}: {reply}");
        let text = reply.to_string();
        assert!(text.contains(says), "case {name:?}: {reply} should mention {says:?}");
    }
    let after = (
        app.call("GET", IDP, t, None).await.1,
        app.call("GET", MAPPINGS, t, None).await.1,
    );
    assert_eq!(before, after, "bad input changed federation configuration");
    app.stop().await;
}

fn jwks() -> String {
    use base64::Engine;
    let n = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode([9u8; 256]);
    json!({"keys": [{"kty": "RSA", "n": n, "e": "AQAB", "kid": "k1", "alg": "RS256", "use": "sig"}]}).to_string()
}

async fn oidc_configuration_round_trips(db: Db) {
    let Some(app) = spawn_app(db).await else { return };
    let t = app.admin_token.as_str();
    let path = "/v3.0/OS-FEDERATION/identity-providers/gh/openid-connect-config";
    assert_eq!(
        app.call(
            "PUT",
            &format!("{IDP}/gh"),
            t,
            Some(json!({"identity_provider": {"enabled": true}}))
        )
        .await
        .0,
        201
    );
    assert_eq!(
        app.call("PUT", &format!("{MAPPINGS}/ci"), t, Some(json!({"mapping": rules()})))
            .await
            .0,
        201
    );
    let config = json!({"openid_connect_config": {
        "access_mode": "program", "idp_url": "https://token.actions.githubusercontent.com",
        "client_id": "https://github.com/acme", "signing_key": jwks(),
    }});
    let (s, body) = app.call("POST", path, t, Some(config.clone())).await;
    assert_eq!(
        (s, body["error_code"].as_str()),
        (400, Some("IAM.0073")),
        "needs the oidc protocol first: {body}"
    );
    let proto = json!({"protocol": {"mapping_id": "ci"}});
    assert_eq!(
        app.call("PUT", &format!("{IDP}/gh/protocols/oidc"), t, Some(proto))
            .await
            .0,
        201
    );
    let (s, created) = app.call("POST", path, t, Some(config.clone())).await;
    assert_eq!(s, 201, "{created}");
    let c = &created["openid_connect_config"];
    assert_eq!(c["access_mode"], "program");
    assert_eq!(c["authorization_endpoint"], Value::Null);
    assert_eq!(c["scope"], Value::Null);
    assert_eq!(app.call("POST", path, t, Some(config)).await.0, 409);
    let modify = json!({"openid_connect_config": {"access_mode": "program_console",
        "authorization_endpoint": "https://github.example/authorize", "scope": "openid profile",
        "response_type": "id_token", "response_mode": "form_post"}});
    let (s, modified) = app.call("PUT", path, t, Some(modify)).await;
    assert_eq!(s, 200, "{modified}");
    assert_eq!(
        modified["openid_connect_config"]["client_id"], "https://github.com/acme",
        "unchanged fields stay"
    );
    let (s, shown) = app.call("GET", path, t, None).await;
    assert_eq!(
        (s, &shown["openid_connect_config"]["scope"]),
        (200, &json!("openid profile"))
    );
    let bad_key = json!({"openid_connect_config": {"signing_key": json!({"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}).to_string()}});
    let (s, body) = app.call("PUT", path, t, Some(bad_key)).await;
    assert_eq!(s, 400);
    assert!(
        body["error_msg"].as_str().unwrap().contains("signing_key.keys[0].k"),
        "{body}"
    );
    let http_issuer = json!({"openid_connect_config": {"idp_url": "http://issuer.example.com"}});
    assert_eq!(app.call("PUT", path, t, Some(http_issuer)).await.0, 400);
    let (s, body) = app
        .call(
            "GET",
            "/v3.0/OS-FEDERATION/identity-providers/nope/openid-connect-config",
            t,
            None,
        )
        .await;
    assert_eq!((s, body["error_code"].as_str()), (404, Some("IAM.0004")));
    assert_eq!(app.call("DELETE", &format!("{IDP}/gh"), t, None).await.0, 204);
    assert_eq!(
        app.call("GET", path, t, None).await.0,
        404,
        "deleting the IdP removes its OIDC configuration"
    );
    app.stop().await;
}

on_both_backends!(federation_configuration_round_trips, oidc_configuration_round_trips);
