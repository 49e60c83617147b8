//! Role-assignment listings. `GET /v3/role_assignments` against Keystone's recorded answers:
//! `tests/role_assignments/keystone.json` holds what a real Keystone answered to each query of
//! `tests/role_assignments/scenario.json` (`tests/role_assignments/generate` records it); this
//! journey builds the same scenario in fedgate and compares every query, normalised as
//! `tests/role_assignments/normalise.py` does: ids become `<kind:name>`, base URLs are dropped
//! from links, entries about objects outside the scenario are left out, and the
//! `role_assignments` lists are compared as multisets (sorted on both sides), since Keystone
//! lists them in whatever order its SQL query returns. 403 bodies are compared by code and
//! title only: Keystone's message names its policy rule.
//!
//! `iam` tests the reference's `GET /v3.0/OS-PERMISSION/role-assignments` on the same
//! scenario, `paging` the paged lists (API.md §0).

use std::collections::{BTreeMap, HashMap};

use fedgate::service::bootstrap::{BootstrapRequest, bootstrap};
use serde_json::{Value, json};

use crate::support::{Db, TestApp, spawn_app};

mod iam;
mod paging;

const RECORDED: &str = include_str!("../../role_assignments/keystone.json");
const SCENARIO: &str = include_str!("../../role_assignments/scenario.json");

/// Queries where fedgate answers otherwise on purpose: (name, fedgate's status, fedgate's
/// message when it matters, why). Each must still differ from Keystone's recorded answer.
const DELIBERATE: &[(&str, u16, Option<&str>, &str)] = &[
    (
        "refused/user_and_group",
        400,
        Some("Specify a user or group, not both"),
        "Keystone's query schema refuses the pair before its own check can, with a message made \
         of Python reprs (ImmutableMultiDict(...) is valid under each of ...); fedgate gives the \
         message of Keystone's check",
    ),
    (
        "project_admin/all",
        403,
        None,
        "a project admin lists only its project's assignments, asking by scope.project.id; \
         Keystone's admin_required lets the admin of any project list every assignment",
    ),
    (
        "domain_reader/all",
        403,
        None,
        "listing assignments is administration here: a domain's reader may not, where Keystone's \
         domain-reader rule lets it list its domain's assignments",
    ),
    (
        "project_admin/other_project",
        403,
        None,
        "the same rule: another project than the one the admin's token is scoped to",
    ),
];

fn recorded() -> Value {
    serde_json::from_str(RECORDED).expect("keystone.json is JSON")
}

/// The scenario built in fedgate: its ids as `<kind:name>`, and the callers' tokens.
struct Built {
    ids: BTreeMap<String, String>,
    callers: HashMap<String, String>,
}

impl Built {
    fn raw(&self, kind: &str, name: &str) -> &str {
        let token = format!("<{kind}:{name}>");
        self.ids
            .iter()
            .find(|(_, t)| **t == token)
            .map(|(raw, _)| raw.as_str())
            .unwrap_or_else(|| panic!("no {token} in the scenario"))
    }

    /// `user.id={user:alice}` with fedgate's ids.
    fn resolve(&self, query: &str) -> String {
        let mut out = String::new();
        let mut rest = query;
        while let Some(start) = rest.find('{') {
            let end = rest[start..].find('}').expect("placeholder closes") + start;
            let (kind, name) = rest[start + 1..end].split_once(':').expect("kind:name");
            out.push_str(&rest[..start]);
            out.push_str(self.raw(kind, name));
            rest = &rest[end + 1..];
        }
        out.push_str(rest);
        out
    }
}

fn s<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key].as_str().unwrap_or_else(|| panic!("no {key} in {v}"))
}

async fn ok(app: &TestApp, method: &str, path: &str, body: Option<Value>) -> Value {
    let (status, answer) = app.call(method, path, &app.admin_token, body).await;
    assert!(matches!(status, 200 | 201 | 204), "{method} {path}: {status} {answer}");
    answer
}

async fn find_group(app: &TestApp, domain_id: &str, name: &str) -> String {
    let groups = ok(app, "GET", &format!("/v3/groups?domain_id={domain_id}"), None).await;
    let found: Vec<&Value> = groups["groups"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|g| g["name"] == name)
        .collect();
    assert_eq!(found.len(), 1, "group {name} in {groups}");
    s(found[0], "id").to_string()
}

