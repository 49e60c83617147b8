//! The Alibaba Cloud dialect (`POST /` with `x-acs-action`): calls signed here with
//! `ACS3-HMAC-SHA256` on the canonical request the SDK vectors pin down
//! (`src/sts/acs3/tests.rs`), so each part can be tampered with. The unmodified SDKs drive it in
//! `tests/interop/alibaba_interop.py`.

use fedgate::sts::acs3::{ALGORITHM, Authorization, canonical_request, string_to_sign};
use fedgate::sts::signing::{Received, signature};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

mod attacks;

use crate::oidc_op::{SigningKey, TlsDiscoveryServer, jwt};
use crate::saml_idp::TestIdp;
use crate::support::{Db, TestApp, spawn_app};

pub const IMS: &str = "2019-08-15";
pub const STS: &str = "2015-04-01";

/// An access key as the cloud dialects' journeys sign with it (also `baidu.rs`).
#[derive(Clone, Debug)]
pub struct Key {
    pub access: String,
    pub secret: String,
    pub security_token: Option<String>,
}

/// A permanent key of the user `token` belongs to, made through the Huawei API.
pub async fn key_of(app: &TestApp, token: &str) -> Key {
    let (_, me) = app.validate(token, token).await;
    let user = me["token"]["user"]["id"].as_str().expect("user id");
    let body = json!({"credential": {"user_id": user}});
    let (status, created) = app
        .call("POST", "/v3.0/OS-CREDENTIAL/credentials", token, Some(body))
        .await;
    assert_eq!(status, 201, "{created}");
    Key {
        access: created["credential"]["access"].as_str().unwrap().into(),
        secret: created["credential"]["secret"].as_str().unwrap().into(),
        security_token: None,
    }
}

