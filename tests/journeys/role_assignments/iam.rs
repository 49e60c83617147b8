//! The reference's `GET /v3.0/OS-PERMISSION/role-assignments` (L8658) on the scenario of
//! tests/role_assignments/scenario.json: its filters, refusals and who may list.

use serde_json::{Value, json};

use super::{Built, SCENARIO, build, ok, s};
use crate::support::{Db, TestApp, spawn_app};

/// An agency of north, trusted by south, holding `member` on n-alpha: the IAM listing shows
/// agencies beside groups. Returns its id, named `<agency:ops-agency>` in `built.ids`.
pub(super) async fn add_agency(app: &TestApp, built: &mut Built) -> String {
    let body = json!({"agency": {"name": "ops-agency", "domain_id": built.raw("domain", "north"),
        "trust_domain_name": "south"}});
    let v = ok(app, "POST", "/v3.0/OS-AGENCY/agencies", Some(body)).await;
    let agency = s(&v["agency"], "id").to_string();
    let path = format!(
        "/v3.0/OS-AGENCY/projects/{}/agencies/{agency}/roles/{}",
        built.raw("project", "n-alpha"),
        built.raw("role", "member")
    );
    ok(app, "PUT", &path, None).await;
    built.ids.insert(agency.clone(), "<agency:ops-agency>".into());
    agency
}

/// An IAM record as `actor role scope inherited`: `group:builders reader domain:north true`.
fn iam_record(built: &Built, r: &Value) -> String {
    let name = |id: &Value| {
        let id = id.as_str().unwrap_or_else(|| panic!("no id in {r}"));
        built
            .ids
            .get(id)
            .map(|t| t.trim_matches(|c| c == '<' || c == '>').to_string())
            .unwrap_or_else(|| format!("?{id}"))
    };
    let actor = ["group", "agency", "user"]
        .iter()
        .find_map(|k| r.get(*k).map(|a| name(&a["id"])))
        .unwrap_or_else(|| panic!("no actor in {r}"));
    let scope = ["project", "domain"]
        .iter()
        .find_map(|k| r["scope"].get(*k).map(|t| name(&t["id"])))
        .unwrap_or_else(|| panic!("no scope in {r}"));
    let role = name(&r["role"]["id"]);
    let role = role.trim_start_matches("role:");
    format!("{actor} {role} {scope} {}", r["is_inherited"])
}

async fn iam_list(app: &TestApp, token: &str, query: &str) -> (u16, Value) {
    app.call(
        "GET",
        &format!("/v3.0/OS-PERMISSION/role-assignments?{query}"),
        token,
        None,
    )
    .await
}

