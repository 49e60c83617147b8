//! Attacks on the Alibaba dialect that a review found (each `Fn` names its finding), kept as
//! regression journeys: each asserts the secure behaviour.

use serde_json::{Value, json};

use super::{IMS, Key, Rpc, STS, call, key_of, refusal};
use crate::oidc_op::{SigningKey, jwt};
use crate::signing::{SignedRequest, Signer};
use crate::support::{Db, TestApp, spawn_app};

fn ak(created: &Value) -> Key {
    Key {
        access: created["AccessKey"]["AccessKeyId"].as_str().unwrap().into(),
        secret: created["AccessKey"]["AccessKeySecret"].as_str().unwrap().into(),
        security_token: None,
    }
}

async fn account_id(app: &TestApp, token: &str) -> String {
    let (_, me) = app.validate(token, token).await;
    me["token"]["domain"]["id"].as_str().unwrap().to_string()
}

/// F1: a Huawei SDK-HMAC-SHA256 signature (host and x-sdk-date signed, no nonce) of a plain
/// `GET /` is accepted by the Alibaba dialect, whose action and version come from unsigned
/// headers added afterwards: anyone holding such a request for 15 minutes acts as the signer.
async fn a_huawei_signature_cannot_drive_an_alibaba_call(db: Db) {
    let Some(app) = spawn_app(db).await else { return };
    let token = app.account_admin("acme").await;
    let key = key_of(&app, &token).await;
    let signer = Signer {
        access: key.access.clone(),
        secret: key.secret.clone(),
        security_token: None,
    };
    // What the victim signed: version discovery.
    let captured = SignedRequest::new(&app, &signer, "GET", "/", None).sign(&signer);
    let (s, _) = captured.send(&app).await;
    eprintln!("R1 the original signed GET / -> {s}");
    // The replay, with two unsigned headers added.
    let replay = |action: &str, version: &str| {
        captured
            .clone()
            .header("x-acs-action", action)
            .header("x-acs-version", version)
    };
    let (s1, created) = replay("CreateAccessKey", IMS).send(&app).await;
    let (s2, listed) = replay("ListUsers", IMS).send(&app).await;
    let (s3, who) = replay("GetCallerIdentity", STS).send(&app).await;
    eprintln!(
        "R1 CreateAccessKey -> {s1} {created}\nR1 ListUsers -> {s2} {listed}\nR1 GetCallerIdentity -> {s3} {who}"
    );
    assert_eq!(
        (s1, s2, s3),
        (401, 401, 401),
        "a Huawei-signed GET / became CreateAccessKey: {created}"
    );
    app.stop().await;
}