pub fn iso(unix_secs: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp(unix_secs).expect("time");
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// An RPC call about to be signed and sent, as the SDK builds it: parameters in the query,
/// an empty body, every header signed.
#[derive(Clone, Debug)]
struct Rpc {
    query: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Rpc {
    fn new(app: &TestApp, action: &str, version: &str, params: &[(&str, &str)]) -> Rpc {
        let query = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(params)
            .finish();
        let host = app.base.trim_start_matches("http://").to_string();
        let headers = [
            ("host", host.as_str()),
            ("x-acs-action", action),
            ("x-acs-version", version),
            ("x-acs-date", &iso(fedgate::service::now_ms() / 1000)),
            ("x-acs-signature-nonce", &uuid::Uuid::new_v4().to_string()),
            ("x-acs-content-sha256", &hex::encode(Sha256::digest(b""))),
            ("accept", "application/json"),
        ];
        Rpc {
            query,
            headers: headers.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            body: Vec::new(),
        }
    }

    fn header(mut self, name: &str, value: &str) -> Rpc {
        self.headers.retain(|(k, _)| k != name);
        self.headers.push((name.into(), value.into()));
        self
    }

    fn without(mut self, name: &str) -> Rpc {
        self.headers.retain(|(k, _)| k != name);
        self
    }

    fn sign(self, key: &Key) -> Rpc {
        let mut rpc = match &key.security_token {
            Some(t) => self
                .header("x-acs-accesskey-id", &key.access)
                .header("x-acs-security-token", t),
            None => self,
        };
        let mut names: Vec<String> = rpc.headers.iter().map(|(k, _)| k.clone()).collect();
        names.sort();
        rpc = rpc.sign_headers(key, &names.iter().map(String::as_str).collect::<Vec<_>>());
        rpc
    }

    fn sign_headers(self, key: &Key, signed: &[&str]) -> Rpc {
        let headers: Vec<(&str, &[u8])> = self.headers.iter().map(|(k, v)| (k.as_str(), v.as_bytes())).collect();
        let received = Received {
            method: "POST",
            path: "/",
            query: Some(&self.query),
            headers: &headers,
            body: &self.body,
            body_sha256: None,
        };
        let auth = Authorization {
            access: &key.access,
            signed_headers: signed.to_vec(),
            signature: [0; 32],
        };
        let canonical = canonical_request(&received, &auth).unwrap_or_else(|_| b"unsignable".to_vec());
        let sig = signature(key.secret.as_bytes(), &string_to_sign(&canonical));
        let value = format!(
            "{ALGORITHM} Credential={},SignedHeaders={},Signature={}",
            key.access,
            signed.join(";"),
            hex::encode(sig)
        );
        drop(headers);
        self.header("authorization", &value)
    }

    async fn send(&self, app: &TestApp) -> (u16, Value) {
        let mut req = app
            .client
            .post(app.url(&format!("/?{}", self.query)))
            .body(self.body.clone());
        for (k, v) in &self.headers {
            if k != "host" {
                req = req.header(k.as_str(), v.as_str());
            }
        }
        let r = req.send().await.expect("request");
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }
}

/// Signs and sends one call.
pub async fn call(app: &TestApp, key: &Key, action: &str, version: &str, params: &[(&str, &str)]) -> (u16, Value) {
    Rpc::new(app, action, version, params).sign(key).send(app).await
}

/// (status, Code) of an Alibaba error body, after checking its shape.
fn refusal((status, body): (u16, Value)) -> (u16, String) {
    for field in ["RequestId", "HostId", "Code", "Message"] {
        assert!(body[field].is_string(), "{field} missing from {body}");
    }
    (status, body["Code"].as_str().unwrap().to_string())
}

async fn hostile_calls_are_refused(db: Db) {
    let Some(app) = spawn_app(db).await else { return };
    let admin = app.account_admin("acme").await;
    let key = key_of(&app, &admin).await;
    let wrong_secret = Key {
        secret: "x".repeat(40),
        ..key.clone()
    };
    let unknown = Key {
        access: "UNKNOWNACCESSKEY0000".into(),
        ..key.clone()
    };
    let now = fedgate::service::now_ms() / 1000;
    let get = |app: &TestApp| Rpc::new(app, "GetCallerIdentity", STS, &[]);
    let flip = |rpc: Rpc| {
        let auth = rpc
            .headers
            .iter()
            .find(|(k, _)| k == "authorization")
            .unwrap()
            .1
            .clone();
        let last = if auth.ends_with('0') { '1' } else { '0' };
        let tampered = format!("{}{last}", &auth[..auth.len() - 1]);
        rpc.header("authorization", &tampered)
    };
    let unauthenticated = (401, "InvalidAuthentication".to_string());
    let cases: Vec<(&str, Rpc, (u16, String))> = vec![
        (
            "a tampered signature",
            flip(get(&app).sign(&key)),
            unauthenticated.clone(),
        ),
        ("a wrong secret", get(&app).sign(&wrong_secret), unauthenticated.clone()),
        (
            "an unknown access key",
            get(&app).sign(&unknown),
            unauthenticated.clone(),
        ),
        (
            "signed 20 minutes ago",
            get(&app).header("x-acs-date", &iso(now - 1200)).sign(&key),
            unauthenticated.clone(),
        ),
        (
            "signed 20 minutes ahead",
            get(&app).header("x-acs-date", &iso(now + 1200)).sign(&key),
            unauthenticated.clone(),
        ),
        (
            "a body that is not its declared digest",
            Rpc {
                body: b"UserPrincipalName=x".to_vec(),
                ..get(&app).header("content-type", "application/x-www-form-urlencoded")
            }
            .sign(&key),
            unauthenticated.clone(),
        ),
        (
            "the action not signed",
            {
                let rpc = get(&app);
                let names = [
                    "host",
                    "x-acs-content-sha256",
                    "x-acs-date",
                    "x-acs-signature-nonce",
                    "x-acs-version",
                ];
                rpc.sign_headers(&key, &names)
            },
            unauthenticated.clone(),
        ),
        (
            "a query changed after signing",
            {
                let mut rpc =
                    Rpc::new(&app, "GetUser", IMS, &[("UserPrincipalName", "a@acme.onaliyun.com")]).sign(&key);
                rpc.query = "UserPrincipalName=b%40acme.onaliyun.com".into();
                rpc
            },
            unauthenticated.clone(),
        ),
        (
            "no signature on an IMS call",
            Rpc::new(&app, "ListUsers", IMS, &[]),
            unauthenticated.clone(),
        ),
        (
            "an unknown action",
            Rpc::new(&app, "CreateVirtualMFADevice", IMS, &[]).sign(&key),
            (404, "InvalidAction.NotFound".into()),
        ),
        (
            "an IMS action under STS's version",
            Rpc::new(&app, "ListUsers", STS, &[]).sign(&key),
            (400, "InvalidVersion".into()),
        ),
        (
            "no version on a signed call (x-acs-version must be signed)",
            Rpc::new(&app, "ListUsers", IMS, &[])
                .without("x-acs-version")
                .sign(&key),
            unauthenticated.clone(),
        ),
        (
            "no version on an unsigned call",
            Rpc::new(&app, "GetCallerIdentity", STS, &[]).without("x-acs-version"),
            (400, "MissingParameter".into()),
        ),
        (
            "Action disagreeing with x-acs-action",
            {
                let mut rpc = Rpc::new(&app, "ListUsers", IMS, &[]);
                rpc.query = "Action=DeleteUser".into();
                rpc.sign(&key)
            },
            (400, "InvalidParameter".into()),
        ),
        (
            "a role in an account that does not trust the caller",
            Rpc::new(
                &app,
                "AssumeRole",
                STS,
                &[
                    ("RoleArn", "acs:ram::someone-else:role/deployer"),
                    ("RoleSessionName", "deploy-1"),
                ],
            )
            .sign(&key),
            (403, "NoPermission".into()),
        ),
        (
            "a malformed RoleArn",
            Rpc::new(
                &app,
                "AssumeRole",
                STS,
                &[("RoleArn", "deployer"), ("RoleSessionName", "deploy-1")],
            )
            .sign(&key),
            (400, "InvalidParameter".into()),
        ),
    ];
    for (name, rpc, expected) in cases {
        assert_eq!(refusal(rpc.send(&app).await), expected, "{name}");
    }
    // A nonce is single use: the same signed call again is a replay.
    let once = get(&app).sign(&key);
    assert_eq!(once.send(&app).await.0, 200);
    assert_eq!(refusal(once.send(&app).await), unauthenticated, "a replayed nonce");
    // Nothing above wrote anything.
    let (status, users) = call(&app, &key, "ListUsers", IMS, &[]).await;
    assert_eq!(status, 200, "{users}");
    assert_eq!(users["Users"]["User"].as_array().unwrap().len(), 1, "{users}");
    app.stop().await;
}

/// Who may call what: the account's admin manages its account; a plain user reads itself and
/// manages its own keys; another account's admin reaches nothing here.
async fn callers_and_actions(db: Db) {
    let Some(app) = spawn_app(db).await else { return };
    let admin = key_of(&app, &app.account_admin("acme").await).await;
    let other = key_of(&app, &app.account_admin("globex").await).await;
    let bob_upn = "bob@acme.onaliyun.com";
    let (status, created) = call(
        &app,
        &admin,
        "CreateUser",
        IMS,
        &[("UserPrincipalName", bob_upn), ("DisplayName", "Bob")],
    )
    .await;
    assert_eq!(status, 200, "{created}");
    let (status, bob_key) = call(&app, &admin, "CreateAccessKey", IMS, &[("UserPrincipalName", bob_upn)]).await;
    assert_eq!(status, 200, "{bob_key}");
    let bob = Key {
        access: bob_key["AccessKey"]["AccessKeyId"].as_str().unwrap().into(),
        secret: bob_key["AccessKey"]["AccessKeySecret"].as_str().unwrap().into(),
        security_token: None,
    };
    let carol = &[
        ("UserPrincipalName", "carol@acme.onaliyun.com"),
        ("DisplayName", "Carol"),
    ];
    let bob_only = &[("UserPrincipalName", bob_upn)];
    let bob_id = created["User"]["UserId"].as_str().unwrap();
    let bob_by_id = &[("UserId", bob_id)];
    type Row<'a> = (&'a str, &'a Key, &'a str, &'a [(&'a str, &'a str)], u16, &'a str);
    let table: Vec<Row> = vec![
        ("admin creates a user", &admin, "CreateUser", carol, 200, ""),
        ("admin lists users", &admin, "ListUsers", &[], 200, ""),
        ("bob reads himself", &bob, "GetUser", bob_only, 200, ""),
        ("bob lists his keys", &bob, "ListAccessKeys", &[], 200, ""),
        (
            "bob cannot create users",
            &bob,
            "CreateUser",
            &[("UserPrincipalName", "eve@acme.onaliyun.com"), ("DisplayName", "Eve")],
            403,
            "NoPermission",
        ),
        ("bob cannot list users", &bob, "ListUsers", &[], 403, "NoPermission"),
        (
            "bob cannot create groups",
            &bob,
            "CreateGroup",
            &[("GroupName", "bobs")],
            403,
            "NoPermission",
        ),
        (
            "globex's admin cannot name acme's users",
            &other,
            "GetUser",
            bob_only,
            400,
            "InvalidParameter",
        ),
        (
            "globex's admin cannot reach acme's users by id",
            &other,
            "GetUser",
            bob_by_id,
            404,
            "EntityNotExist.User",
        ),
        (
            "globex's admin lists only its own users",
            &other,
            "ListUserBasicInfos",
            &[],
            200,
            "",
        ),
    ];
    for (name, key, action, params, status, code) in table {
        let (got, body) = call(&app, key, action, IMS, params).await;
        assert_eq!(got, status, "{name}: {body}");
        if status != 200 {
            assert_eq!(body["Code"], code, "{name}: {body}");
        }
    }
    let (_, basic) = call(&app, &other, "ListUserBasicInfos", IMS, &[]).await;
    let names: Vec<&str> = basic["UserBasicInfos"]["UserBasicInfo"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["UserPrincipalName"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["globex-admin@globex.onaliyun.com"]);
    app.stop().await;
}

/// One account, two dialects: what IMS creates the Huawei API sees and manages, and the
/// reverse, on the same records.
async fn one_store_two_dialects(db: Db) {
    let Some(app) = spawn_app(db).await else { return };
    let token = app.account_admin("acme").await;
    let key = key_of(&app, &token).await;
    let upn = "dana@acme.onaliyun.com";
    assert_eq!(
        call(
            &app,
            &key,
            "CreateUser",
            IMS,
            &[
                ("UserPrincipalName", upn),
                ("DisplayName", "Dana D."),
                ("Comments", "ops"),
                ("MobilePhone", "86-18600008888")
            ]
        )
        .await
        .0,
        200
    );
    assert_eq!(
        call(
            &app,
            &key,
            "CreateGroup",
            IMS,
            &[("GroupName", "ops"), ("Comments", "on call")]
        )
        .await
        .0,
        200
    );
    assert_eq!(
        call(
            &app,
            &key,
            "AddUserToGroup",
            IMS,
            &[("GroupName", "ops"), ("UserPrincipalName", upn)]
        )
        .await
        .0,
        200
    );
    // The Huawei API sees the same user, group and membership.
    let (_, users) = app.call("GET", "/v3/users?name=dana", &token, None).await;
    let dana = users["users"][0].clone();
    assert_eq!(
        (dana["name"].as_str(), dana["description"].as_str()),
        (Some("dana"), Some("ops")),
        "{users}"
    );
    let dana_id = dana["id"].as_str().unwrap();
    let (_, ext) = app
        .call("GET", &format!("/v3.0/OS-USER/users/{dana_id}"), &token, None)
        .await;
    assert_eq!(
        (ext["user"]["areacode"].as_str(), ext["user"]["phone"].as_str()),
        (Some("86"), Some("18600008888")),
        "{ext}"
    );
    let (_, groups) = app
        .call("GET", &format!("/v3/users/{dana_id}/groups"), &token, None)
        .await;
    assert_eq!(groups["groups"][0]["name"], "ops", "{groups}");
    // The Huawei API disables her and changes her description; IMS shows both.
    let patch = json!({"user": {"enabled": false, "description": "ops lead"}});
    assert_eq!(
        app.call("PATCH", &format!("/v3/users/{dana_id}"), &token, Some(patch))
            .await
            .0,
        200
    );
    let (_, got) = call(&app, &key, "GetUser", IMS, &[("UserPrincipalName", upn)]).await;
    assert_eq!(got["User"]["Comments"], "ops lead", "{got}");
    assert_eq!(got["User"]["DisplayName"], "Dana D.", "{got}");
    let (_, listed) = call(&app, &key, "ListUsers", IMS, &[]).await;
    let row = listed["Users"]["User"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["UserPrincipalName"] == upn)
        .cloned()
        .unwrap();
    assert_eq!(row["Status"], "Inactive", "{listed}");
    // A key made through the Huawei API is listed and managed through IMS.
    let body = json!({"credential": {"user_id": dana_id}});
    let (_, huawei_key) = app
        .call("POST", "/v3.0/OS-CREDENTIAL/credentials", &token, Some(body))
        .await;
    let access = huawei_key["credential"]["access"].as_str().unwrap();
    let (_, keys) = call(&app, &key, "ListAccessKeys", IMS, &[("UserPrincipalName", upn)]).await;
    assert_eq!(keys["AccessKeys"]["AccessKey"][0]["AccessKeyId"], access, "{keys}");
    assert_eq!(
        call(
            &app,
            &key,
            "UpdateAccessKey",
            IMS,
            &[
                ("UserPrincipalName", upn),
                ("UserAccessKeyId", access),
                ("Status", "Inactive")
            ]
        )
        .await
        .0,
        200
    );
    let (_, shown) = app
        .call(
            "GET",
            &format!("/v3.0/OS-CREDENTIAL/credentials/{access}"),
            &token,
            None,
        )
        .await;
    assert_eq!(shown["credential"]["status"], "inactive", "{shown}");
    // Deleting through IMS removes what the Huawei API sees.
    assert_eq!(
        call(
            &app,
            &key,
            "DeleteAccessKey",
            IMS,
            &[("UserPrincipalName", upn), ("UserAccessKeyId", access)]
        )
        .await
        .0,
        200
    );
    assert_eq!(
        call(&app, &key, "DeleteUser", IMS, &[("UserPrincipalName", upn)])
            .await
            .0,
        200
    );
    assert_eq!(
        app.call("GET", &format!("/v3/users/{dana_id}"), &token, None).await.0,
        404
    );
    let (status, gone) = call(&app, &key, "GetUser", IMS, &[("UserPrincipalName", upn)]).await;
    assert_eq!(
        (status, gone["Code"].as_str()),
        (404, Some("EntityNotExist.User")),
        "{gone}"
    );
    app.stop().await;
}

/// AssumeRole: temporary credentials for an agency that sign both dialects' calls and carry
/// the caller's key's root, so deactivating the key ends them.
async fn assumed_roles_sign_and_end_with_their_key(db: Db) {
    let Some(app) = spawn_app(db).await else { return };
    let token = app.account_admin("acme").await;
    let key = key_of(&app, &token).await;
    let (_, me) = app.validate(&token, &token).await;
    let account = me["token"]["domain"]["id"].as_str().unwrap().to_string();
    let body = json!({"agency": {"name": "deployer", "domain_id": account, "trust_domain_id": account}});
    let (status, agency) = app.call("POST", "/v3.0/OS-AGENCY/agencies", &token, Some(body)).await;
    assert_eq!(status, 201, "{agency}");
    // The agency administers the account, so only a session policy can narrow its sessions.
    let agency_id = agency["agency"]["id"].as_str().unwrap();
    let (_, roles) = app.call("GET", "/v3/roles?name=admin", &token, None).await;
    let admin_role = roles["roles"][0]["id"].as_str().unwrap();
    let grant = format!("/v3.0/OS-AGENCY/domains/{account}/agencies/{agency_id}/roles/{admin_role}");
    assert_eq!(app.call("PUT", &grant, &token, None).await.0, 204);
    let arn = format!("acs:ram::{account}:role/deployer");
    let params = [
        ("RoleArn", arn.as_str()),
        ("RoleSessionName", "deploy-7"),
        ("DurationSeconds", "900"),
    ];
    let (status, assumed) = call(&app, &key, "AssumeRole", STS, &params).await;
    assert_eq!(status, 200, "{assumed}");
    let c = &assumed["Credentials"];
    let temporary = Key {
        access: c["AccessKeyId"].as_str().unwrap().into(),
        secret: c["AccessKeySecret"].as_str().unwrap().into(),
        security_token: Some(c["SecurityToken"].as_str().unwrap().into()),
    };
    assert_eq!(
        assumed["AssumedRoleUser"]["Arn"],
        format!("acs:ram::{account}:assumed-role/deployer/deploy-7")
    );
    let (status, who) = call(&app, &temporary, "GetCallerIdentity", STS, &[]).await;
    assert_eq!(status, 200, "{who}");
    assert_eq!(who["IdentityType"], "AssumedRoleUser", "{who}");
    assert_eq!(who["Arn"], format!("acs:ram::{account}:assumed-role/deployer/deploy-7"));
    assert_eq!(
        call(&app, &temporary, "ListUsers", IMS, &[]).await.0,
        200,
        "the agency's own power"
    );
    // A session policy in Alibaba's language narrows the credential on every dialect.
    let policy = r#"{"Version": "1", "Statement": [{"Effect": "Allow", "Action": ["sts:GetCallerIdentity", "ram:ListAccessKeys"], "Resource": "*"}]}"#;
    let narrowed = [
        ("RoleArn", arn.as_str()),
        ("RoleSessionName", "deploy-8"),
        ("Policy", policy),
    ];
    let (status, body) = call(&app, &key, "AssumeRole", STS, &narrowed).await;
    assert_eq!(status, 200, "{body}");
    let c = &body["Credentials"];
    let limited = Key {
        access: c["AccessKeyId"].as_str().unwrap().into(),
        secret: c["AccessKeySecret"].as_str().unwrap().into(),
        security_token: Some(c["SecurityToken"].as_str().unwrap().into()),
    };
    assert_eq!(call(&app, &limited, "GetCallerIdentity", STS, &[]).await.0, 200);
    assert_eq!(
        refusal(call(&app, &limited, "ListUsers", IMS, &[]).await),
        (403, "NoPermission".into()),
        "an action the policy does not allow"
    );
    let wider = [
        ("RoleArn", arn.as_str()),
        ("RoleSessionName", "deploy-9"),
        (
            "Policy",
            r#"{"Version": "1", "Statement": [{"Effect": "Allow", "Action": "ram:GetUser", "Resource": "acs:ram:*:*:user/bob"}]}"#,
        ),
    ];
    assert_eq!(
        refusal(call(&app, &key, "AssumeRole", STS, &wider).await),
        (400, "InvalidParameter".into())
    );
    // A temporary credential with someone else's security token is refused.
    let (_, other) = call(&app, &key, "AssumeRole", STS, &params).await;
    let mismatched = Key {
        security_token: Some(other["Credentials"]["SecurityToken"].as_str().unwrap().into()),
        ..temporary.clone()
    };
    assert_eq!(
        refusal(call(&app, &mismatched, "GetCallerIdentity", STS, &[]).await),
        (401, "InvalidAuthentication".into())
    );
    // Deactivating the key that assumed the role ends the temporary credential.
    let patch = json!({"credential": {"status": "inactive"}});
    let path = format!("/v3.0/OS-CREDENTIAL/credentials/{}", key.access);
    assert_eq!(app.call("PUT", &path, &token, Some(patch)).await.0, 200);
    assert_eq!(
        refusal(call(&app, &temporary, "GetCallerIdentity", STS, &[]).await),
        (401, "InvalidAuthentication".into())
    );
    app.stop().await;
}

/// An account's OIDC provider, made through IMS with its issuer's certificate pinned: its
/// client ids and fingerprints are edited, its mapping decides who assumes a role with an
/// id_token, and a pin that no longer matches refuses the next token.
async fn oidc_providers_and_assume_role_with_oidc(db: Db) {
    let Some(app) = spawn_app(db).await else { return };
    let token = app.account_admin("acme").await;
    let key = key_of(&app, &token).await;
    let (_, me) = app.validate(&token, &token).await;
    let account = me["token"]["domain"]["id"].as_str().unwrap().to_string();
    let signing = SigningKey::rsa("k1");
    let op = TlsDiscoveryServer::start(&[&signing], None);
    let ims = |action: &'static str, params: Vec<(&'static str, String)>| {
        let app = &app;
        let key = &key;
        async move {
            let params: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
            call(app, key, action, IMS, &params).await
        }
    };
    let name = |n: &str| ("OIDCProviderName", n.to_string());
    let (status, created) = ims(
        "CreateOIDCProvider",
        vec![
            name("ci"),
            ("IssuerUrl", op.issuer.clone()),
            ("ClientIds", "sts.aliyuncs.com".into()),
            ("Fingerprints", op.openssl_fingerprint.clone()),
        ],
    )
    .await;
    assert_eq!(status, 200, "{created}");
    assert_eq!(created["OIDCProvider"]["Fingerprints"], op.fingerprint, "{created}");
    assert_eq!(
        created["OIDCProvider"]["Arn"],
        format!("acs:ram::{account}:oidc-provider/ci")
    );
    type Edit = (
        &'static str,
        &'static str,
        Vec<(&'static str, String)>,
        u16,
        &'static str,
    );
    let edits: Vec<Edit> = vec![
        (
            "a second client id",
            "AddClientIdToOIDCProvider",
            vec![name("ci"), ("ClientId", "fedgate-ci".into())],
            200,
            "",
        ),
        (
            "the same client id again",
            "AddClientIdToOIDCProvider",
            vec![name("ci"), ("ClientId", "fedgate-ci".into())],
            409,
            "EntityAlreadyExists",
        ),
        (
            "a client id it does not hold",
            "RemoveClientIdFromOIDCProvider",
            vec![name("ci"), ("ClientId", "nobody-here".into())],
            404,
            "EntityNotExist",
        ),
        (
            "the first client id",
            "RemoveClientIdFromOIDCProvider",
            vec![name("ci"), ("ClientId", "sts.aliyuncs.com".into())],
            200,
            "",
        ),
        (
            "the last client id",
            "RemoveClientIdFromOIDCProvider",
            vec![name("ci"), ("ClientId", "fedgate-ci".into())],
            400,
            "InvalidParameter",
        ),
        (
            "a fingerprint that is not one",
            "AddFingerprintToOIDCProvider",
            vec![name("ci"), ("Fingerprint", "abc".into())],
            400,
            "InvalidParameter",
        ),
        (
            "a provider of no one",
            "GetOIDCProvider",
            vec![name("nobody")],
            404,
            "EntityNotExist.Provider",
        ),
        (
            "fingerprints on an http issuer",
            "CreateOIDCProvider",
            vec![
                name("plain"),
                ("IssuerUrl", "http://127.0.0.1:9/op".into()),
                ("ClientIds", "fedgate-ci".into()),
                ("Fingerprints", op.fingerprint.clone()),
            ],
            400,
            "InvalidParameter",
        ),
    ];
    for (what, action, params, status, code) in edits {
        let (got, body) = ims(action, params).await;
        assert_eq!(got, status, "{what}: {body}");
        if status != 200 {
            assert_eq!(body["Code"], code, "{what}: {body}");
        }
    }
    // The failed create left nothing behind.
    assert_eq!(
        app.call("GET", "/v3/OS-FEDERATION/identity_providers/plain", &token, None)
            .await
            .0,
        404
    );
    assert_eq!(
        app.call("GET", "/v3/OS-FEDERATION/mappings/plain-mapping", &token, None)
            .await
            .0,
        404
    );
    let (_, got) = ims("GetOIDCProvider", vec![name("ci")]).await;
    assert_eq!(got["OIDCProvider"]["ClientIds"], "fedgate-ci", "{got}");

    // Who may assume: the mapping gives `repo:acme/*` subjects a group holding Agent Operator.
    let t = token.as_str();
    let (_, group) = app
        .call(
            "POST",
            "/v3/groups",
            t,
            Some(json!({"group": {"name": "ci-operators"}})),
        )
        .await;
    let group = group["group"]["id"].as_str().unwrap().to_string();
    let (_, roles) = app.call("GET", "/v3/roles?name=te_agency", t, None).await;
    let operator = roles["roles"][0]["id"].as_str().unwrap();
    let grant = format!("/v3/domains/{account}/groups/{group}/roles/{operator}");
    assert_eq!(app.call("PUT", &grant, t, None).await.0, 204);
    let agency = json!({"agency": {"name": "deployer", "domain_id": account, "trust_domain_id": account}});
    assert_eq!(
        app.call("POST", "/v3.0/OS-AGENCY/agencies", t, Some(agency)).await.0,
        201
    );
    let id_token = |sub: &str| {
        let now = fedgate::service::now_ms() / 1000;
        let claims = json!({"iss": op.issuer, "aud": "fedgate-ci", "sub": sub, "iat": now - 5,
            "exp": now + 300, "jti": uuid::Uuid::new_v4().to_string()});
        jwt(
            &json!({"alg": "RS256", "kid": "k1", "typ": "JWT"}),
            &claims,
            &signing,
            "RS256",
        )
    };
    let provider_arn = format!("acs:ram::{account}:oidc-provider/ci");
    let role_arn = format!("acs:ram::{account}:role/deployer");
    let assume = |token: String, provider: String| {
        let app = &app;
        let role_arn = role_arn.clone();
        async move {
            let params = [
                ("OIDCProviderArn", provider.as_str()),
                ("RoleArn", role_arn.as_str()),
                ("OIDCToken", token.as_str()),
                ("RoleSessionName", "ci-run-1"),
            ];
            Rpc::new(app, "AssumeRoleWithOIDC", STS, &params).send(app).await
        }
    };
    // The starting mapping names the user and gives no group: no role to assume yet.
    let (status, body) = assume(id_token("repo:acme/app"), provider_arn.clone()).await;
    assert_eq!((status, body["Code"].as_str()), (403, Some("NoPermission")), "{body}");
    let rules = json!({"mapping": {"rules": [{
        "remote": [{"type": "sub", "any_one_of": ["repo:acme/.*"], "regex": true}],
        "local": [{"user": {"name": "ci"}}, {"group": {"id": group}}]}]}});
    let (status, body) = app
        .call("PATCH", "/v3/OS-FEDERATION/mappings/ci-mapping", t, Some(rules))
        .await;
    assert_eq!(status, 200, "{body}");
    let once = id_token("repo:acme/app");
    let (status, assumed) = assume(once.clone(), provider_arn.clone()).await;
    assert_eq!(status, 200, "{assumed}");
    let c = &assumed["Credentials"];
    let temporary = Key {
        access: c["AccessKeyId"].as_str().unwrap().into(),
        secret: c["AccessKeySecret"].as_str().unwrap().into(),
        security_token: Some(c["SecurityToken"].as_str().unwrap().into()),
    };
    let (status, who) = call(&app, &temporary, "GetCallerIdentity", STS, &[]).await;
    assert_eq!(
        (status, who["IdentityType"].as_str()),
        (200, Some("AssumedRoleUser")),
        "{who}"
    );
    let refusals: Vec<(&str, String, String, (u16, String))> = vec![
        (
            "the same id_token again",
            once,
            provider_arn.clone(),
            (401, "InvalidAuthentication".into()),
        ),
        (
            "a subject the mapping does not admit",
            id_token("repo:globex/app"),
            provider_arn.clone(),
            (401, "InvalidAuthentication".into()),
        ),
        (
            "the provider under another account",
            id_token("repo:acme/app"),
            "acs:ram::elsewhere:oidc-provider/ci".into(),
            (401, "InvalidAuthentication".into()),
        ),
        (
            "a provider that does not exist",
            id_token("repo:acme/app"),
            format!("acs:ram::{account}:oidc-provider/nobody"),
            (401, "InvalidAuthentication".into()),
        ),
    ];
    for (what, token, provider, want) in refusals {
        assert_eq!(refusal(assume(token, provider).await), want, "{what}");
    }
    // A pin that no longer matches the issuer's certificate: the keys are fetched again under
    // the new configuration and refused, so the next token is too.
    let other_print = "0123456789abcdef0123456789abcdef01234567";
    let (status, _) = ims(
        "AddFingerprintToOIDCProvider",
        vec![name("ci"), ("Fingerprint", other_print.into())],
    )
    .await;
    assert_eq!(status, 200);
    let (status, _) = ims(
        "RemoveFingerprintFromOIDCProvider",
        vec![name("ci"), ("Fingerprint", op.fingerprint.clone())],
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        refusal(assume(id_token("repo:acme/app"), provider_arn.clone()).await),
        (401, "InvalidAuthentication".into()),
        "a fingerprint that does not match"
    );
    // A protocol added through the identity API keeps the provider: deleting would take it too.
    let saml = "/v3/OS-FEDERATION/identity_providers/ci/protocols/saml";
    let protocol = json!({"protocol": {"mapping_id": "ci-mapping"}});
    assert_eq!(app.call("PUT", saml, t, Some(protocol)).await.0, 201);
    let (status, body) = ims("DeleteOIDCProvider", vec![name("ci")]).await;
    assert_eq!(
        (status, body["Code"].as_str()),
        (409, Some("EntityAlreadyExists")),
        "{body}"
    );
    assert_eq!(app.call("DELETE", saml, t, None).await.0, 204);
    // Deleting the provider removes it and its starting mapping.
    assert_eq!(ims("DeleteOIDCProvider", vec![name("ci")]).await.0, 200);
    assert_eq!(
        app.call("GET", "/v3/OS-FEDERATION/identity_providers/ci", t, None)
            .await
            .0,
        404
    );
    assert_eq!(
        app.call("GET", "/v3/OS-FEDERATION/mappings/ci-mapping", t, None)
            .await
            .0,
        404
    );
    app.stop().await;
}

/// An account's SAML provider, made through IMS from its metadata: its mapping decides who
/// assumes a role with a signed assertion, once; another IdP's assertion is refused.
async fn saml_providers_and_assume_role_with_saml(db: Db) {
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;
    let Some(app) = spawn_app(db).await else { return };
    let token = app.account_admin("acme").await;
    let t = token.as_str();
    let key = key_of(&app, &token).await;
    let (_, me) = app.validate(t, t).await;
    let account = me["token"]["domain"]["id"].as_str().unwrap().to_string();
    let idp = TestIdp::new("https://idp.acme.example/saml");
    let metadata = STANDARD.encode(idp.metadata(&["post"]));
    let create = [
        ("SAMLProviderName", "acme-idp"),
        ("EncodedSAMLMetadataDocument", metadata.as_str()),
        ("Description", "corporate"),
    ];
    let (status, created) = call(&app, &key, "CreateSAMLProvider", IMS, &create).await;
    assert_eq!(status, 200, "{created}");
    assert_eq!(
        created["SAMLProvider"]["Arn"],
        format!("acs:ram::{account}:saml-provider/acme-idp")
    );
    let (_, got) = call(&app, &key, "GetSAMLProvider", IMS, &[("SAMLProviderName", "acme-idp")]).await;
    let doc = STANDARD
        .decode(got["SAMLProvider"]["EncodedSAMLMetadataDocument"].as_str().unwrap())
        .unwrap();
    assert!(
        String::from_utf8(doc)
            .unwrap()
            .contains("https://idp.acme.example/saml"),
        "{got}"
    );
    let (_, listed) = call(&app, &key, "ListSAMLProviders", IMS, &[]).await;
    assert_eq!(
        listed["SAMLProviders"]["SAMLProvider"][0]["SAMLProviderName"], "acme-idp",
        "{listed}"
    );
    let bad = [
        ("SAMLProviderName", "broken"),
        ("EncodedSAMLMetadataDocument", "bm90IG1ldGFkYXRh"),
    ];
    let (status, body) = call(&app, &key, "CreateSAMLProvider", IMS, &bad).await;
    assert_eq!(
        (status, body["Code"].as_str()),
        (400, Some("InvalidParameter")),
        "{body}"
    );
    assert_eq!(
        app.call("GET", "/v3/OS-FEDERATION/identity_providers/broken", t, None)
            .await
            .0,
        404
    );

    let (_, group) = app
        .call(
            "POST",
            "/v3/groups",
            t,
            Some(json!({"group": {"name": "sso-operators"}})),
        )
        .await;
    let group = group["group"]["id"].as_str().unwrap().to_string();
    let (_, roles) = app.call("GET", "/v3/roles?name=te_agency", t, None).await;
    let operator = roles["roles"][0]["id"].as_str().unwrap();
    let grant = format!("/v3/domains/{account}/groups/{group}/roles/{operator}");
    assert_eq!(app.call("PUT", &grant, t, None).await.0, 204);
    let agency = json!({"agency": {"name": "sso-admin", "domain_id": account, "trust_domain_id": account}});
    assert_eq!(
        app.call("POST", "/v3.0/OS-AGENCY/agencies", t, Some(agency)).await.0,
        201
    );
    let rules = json!({"mapping": {"rules": [{
        "remote": [{"type": "NameID"}, {"type": "groups", "any_one_of": ["engineers"]}],
        "local": [{"user": {"name": "{0}"}}, {"group": {"id": group}}]}]}});
    assert_eq!(
        app.call("PATCH", "/v3/OS-FEDERATION/mappings/acme-idp-mapping", t, Some(rules))
            .await
            .0,
        200
    );

    let now = fedgate::service::now_ms() / 1000;
    let assertion = |signed_by: &TestIdp| STANDARD.encode(signed_by.response(&signed_by.spec(&app.base, now)));
    let provider_arn = format!("acs:ram::{account}:saml-provider/acme-idp");
    let role_arn = format!("acs:ram::{account}:role/sso-admin");
    let assume = |saml: String| {
        let app = &app;
        let (provider_arn, role_arn) = (provider_arn.clone(), role_arn.clone());
        async move {
            let params = [
                ("SAMLProviderArn", provider_arn.as_str()),
                ("RoleArn", role_arn.as_str()),
                ("SAMLAssertion", saml.as_str()),
                ("DurationSeconds", "900"),
            ];
            Rpc::new(app, "AssumeRoleWithSAML", STS, &params).send(app).await
        }
    };
    let once = assertion(&idp);
    let (status, assumed) = assume(once.clone()).await;
    assert_eq!(status, 200, "{assumed}");
    assert_eq!(
        assumed["AssumedRoleUser"]["Arn"],
        format!("acs:ram::{account}:assumed-role/sso-admin/alice@example.com")
    );
    let c = &assumed["Credentials"];
    let temporary = Key {
        access: c["AccessKeyId"].as_str().unwrap().into(),
        secret: c["AccessKeySecret"].as_str().unwrap().into(),
        security_token: Some(c["SecurityToken"].as_str().unwrap().into()),
    };
    let (status, who) = call(&app, &temporary, "GetCallerIdentity", STS, &[]).await;
    assert_eq!(
        (status, who["IdentityType"].as_str()),
        (200, Some("AssumedRoleUser")),
        "{who}"
    );
    let impostor = TestIdp::new("https://idp.acme.example/saml");
    let cases = [
        ("the same assertion again", once),
        ("an assertion signed by another key", assertion(&impostor)),
        ("not base64", "%%%".to_string()),
    ];
    for (what, saml) in cases {
        assert_eq!(
            refusal(assume(saml).await),
            (401, "InvalidAuthentication".into()),
            "{what}"
        );
    }
    let update = [("SAMLProviderName", "acme-idp"), ("NewDescription", "corporate IdP")];
    let (status, updated) = call(&app, &key, "UpdateSAMLProvider", IMS, &update).await;
    assert_eq!(
        (status, updated["SAMLProvider"]["Description"].as_str()),
        (200, Some("corporate IdP")),
        "{updated}"
    );
    assert_eq!(
        call(
            &app,
            &key,
            "DeleteSAMLProvider",
            IMS,
            &[("SAMLProviderName", "acme-idp")]
        )
        .await
        .0,
        200
    );
    assert_eq!(
        app.call("GET", "/v3/OS-FEDERATION/identity_providers/acme-idp", t, None)
            .await
            .0,
        404
    );
    app.stop().await;
}

/// Login profiles are the user's console sign-in (password and access mode); ChangePassword is
/// the caller's own, and the Huawei API signs in with what IMS set.
async fn login_profiles_and_passwords(db: Db) {
    let Some(app) = spawn_app(db).await else { return };
    let token = app.account_admin("acme").await;
    let admin = key_of(&app, &token).await;
    let upn = "erin@acme.onaliyun.com";
    let user = [("UserPrincipalName", upn), ("DisplayName", "Erin")];
    assert_eq!(call(&app, &admin, "CreateUser", IMS, &user).await.0, 200);
    let (status, none) = call(&app, &admin, "GetLoginProfile", IMS, &[("UserPrincipalName", upn)]).await;
    assert_eq!(
        (status, none["Code"].as_str()),
        (404, Some("EntityNotExist.User.LoginProfile")),
        "{none}"
    );
    let create = [
        ("UserPrincipalName", upn),
        ("Password", "Erin-passw0rd-1"),
        ("PasswordResetRequired", "false"),
    ];
    let (status, made) = call(&app, &admin, "CreateLoginProfile", IMS, &create).await;
    assert_eq!(
        (status, made["LoginProfile"]["Status"].as_str()),
        (200, Some("Active")),
        "{made}"
    );
    let (status, again) = call(&app, &admin, "CreateLoginProfile", IMS, &create).await;
    assert_eq!(
        (status, again["Code"].as_str()),
        (409, Some("EntityAlreadyExists")),
        "{again}"
    );
    // Unscoped: Erin holds no role yet.
    assert_eq!(app.password_token("erin", "acme", "Erin-passw0rd-1", None).await.0, 201);
    // Erin changes her own password with her own key.
    let (_, key) = call(&app, &admin, "CreateAccessKey", IMS, &[("UserPrincipalName", upn)]).await;
    let erin = Key {
        access: key["AccessKey"]["AccessKeyId"].as_str().unwrap().into(),
        secret: key["AccessKey"]["AccessKeySecret"].as_str().unwrap().into(),
        security_token: None,
    };
    let wrong = [
        ("OldPassword", "not-her-password-1"),
        ("NewPassword", "Erin-passw0rd-2"),
    ];
    assert_eq!(call(&app, &erin, "ChangePassword", IMS, &wrong).await.0, 400);
    let change = [("OldPassword", "Erin-passw0rd-1"), ("NewPassword", "Erin-passw0rd-2")];
    let (status, body) = call(&app, &erin, "ChangePassword", IMS, &change).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(app.password_token("erin", "acme", "Erin-passw0rd-1", None).await.0, 401);
    assert_eq!(app.password_token("erin", "acme", "Erin-passw0rd-2", None).await.0, 201);
    // A deleted login profile is programmatic access in the Huawei API.
    assert_eq!(
        call(&app, &admin, "DeleteLoginProfile", IMS, &[("UserPrincipalName", upn)])
            .await
            .0,
        200
    );
    let (_, users) = app.call("GET", "/v3/users?name=erin", &token, None).await;
    let id = users["users"][0]["id"].as_str().unwrap();
    let (_, shown) = app
        .call("GET", &format!("/v3.0/OS-USER/users/{id}"), &token, None)
        .await;
    assert_eq!(shown["user"]["access_mode"], "programmatic", "{shown}");
    let (status, gone) = call(&app, &admin, "GetLoginProfile", IMS, &[("UserPrincipalName", upn)]).await;
    assert_eq!(
        (status, gone["Code"].as_str()),
        (404, Some("EntityNotExist.User.LoginProfile")),
        "{gone}"
    );
    // Erin cannot give herself the console back.
    let (status, body) = call(&app, &erin, "CreateLoginProfile", IMS, &create).await;
    assert_eq!((status, body["Code"].as_str()), (403, Some("NoPermission")), "{body}");
    app.stop().await;
}

/// User-based SSO: the account's iam_user_sso provider, set through IMS; a user bound to the
/// NameID signs in with an assertion for its auxiliary domain, and no other name does.
async fn user_sso_settings(db: Db) {
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;
    let Some(app) = spawn_app(db).await else { return };
    let token = app.account_admin("acme").await;
    let t = token.as_str();
    let key = key_of(&app, &token).await;
    let (status, none) = call(&app, &key, "GetUserSsoSettings", IMS, &[]).await;
    assert_eq!(
        (status, &none["UserSsoSettings"]["SsoEnabled"]),
        (200, &json!(false)),
        "{none}"
    );
    let idp = TestIdp::new("https://idp.corp.example/saml");
    let metadata = STANDARD.encode(idp.metadata(&["post"]));
    let refused = [("MetadataDocument", metadata.as_str()), ("SsoLoginWithDomain", "false")];
    assert_eq!(
        refusal(call(&app, &key, "SetUserSsoSettings", IMS, &refused).await),
        (400, "InvalidParameter".into())
    );
    let set = [
        ("MetadataDocument", metadata.as_str()),
        ("AuxiliaryDomain", "Corp.Example"),
        ("SsoEnabled", "true"),
    ];
    let (status, settings) = call(&app, &key, "SetUserSsoSettings", IMS, &set).await;
    assert_eq!(status, 200, "{settings}");
    let (_, got) = call(&app, &key, "GetUserSsoSettings", IMS, &[]).await;
    assert_eq!(
        got["UserSsoSettings"], settings["UserSsoSettings"],
        "what Set answered is what Get reads"
    );
    assert_eq!(
        (
            &got["UserSsoSettings"]["AuxiliaryDomain"],
            &got["UserSsoSettings"]["SsoEnabled"]
        ),
        (&json!("corp.example"), &json!(true)),
        "{got}"
    );
    // The identity API sees the account's iam_user_sso provider.
    let (_, idps) = app.call("GET", "/v3/OS-FEDERATION/identity_providers", t, None).await;
    let provider = idps["identity_providers"][0]["id"].as_str().unwrap().to_string();
    let (_, shown) = app
        .call(
            "GET",
            &format!("/v3/OS-FEDERATION/identity_providers/{provider}"),
            t,
            None,
        )
        .await;
    assert_eq!(shown["identity_provider"]["sso_type"], "iam_user_sso", "{shown}");
    // A user bound to its NameID signs in; a name outside the domain does not.
    let upn = "dev@acme.onaliyun.com";
    let (_, created) = call(
        &app,
        &key,
        "CreateUser",
        IMS,
        &[("UserPrincipalName", upn), ("DisplayName", "Dev")],
    )
    .await;
    let user_id = created["User"]["UserId"].as_str().unwrap();
    let bind = json!({"user": {"xuser_type": "TenantIdp", "xuser_id": "dev@corp.example"}});
    let (status, body) = app
        .call("PUT", &format!("/v3.0/OS-USER/users/{user_id}"), t, Some(bind))
        .await;
    assert_eq!(status, 200, "{body}");
    let now = fedgate::service::now_ms() / 1000;
    let sign_in = |name_id: &str| {
        let mut spec = idp.spec(&app.base, now);
        spec.name_id = name_id.into();
        let response = STANDARD.encode(idp.response(&spec));
        let app = &app;
        let provider = provider.clone();
        async move {
            let r = app
                .client
                .post(app.url("/v3.0/OS-FEDERATION/tokens"))
                .header("X-Idp-Id", provider)
                .form(&[("SAMLResponse", response)])
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            (status, r.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let (status, signed_in) = sign_in("dev@corp.example").await;
    assert_eq!(status, 201, "{signed_in}");
    assert_eq!(signed_in["token"]["user"]["id"], user_id, "{signed_in}");
    assert_eq!(
        sign_in("dev@elsewhere.example").await.0,
        401,
        "a NameID outside the auxiliary domain"
    );
    // Disabled through IMS, the provider signs no one in.
    assert_eq!(
        call(&app, &key, "SetUserSsoSettings", IMS, &[("SsoEnabled", "false")])
            .await
            .0,
        200
    );
    assert_eq!(sign_in("dev@corp.example").await.0, 401, "a disabled provider");
    app.stop().await;
}

on_both_backends!(
    user_sso_settings,
    login_profiles_and_passwords,
    saml_providers_and_assume_role_with_saml,
    oidc_providers_and_assume_role_with_oidc,
    hostile_calls_are_refused,
    callers_and_actions,
    one_store_two_dialects,
    assumed_roles_sign_and_end_with_their_key
);
