//! OpenID provider certificate fingerprints (Alibaba Cloud's OIDC provider fingerprints): a
//! table of pinned fetches by the real upstream client from HTTPS providers on loopback with
//! self-signed certificates, and, through the HTTP API, fingerprints accepted in openssl's
//! form, stored and shown normalised, refused with exact 400s, and a provider whose
//! certificate does not match warned about at configuration and refused at login.

use fedgate::egress::EgressPolicy;
use fedgate::oidc::parse_fingerprint;
use fedgate::service::Refusal;
use fedgate::service::oidc_login::IdTokenUse;
use fedgate::upstream::{Upstream, UpstreamError};
use serde_json::{Value, json};

use crate::oidc::{SUB, ci_mapping, exchange, expect_status, refusal_of};
use crate::oidc_op::{DiscoveryServer, SigningKey, TlsDiscoveryServer, jwt};
use crate::support::{Db, spawn_app};

#[derive(Debug)]
enum Want {
    Keys,
    Mismatch {
        url: String,
        presented: String,
    },
    NoCertificate {
        url: String,
    },
    /// CA validation refused the certificate, as for any provider without fingerprints.
    Untrusted {
        url: String,
    },
    /// A pinned CA was presented, but the chain does not lead to it for this host.
    ChainInvalid {
        url: String,
    },
    /// The egress policy refused the URL before any connection.
    Refused {
        url: String,
    },
}

fn matches(got: &Result<fedgate::oidc::KeySet, UpstreamError>, want: &Want) -> bool {
    match (got, want) {
        (Ok(keys), Want::Keys) => keys.keys().len() == 1,
        (
            Err(UpstreamError::CertificateMismatch { url, presented }),
            Want::Mismatch {
                url: want_url,
                presented: want_presented,
            },
        ) => url == want_url && presented == want_presented,
        (Err(UpstreamError::NoCertificate { url }), Want::NoCertificate { url: want_url }) => url == want_url,
        (Err(UpstreamError::Fetch { url, reason }), Want::Untrusted { url: want_url }) => {
            url == want_url && reason.contains("certificate verify failed")
        }
        (Err(UpstreamError::Refused { url, .. }), Want::Refused { url: want_url }) => url == want_url,
        (Err(UpstreamError::ChainInvalid { url, .. }), Want::ChainInvalid { url: want_url }) => url == want_url,
        _ => false,
    }
}

/// Discovery and JWKS of a pinned provider come only from servers presenting a pinned
/// certificate, the `jwks_uri` included; without fingerprints nothing changes.
#[tokio::test]
async fn pinned_fetches_trust_only_the_pinned_certificate() {
    let key = SigningKey::rsa("k1");
    let op = TlsDiscoveryServer::start(&[&key], None);
    let keys_host = TlsDiscoveryServer::start(&[&key], None);
    let split = TlsDiscoveryServer::start(&[], Some(&format!("{}/jwks", keys_host.issuer)));
    let plain = DiscoveryServer::start(&[&key]).await;
    let http_keys = TlsDiscoveryServer::start(&[], Some(&format!("{}/jwks", plain.issuer)));
    let chained = TlsDiscoveryServer::start_chained(&[&key], "127.0.0.1", false);
    let misnamed = TlsDiscoveryServer::start_chained(&[&key], "127.0.0.2", false);
    let stranger_ca = TlsDiscoveryServer::start_chained(&[&key], "127.0.0.1", true);
    let ca_of = |s: &TlsDiscoveryServer| s.ca_fingerprint.clone().unwrap();
    let open = Upstream::new(EgressPolicy::new(&["127.0.0.1".into()]).unwrap()).unwrap();
    let strict = Upstream::new(EgressPolicy::default()).unwrap();
    let discovery = |s: &TlsDiscoveryServer| format!("{}/.well-known/openid-configuration", s.issuer);
    let other = format!("{:040x}", 1);
    let openssl_form = parse_fingerprint(&op.openssl_fingerprint).unwrap();
    let cases: Vec<(&str, &Upstream, &TlsDiscoveryServer, Vec<String>, Want)> = vec![
        ("pinned", &open, &op, vec![op.fingerprint.clone()], Want::Keys),
        (
            "one of several pinned",
            &open,
            &op,
            vec![other.clone(), op.fingerprint.clone()],
            Want::Keys,
        ),
        (
            "pinned in openssl's form, parsed as configuration does",
            &open,
            &op,
            vec![openssl_form],
            Want::Keys,
        ),
        (
            "another certificate pinned",
            &open,
            &op,
            vec![other.clone(), keys_host.fingerprint.clone()],
            Want::Mismatch {
                url: discovery(&op),
                presented: op.fingerprint.clone(),
            },
        ),
        (
            "no fingerprints: a self-signed certificate fails CA validation",
            &open,
            &op,
            vec![],
            Want::Untrusted { url: discovery(&op) },
        ),
        (
            "keys on another host whose certificate is not pinned",
            &open,
            &split,
            vec![split.fingerprint.clone()],
            Want::Mismatch {
                url: format!("{}/jwks", keys_host.issuer),
                presented: keys_host.fingerprint.clone(),
            },
        ),
        (
            "keys on another host, both pinned",
            &open,
            &split,
            vec![split.fingerprint.clone(), keys_host.fingerprint.clone()],
            Want::Keys,
        ),
        (
            "keys over http",
            &open,
            &http_keys,
            vec![http_keys.fingerprint.clone()],
            Want::NoCertificate {
                url: format!("{}/jwks", plain.issuer),
            },
        ),
        (
            "the CA of the server's chain pinned (Alibaba Cloud's fingerprints)",
            &open,
            &chained,
            vec![ca_of(&chained)],
            Want::Keys,
        ),
        (
            "a pinned CA, but the server's certificate names another address",
            &open,
            &misnamed,
            vec![ca_of(&misnamed)],
            Want::ChainInvalid {
                url: discovery(&misnamed),
            },
        ),
        (
            "a pinned CA presented beside a certificate it did not issue",
            &open,
            &stranger_ca,
            vec![ca_of(&stranger_ca)],
            Want::ChainInvalid {
                url: discovery(&stranger_ca),
            },
        ),
        (
            "a pin does not open the egress policy",
            &strict,
            &op,
            vec![op.fingerprint.clone()],
            Want::Refused { url: discovery(&op) },
        ),
    ];
    for (name, upstream, server, fingerprints, want) in cases {
        let got = upstream.discover_keys(&server.issuer, &fingerprints).await;
        let shown = got.as_ref().map(|k| k.keys().len()).map_err(|e| format!("{e:?}: {e}"));
        assert!(matches(&got, &want), "{name}: got {shown:?}, want {want:?}");
    }
}

