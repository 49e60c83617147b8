//! Attacks on the Baidu dialect that a review found, kept as regression journeys: each asserts
//! the safe behaviour and prints what happened (`R<n> ...`) when it does not hold.

use super::*;

/// Signed the SDK's way (no header list: host, content-length, content-type, x-bce-* signed).
fn sdk(app: &TestApp, method: &str, path: &str, body: &str, key: &Key) -> Bce {
    let mut req = Bce::new(app, method, path).listed(&[]);
    req.body = body.as_bytes().to_vec();
    if !body.is_empty() {
        req = req.header("content-length", &body.len().to_string());
    }
    // reqwest writes content-length itself (the same value).
    req.sign(key).without("content-length")
}

/// The captured request with another body of the same length (JSON whitespace pads it).
fn swapped(captured: &Bce, body: &str) -> Bce {
    let mut req = captured.clone();
    let mut b = body.to_string();
    assert!(b.len() <= req.body.len(), "the new body must not be longer");
    while b.len() < req.body.len() {
        b.push(' ');
    }
    req.body = b.into_bytes();
    req
}

/// R1: bce-auth-v1 covers neither the body nor a nonce: whoever holds a captured call (a log,
/// a proxy, a wrong endpoint) replays it for an hour with a body of their own.
async fn captured_writes_are_taken_once_whatever_their_body(db: Db) {
    let Some(app) = spawn_app(db).await else { return };
    let token = app.account_admin("acme").await;
    let key = key_of(&app, &token).await;
    let mut chain = String::new();
    // (a) a READ-only session token request, replayed with no ACL: a full credential.
    let read = r#"{"accessControlList":[{"service":"bce:iam","region":"*","effect":"Allow","permission":["READ"],"resource":["*"]}]}"#;
    let captured = sdk(&app, "POST", "/v1/sessionToken", read, &key);
    let (s, issued) = captured.send(&app).await;
    assert_eq!(s, 201, "{issued}");
    let narrow = key_from(&issued);
    let (s_narrow, _) = call(&app, &narrow, "POST", "/v1/user", Some(json!({"name": "nope"}))).await;
    let (s, stolen) = swapped(&captured, "{}").send(&app).await;
    chain += &format!("READ session -> createUser {s_narrow}; replay with body {{}} -> {s}");
    let mut escalated = 0;
    if s == 201 {
        let wide = key_from(&stolen);
        escalated = call(&app, &wide, "POST", "/v1/user", Some(json!({"name": "mallory"})))
            .await
            .0;
        chain += &format!(", its credential creates a user -> {escalated}");
    }
    // (b) a captured password set, replayed with the attacker's password.
    assert_eq!(
        call(&app, &key, "POST", "/v1/user", Some(json!({"name": "erin"})))
            .await
            .0,
        201
    );
    let captured = sdk(
        &app,
        "PUT",
        "/v1/user/erin/loginProfile",
        r#"{"password":"Erin-passw0rd-1","needResetPassword":false}"#,
        &key,
    );
    assert_eq!(captured.send(&app).await.0, 200);
    let (s, _) = swapped(&captured, r#"{"password":"Evil-passw0rd-1"}"#).send(&app).await;
    let login = app.password_token("erin", "acme", "Evil-passw0rd-1", None).await.0;
    chain += &format!("; loginProfile replayed with another password -> {s}, erin logs in with it -> {login}");
    // (c) a captured access key creation, replayed: a second secret for the replayer.
    let captured = sdk(&app, "POST", "/v1/user/erin/accesskey", "", &key);
    let (s1, k1) = captured.send(&app).await;
    let (s2, k2) = captured.send(&app).await;
    chain += &format!(
        "; createAccessKey sent twice -> {s1} {s2} (secrets differ: {})",
        k1["secret"] != k2["secret"]
    );
    eprintln!("R1 {chain}");
    assert_ne!(escalated, 201, "{chain}");
    assert_ne!(login, 201, "{chain}");
    assert_ne!(s2, 201, "{chain}");
    app.stop().await;
}

/// R2: a session allowed updateIdentityProvider (status, description) replaces the IdP's
/// metadata (its signing certificate) and the auxiliary-domain mapping; one allowed
/// deleteIdentityProvider deletes the mapping too.
async fn federation_calls_check_every_action_they_perform(db: Db) {
    let Some(app) = spawn_app(db).await else { return };
    let token = app.account_admin("acme").await;
    let key = key_of(&app, &token).await;
    let account = account_id(&app, &token).await;
    let idp = TestIdp::new("https://idp.acme.example/saml");
    let metadata = STANDARD.encode(idp.metadata(&["post"]));
    let body = json!({"encodeMetadata": metadata, "auxiliaryDomain": "example.com"});
    let (s, made) = call(&app, &key, "POST", "/v1/subUser/idp/update", Some(body)).await;
    assert_eq!(s, 200, "{made}");
    let session = |perms: Value| {
        let acl = json!({"accessControlList": [{"service": "bce:iam", "effect": "Allow", "permission": perms}]});
        Bce::new(&app, "POST", "/v1/sessionToken").json(acl).sign(&key)
    };
    let (s, issued) = session(json!([
        "iam:identityProviders:updateIdentityProvider",
        "iam:identityProviders:getIdentityProvider"
    ]))
    .send(&app)
    .await;
    assert_eq!(s, 201, "{issued}");
    let status_only = key_from(&issued);
    let attacker = TestIdp::new("https://idp.acme.example/saml");
    let body =
        json!({"encodeMetadata": STANDARD.encode(attacker.metadata(&["post"])), "auxiliaryDomain": "evil.example"});
    let (s_update, changed) = call(&app, &status_only, "POST", "/v1/subUser/idp/update", Some(body)).await;
    // This test signer leaves content-length out: a second session request within the same
    // second would carry the first one's signature, which is taken once.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let (s, issued) = session(json!(["iam:identityProviders:deleteIdentityProvider"]))
        .send(&app)
        .await;
    assert_eq!(s, 201, "{issued}");
    let delete_only = key_from(&issued);
    let (s_delete, _) = call(&app, &delete_only, "POST", "/v1/subUser/idp/delete", None).await;
    let mapping = app
        .call(
            "GET",
            &format!("/v3/OS-FEDERATION/mappings/{account}-iam-user-sso-mapping"),
            &token,
            None,
        )
        .await
        .0;
    let chain = format!(
        "updateIdentityProvider-only session: new metadata + auxiliaryDomain -> {s_update} {}; \
         deleteIdentityProvider-only session: delete -> {s_delete}, mapping afterwards -> {mapping}",
        changed["auxiliaryDomain"]
    );
    eprintln!("R2 {chain}");
    assert_eq!(s_update, 403, "{chain}");
    assert_eq!(s_delete, 403, "{chain}");
    app.stop().await;
}

/// R3: another account's keys answer 403, missing ones 404.
async fn other_accounts_keys_answer_as_missing(db: Db) {
    let Some(app) = spawn_app(db).await else { return };
    let acme = key_of(&app, &app.account_admin("acme").await).await;
    let globex = key_of(&app, &app.account_admin("globex").await).await;
    let missing = "ABCDEFGHIJKLMNOPQRST";
    let last = |ak: &str| format!("/v1/accesskey/{ak}/lastusedtime");
    let a = refusal(call(&app, &globex, "GET", &last(&acme.access), None).await);
    let b = refusal(call(&app, &globex, "GET", &last(missing), None).await);
    let disable = |ak: &str| {
        Bce::new(&app, "PUT", &format!("/v1/user/globex-admin/accesskey/{ak}"))
            .query("disable")
            .sign(&globex)
    };
    let c = refusal(disable(&acme.access).send(&app).await);
    let d = refusal(disable(missing).send(&app).await);
    let chain =
        format!("lastusedtime: acme's key {a:?}, no key {b:?}; disable via own user: acme's key {c:?}, no key {d:?}");
    eprintln!("R3 {chain}");
    assert_eq!(a, b, "{chain}");
    assert_eq!(c, d, "{chain}");
    app.stop().await;
}

/// R4: a failed first configuration deletes a mapping that existed before it.
async fn a_failed_create_keeps_an_existing_mapping(db: Db) {
    let Some(app) = spawn_app(db).await else { return };
    let token = app.account_admin("acme").await;
    let key = key_of(&app, &token).await;
    let account = account_id(&app, &token).await;
    let path = format!("/v3/OS-FEDERATION/mappings/{account}-iam-user-sso-mapping");
    let rules = json!({"mapping": {"rules": [{"local": [{"user": {"name": "{0}"}}], "remote": [{"type": "NameID"}]}]}});
    let (s, made) = app.call("PUT", &path, &token, Some(rules)).await;
    assert_eq!(s, 201, "{made}");
    let metadata = STANDARD.encode(TestIdp::new("https://idp.acme.example/saml").metadata(&["post"]));
    let body = json!({"encodeMetadata": metadata, "auxiliaryDomain": "example.com"});
    let (s, answer) = call(&app, &key, "POST", "/v1/subUser/idp/update", Some(body)).await;
    let after = app.call("GET", &path, &token, None).await.0;
    let chain = format!("update -> {s} {answer}; the pre-existing mapping afterwards -> {after}");
    eprintln!("R4 {chain}");
    assert_eq!(after, 200, "{chain}");
    app.stop().await;
}

/// R5: another account squats the provider id `<acme id>-iam-user-sso` (ids are global).
async fn no_other_account_can_take_the_provider_id_first(db: Db) {
    let Some(app) = spawn_app(db).await else { return };
    let acme_token = app.account_admin("acme").await;
    let acme = key_of(&app, &acme_token).await;
    let account = account_id(&app, &acme_token).await;
    let globex = app.account_admin("globex").await;
    let squat = format!("/v3/OS-FEDERATION/identity_providers/{account}-iam-user-sso");
    let (s, made) = app
        .call(
            "PUT",
            &squat,
            &globex,
            Some(json!({"identity_provider": {"sso_type": "iam_user_sso"}})),
        )
        .await;
    assert_eq!(s, 201, "{made}");
    let metadata = STANDARD.encode(TestIdp::new("https://idp.acme.example/saml").metadata(&["post"]));
    let body = json!({"encodeMetadata": metadata, "auxiliaryDomain": "example.com"});
    let (s, answer) = call(&app, &acme, "POST", "/v1/subUser/idp/update", Some(body)).await;
    let chain = format!("globex made {account}-iam-user-sso; acme's update -> {s} {answer}");
    eprintln!("R5 {chain}");
    assert_eq!(s, 200, "{chain}");
    app.stop().await;
}

/// R6: delete removes an iam_user_sso provider made through the identity API, with the other
/// protocol it serves and its `<id>-mapping`.
async fn delete_keeps_what_it_did_not_make(db: Db) {
    let Some(app) = spawn_app(db).await else { return };
    let token = app.account_admin("acme").await;
    let key = key_of(&app, &token).await;
    let t = token.as_str();
    let rules = json!({"mapping": {"rules": [{"local": [{"user": {"name": "{0}"}}], "remote": [{"type": "sub"}]}]}});
    assert_eq!(
        app.call("PUT", "/v3/OS-FEDERATION/mappings/corp-mapping", t, Some(rules))
            .await
            .0,
        201
    );
    let idp = json!({"identity_provider": {"sso_type": "iam_user_sso", "enabled": true}});
    let (s, b) = app
        .call("PUT", "/v3/OS-FEDERATION/identity_providers/corp", t, Some(idp))
        .await;
    assert_eq!(s, 201, "{b}");
    let protocol = json!({"protocol": {"mapping_id": "corp-mapping"}});
    let (s, b) = app
        .call(
            "PUT",
            "/v3/OS-FEDERATION/identity_providers/corp/protocols/oidc",
            t,
            Some(protocol),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    let (s, b) = call(&app, &key, "POST", "/v1/subUser/idp/delete", None).await;
    let idp_after = app
        .call("GET", "/v3/OS-FEDERATION/identity_providers/corp", t, None)
        .await
        .0;
    let mapping_after = app
        .call("GET", "/v3/OS-FEDERATION/mappings/corp-mapping", t, None)
        .await
        .0;
    let chain = format!("delete -> {s} {b}; provider corp (oidc) -> {idp_after}, corp-mapping -> {mapping_after}");
    eprintln!("R6 {chain}");
    assert_eq!((idp_after, mapping_after), (200, 200), "{chain}");
    app.stop().await;
}

/// R7: odd names in paths and bodies: every answer a 4xx with Baidu's body.
async fn odd_inputs_are_4xx(db: Db) {
    let Some(app) = spawn_app(db).await else { return };
    let token = app.account_admin("acme").await;
    let key = key_of(&app, &token).await;
    let mut seen = Vec::new();
    let paths = [
        ("GET", "/v1/user/a%00b"),
        ("GET", "/v1/group/a%00b"),
        ("GET", "/v1/accesskey/a%00b/lastusedtime"),
        ("PUT", "/v1/user/acme-admin/accesskey/a%00b"),
        ("GET", "/v1/user/%C3%A9%E2%80%AE"),
        ("GET", "/v1/user/.."),
        ("GET", &*format!("/v1/user/{}", "a".repeat(5000))),
        ("DELETE", "/v1/user/acme-admin/accesskey/%20"),
    ];
    for (m, p) in paths {
        let mut req = Bce::new(&app, m, p);
        if m == "PUT" {
            req = req.query("disable");
        }
        let (s, b) = req.sign(&key).send(&app).await;
        seen.push(format!("{m} {p:.60} -> {s} {}", b["code"]));
    }
    let bodies: Vec<(&str, &str, Vec<u8>)> = vec![
        ("POST", "/v1/user", b"{\"name\":\"\xff\xfe\"}".to_vec()),
        ("POST", "/v1/user", br#"{"name":"a\u0000b"}"#.to_vec()),
        ("POST", "/v1/group", br#"{"name":"a\u0000b"}"#.to_vec()),
        ("PUT", "/v1/user/acme-admin", br#"{"description":"a\u0000b"}"#.to_vec()),
        ("POST", "/v1/sessionToken", format!("{}{}", "[".repeat(200), "]".repeat(200)).into_bytes()),
        ("POST", "/v1/sessionToken", br#"{"accessControlList":[{"service":"bce:iam","effect":"Allow","permission":["iam:users:createUser\u0000"]}]}"#.to_vec()),
        ("POST", "/v1/sessionToken", br#"{"accessControlList":[{"service":"bce:iam","effect":"Allow","permission":["iam:a:b"]}]}"#.to_vec()),
        ("POST", "/v1/subUser/idp/update", br#"{"encodeMetadata":"PHg+","auxiliaryDomain":"example.com","fileName":"a\u0000"}"#.to_vec()),
        ("PUT", "/v1/user/acme-admin/loginProfile", br#"{"password":"\u0000aaaaaaaA1"}"#.to_vec()),
    ];
    for (m, p, body) in bodies {
        let mut req = Bce::new(&app, m, p);
        req.body = body;
        let (s, b) = req.sign(&key).send(&app).await;
        seen.push(format!("{m} {p} body -> {s} {}", b["code"]));
    }
    let text = seen.join("\n");
    eprintln!("R7\n{text}");
    assert!(!text.contains("-> 5"), "{text}");
    app.stop().await;
}

/// R8: a second admin of the account against its owner, through /v1.
async fn a_second_admin_cannot_touch_the_owner(db: Db) {
    let Some(app) = spawn_app(db).await else { return };
    let owner_token = app.account_admin("acme").await;
    let owner = key_of(&app, &owner_token).await;
    assert_eq!(
        call(&app, &owner, "POST", "/v1/user", Some(json!({"name": "dana"})))
            .await
            .0,
        201
    );
    let (s, b) = call(&app, &owner, "PUT", "/v1/group/acme-admins/user/dana", None).await;
    assert_eq!(s, 200, "{b}");
    let (s, made) = call(&app, &owner, "POST", "/v1/user/dana/accesskey", None).await;
    assert_eq!(s, 201, "{made}");
    let dana = key_from(&made);
    let own = format!("/v1/user/acme-admin/accesskey/{}", owner.access);
    let mut seen = Vec::new();
    let rows: Vec<(&str, String, Option<&str>, Option<Value>)> = vec![
        (
            "PUT",
            "/v1/subUser/acme-admin/update".into(),
            None,
            Some(json!({"password": "Dana-0wns-it-1"})),
        ),
        (
            "PUT",
            "/v1/user/acme-admin/loginProfile".into(),
            None,
            Some(json!({"password": "Dana-0wns-it-1"})),
        ),
        ("DELETE", "/v1/user/acme-admin/loginProfile".into(), None, None),
        (
            "PUT",
            "/v1/user/acme-admin".into(),
            None,
            Some(json!({"name": "x-admin"})),
        ),
        ("DELETE", "/v1/user/acme-admin".into(), None, None),
        ("POST", "/v1/user/acme-admin/accesskey".into(), None, None),
        ("PUT", own.clone(), Some("disable"), None),
        ("DELETE", own.clone(), None, None),
        ("DELETE", "/v1/group/acme-admins/user/acme-admin".into(), None, None),
        ("DELETE", "/v1/group/acme-admins".into(), None, None),
    ];
    for (m, p, q, body) in rows {
        let mut req = Bce::new(&app, m, &p);
        if let Some(q) = q {
            req = req.query(q);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        let (s, b) = req.sign(&dana).send(&app).await;
        seen.push((format!("{m} {p}"), s, b["code"].clone()));
    }
    eprintln!("R8 {seen:?}");
    assert!(seen.iter().all(|(_, s, _)| (400..500).contains(s)), "{seen:?}");
    app.stop().await;
}

on_both_backends!(
    captured_writes_are_taken_once_whatever_their_body,
    federation_calls_check_every_action_they_perform,
    other_accounts_keys_answer_as_missing,
    a_failed_create_keeps_an_existing_mapping,
    no_other_account_can_take_the_provider_id_first,
    delete_keeps_what_it_did_not_make,
    odd_inputs_are_4xx,
    a_second_admin_cannot_touch_the_owner,
    the_signed_host_is_ours_and_a_reenable_is_not_replayed,
    session_token_chains_only_narrow,
    a_nul_on_the_huawei_api_is_a_400
);

/// R7b: the same NUL through the Huawei API, for comparison.
async fn a_nul_on_the_huawei_api_is_a_400(db: Db) {
    let Some(app) = spawn_app(db).await else { return };
    let token = app.account_admin("acme").await;
    let mut seen = Vec::new();
    for p in [
        "/v3.0/OS-CREDENTIAL/credentials/a%00b",
        "/v3/users?name=a%00b",
        "/v3/groups?name=a%00b",
    ] {
        let (s, b) = app.call("GET", p, &token, None).await;
        seen.push(format!("{p} -> {s} {b}"));
    }
    eprintln!("R7b {seen:?}");
    app.stop().await;
}

/// R9: a request signed for another host; a plain user on federation; a captured ?enable
/// replayed after the admin disabled the key.
async fn the_signed_host_is_ours_and_a_reenable_is_not_replayed(db: Db) {
    let Some(app) = spawn_app(db).await else { return };
    let token = app.account_admin("acme").await;
    let key = key_of(&app, &token).await;
    // Signed for Baidu's own endpoint, sent to fedgate.
    let req = Bce::new(&app, "GET", "/v1/user")
        .header("host", "iam.bj.baidubce.com")
        .sign(&key);
    let mut r = app.client.get(app.url("/v1/user"));
    for (k, v) in &req.headers {
        r = r.header(k.as_str(), v.as_str());
    }
    let host_status = r.send().await.expect("request").status().as_u16();
    // A plain user on the federation routes.
    assert_eq!(
        call(&app, &key, "POST", "/v1/user", Some(json!({"name": "bob"})))
            .await
            .0,
        201
    );
    let (_, made) = call(&app, &key, "POST", "/v1/user/bob/accesskey", None).await;
    let bob = key_from(&made);
    let metadata = STANDARD.encode(TestIdp::new("https://idp.acme.example/saml").metadata(&["post"]));
    assert_eq!(
        call(
            &app,
            &key,
            "POST",
            "/v1/subUser/idp/update",
            Some(json!({"encodeMetadata": metadata, "auxiliaryDomain": "example.com"}))
        )
        .await
        .0,
        200
    );
    let mut plain = Vec::new();
    for (m, p, q) in [
        ("GET", "/v1/subUser/idp/query", None),
        ("POST", "/v1/subUser/idp/updateStatus", Some("status=enable")),
        ("POST", "/v1/subUser/idp/delete", None),
        ("PUT", "/v1/subUser/bob/update", None),
        ("PUT", "/v1/user/bob", None),
        ("GET", "/v1/user/bob/group", None),
        ("GET", "/v1/user/acme-admin", None),
        ("GET", "/v1/user/nobody", None),
    ] {
        let mut req = Bce::new(&app, m, p);
        if let Some(q) = q {
            req = req.query(q);
        }
        if p.ends_with("/update") && m == "PUT" {
            req = req.json(json!({"password": "Bob-passw0rd-9"}));
        }
        if p == "/v1/user/bob" {
            req = req.json(json!({"name": "bobby"}));
        }
        let (s, b) = req.sign(&bob).send(&app).await;
        plain.push(format!("{m} {p} -> {s} {}", b["code"]));
    }
    // A captured ?enable, replayed after the admin disables the key.
    let enable = Bce::new(&app, "PUT", &format!("/v1/user/bob/accesskey/{}", bob.access))
        .query("enable")
        .sign(&key);
    assert_eq!(enable.send(&app).await.0, 200);
    let disable = Bce::new(&app, "PUT", &format!("/v1/user/bob/accesskey/{}", bob.access))
        .query("disable")
        .sign(&key);
    assert_eq!(disable.send(&app).await.0, 200);
    let (replayed, answer) = enable.send(&app).await;
    let bob_again = call(&app, &bob, "GET", "/v1/user/bob", None).await.0;
    let chain = format!(
        "signed for iam.bj.baidubce.com -> {host_status}; plain user: {plain:?}; \
         captured ?enable replayed after disable -> {replayed} enabled={}, bob's key signs again -> {bob_again}",
        answer["enabled"]
    );
    eprintln!("R9 {chain}");
    assert_eq!(host_status, 401, "{chain}");
    assert_ne!(bob_again, 200, "{chain}");
    app.stop().await;
}

/// R10: K -> T1 (READ + securitytokens:create) -> T2 with no ACL: T2 keeps T1's limits, and
/// ends when K is disabled.
async fn session_token_chains_only_narrow(db: Db) {
    let Some(app) = spawn_app(db).await else { return };
    let token = app.account_admin("acme").await;
    let key = key_of(&app, &token).await;
    let acl = json!({"accessControlList": [{"service": "bce:iam", "effect": "Allow", "permission": ["READ", "iam:securitytokens:create"]}]});
    let (s, t1) = Bce::new(&app, "POST", "/v1/sessionToken")
        .json(acl)
        .sign(&key)
        .send(&app)
        .await;
    assert_eq!(s, 201, "{t1}");
    let t1 = key_from(&t1);
    let (s, t2) = Bce::new(&app, "POST", "/v1/sessionToken")
        .query("durationSeconds=86400")
        .sign(&t1)
        .send(&app)
        .await;
    assert_eq!(s, 201, "{t2}");
    let t2 = key_from(&t2);
    let create = call(&app, &t2, "POST", "/v1/user", Some(json!({"name": "mallory"})))
        .await
        .0;
    let read = call(&app, &t2, "GET", "/v1/user", None).await.0;
    let mint_key = call(&app, &t2, "POST", "/v1/user/acme-admin/accesskey", None).await.0;
    let path = format!("/v3.0/OS-CREDENTIAL/credentials/{}", key.access);
    assert_eq!(
        app.call(
            "PUT",
            &path,
            &token,
            Some(json!({"credential": {"status": "inactive"}}))
        )
        .await
        .0,
        200
    );
    let after = call(&app, &t2, "GET", "/v1/user", None).await.0;
    let chain =
        format!("T2: createUser {create}, listUsers {read}, createAccessKey {mint_key}; after K disabled: {after}");
    eprintln!("R10 {chain}");
    assert_eq!((create, read, mint_key, after), (403, 200, 403, 401), "{chain}");
    app.stop().await;
}