/// The reference's filters (L8658) on the scenario's grants in north (and south), each case's
/// records listed exactly. A user's records are its groups' (`include_group`, the default);
/// `include_group=false` asks for grants to the user itself, which fedgate never has.
async fn iam_listing_filters_as_the_reference_says(db: Db) {
    let Some(app) = spawn_app(db).await else { return };
    let scenario: Value = serde_json::from_str(SCENARIO).unwrap();
    let mut built = build(&app, &scenario).await;
    add_agency(&app, &mut built).await;
    let all_north = vec![
        "agency:ops-agency member project:n-alpha false",
        "group:auditors reader domain:north true",
        "group:beta-admins admin project:n-beta false",
        "group:builders member project:n-alpha false",
        "group:builders reader domain:north true",
        "group:idle member project:n-beta false",
        "group:north-admins admin domain:north false",
        "group:north-admins admin domain:north true",
        "group:north-admins admin project:north-main false",
        "group:operators member project:n-alpha false",
        "group:operators reader domain:north false",
    ];
    let alices = vec![
        "group:builders member project:n-alpha false",
        "group:builders reader domain:north true",
        "group:operators member project:n-alpha false",
        "group:operators reader domain:north false",
    ];
    let groups_north: Vec<&str> = all_north.iter().copied().filter(|r| r.starts_with("group:")).collect();
    let cases: Vec<(&str, String, Vec<&str>)> = vec![
        ("no filter", String::new(), all_north.clone()),
        (
            "a user: its groups' records",
            "subject.user_id={user:alice}".into(),
            alices.clone(),
        ),
        (
            "a user with include_group=true",
            "subject.user_id={user:alice}&include_group=true".into(),
            alices.clone(),
        ),
        (
            // It used to drop the user filter and list every record of the account.
            "a user with include_group=false: nothing is granted to a user itself",
            "subject.user_id={user:alice}&include_group=false".into(),
            vec![],
        ),
        ("a user in no group", "subject.user_id={user:carol}".into(), vec![]),
        (
            "a user with a role filter",
            "subject.user_id={user:alice}&role_id={role:member}".into(),
            vec![
                "group:builders member project:n-alpha false",
                "group:operators member project:n-alpha false",
            ],
        ),
        (
            "a group",
            "subject.group_id={group:builders}".into(),
            vec![
                "group:builders member project:n-alpha false",
                "group:builders reader domain:north true",
            ],
        ),
        (
            "an empty group's grants",
            "subject.group_id={group:idle}".into(),
            vec!["group:idle member project:n-beta false"],
        ),
        (
            "an agency",
            "subject.agency_id={agency:ops-agency}".into(),
            vec!["agency:ops-agency member project:n-alpha false"],
        ),
        ("subject=group", "subject=group".into(), groups_north.clone()),
        (
            "subject=user: the users' groups' records",
            "subject=user".into(),
            groups_north.clone(),
        ),
        (
            "subject=user with include_group=false",
            "subject=user&include_group=false".into(),
            vec![],
        ),
        (
            "subject=agency",
            "subject=agency".into(),
            vec!["agency:ops-agency member project:n-alpha false"],
        ),
        (
            "scope=domain: global service records (is_inherited defaults to false)",
            "scope=domain".into(),
            vec![
                "group:north-admins admin domain:north false",
                "group:operators reader domain:north false",
            ],
        ),
        (
            "scope=domain with is_inherited=true: the all-projects records",
            "scope=domain&is_inherited=true".into(),
            vec![
                "group:auditors reader domain:north true",
                "group:builders reader domain:north true",
                "group:north-admins admin domain:north true",
            ],
        ),
        (
            "scope.domain_id with is_inherited=true",
            "scope.domain_id={domain:north}&is_inherited=true".into(),
            vec![
                "group:auditors reader domain:north true",
                "group:builders reader domain:north true",
                "group:north-admins admin domain:north true",
            ],
        ),
        (
            "another account's domain as scope",
            "scope.domain_id={domain:south}".into(),
            vec![],
        ),
        (
            "is_inherited without a domain scope means nothing",
            "is_inherited=true".into(),
            all_north.clone(),
        ),
        (
            "scope=project",
            "scope=project".into(),
            vec![
                "agency:ops-agency member project:n-alpha false",
                "group:beta-admins admin project:n-beta false",
                "group:builders member project:n-alpha false",
                "group:idle member project:n-beta false",
                "group:north-admins admin project:north-main false",
                "group:operators member project:n-alpha false",
            ],
        ),
        (
            "scope.project_id",
            "scope.project_id={project:n-beta}".into(),
            vec![
                "group:beta-admins admin project:n-beta false",
                "group:idle member project:n-beta false",
            ],
        ),
        (
            "another account's project",
            "scope.project_id={project:s-gamma}".into(),
            vec![],
        ),
        (
            "a role",
            "role_id={role:reader}".into(),
            vec![
                "group:auditors reader domain:north true",
                "group:builders reader domain:north true",
                "group:operators reader domain:north false",
            ],
        ),
        ("no enterprise projects here", "scope=enterprise_project".into(), vec![]),
    ];
    let north = built.raw("domain", "north").to_string();
    let mut failures = Vec::new();
    for (name, filters, want) in cases {
        let query = match filters.as_str() {
            "" => format!("domain_id={north}"),
            f => format!("domain_id={north}&{}", built.resolve(f)),
        };
        let (status, body) = iam_list(&app, &app.admin_token, &query).await;
        let mut got: Vec<String> = body["role_assignments"]
            .as_array()
            .map(|a| a.iter().map(|r| iam_record(&built, r)).collect())
            .unwrap_or_default();
        got.sort();
        if status != 200 || got != want || body["total_num"] != want.len() {
            failures.push(format!(
                "{name}: {status}, got {got:#?} (total_num {}), want {want:#?}",
                body["total_num"]
            ));
        }
    }
    // The other account: the cross-account grants of north's group operators are south's.
    let (status, body) = iam_list(
        &app,
        &app.admin_token,
        &format!("domain_id={}", built.raw("domain", "south")),
    )
    .await;
    let mut got: Vec<String> = body["role_assignments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| iam_record(&built, r))
        .collect();
    got.sort();
    let want = vec![
        "group:auditors reader domain:south false",
        "group:idle reader domain:south false",
        "group:operators member domain:south true",
        "group:operators reader project:s-gamma false",
        "group:south-admins admin domain:south false",
        "group:south-admins admin domain:south true",
        "group:south-admins admin project:south-main false",
    ];
    if status != 200 || got != want {
        failures.push(format!("domain south: {status}, got {got:#?}"));
    }
    assert!(failures.is_empty(), "IAM listing:\n{}", failures.join("\n"));
    app.stop().await;
}

pub(super) fn error_text(v: &Value) -> String {
    v["error_msg"]
        .as_str()
        .or(v["error"]["message"].as_str())
        .unwrap_or_default()
        .to_string()
}

/// Refused filters name the field; only an account's admins (and cloud admins) list it.
async fn iam_listing_refuses_exclusive_filters_and_outsiders(db: Db) {
    let Some(app) = spawn_app(db).await else { return };
    let scenario: Value = serde_json::from_str(SCENARIO).unwrap();
    let built = build(&app, &scenario).await;
    let north = built.raw("domain", "north");
    let reason = |field: &str, why: &str| format!("Invalid input for field '{field}': {why}.");
    let exclusive = |k: &str| reason(k, &format!("{k} and its ids are exclusive"));
    // Each is 400 with IAM.0073 and names the field.
    let cases: Vec<(&str, &str, String)> = vec![
        (
            "subject with a user id",
            "subject=user&subject.user_id={user:alice}",
            exclusive("subject"),
        ),
        (
            "two subject ids",
            "subject.user_id={user:alice}&subject.group_id={group:builders}",
            exclusive("subject"),
        ),
        (
            "subject with an agency id",
            "subject=agency&subject.agency_id=x",
            exclusive("subject"),
        ),
        (
            "scope with a project id",
            "scope=project&scope.project_id={project:n-alpha}",
            exclusive("scope"),
        ),
        (
            "two scope ids",
            "scope.project_id={project:n-alpha}&scope.domain_id={domain:north}",
            exclusive("scope"),
        ),
        (
            "scope with an enterprise project id",
            "scope=domain&scope.enterprise_projects_id=x",
            exclusive("scope"),
        ),
        (
            "unknown subject kind",
            "subject=robot",
            reason("subject", "must be user, group or agency"),
        ),
        (
            "unknown scope kind",
            "scope=system",
            reason("scope", "must be project, domain or enterprise_project"),
        ),
        (
            "is_inherited not a boolean",
            "is_inherited=yes",
            reason("is_inherited", "must be true or false"),
        ),
        (
            "include_group not a boolean",
            "include_group=1",
            reason("include_group", "must be true or false"),
        ),
        (
            "page without per_page",
            "page=1",
            reason("per_page", "must be given with page"),
        ),
        (
            "per_page above 50",
            "page=1&per_page=51",
            reason("per_page", "must be an integer from 1 to 50"),
        ),
    ];
    for (name, filters, message) in cases {
        let query = format!("domain_id={north}&{}", built.resolve(filters));
        let (got, body) = iam_list(&app, &app.admin_token, &query).await;
        assert_eq!(
            (got, body["error_code"].as_str(), error_text(&body)),
            (400, Some("IAM.0073"), message),
            "{name}: {body}"
        );
    }
    let (got, body) = iam_list(&app, &app.admin_token, "role_id=x").await;
    assert_eq!(
        (got, error_text(&body)),
        (400, "'domain_id' is a required property.".to_string()),
        "{body}"
    );

    // Who may list an account's records: its domain admins and cloud admins.
    let south = built.raw("domain", "south");
    for (caller, domain, want) in [
        ("north-owner", north, 200),
        ("north-owner", south, 403),
        ("pam", north, 403),
        ("ben", north, 403),
        ("admin", south, 200),
    ] {
        let (got, body) = iam_list(&app, &built.callers[caller], &format!("domain_id={domain}")).await;
        assert_eq!(got, want, "{caller} lists {domain}: {body}");
        if want == 403 {
            assert_eq!(body["error_code"], "IAM.0002", "{body}");
        }
    }
    app.stop().await;
}

on_both_backends!(
    iam_listing_filters_as_the_reference_says,
    iam_listing_refuses_exclusive_filters_and_outsiders,
);
