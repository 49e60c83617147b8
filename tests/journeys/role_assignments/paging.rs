//! Paged lists (API.md §0): `page` and `per_page` together within each endpoint's range, and
//! `links.previous` / `links.next`, on /v3/projects, /v3/roles, agencies and the reference's
//! role-assignment records.

use serde_json::{Value, json};

use super::iam::{add_agency, error_text};
use super::{SCENARIO, build, ok};
use crate::support::{Db, TestApp, spawn_app};

/// Follows `links.next` from page 1 at `per_page` and returns every item's id, checking each
/// page's links on the way.
async fn walk_pages(app: &TestApp, path: &str, key: &str, per_page: usize) -> Vec<String> {
    let sep = if path.contains('?') { '&' } else { '?' };
    let mut url = app.url(&format!("{path}{sep}page=1&per_page={per_page}"));
    let mut ids = Vec::new();
    let mut page = 1;
    loop {
        let r = app
            .client
            .get(&url)
            .header("x-auth-token", &app.admin_token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{url}");
        let body: Value = r.json().await.unwrap();
        let items = body[key].as_array().unwrap_or_else(|| panic!("{key} in {body}"));
        assert!(items.len() <= per_page, "{url}: {} items", items.len());
        assert_eq!(body["links"]["self"], url.as_str(), "{url}");
        let previous = match page {
            1 => Value::Null,
            n => json!(url.replace(&format!("page={n}&"), &format!("page={}&", n - 1))),
        };
        assert_eq!(body["links"]["previous"], previous, "{url}");
        ids.extend(items.iter().map(|i| i["id"].as_str().unwrap().to_string()));
        match body["links"]["next"].as_str() {
            None => {
                assert!(!items.is_empty(), "{url}: the last page holds the rest");
                return ids;
            }
            Some(next) => {
                assert_eq!(
                    next,
                    url.replace(&format!("page={page}&"), &format!("page={}&", page + 1))
                );
                assert_eq!(items.len(), per_page, "{url}: a page before the last is full");
                url = next.to_string();
                page += 1;
            }
        }
    }
}

/// Every paged list: pages of one and of two cover the unpaged list in the same order; the
/// page after the last is empty; page and per_page come together, within the endpoint's range.
async fn paged_lists_follow_api_conventions(db: Db) {
    let Some(app) = spawn_app(db).await else { return };
    let scenario: Value = serde_json::from_str(SCENARIO).unwrap();
    let mut built = build(&app, &scenario).await;
    add_agency(&app, &mut built).await;
    let body = json!({"agency": {"name": "audit-agency", "domain_id": built.raw("domain", "north"),
        "trust_domain_name": "south"}});
    ok(&app, "POST", "/v3.0/OS-AGENCY/agencies", Some(body)).await;
    let north = built.raw("domain", "north").to_string();
    // (path, list key, largest per_page, IAM error body)
    let lists: Vec<(String, &str, usize, bool)> = vec![
        ("/v3/projects".into(), "projects", 5000, false),
        (format!("/v3/projects?domain_id={north}"), "projects", 5000, false),
        ("/v3/roles".into(), "roles", 300, false),
        (
            format!("/v3.0/OS-AGENCY/agencies?domain_id={north}"),
            "agencies",
            500,
            true,
        ),
        (
            format!("/v3.0/OS-PERMISSION/role-assignments?domain_id={north}"),
            "role_assignments",
            50,
            true,
        ),
    ];
    for (path, key, max, _) in &lists {
        let (status, all) = app.call("GET", path, &app.admin_token, None).await;
        assert_eq!(status, 200, "{path}: {all}");
        let items = all[key].as_array().unwrap();
        assert!(items.len() >= 2, "{path} lists at least two items to page through");
        assert_eq!(all["links"]["next"], Value::Null, "{path}");
        assert_eq!(all["links"]["previous"], Value::Null, "{path}");
        // Role-assignment records have no id: page through their JSON text instead.
        let unpaged: Vec<String> = items
            .iter()
            .map(|i| i["id"].as_str().map(str::to_string).unwrap_or_else(|| i.to_string()))
            .collect();
        if *key != "role_assignments" {
            for per_page in [1, 2, *max] {
                assert_eq!(
                    walk_pages(&app, path, key, per_page).await,
                    unpaged,
                    "{path} at {per_page}"
                );
            }
        } else {
            let mut paged = Vec::new();
            for page in 1..=unpaged.len() {
                let (_, b) = app
                    .call("GET", &format!("{path}&page={page}&per_page=1"), &app.admin_token, None)
                    .await;
                assert_eq!(b["total_num"], unpaged.len(), "total_num counts every record");
                assert_eq!(
                    b["links"]["next"].is_null(),
                    page == unpaged.len(),
                    "{path} page {page}"
                );
                assert_eq!(b["links"]["previous"].is_null(), page == 1, "{path} page {page}");
                paged.extend(b[key].as_array().unwrap().iter().map(Value::to_string));
            }
            assert_eq!(paged, unpaged, "{path}: pages of one cover the list in order");
        }
        let sep = if path.contains('?') { '&' } else { '?' };
        let beyond = format!("{path}{sep}page={}&per_page=1", unpaged.len() + 1);
        let (status, b) = app.call("GET", &beyond, &app.admin_token, None).await;
        assert_eq!(status, 200, "{beyond}: {b}");
        assert_eq!(b[key], json!([]), "{beyond}");
        assert_eq!(b["links"]["next"], Value::Null, "{beyond}");
        assert!(
            b["links"]["previous"]
                .as_str()
                .is_some_and(|p| p.contains(&format!("page={}", unpaged.len()))),
            "{beyond}: {b}"
        );
    }
    for (path, _, max, iam) in &lists {
        let sep = if path.contains('?') { '&' } else { '?' };
        let range = format!("must be an integer from 1 to {max}");
        for (query, field, reason) in [
            ("page=1".to_string(), "per_page", "must be given with page"),
            ("per_page=1".to_string(), "page", "must be given with per_page"),
            (
                "page=0&per_page=1".to_string(),
                "page",
                "must be an integer from 1 to 4294967295",
            ),
            (
                "page=x&per_page=1".to_string(),
                "page",
                "must be an integer from 1 to 4294967295",
            ),
            (format!("page=1&per_page={}", max + 1), "per_page", range.as_str()),
            ("page=1&per_page=0".to_string(), "per_page", range.as_str()),
            ("page=1&per_page=-1".to_string(), "per_page", range.as_str()),
        ] {
            let (status, body) = app
                .call("GET", &format!("{path}{sep}{query}"), &app.admin_token, None)
                .await;
            assert_eq!(status, 400, "{path} {query}: {body}");
            assert_eq!(
                error_text(&body),
                format!("Invalid input for field '{field}': {reason}."),
                "{path} {query}"
            );
            assert_eq!(body.get("error_code").is_some(), *iam, "{path}: error body shape");
        }
    }
    app.stop().await;
}

on_both_backends!(paged_lists_follow_api_conventions);
