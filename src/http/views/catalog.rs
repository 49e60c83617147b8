//! The catalog: a token's entries, and /v3/services, /v3/endpoints, /v3/regions.

use serde::Serialize;

use super::{Link, link};
use crate::service::catalog::{Catalog, CatalogEndpoint, CatalogService, Region};

fn endpoint_url(url: &str, project_id: Option<&str>) -> String {
    match project_id {
        Some(p) => url
            .replace("${tenant_id}", p)
            .replace("$(project_id)s", p)
            .replace("$(tenant_id)s", p),
        None => url.to_string(),
    }
}

/// A service of a token's catalog (and of /v3/auth/catalog), URLs for the scoped project.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CatalogEntry<'a> {
    pub endpoints: Vec<CatalogEntryEndpoint<'a>>,
    pub id: &'a str,
    pub name: &'a str,
    #[serde(rename = "type")]
    pub service_type: &'a str,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CatalogEntryEndpoint<'a> {
    pub id: &'a str,
    pub interface: &'a str,
    pub region: &'a str,
    pub region_id: &'a str,
    pub url: String,
}

pub fn catalog_entries<'a>(catalog: &'a Catalog, project_id: Option<&str>) -> Vec<CatalogEntry<'a>> {
    catalog
        .services
        .iter()
        .map(|s| CatalogEntry {
            endpoints: s
                .endpoints
                .iter()
                .map(|e| CatalogEntryEndpoint {
                    id: &e.id,
                    interface: &e.interface,
                    region: &e.region,
                    region_id: &e.region,
                    url: endpoint_url(&e.url, project_id),
                })
                .collect(),
            id: &s.id,
            name: &s.name,
            service_type: &s.service_type,
        })
        .collect()
}

/// A catalog service as /v3/services shows it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ServiceView<'a> {
    pub description: &'a str,
    pub enabled: bool,
    pub id: &'a str,
    pub links: Link,
    pub name: &'a str,
    #[serde(rename = "type")]
    pub service_type: &'a str,
}

pub fn service<'a>(base: &str, s: &'a CatalogService) -> ServiceView<'a> {
    ServiceView {
        description: &s.description,
        enabled: true,
        id: &s.id,
        links: link(format!("{base}/v3/services/{}", s.id)),
        name: &s.name,
        service_type: &s.service_type,
    }
}

/// A catalog endpoint as /v3/endpoints shows it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct EndpointView<'a> {
    pub enabled: bool,
    pub id: &'a str,
    pub interface: &'a str,
    pub links: Link,
    pub region: &'a str,
    pub region_id: &'a str,
    pub service_id: &'a str,
    pub url: &'a str,
}

pub fn endpoint<'a>(base: &str, e: &'a CatalogEndpoint) -> EndpointView<'a> {
    EndpointView {
        enabled: true,
        id: &e.id,
        interface: &e.interface,
        links: link(format!("{base}/v3/endpoints/{}", e.id)),
        region: &e.region,
        region_id: &e.region,
        service_id: &e.service_id,
        url: &e.url,
    }
}

/// A region as /v3/regions shows it: every locale names it by its id.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RegionView<'a> {
    pub description: &'a str,
    pub id: &'a str,
    pub links: Link,
    pub locales: Locales<'a>,
    pub parent_region_id: Option<&'a str>,
    #[serde(rename = "type")]
    pub region_type: &'static str,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Locales<'a> {
    #[serde(rename = "en-us")]
    pub en_us: &'a str,
    #[serde(rename = "es-es")]
    pub es_es: &'a str,
    #[serde(rename = "es-us")]
    pub es_us: &'a str,
    #[serde(rename = "pt-br")]
    pub pt_br: &'a str,
    #[serde(rename = "zh-cn")]
    pub zh_cn: &'a str,
}

pub fn region<'a>(base: &str, r: &'a Region) -> RegionView<'a> {
    RegionView {
        description: &r.description,
        id: &r.id,
        links: link(format!("{base}/v3/regions/{}", r.id)),
        locales: Locales {
            en_us: &r.id,
            es_es: &r.id,
            es_us: &r.id,
            pt_br: &r.id,
            zh_cn: &r.id,
        },
        parent_region_id: None,
        region_type: "public",
    }
}
