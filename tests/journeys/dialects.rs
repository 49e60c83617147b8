//! One scenario through each of the three dialects (the Huawei API, Alibaba's, Baidu's), each
//! in an account of its own on one store: a user with a description, a group with the user in
//! it, an access key made and disabled, user-based SAML sign-in configured from metadata and
//! enabled, a second user made and deleted. The records each leaves, read from the store and
//! named rather than numbered, are the same: every dialect is a translation onto one core.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use crate::alibaba::{self, IMS, Key, key_of};
use crate::baidu;
use crate::saml_idp::TestIdp;
use crate::support::{Db, TestApp, spawn_app};

#[derive(Debug, Clone, Copy)]
enum Dialect {
    Huawei,
    Alibaba,
    Baidu,
}

/// What an account holds after the scenario, by name.
#[derive(Debug, PartialEq)]
struct Stored {
    /// (name, description, enabled)
    users: Vec<(String, String, bool)>,
    /// (group, its members)
    groups: Vec<(String, Vec<String>)>,
    /// (owner, active) of each access key
    keys: Vec<(String, bool)>,
    /// (sso type, enabled, protocols, has metadata) of each identity provider
    providers: Vec<(String, bool, Vec<String>, bool)>,
}

async fn stored(app: &TestApp, account: &str) -> Stored {
    let store = app.store.as_ref();
    let filter = fedgate::model::UserFilter {
        domain_id: Some(account.into()),
        ..Default::default()
    };
    let mut users = Vec::new();
    let mut keys = Vec::new();
    for u in store.list_users(&filter).await.unwrap() {
        if u.is_domain_owner {
            continue;
        }
        for k in store.list_access_keys(&u.id).await.unwrap() {
            keys.push((u.name.clone(), k.enabled));
        }
        users.push((u.name, u.description, u.enabled));
    }
    let groups_filter = fedgate::model::GroupFilter {
        domain_id: Some(account.into()),
        ..Default::default()
    };
    let mut groups = Vec::new();
    for g in store.list_groups(&groups_filter).await.unwrap() {
        // The account's own admin group, which bootstrap made, is not the scenario's.
        if g.name.ends_with("-admins") {
            continue;
        }
        let members = store
            .list_members(&g.id)
            .await
            .unwrap()
            .into_iter()
            .map(|u| u.name)
            .collect();
        groups.push((g.name, members));
    }
    let mut providers = Vec::new();
    for idp in store
        .list_idps()
        .await
        .unwrap()
        .into_iter()
        .filter(|i| i.domain_id == account)
    {
        let protocols: Vec<String> = store
            .list_protocols(&idp.id)
            .await
            .unwrap()
            .into_iter()
            .map(|p| p.id.as_str().to_string())
            .collect();
        let metadata = store
            .get_saml_metadata(&idp.id, fedgate::model::Protocol::Saml)
            .await
            .unwrap()
            .is_some();
        providers.push((idp.sso_type.as_str().to_string(), idp.enabled, protocols, metadata));
    }
    Stored {
        users,
        groups,
        keys,
        providers,
    }
}

fn ok((status, body): (u16, Value), want: u16, step: &str) -> Value {
    assert_eq!(status, want, "{step}: {body}");
    body
}

