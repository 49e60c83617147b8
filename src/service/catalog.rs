//! The read-only service catalog, built once from configuration. By default it holds fedgate
//! itself as service type `identity`, so Keystone clients that look the identity endpoint up
//! in the catalog work without configuration.

use sha2::{Digest, Sha256};

use crate::config::{Config, EndpointConfig, ServiceConfig};

#[derive(Debug, Clone)]
pub struct CatalogService {
    pub id: String,
    pub name: String,
    pub service_type: String,
    pub description: String,
    pub endpoints: Vec<CatalogEndpoint>,
}

#[derive(Debug, Clone)]
pub struct CatalogEndpoint {
    pub id: String,
    pub service_id: String,
    pub interface: String,
    pub region: String,
    pub url: String,
}

#[derive(Debug, Clone)]
pub struct Region {
    pub id: String,
    pub description: String,
}

#[derive(Debug, Clone)]
pub struct Catalog {
    pub services: Vec<CatalogService>,
    pub regions: Vec<Region>,
}

/// Ids are derived from content so they stay the same across restarts and replicas.
pub fn stable_id(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update([0]);
    }
    hex::encode(&h.finalize()[..16])
}

impl Catalog {
    pub fn from_config(config: &Config) -> Catalog {
        let services = if config.catalog.services.is_empty() {
            let url = format!("{}/v3", config.public_url);
            vec![ServiceConfig {
                name: "keystone".into(),
                service_type: "identity".into(),
                description: "fedgate identity and federation".into(),
                endpoints: ["public", "internal", "admin"]
                    .iter()
                    .map(|i| EndpointConfig {
                        interface: i.to_string(),
                        region: "*".into(),
                        url: url.clone(),
                    })
                    .collect(),
            }]
        } else {
            config.catalog.services.clone()
        };
        let services = services
            .into_iter()
            .map(|s| {
                let id = stable_id(&["service", &s.name, &s.service_type]);
                let endpoints = s
                    .endpoints
                    .iter()
                    .map(|e| CatalogEndpoint {
                        id: stable_id(&["endpoint", &id, &e.interface, &e.region, &e.url]),
                        service_id: id.clone(),
                        interface: e.interface.clone(),
                        region: e.region.clone(),
                        url: e.url.clone(),
                    })
                    .collect();
                CatalogService {
                    id,
                    name: s.name,
                    service_type: s.service_type,
                    description: s.description,
                    endpoints,
                }
            })
            .collect();
        let regions = config
            .catalog
            .regions
            .iter()
            .map(|r| Region {
                id: r.id.clone(),
                description: r.description.clone(),
            })
            .collect();
        Catalog { services, regions }
    }

    pub fn endpoints(&self) -> impl Iterator<Item = &CatalogEndpoint> {
        self.services.iter().flat_map(|s| s.endpoints.iter())
    }
}
