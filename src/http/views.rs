//! JSON shapes of the API's objects, as the reference and Keystone show them: one
//! `#[derive(Serialize)]` struct per shape, built from a record by the function named after it
//! (`user(base, &record)`), borrowing what it can.
//!
//! Bodies go out with their keys in alphabetical order (serde_json's maps are sorted), whether a
//! view is serialized directly or through a `Value`; so every struct declares its fields in the
//! byte order of their serialized names (`OS-...` before lower case), which
//! `tests::views_keep_their_bytes` checks.

use axum::Json;
use serde::Serialize;
use serde_json::{Map, Value, json};

use super::extract::Paging;
use crate::service::NameRef;

mod access;
pub mod alibaba;
pub mod baidu;
mod catalog;
mod federation;
mod identity;
mod token;

pub use access::*;
pub use catalog::*;
pub use federation::*;
pub use identity::*;
pub use token::*;

/// `2020-01-04T09:05:22.701000Z`: tokens and credentials.
pub fn token_time(ms: i64) -> String {
    format_ms(ms, true)
}

/// `2020-01-04T09:05:22.701000`: agencies and user password expiry.
pub fn local_time(ms: i64) -> String {
    format_ms(ms, false)
}

fn format_ms(ms: i64, zulu: bool) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}{}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.microsecond(),
        if zulu { "Z" } else { "" }
    )
}

/// `YYYY-MM-DD HH:mm:ss`: OS-USER fields.
pub fn plain_time(ms: i64) -> String {
    let s = format_ms(ms, false);
    format!("{} {}", &s[..10], &s[11..19])
}

// ---- links and lists ----

/// `{"self": ...}`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Link {
    #[serde(rename = "self")]
    pub href: String,
}

fn link(href: String) -> Link {
    Link { href }
}

/// `links` of a list: this request, and the neighbouring pages (`null` when there are none).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ListLinks {
    pub next: Option<String>,
    pub previous: Option<String>,
    #[serde(rename = "self")]
    pub href: String,
}

pub fn list_links(base: &str, path: &str) -> ListLinks {
    ListLinks {
        next: None,
        previous: None,
        href: format!("{base}{path}"),
    }
}

/// `links` of a paged list: this request, and the neighbouring pages when there are any.
pub fn paged_links(base: &str, uri: &axum::http::Uri, paging: Option<Paging>, more: bool) -> ListLinks {
    let href = match uri.query() {
        Some(q) => format!("{base}{}?{q}", uri.path()),
        None => format!("{base}{}", uri.path()),
    };
    let Some(p) = paging else {
        return ListLinks {
            next: None,
            previous: None,
            href,
        };
    };
    let at_page = |page: usize| {
        let pairs: Vec<(String, String)> =
            serde_urlencoded::from_str::<Vec<(String, String)>>(uri.query().unwrap_or(""))
                .unwrap_or_default()
                .into_iter()
                .map(|(k, v): (String, String)| if k == "page" { (k, page.to_string()) } else { (k, v) })
                .collect();
        let query = serde_urlencoded::to_string(pairs).unwrap_or_default();
        format!("{base}{}?{query}", uri.path())
    };
    ListLinks {
        next: more.then(|| at_page(p.page + 1)),
        previous: (p.page > 1).then(|| at_page(p.page - 1)),
        href,
    }
}

/// A list body: `{"<key>": [items], "links": {...}}`, Keystone's shape, which the reference's
/// lists follow; some add the count of the whole listing beside the page (`total`).
#[derive(Debug)]
pub struct List(Map<String, Value>);

pub fn list<T: Serialize>(key: &str, items: impl IntoIterator<Item = T>, links: ListLinks) -> List {
    let items: Vec<T> = items.into_iter().collect();
    let mut body = Map::new();
    body.insert(key.to_owned(), json!(items));
    body.insert("links".to_owned(), json!(links));
    List(body)
}

impl List {
    /// The count of the whole listing, under the name the API gives it (`total_number`,
    /// `total_num`).
    pub fn total(mut self, key: &str, count: usize) -> List {
        self.0.insert(key.to_owned(), count.into());
        self
    }
}

impl From<List> for Json<Value> {
    fn from(list: List) -> Self {
        Json(Value::Object(list.0))
    }
}

/// `{"id", "name"}`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct NameRefView<'a> {
    pub id: &'a str,
    pub name: &'a str,
}

fn name_ref(r: &NameRef) -> NameRefView<'_> {
    NameRefView {
        id: &r.id,
        name: &r.name,
    }
}

/// `{"id"}`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct IdRef<'a> {
    pub id: &'a str,
}

/// An empty object, `{}`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Empty {}

#[cfg(test)]
mod tests;