/// F2: a second admin of the account creates a permanent access key for the account owner,
/// signs as the owner and resets the owner's password (UpdateLoginProfile): the owner rule
/// update_user keeps does not cover keys.
async fn an_account_admin_cannot_mint_the_owners_key(db: Db) {
    let Some(app) = spawn_app(db).await else { return };
    let owner_token = app.account_admin("acme").await; // acme-admin is the bootstrap owner
    let owner_key = key_of(&app, &owner_token).await;
    // dana: an admin of the account, not its owner.
    let dana_upn = "dana@acme.onaliyun.com";
    let (s, _) = call(
        &app,
        &owner_key,
        "CreateUser",
        IMS,
        &[("UserPrincipalName", dana_upn), ("DisplayName", "Dana")],
    )
    .await;
    assert_eq!(s, 200);
    let (s, _) = call(&app, &owner_key, "CreateGroup", IMS, &[("GroupName", "dana-admins")]).await;
    assert_eq!(s, 200);
    let (s, _) = call(
        &app,
        &owner_key,
        "AddUserToGroup",
        IMS,
        &[("GroupName", "dana-admins"), ("UserPrincipalName", dana_upn)],
    )
    .await;
    assert_eq!(s, 200);
    let account = account_id(&app, &owner_token).await;
    let (_, groups) = app.call("GET", "/v3/groups?name=dana-admins", &owner_token, None).await;
    let group = groups["groups"][0]["id"].as_str().unwrap().to_string();
    let (_, roles) = app.call("GET", "/v3/roles?name=admin", &owner_token, None).await;
    let admin = roles["roles"][0]["id"].as_str().unwrap().to_string();
    let grant = format!("/v3/domains/{account}/groups/{group}/roles/{admin}");
    assert_eq!(app.call("PUT", &grant, &owner_token, None).await.0, 204);
    let (s, dana_created) = call(
        &app,
        &owner_key,
        "CreateAccessKey",
        IMS,
        &[("UserPrincipalName", dana_upn)],
    )
    .await;
    assert_eq!(s, 200, "{dana_created}");
    let dana = ak(&dana_created);
    let owner_upn = "acme-admin@acme.onaliyun.com";
    // The direct reset is refused, as ARCHITECTURE promises.
    let reset = [("UserPrincipalName", owner_upn), ("Password", "Dana-0wns-it-1")];
    let (s, direct) = call(&app, &dana, "UpdateLoginProfile", IMS, &reset).await;
    assert_eq!(s, 403, "{direct}");
    // The detour: a key for the owner.
    let (s, minted) = call(&app, &dana, "CreateAccessKey", IMS, &[("UserPrincipalName", owner_upn)]).await;
    let mut chain = format!("CreateAccessKey(owner) by dana -> {s} {minted}");
    if s == 200 {
        let as_owner = ak(&minted);
        let (s2, b2) = call(&app, &as_owner, "UpdateLoginProfile", IMS, &reset).await;
        let login = app.password_token("acme-admin", "acme", "Dana-0wns-it-1", None).await.0;
        chain = format!(
            "{chain}; UpdateLoginProfile(owner) signed with the minted key -> {s2} {b2}; owner login with dana's password -> {login}"
        );
        // And the owner's own keys: dana may deactivate them.
        let (s3, _) = call(
            &app,
            &dana,
            "UpdateAccessKey",
            IMS,
            &[
                ("UserPrincipalName", owner_upn),
                ("UserAccessKeyId", owner_key.access.as_str()),
                ("Status", "Inactive"),
            ],
        )
        .await;
        chain = format!("{chain}; dana deactivates the owner's key -> {s3}");
    }
    eprintln!("R2 {chain}");
    assert_eq!(s, 403, "{chain}");
    app.stop().await;
}

