//! SAML metadata over HTTP: our signed SP metadata, and importing an IdP's metadata.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use samael::crypto::{CertificateDer, CryptoProvider, ReduceMode, XmlSec};
use serde_json::{Value, json};

use crate::support::{Db, TestApp, spawn_app};

fn idp_metadata(entity: &str, cert: &str, key_use: &str) -> String {
    format!(
        "<md:EntityDescriptor xmlns:md=\"urn:oasis:names:tc:SAML:2.0:metadata\" xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\" \
         entityID=\"{entity}\"><md:IDPSSODescriptor protocolSupportEnumeration=\"urn:oasis:names:tc:SAML:2.0:protocol\">\
         <md:KeyDescriptor use=\"{key_use}\"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{cert}</ds:X509Certificate>\
         </ds:X509Data></ds:KeyInfo></md:KeyDescriptor>\
         <md:SingleSignOnService Binding=\"urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect\" Location=\"https://idp.example/sso\"/>\
         </md:IDPSSODescriptor></md:EntityDescriptor>"
    )
}

async fn sp_metadata(app: &TestApp, query: &str) -> (String, String) {
    let r = app
        .client
        .get(app.url(&format!("/v3-ext/auth/OS-FEDERATION/SSO/metadata{query}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let ct = r.headers()["content-type"].to_str().unwrap().to_string();
    (ct, r.text().await.unwrap())
}

#[tokio::test]
async fn sp_metadata_is_signed_and_keeps_its_shape() {
    let Some(app) = spawn_app(Db::Sqlite).await else { return };
    let (ct, signed) = sp_metadata(&app, "").await;
    assert_eq!(ct, "application/xml");
    let cert = signed
        .split("<ds:X509Certificate>")
        .nth(1)
        .and_then(|s| s.split("</ds:X509Certificate>").next())
        .unwrap();
    let certs = [CertificateDer::from(STANDARD.decode(cert).unwrap())];
    XmlSec::reduce_xml_to_signed(&signed, &certs, ReduceMode::ValidateAndMarkNoAncestors).expect("signature verifies");
    assert!(signed.contains(&format!("entityID=\"{}\"", app.base)));
    let (_, unsigned) = sp_metadata(&app, "?unsigned=true").await;
    assert!(!unsigned.contains("ds:Signature"));
    insta::with_settings!({filters => vec![
        (r"<ds:X509Certificate>[^<]+</ds:X509Certificate>", "<ds:X509Certificate>[certificate]</ds:X509Certificate>"),
        (r#"ID="_[0-9a-f]+""#, r#"ID="[id]""#),
        (r"http://127\.0\.0\.1:\d+", "[public url]"),
    ]}, {
        insta::assert_snapshot!("sp_metadata_unsigned", unsigned);
    });
    app.stop().await;
}

async fn idp_metadata_import(db: Db) {
    let Some(app) = spawn_app(db).await else { return };
    let t = app.admin_token.as_str();
    let (_, me) = app.validate(t, t).await;
    let domain_id = me["token"]["project"]["domain"]["id"].as_str().unwrap().to_string();
    let rules = json!({"mapping": {"rules": [{"remote": [{"type": "uid"}], "local": [{"user": {"name": "{0}"}}]}]}});
    assert_eq!(
        app.call("PUT", "/v3/OS-FEDERATION/mappings/m", t, Some(rules)).await.0,
        201
    );
    assert_eq!(
        app.call(
            "PUT",
            "/v3/OS-FEDERATION/identity_providers/shib",
            t,
            Some(json!({"identity_provider": {"enabled": true}}))
        )
        .await
        .0,
        201
    );
    let proto = json!({"protocol": {"mapping_id": "m"}});
    assert_eq!(
        app.call(
            "PUT",
            "/v3/OS-FEDERATION/identity_providers/shib/protocols/saml",
            t,
            Some(proto.clone())
        )
        .await
        .0,
        201
    );
    assert_eq!(
        app.call(
            "PUT",
            "/v3/OS-FEDERATION/identity_providers/shib/protocols/oidc",
            t,
            Some(proto)
        )
        .await
        .0,
        201
    );
    let path = "/v3-ext/OS-FEDERATION/identity_providers/shib/protocols/saml/metadata";
    let cert = crate::saml_idp::SigningIdentity::generate("test-only idp").cert_b64;
    let good = idp_metadata("https://idp.example/shibboleth", &cert, "signing");
    let body = |xml: &str| json!({"domain_id": domain_id, "xaccount_type": "", "metadata": xml});

    let bad: Vec<(&str, &str, Value, u16)> = vec![
        ("doctype", path, body(&format!("<!DOCTYPE x>{good}")), 400),
        (
            "no signing certificate",
            path,
            body(&idp_metadata("https://idp.example/shibboleth", &cert, "encryption")),
            400,
        ),
        ("not XML", path, body("<md:EntityDescriptor"), 400),
        (
            "wrong account",
            path,
            json!({"domain_id": "other", "xaccount_type": "", "metadata": good}),
            400,
        ),
        (
            "metadata missing",
            path,
            json!({"domain_id": domain_id, "xaccount_type": ""}),
            400,
        ),
        (
            "oidc protocol",
            "/v3-ext/OS-FEDERATION/identity_providers/shib/protocols/oidc/metadata",
            body(&good),
            404,
        ),
        (
            "unknown idp",
            "/v3-ext/OS-FEDERATION/identity_providers/nope/protocols/saml/metadata",
            body(&good),
            404,
        ),
    ];
    for (name, p, b, want) in bad {
        let (s, reply) = app.call("POST", p, t, Some(b)).await;
        assert_eq!(s, want, "{name}: {reply}");
        assert!(
            reply["error_code"].is_string(),
            "{name}: IAM error body expected, got {reply}"
        );
    }
    assert_eq!(
        app.call("GET", path, t, None).await.0,
        404,
        "nothing was stored by bad imports"
    );

    let (s, reply) = app.call("POST", path, t, Some(body(&good))).await;
    assert_eq!((s, reply), (201, json!({"message": "Import metadata successful"})));
    let (_, idp) = app
        .call("GET", "/v3/OS-FEDERATION/identity_providers/shib", t, None)
        .await;
    assert_eq!(
        idp["identity_provider"]["remote_ids"],
        json!(["https://idp.example/shibboleth"]),
        "entityID fills empty remote_ids"
    );
    let (s, stored) = app.call("GET", path, t, None).await;
    assert_eq!(s, 200);
    assert_eq!(stored["entity_id"], "https://idp.example/shibboleth");
    assert_eq!(stored["data"], json!(good));
    assert_eq!(stored["idp_id"], "shib");
    let other = idp_metadata("https://other.example/idp", &cert, "signing");
    assert_eq!(
        app.call("POST", path, t, Some(body(&other))).await.0,
        400,
        "a different entityID is not silently accepted"
    );
    assert_eq!(
        app.call("DELETE", "/v3/OS-FEDERATION/identity_providers/shib", t, None)
            .await
            .0,
        204
    );
    assert_eq!(app.call("GET", path, t, None).await.0, 404);
    app.stop().await;
}

on_both_backends!(idp_metadata_import);