/// The configuration API takes fingerprints in openssl's form, stores and shows them
/// normalised, and refuses malformed ones with exact 400s; a pinned self-signed issuer serves
/// logins, and one whose certificate is not pinned is warned about and refused like an
/// unreachable issuer, with the presented fingerprint in the warning, the log and the refusal.
async fn oidc_fingerprints_pin_the_issuer(db: Db) {
    let Some(app) = spawn_app(db).await else { return };
    let key = SigningKey::rsa("k1");
    let op = TlsDiscoveryServer::start(&[&key], None);
    let issuer = op.issuer.clone();
    app.ensure_member_group("ci-deployers").await;
    expect_status(&app, "PUT", "/v3/OS-FEDERATION/mappings/ci", ci_mapping(), 201).await;
    app.register_provider("pinned", "oidc", "ci").await;
    let path = "/v3.0/OS-FEDERATION/identity-providers/pinned/openid-connect-config";
    let shown = |fingerprints: Value| {
        json!({"openid_connect_config": {"access_mode": "program", "idp_url": issuer,
            "client_id": "fedgate-client", "authorization_endpoint": null, "scope": null,
            "response_type": null, "response_mode": null, "signing_key": null,
            "fingerprints": fingerprints}})
    };
    let config = json!({"access_mode": "program", "idp_url": issuer, "client_id": "fedgate-client",
        "fingerprints": [op.openssl_fingerprint]});
    let created = expect_status(&app, "POST", path, json!({"openid_connect_config": config}), 201).await;
    assert_eq!(
        created,
        shown(json!([op.fingerprint])),
        "no warnings: the keys were fetched"
    );
    let (s, got) = app.call("GET", path, &app.admin_token, None).await;
    assert_eq!((s, &got), (200, &created));
    let token = || {
        let now = fedgate::service::now_ms() / 1000;
        let claims = json!({"iss": issuer, "aud": "fedgate-client", "sub": SUB, "repository": "acme/app",
            "ref": "refs/heads/main", "ref_protected": "true", "iat": now - 5, "exp": now + 300,
            "jti": uuid::Uuid::new_v4().to_string()});
        jwt(
            &json!({"alg": "RS256", "kid": "k1", "typ": "JWT"}),
            &claims,
            &key,
            "RS256",
        )
    };
    let (s, _, body) = exchange(&app, "pinned", &token(), None).await;
    assert_eq!(s, 201, "the pinned self-signed issuer's keys verify: {body}");

    let format = "must be a SHA-1 fingerprint: 40 hex digits, or 20 pairs separated by ':'";
    let field = |name: &str, reason: &str| format!("Invalid input for field 'openid_connect_config.{name}': {reason}.");
    let six: Vec<String> = (1..=6).map(|n| format!("{n:040x}")).collect();
    let http_issuer = issuer.replacen("https://", "http://", 1);
    let bad: Vec<(&str, Value, String)> = vec![
        (
            "wrong length",
            json!({"fingerprints": [&op.fingerprint[..39]]}),
            field("fingerprints[0]", format),
        ),
        (
            "not hex",
            json!({"fingerprints": [op.fingerprint.replacen(|c: char| c.is_ascii_digit(), "x", 1)]}),
            field("fingerprints[0]", format),
        ),
        (
            "six of them",
            json!({"fingerprints": six}),
            field("fingerprints", "must hold at most 5 fingerprints"),
        ),
        (
            "the same one twice, in two forms",
            json!({"fingerprints": [op.fingerprint, op.openssl_fingerprint]}),
            field("fingerprints[1]", "repeats fingerprints[0]"),
        ),
        (
            "on an http issuer",
            json!({"idp_url": http_issuer, "fingerprints": [op.fingerprint]}),
            field("fingerprints", "pin a TLS certificate, so idp_url must use https"),
        ),
        (
            "kept while the issuer moves to http",
            json!({"idp_url": http_issuer}),
            field("fingerprints", "pin a TLS certificate, so idp_url must use https"),
        ),
    ];
    for (name, change, message) in bad {
        let body = json!({"openid_connect_config": change});
        let (s, v) = app.call("PUT", path, &app.admin_token, Some(body)).await;
        assert_eq!(
            (s, v["error_msg"].as_str()),
            (400, Some(message.as_str())),
            "{name}: {v}"
        );
    }
    let (_, unchanged) = app.call("GET", path, &app.admin_token, None).await;
    assert_eq!(unchanged, created, "refused writes change nothing");

    // Another certificate pinned: stored, with the warning an unreachable issuer gets.
    let other = format!("{:040x}", 7);
    let body = json!({"openid_connect_config": {"fingerprints": [other]}});
    let answer = expect_status(&app, "PUT", path, body, 200).await;
    let mismatch = format!(
        "{issuer}/.well-known/openid-configuration presented a TLS certificate with SHA-1 fingerprint {}, which is not among the provider's fingerprints",
        op.fingerprint
    );
    let mut want = shown(json!([other]));
    want["warnings"] = json!([format!(
        "the keys of {issuer} could not be discovered now ({mismatch}); its id_tokens are refused until they can be"
    )]);
    assert_eq!(answer, want);
    let login = app
        .sign_in()
        .oidc_login(
            "pinned",
            &token(),
            None,
            IdTokenUse::Exchange,
            fedgate::service::now_ms(),
        )
        .await;
    match refusal_of(login) {
        Refusal::NoProviderKeys { issuer: named, error } => {
            assert_eq!((named, error), (issuer.clone(), mismatch.clone()))
        }
        other => panic!("{other:?}"),
    }
    let (s, _, body) = exchange(&app, "pinned", &token(), None).await;
    assert_eq!(s, 401, "{body}");
    // Sign-ins are counted by provider, outcome and the refusal's class; a provider no one
    // configured is `unknown`, whatever the client named.
    let (s, _, _) = exchange(&app, "made-up-by-a-client", &token(), None).await;
    assert_eq!(s, 401);
    let metrics = app.get_text("/metrics").await;
    let counted = |labels: &str| {
        metrics
            .lines()
            .any(|l| l.starts_with("fedgate_federated_logins_total{") && labels.split(',').all(|p| l.contains(p)))
    };
    for labels in [
        r#"idp="pinned",outcome="success",protocol="oidc",reason="none""#,
        r#"idp="pinned",outcome="refused",protocol="oidc",reason="NoProviderKeys""#,
        r#"idp="unknown",outcome="refused",protocol="oidc",reason="NotConfigured""#,
    ] {
        assert!(counted(labels), "no count with {labels} in\n{metrics}");
    }
    assert!(
        !metrics.contains("made-up-by-a-client"),
        "a client-named provider became a label"
    );
    let logs = crate::support::captured_logs();
    assert!(
        logs.lines().any(|l| l.contains("WARN")
            && l.contains("keys could not be fetched and none are known")
            && l.contains(&mismatch)),
        "the mismatch is logged when the configuration is written"
    );
    let refused = format!("the OpenID provider {issuer} could not be reached for its keys: {mismatch}");
    assert!(
        logs.lines()
            .any(|l| l.contains("request refused") && l.contains("status=401") && l.contains(&refused)),
        "the refused login logs {refused:?}"
    );

    // Fingerprints removed: CA validation again, which a self-signed certificate fails.
    let body = json!({"openid_connect_config": {"fingerprints": []}});
    let answer = expect_status(&app, "PUT", path, body, 200).await;
    assert_eq!(answer["openid_connect_config"].get("fingerprints"), None, "{answer}");
    let warning = answer["warnings"][0].as_str().unwrap_or_default();
    assert!(
        warning.starts_with(&format!(
            "the keys of {issuer} could not be discovered now (fetching {issuer}/.well-known/openid-configuration: "
        )) && warning.contains("certificate verify failed"),
        "{warning}"
    );
    app.stop().await;
}

on_both_backends!(oidc_fingerprints_pin_the_issuer);