async fn password_token(app: &TestApp, user: &str, domain: &str, password: &str, scope: Value) -> String {
    let (status, token, body) = app.password_token(user, domain, password, Some(scope)).await;
    assert_eq!(status, 201, "{user} logs in: {body}");
    token
}

/// Builds scenario.json: each domain as `fedgate bootstrap` makes one (fedgate has no API to
/// create domains), the rest over HTTP with the cloud admin's token.
async fn build(app: &TestApp, sc: &Value) -> Built {
    let mut tokens: Vec<(String, String)> = Vec::new();
    let roles = ok(app, "GET", "/v3/roles", None).await;
    let mut role_ids = HashMap::new();
    for r in roles["roles"].as_array().unwrap() {
        role_ids.insert(s(r, "name").to_string(), s(r, "id").to_string());
    }
    for name in ["admin", "member", "reader"] {
        tokens.push((role_ids[name].clone(), format!("<role:{name}>")));
    }
    let password = s(sc, "password");
    let mut domains = HashMap::new();
    for d in sc["domains"].as_array().unwrap() {
        let outcome = bootstrap(
            app.store.as_ref(),
            BootstrapRequest {
                domain_name: s(d, "name").into(),
                project_name: s(d, "project").into(),
                user_name: s(d, "owner").into(),
                password: password.into(),
            },
            fedgate::service::now_ms(),
        )
        .await
        .expect("bootstrap a domain");
        let group = find_group(app, &outcome.domain_id, s(d, "admins")).await;
        tokens.push((outcome.domain_id.clone(), format!("<domain:{}>", s(d, "name"))));
        tokens.push((outcome.project_id, format!("<project:{}>", s(d, "project"))));
        tokens.push((outcome.user_id, format!("<user:{}>", s(d, "owner"))));
        tokens.push((group, format!("<group:{}>", s(d, "admins"))));
        domains.insert(s(d, "name").to_string(), outcome.domain_id);
    }
    let mut made = HashMap::new();
    for (collection, kind) in [("projects", "project"), ("users", "user"), ("groups", "group")] {
        for x in sc[collection].as_array().unwrap() {
            let mut body = json!({kind: {"name": s(x, "name"), "domain_id": domains[s(x, "domain")]}});
            if kind == "user" {
                body[kind]["password"] = json!(password);
            }
            let v = ok(app, "POST", &format!("/v3/{collection}"), Some(body)).await;
            let id = s(&v[kind], "id").to_string();
            made.insert((kind, s(x, "name").to_string()), id.clone());
            tokens.push((id, format!("<{kind}:{}>", s(x, "name"))));
        }
    }
    for m in sc["memberships"].as_array().unwrap() {
        let (g, u) = (
            &made[&("group", s(m, "group").to_string())],
            &made[&("user", s(m, "user").to_string())],
        );
        ok(app, "PUT", &format!("/v3/groups/{g}/users/{u}"), None).await;
    }
    for g in sc["grants"].as_array().unwrap() {
        let group = &made[&("group", s(g, "group").to_string())];
        let role = &role_ids[s(g, "role")];
        let path = if let Some(p) = g["project"].as_str() {
            format!(
                "/v3/projects/{}/groups/{group}/roles/{role}",
                made[&("project", p.to_string())]
            )
        } else if g["inherited"] == true {
            format!(
                "/v3/OS-INHERIT/domains/{}/groups/{group}/roles/{role}/inherited_to_projects",
                domains[s(g, "domain")]
            )
        } else {
            format!("/v3/domains/{}/groups/{group}/roles/{role}", domains[s(g, "domain")])
        };
        ok(app, "PUT", &path, None).await;
    }
    let project = |p: &str, d: &str| json!({"project": {"name": p, "domain": {"name": d}}});
    let callers = HashMap::from([
        ("admin".to_string(), app.admin_token.clone()),
        (
            "north-owner".to_string(),
            password_token(
                app,
                "north-owner",
                "north",
                password,
                json!({"domain": {"name": "north"}}),
            )
            .await,
        ),
        (
            "pam".to_string(),
            password_token(app, "pam", "north", password, project("n-beta", "north")).await,
        ),
        (
            "ben".to_string(),
            password_token(app, "ben", "north", password, project("n-alpha", "north")).await,
        ),
        (
            "erin".to_string(),
            password_token(app, "erin", "south", password, json!({"domain": {"name": "south"}})).await,
        ),
    ]);
    Built {
        ids: tokens.into_iter().collect(),
        callers,
    }
}