/// The scenario through `dialect`, as the account's admin (`token`, `key`) of `account`.
async fn scenario(app: &TestApp, dialect: Dialect, token: &str, key: &Key, account: &str, name: &str) {
    let idp = TestIdp::new(&format!("https://idp.{name}.example/saml"));
    let metadata_xml = idp.metadata(&["post"]);
    let metadata = STANDARD.encode(&metadata_xml);
    match dialect {
        Dialect::Huawei => {
            let call = |method: &'static str, path: String, body: Option<Value>| async move {
                app.call(method, &path, token, body).await
            };
            let dana = ok(
                call(
                    "POST",
                    "/v3/users".into(),
                    Some(json!({"user": {"name": "dana", "description": "ops"}})),
                )
                .await,
                201,
                "user",
            );
            let dana = dana["user"]["id"].as_str().unwrap().to_string();
            let group = ok(
                call("POST", "/v3/groups".into(), Some(json!({"group": {"name": "ops"}}))).await,
                201,
                "group",
            );
            let group = group["group"]["id"].as_str().unwrap().to_string();
            ok(
                call("PUT", format!("/v3/groups/{group}/users/{dana}"), None).await,
                204,
                "member",
            );
            let key = ok(
                call(
                    "POST",
                    "/v3.0/OS-CREDENTIAL/credentials".into(),
                    Some(json!({"credential": {"user_id": dana}})),
                )
                .await,
                201,
                "key",
            );
            let access = key["credential"]["access"].as_str().unwrap();
            let inactive = json!({"credential": {"status": "inactive"}});
            ok(
                call(
                    "PUT",
                    format!("/v3.0/OS-CREDENTIAL/credentials/{access}"),
                    Some(inactive),
                )
                .await,
                200,
                "disable key",
            );
            let provider = format!("{name}-sso");
            let idp_body = json!({"identity_provider": {"sso_type": "iam_user_sso", "enabled": true}});
            ok(
                call(
                    "PUT",
                    format!("/v3/OS-FEDERATION/identity_providers/{provider}"),
                    Some(idp_body),
                )
                .await,
                201,
                "idp",
            );
            let rules =
                json!({"mapping": {"rules": [{"local": [{"user": {"name": "{0}"}}], "remote": [{"type": "NameID"}]}]}});
            ok(
                call("PUT", format!("/v3/OS-FEDERATION/mappings/{provider}-map"), Some(rules)).await,
                201,
                "mapping",
            );
            let protocol = json!({"protocol": {"mapping_id": format!("{provider}-map")}});
            let path = format!("/v3/OS-FEDERATION/identity_providers/{provider}/protocols/saml");
            ok(call("PUT", path, Some(protocol)).await, 201, "protocol");
            let import = json!({"domain_id": account, "xaccount_type": "", "metadata": metadata_xml});
            let path = format!("/v3-ext/OS-FEDERATION/identity_providers/{provider}/protocols/saml/metadata");
            ok(call("POST", path, Some(import)).await, 201, "metadata");
            let erin = ok(
                call("POST", "/v3/users".into(), Some(json!({"user": {"name": "erin"}}))).await,
                201,
                "erin",
            );
            let erin = erin["user"]["id"].as_str().unwrap();
            ok(
                call("DELETE", format!("/v3/users/{erin}"), None).await,
                204,
                "delete erin",
            );
        }
        Dialect::Alibaba => {
            let call = |action: &'static str, params: Vec<(&'static str, String)>| async move {
                let params: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
                alibaba::call(app, key, action, IMS, &params).await
            };
            let upn = |user: &str| format!("{user}@{name}.onaliyun.com");
            let user = |n: &str| vec![("UserPrincipalName", upn(n)), ("DisplayName", n.to_string())];
            let mut dana = user("dana");
            dana.push(("Comments", "ops".into()));
            ok(call("CreateUser", dana).await, 200, "user");
            ok(
                call("CreateGroup", vec![("GroupName", "ops".into())]).await,
                200,
                "group",
            );
            let member = vec![("GroupName", "ops".into()), ("UserPrincipalName", upn("dana"))];
            ok(call("AddUserToGroup", member).await, 200, "member");
            let made = ok(
                call("CreateAccessKey", vec![("UserPrincipalName", upn("dana"))]).await,
                200,
                "key",
            );
            let access = made["AccessKey"]["AccessKeyId"].as_str().unwrap().to_string();
            let disable = vec![
                ("UserPrincipalName", upn("dana")),
                ("UserAccessKeyId", access),
                ("Status", "Inactive".into()),
            ];
            ok(call("UpdateAccessKey", disable).await, 200, "disable key");
            let sso = vec![
                ("MetadataDocument", metadata.clone()),
                ("AuxiliaryDomain", format!("{name}.example")),
                ("SsoEnabled", "true".into()),
            ];
            ok(call("SetUserSsoSettings", sso).await, 200, "user sso");
            ok(call("CreateUser", user("erin")).await, 200, "erin");
            ok(
                call("DeleteUser", vec![("UserPrincipalName", upn("erin"))]).await,
                200,
                "delete erin",
            );
        }
        Dialect::Baidu => {
            let call = |method: &'static str, path: String, body: Option<Value>| async move {
                baidu::call(app, key, method, &path, body).await
            };
            ok(
                call(
                    "POST",
                    "/v1/user".into(),
                    Some(json!({"name": "dana", "description": "ops"})),
                )
                .await,
                201,
                "user",
            );
            ok(
                call("POST", "/v1/group".into(), Some(json!({"name": "ops"}))).await,
                201,
                "group",
            );
            ok(call("PUT", "/v1/group/ops/user/dana".into(), None).await, 200, "member");
            let made = ok(call("POST", "/v1/user/dana/accesskey".into(), None).await, 201, "key");
            let access = made["id"].as_str().unwrap();
            let path = format!("/v1/user/dana/accesskey/{access}");
            ok(
                baidu::call_with_query(app, key, "PUT", &path, "disable").await,
                200,
                "disable key",
            );
            let sso = json!({"encodeMetadata": metadata, "auxiliaryDomain": format!("{name}.example")});
            ok(
                call("POST", "/v1/subUser/idp/update".into(), Some(sso)).await,
                200,
                "user sso",
            );
            ok(
                baidu::call_with_query(app, key, "POST", "/v1/subUser/idp/updateStatus", "status=enable").await,
                200,
                "enable sso",
            );
            ok(
                call("POST", "/v1/user".into(), Some(json!({"name": "erin"}))).await,
                201,
                "erin",
            );
            ok(call("DELETE", "/v1/user/erin".into(), None).await, 204, "delete erin");
        }
    }
}

async fn one_scenario_three_dialects_one_state(db: Db) {
    let Some(app) = spawn_app(db).await else { return };
    let mut states = Vec::new();
    for (dialect, name) in [
        (Dialect::Huawei, "hw-corp"),
        (Dialect::Alibaba, "ali-corp"),
        (Dialect::Baidu, "bd-corp"),
    ] {
        let token = app.account_admin(name).await;
        let key = key_of(&app, &token).await;
        let (_, me) = app.validate(&token, &token).await;
        let account = me["token"]["domain"]["id"].as_str().unwrap().to_string();
        scenario(&app, dialect, &token, &key, &account, name).await;
        states.push((dialect, stored(&app, &account).await));
    }
    let expected = Stored {
        users: vec![("dana".into(), "ops".into(), true)],
        groups: vec![("ops".into(), vec!["dana".into()])],
        keys: vec![("dana".into(), false)],
        providers: vec![("iam_user_sso".into(), true, vec!["saml".into()], true)],
    };
    for (dialect, state) in states {
        assert_eq!(state, expected, "{dialect:?}");
    }
    app.stop().await;
}

on_both_backends!(one_scenario_three_dialects_one_state);