/// F3: each dialect action is checked against one `iam:` action, while it performs several
/// the Huawei API checks separately: a credential allowed only create/updateIdentityProvider
/// writes a mapping, a protocol and the OpenID Connect configuration (client ids).
async fn compound_actions_check_every_action_they_perform(db: Db) {
    let Some(app) = spawn_app(db).await else { return };
    let token = app.account_admin("acme").await;
    let policy = json!({"Version": "1.1", "Statement": [{"Effect": "Allow", "Action": [
        "iam:identityProviders:createIdentityProvider",
        "iam:identityProviders:updateIdentityProvider"]}]});
    let body = json!({"auth": {"identity": {"methods": ["token"], "policy": policy}}});
    let (s, answer) = app
        .call("POST", "/v3.0/OS-CREDENTIAL/securitytokens", &token, Some(body))
        .await;
    assert_eq!(s, 201, "{answer}");
    let signer = Signer::temporary(&answer);
    let temp = Key {
        access: signer.access.clone(),
        secret: signer.secret.clone(),
        security_token: signer.security_token.clone(),
    };
    // Through the Huawei API the same credential cannot write a mapping or an OIDC config.
    let rules = json!({"mapping": {"rules": [{"remote": [{"type": "sub"}], "local": [{"user": {"name": "{0}"}}]}]}});
    let (hm, _) = SignedRequest::new(
        &app,
        &signer,
        "PUT",
        "/v3/OS-FEDERATION/mappings/h-mapping",
        Some(rules),
    )
    .sign(&signer)
    .send(&app)
    .await;
    let (s, b) = app
        .call(
            "PUT",
            "/v3/OS-FEDERATION/identity_providers/existing",
            &token,
            Some(json!({"identity_provider": {"enabled": true}})),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    let (ho, _) = SignedRequest::new(
        &app,
        &signer,
        "POST",
        "/v3.0/OS-FEDERATION/identity-providers/existing/openid-connect-config",
        Some(json!({"openid_connect_config": {"access_mode": "program", "idp_url": "http://127.0.0.1:9/op", "client_id": "attacker-client"}})),
    )
    .sign(&signer)
    .send(&app)
    .await;
    // Through the Alibaba dialect it can.
    let create = [
        ("OIDCProviderName", "pol"),
        ("IssuerUrl", "http://127.0.0.1:9/op"),
        ("ClientIds", "first-client"),
    ];
    let (ac, created) = call(&app, &temp, "CreateOIDCProvider", IMS, &create).await;
    let (au, updated) = call(
        &app,
        &temp,
        "UpdateOIDCProvider",
        IMS,
        &[("OIDCProviderName", "pol"), ("ClientIds", "attacker-client")],
    )
    .await;
    let (_, mapping) = app
        .call("GET", "/v3/OS-FEDERATION/mappings/pol-mapping", &token, None)
        .await;
    eprintln!(
        "R3 huawei PUT mapping -> {hm}; huawei POST oidc config -> {ho}; alibaba CreateOIDCProvider -> {ac} {created}; \
         UpdateOIDCProvider(ClientIds) -> {au} {updated}; mapping made: {mapping}"
    );
    assert_eq!((hm, ho), (403, 403));
    assert_eq!(
        (ac, au),
        (403, 403),
        "the dialect did what the policy refuses on the Huawei API"
    );
    app.stop().await;
}

/// F4: CreateOIDCProvider's rollback deletes `<name>-mapping` even when it pre-existed (the
/// very conflict that made the create fail).
async fn a_failed_create_keeps_a_mapping_it_did_not_make(db: Db) {
    let Some(app) = spawn_app(db).await else { return };
    let token = app.account_admin("acme").await;
    let key = key_of(&app, &token).await;
    let rules = json!({"mapping": {"rules": [{"remote": [{"type": "sub"}], "local": [{"user": {"name": "{0}"}}]}]}});
    let (s, b) = app
        .call("PUT", "/v3/OS-FEDERATION/mappings/corp-mapping", &token, Some(rules))
        .await;
    assert_eq!(s, 201, "{b}");
    let create = [
        ("OIDCProviderName", "corp"),
        ("IssuerUrl", "http://127.0.0.1:9/op"),
        ("ClientIds", "first-client"),
    ];
    let (s, body) = call(&app, &key, "CreateOIDCProvider", IMS, &create).await;
    let (after, _) = app
        .call("GET", "/v3/OS-FEDERATION/mappings/corp-mapping", &token, None)
        .await;
    eprintln!("R4 CreateOIDCProvider -> {s} {body}; the pre-existing mapping now answers {after}");
    assert_eq!(s, 409);
    assert_eq!(after, 200, "the refused create deleted the account's existing mapping");
    app.stop().await;
}

/// F5: another account's provider answers 403 where a missing one answers 404, though
/// `Sso::provider` means both to be 404 (provider ids are global, so names are probed).
async fn other_accounts_providers_answer_as_missing(db: Db) {
    let Some(app) = spawn_app(db).await else { return };
    let acme = app.account_admin("acme").await;
    let globex = key_of(&app, &app.account_admin("globex").await).await;
    let (s, b) = app
        .call(
            "PUT",
            "/v3/OS-FEDERATION/identity_providers/acme-okta",
            &acme,
            Some(json!({"identity_provider": {"enabled": true}})),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    let exists = refusal(
        call(
            &app,
            &globex,
            "GetOIDCProvider",
            IMS,
            &[("OIDCProviderName", "acme-okta")],
        )
        .await,
    );
    let missing = refusal(
        call(
            &app,
            &globex,
            "GetOIDCProvider",
            IMS,
            &[("OIDCProviderName", "nobody-okta")],
        )
        .await,
    );
    let del = refusal(
        call(
            &app,
            &globex,
            "DeleteSAMLProvider",
            IMS,
            &[("SAMLProviderName", "acme-okta")],
        )
        .await,
    );
    eprintln!("R5 exists -> {exists:?}; missing -> {missing:?}; delete other's -> {del:?}");
    assert_eq!(exists, missing, "existence of another account's provider is visible");
    app.stop().await;
}

/// F6: AssumeRoleWithOIDC with a provider ARN naming the wrong account is refused only after
/// the sign-in: the id_token is spent (and a shadow user written) by a call that fails.
async fn a_wrong_account_in_the_arn_does_not_spend_the_id_token(db: Db) {
    let Some(app) = spawn_app(db).await else { return };
    let token = app.account_admin("acme").await;
    let account = account_id(&app, &token).await;
    let signing = SigningKey::rsa("k1");
    let jwks = json!({"keys": [signing.jwk()]}).to_string();
    let (s, b) = app
        .call(
            "PUT",
            "/v3/OS-FEDERATION/identity_providers/ci",
            &token,
            Some(json!({"identity_provider": {"enabled": true}})),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    let rules = json!({"mapping": {"rules": [{"remote": [{"type": "sub"}], "local": [{"user": {"name": "{0}"}}]}]}});
    assert_eq!(
        app.call("PUT", "/v3/OS-FEDERATION/mappings/ci-map", &token, Some(rules))
            .await
            .0,
        201
    );
    assert_eq!(
        app.call(
            "PUT",
            "/v3/OS-FEDERATION/identity_providers/ci/protocols/oidc",
            &token,
            Some(json!({"protocol": {"mapping_id": "ci-map"}}))
        )
        .await
        .0,
        201
    );
    let (s, b) = app
        .call(
            "POST",
            "/v3.0/OS-FEDERATION/identity-providers/ci/openid-connect-config",
            &token,
            Some(json!({"openid_connect_config": {"access_mode": "program", "idp_url": "https://ci.example", "client_id": "ci-client", "signing_key": jwks}})),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    let now = fedgate::service::now_ms() / 1000;
    let claims = json!({"iss": "https://ci.example", "aud": "ci-client", "sub": "runner-1", "iat": now - 5, "exp": now + 300, "jti": "j-1"});
    let id_token = jwt(
        &json!({"alg": "RS256", "kid": "k1", "typ": "JWT"}),
        &claims,
        &signing,
        "RS256",
    );
    let role = format!("acs:ram::{account}:role/deployer");
    let assume = |arn: String| {
        let params = [
            ("OIDCProviderArn".to_string(), arn),
            ("RoleArn".to_string(), role.clone()),
            ("OIDCToken".to_string(), id_token.clone()),
            ("RoleSessionName".to_string(), "run-1".to_string()),
        ];
        let app = &app;
        async move {
            let p: Vec<(&str, &str)> = params.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            Rpc::new(app, "AssumeRoleWithOIDC", STS, &p).send(app).await
        }
    };
    let wrong = refusal(assume("acs:ram::elsewhere:oidc-provider/ci".into()).await);
    let (_, shadows) = app.call("GET", "/v3/users?idp_id=ci", &token, None).await;
    let right = refusal(assume(format!("acs:ram::{account}:oidc-provider/ci")).await);
    eprintln!("R6 wrong account -> {wrong:?}; shadow users after it: {shadows}; then the right ARN -> {right:?}");
    // The right ARN should get as far as the role (403: no te_agency), not 401 (replay).
    assert_eq!(
        right,
        (403, "NoPermission".into()),
        "the failed call spent the id_token"
    );
    app.stop().await;
}

/// Input robustness: every odd input is a 4xx with the Alibaba body (prints the table).
async fn odd_inputs_get_a_4xx_with_the_alibaba_body(db: Db) {
    use base64::Engine;
    let Some(app) = spawn_app(db).await else { return };
    let token = app.account_admin("acme").await;
    let key = key_of(&app, &token).await;
    let account = account_id(&app, &token).await;
    // an agency in the account, assumed by the admin
    let body = json!({"agency": {"name": "deployer", "domain_id": account, "trust_domain_id": account}});
    let (s, agency) = app.call("POST", "/v3.0/OS-AGENCY/agencies", &token, Some(body)).await;
    assert_eq!(s, 201, "{agency}");
    let agency_id = agency["agency"]["id"].as_str().unwrap().to_string();
    let (_, roles) = app.call("GET", "/v3/roles?name=admin", &token, None).await;
    let admin = roles["roles"][0]["id"].as_str().unwrap().to_string();
    let grant = format!("/v3.0/OS-AGENCY/domains/{account}/agencies/{agency_id}/roles/{admin}");
    let (s, b) = app.call("PUT", &grant, &token, None).await;
    eprintln!("grant agency admin -> {s} {b}");
    let arn = format!("acs:ram::{account}:role/deployer");
    let (s, assumed) = call(&app, &key, "AssumeRole", STS, &[("RoleArn", arn.as_str())]).await;
    assert_eq!(s, 200, "{assumed}");
    let c = &assumed["Credentials"];
    let session = Key {
        access: c["AccessKeyId"].as_str().unwrap().into(),
        secret: c["AccessKeySecret"].as_str().unwrap().into(),
        security_token: Some(c["SecurityToken"].as_str().unwrap().into()),
    };
    let long = "a".repeat(5000);
    let upn_long = format!("{long}@acme.onaliyun.com");
    let lol = base64::engine::general_purpose::STANDARD.encode(
        r#"<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]><md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="&lol2;"/>"#,
    );
    let ids: Vec<String> = (0..60).map(|i| format!("client-{i:03}")).collect();
    let many = ids.join(",");
    type Case<'a> = (&'a str, &'a Key, &'a str, &'a str, Vec<(&'a str, &'a str)>);
    let cases: Vec<Case> = vec![
        ("MaxItems 0", &key, "ListUsers", IMS, vec![("MaxItems", "0")]),
        (
            "MaxItems huge",
            &key,
            "ListUsers",
            IMS,
            vec![("MaxItems", "99999999999999999999999")],
        ),
        (
            "Marker max",
            &key,
            "ListUsers",
            IMS,
            vec![("Marker", "18446744073709551615")],
        ),
        ("Marker -1", &key, "ListUsers", IMS, vec![("Marker", "-1")]),
        (
            "long UPN",
            &key,
            "CreateUser",
            IMS,
            vec![("UserPrincipalName", upn_long.as_str()), ("DisplayName", "x")],
        ),
        (
            "empty name UPN",
            &key,
            "CreateUser",
            IMS,
            vec![("UserPrincipalName", "@acme.onaliyun.com"), ("DisplayName", "x")],
        ),
        (
            "ctrl DisplayName",
            &key,
            "CreateUser",
            IMS,
            vec![
                ("UserPrincipalName", "z1@acme.onaliyun.com"),
                ("DisplayName", "a\u{7}b"),
            ],
        ),
        (
            "MobilePhone -",
            &key,
            "CreateUser",
            IMS,
            vec![
                ("UserPrincipalName", "z2@acme.onaliyun.com"),
                ("DisplayName", "x"),
                ("MobilePhone", "-"),
            ],
        ),
        (
            "group long",
            &key,
            "CreateGroup",
            IMS,
            vec![("GroupName", long.as_str())],
        ),
        (
            "Duration huge",
            &key,
            "AssumeRole",
            STS,
            vec![("RoleArn", arn.as_str()), ("DurationSeconds", "99999999999999999999")],
        ),
        (
            "Duration neg",
            &key,
            "AssumeRole",
            STS,
            vec![("RoleArn", arn.as_str()), ("DurationSeconds", "-5")],
        ),
        (
            "session name bad",
            &key,
            "AssumeRole",
            STS,
            vec![("RoleArn", arn.as_str()), ("RoleSessionName", "a/b")],
        ),
        (
            "role of nobody",
            &key,
            "AssumeRole",
            STS,
            vec![("RoleArn", "acs:ram::nobody:role/x")],
        ),
        (
            "60 client ids",
            &key,
            "CreateOIDCProvider",
            IMS,
            vec![
                ("OIDCProviderName", "many"),
                ("IssuerUrl", "https://op.example"),
                ("ClientIds", many.as_str()),
            ],
        ),
        (
            "bad fingerprints",
            &key,
            "CreateOIDCProvider",
            IMS,
            vec![
                ("OIDCProviderName", "fp"),
                ("IssuerUrl", "https://op.example"),
                ("ClientIds", "client-1"),
                ("Fingerprints", "zz"),
            ],
        ),
        (
            "metadata issuer",
            &key,
            "CreateOIDCProvider",
            IMS,
            vec![
                ("OIDCProviderName", "md"),
                ("IssuerUrl", "http://169.254.169.254/latest"),
                ("ClientIds", "client-1"),
            ],
        ),
        (
            "private issuer",
            &key,
            "CreateOIDCProvider",
            IMS,
            vec![
                ("OIDCProviderName", "pv"),
                ("IssuerUrl", "https://10.0.0.1/op"),
                ("ClientIds", "client-1"),
            ],
        ),
        (
            "idp name weird",
            &key,
            "CreateOIDCProvider",
            IMS,
            vec![
                ("OIDCProviderName", "../x"),
                ("IssuerUrl", "https://op.example"),
                ("ClientIds", "client-1"),
            ],
        ),
        (
            "lol metadata",
            &key,
            "CreateSAMLProvider",
            IMS,
            vec![
                ("SAMLProviderName", "lol"),
                ("EncodedSAMLMetadataDocument", lol.as_str()),
            ],
        ),
        (
            "garbage OIDCToken",
            &key,
            "AssumeRoleWithOIDC",
            STS,
            vec![
                ("OIDCProviderArn", "acs:ram::x:oidc-provider/many"),
                ("RoleArn", arn.as_str()),
                ("OIDCToken", "a.b.c"),
            ],
        ),
        (
            "garbage SAML",
            &key,
            "AssumeRoleWithSAML",
            STS,
            vec![
                ("SAMLProviderArn", "acs:ram::x:saml-provider/lol"),
                ("RoleArn", arn.as_str()),
                ("SAMLAssertion", "PHg+"),
            ],
        ),
        ("agency CreateAccessKey", &session, "CreateAccessKey", IMS, vec![]),
        ("agency ListAccessKeys", &session, "ListAccessKeys", IMS, vec![]),
        (
            "agency ChangePassword",
            &session,
            "ChangePassword",
            IMS,
            vec![("OldPassword", "x"), ("NewPassword", "Y-passw0rd-1")],
        ),
        ("agency GetCallerIdentity", &session, "GetCallerIdentity", STS, vec![]),
        ("agency ListUsers", &session, "ListUsers", IMS, vec![]),
        ("unknown action", &key, "DoStuff", IMS, vec![]),
        ("version wrong", &key, "ListUsers", STS, vec![]),
    ];
    let mut bad = Vec::new();
    for (what, k, action, version, params) in cases {
        let (s, b) = call(&app, k, action, version, &params).await;
        eprintln!("R7 {what}: {s} {}", b.get("Code").cloned().unwrap_or(Value::Null));
        if s >= 500 || (s >= 400 && !b["Code"].is_string()) {
            bad.push(format!("{what}: {s} {b}"));
        }
    }
    // bodies: non-UTF-8 and JSON
    let form = |body: &str, ct: &str| {
        let mut rpc = Rpc::new(&app, "CreateUser", IMS, &[]);
        rpc.body = body.as_bytes().to_vec();
        let digest = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&rpc.body));
        rpc.header("content-type", ct)
            .header("x-acs-content-sha256", &digest)
            .sign(&key)
    };
    for (what, rpc) in [
        (
            "non-UTF-8 form body",
            form(
                "UserPrincipalName=%FF%FEz@acme.onaliyun.com&DisplayName=x",
                "application/x-www-form-urlencoded",
            ),
        ),
        (
            "JSON body",
            form(r#"{"UserPrincipalName":"q@acme.onaliyun.com"}"#, "application/json"),
        ),
        ("param in query and body", {
            let mut rpc = Rpc::new(
                &app,
                "GetUser",
                IMS,
                &[("UserPrincipalName", "acme-admin@acme.onaliyun.com")],
            );
            rpc.body = b"UserPrincipalName=acme-admin%40acme.onaliyun.com".to_vec();
            let digest = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&rpc.body));
            rpc.header("content-type", "application/x-www-form-urlencoded")
                .header("x-acs-content-sha256", &digest)
                .sign(&key)
        }),
    ] {
        let (s, b) = rpc.send(&app).await;
        eprintln!("R7 {what}: {s} {b}");
        if s >= 500 || (s >= 400 && !b["Code"].is_string()) {
            bad.push(format!("{what}: {s} {b}"));
        }
    }
    let (_, users) = app.call("GET", "/v3/users", &token, None).await;
    eprintln!(
        "R7 users now: {:?}",
        users["users"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["name"].clone())
            .collect::<Vec<_>>()
    );
    assert!(bad.is_empty(), "{bad:#?}");
    app.stop().await;
}

/// A captured ACS3 request replayed at a second replica.
async fn a_nonce_is_single_use_across_replicas(db: Db) {
    let Some(app) = spawn_app(db).await else { return };
    let token = app.account_admin("acme").await;
    let key = key_of(&app, &token).await;
    let replica = app.spawn_replica(|_| {}).await;
    let rpc = Rpc::new(&app, "GetCallerIdentity", STS, &[]).sign(&key);
    let first = rpc.send(&app).await.0;
    let again = rpc.send(&replica).await.0;
    let same = rpc.send(&app).await.0;
    eprintln!("R8 first {first}, replica {again}, same {same}");
    assert_eq!((first, again, same), (200, 401, 401));
    replica.stop().await;
    app.stop().await;
}

/// F3b: UpdateSAMLProvider replaces the signing certificate under updateIdentityProvider only.
async fn replacing_saml_metadata_needs_the_metadata_action(db: Db) {
    use crate::saml_idp::TestIdp;
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;
    let Some(app) = spawn_app(db).await else { return };
    let token = app.account_admin("acme").await;
    let key = key_of(&app, &token).await;
    let real = TestIdp::new("https://idp.acme.example/saml");
    let md = STANDARD.encode(real.metadata(&["post"]));
    let (s, b) = call(
        &app,
        &key,
        "CreateSAMLProvider",
        IMS,
        &[
            ("SAMLProviderName", "corp"),
            ("EncodedSAMLMetadataDocument", md.as_str()),
        ],
    )
    .await;
    assert_eq!(s, 200, "{b}");
    let policy = json!({"Version": "1.1", "Statement": [{"Effect": "Allow", "Action": ["iam:identityProviders:updateIdentityProvider"]}]});
    let body = json!({"auth": {"identity": {"methods": ["token"], "policy": policy}}});
    let (s, answer) = app
        .call("POST", "/v3.0/OS-CREDENTIAL/securitytokens", &token, Some(body))
        .await;
    assert_eq!(s, 201, "{answer}");
    let signer = Signer::temporary(&answer);
    let temp = Key {
        access: signer.access.clone(),
        secret: signer.secret.clone(),
        security_token: signer.security_token.clone(),
    };
    let forged = TestIdp::new("https://idp.acme.example/saml"); // same entityID, attacker's key
    let (_, me) = app.validate(&token, &token).await;
    let account = me["token"]["domain"]["id"].as_str().unwrap().to_string();
    let huawei = json!({"domain_id": account, "metadata": forged.metadata(&["post"])});
    let (hs, hb) = SignedRequest::new(
        &app,
        &signer,
        "POST",
        "/v3-ext/OS-FEDERATION/identity_providers/corp/protocols/saml/metadata",
        Some(huawei),
    )
    .sign(&signer)
    .send(&app)
    .await;
    let new_md = STANDARD.encode(forged.metadata(&["post"]));
    let (as_, ab) = call(
        &app,
        &temp,
        "UpdateSAMLProvider",
        IMS,
        &[
            ("SAMLProviderName", "corp"),
            ("NewEncodedSAMLMetadataDocument", new_md.as_str()),
        ],
    )
    .await;
    eprintln!("R9 huawei import metadata -> {hs} {hb}; alibaba UpdateSAMLProvider -> {as_} {ab}");
    assert_eq!((hs, as_), (403, 403));
    app.stop().await;
}

on_both_backends!(
    a_huawei_signature_cannot_drive_an_alibaba_call,
    an_account_admin_cannot_mint_the_owners_key,
    compound_actions_check_every_action_they_perform,
    a_failed_create_keeps_a_mapping_it_did_not_make,
    other_accounts_providers_answer_as_missing,
    a_wrong_account_in_the_arn_does_not_spend_the_id_token,
    odd_inputs_get_a_4xx_with_the_alibaba_body,
    a_nonce_is_single_use_across_replicas,
    replacing_saml_metadata_needs_the_metadata_action,
);