fn has_foreign_id(v: &Value) -> bool {
    match v {
        Value::Object(map) => map.iter().any(|(k, item)| {
            (k == "id"
                && item
                    .as_str()
                    .is_some_and(|id| !(id.starts_with('<') && id.ends_with('>'))))
                || has_foreign_id(item)
        }),
        Value::Array(items) => items.iter().any(has_foreign_id),
        _ => false,
    }
}

/// The same normalisation as normalise.py `rest`, with each list sorted by its JSON text.
fn normalise(status: u16, text: &str, base: &str, ids: &BTreeMap<String, String>) -> Value {
    let mut text = text.to_string();
    let mut by_length: Vec<(&String, &String)> = ids.iter().collect();
    by_length.sort_by_key(|(raw, _)| std::cmp::Reverse(raw.len()));
    for (raw, token) in by_length {
        text = text.replace(raw.as_str(), token);
    }
    let text = text.replace(base, "");
    let mut body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    if status == 200 {
        sort_assignments(&mut body);
    } else if body.get("error").is_some() {
        body = json!({"error": {
            "code": body["error"]["code"], "title": body["error"]["title"], "message": body["error"]["message"],
        }});
    }
    json!({"status": status, "body": body})
}

fn sort_assignments(body: &mut Value) {
    if let Some(list) = body.get_mut("role_assignments").and_then(Value::as_array_mut) {
        list.retain(|a| !has_foreign_id(a));
        list.sort_by_key(|a| a.to_string());
    }
}

/// Keystone's recorded answer and fedgate's agree (403: code and title only).
fn same(keystone: &Value, fedgate: &Value) -> bool {
    let mut k = keystone.clone();
    sort_assignments(&mut k["body"]);
    if k["status"] == 403 && fedgate["status"] == 403 {
        let pick = |v: &Value| (v["body"]["error"]["code"].clone(), v["body"]["error"]["title"].clone());
        return pick(&k) == pick(fedgate);
    }
    k == *fedgate
}

async fn list_as(app: &TestApp, built: &Built, caller: &str, query: &str) -> Value {
    let path = match built.resolve(query) {
        q if q.is_empty() => "/v3/role_assignments".to_string(),
        q => format!("/v3/role_assignments?{q}"),
    };
    let token = &built.callers[caller];
    let r = app
        .client
        .get(app.url(&path))
        .header("x-auth-token", token)
        .send()
        .await
        .expect("request");
    let status = r.status().as_u16();
    let text = r.text().await.unwrap_or_default();
    normalise(status, &text, &app.base, &built.ids)
}

async fn role_assignments_give_keystones_answers(db: Db) {
    let Some(app) = spawn_app(db).await else { return };
    let recorded = recorded();
    let scenario: Value = serde_json::from_str(SCENARIO).unwrap();
    assert_eq!(
        recorded["scenario"], scenario,
        "scenario.json changed since keystone.json was recorded: run tests/role_assignments/generate"
    );
    let built = build(&app, &scenario).await;
    let mut failures = Vec::new();
    let mut compared = 0;
    for (q, k) in scenario["queries"]
        .as_array()
        .unwrap()
        .iter()
        .zip(recorded["queries"].as_array().unwrap())
    {
        let name = s(q, "name");
        assert_eq!(
            k["name"], name,
            "keystone.json lists the queries of scenario.json in order"
        );
        let k = &json!({"status": k["status"], "body": k["body"]});
        let caller = q["as"].as_str().unwrap_or("admin");
        let got = list_as(&app, &built, caller, s(q, "query")).await;
        match DELIBERATE.iter().find(|d| d.0 == name) {
            Some((_, status, message, why)) => {
                let mine = got["status"] == *status && message.is_none_or(|m| got["body"]["error"]["message"] == m);
                if !mine || same(k, &got) {
                    failures.push(format!(
                        "{name} (deliberate: {why}): want fedgate {status} {message:?}, differing \
                         from Keystone\n  keystone: {k}\n  fedgate:  {got}"
                    ));
                }
            }
            None if !same(k, &got) => failures.push(format!("{name} as {caller}\n  keystone: {k}\n  fedgate:  {got}")),
            None => compared += 1,
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} queries differ from Keystone:\n{}",
        failures.len(),
        failures.len() + compared,
        failures.join("\n")
    );
    app.stop().await;
}

on_both_backends!(role_assignments_give_keystones_answers);
