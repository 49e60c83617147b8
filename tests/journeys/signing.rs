//! A test-side signer for SDK-HMAC-SHA256 requests, built on the canonical request the
//! SDK-vector tests pin down (`src/sts/signing/tests.rs`), so journeys can tamper with any part
//! of a signed request before it is sent. The real SDK signs in `tests/interop/sts`.

use fedgate::sts::signing::{Authorization, Received, canonical_request, signature, string_to_sign};
use serde_json::Value;

use crate::support::TestApp;

/// Who signs: an access key and its secret, and the security token of a temporary one.
#[derive(Clone, Debug)]
pub struct Signer {
    pub access: String,
    pub secret: String,
    pub security_token: Option<String>,
}

impl Signer {
    /// The credential of a `securitytokens` answer.
    pub fn temporary(answer: &Value) -> Signer {
        let c = &answer["credential"];
        Signer {
            access: c["access"].as_str().expect("access").into(),
            secret: c["secret"].as_str().expect("secret").into(),
            security_token: Some(c["securitytoken"].as_str().expect("securitytoken").into()),
        }
    }
}

/// A request about to be signed and sent; tests change any part before or after signing.
#[derive(Clone, Debug)]
pub struct SignedRequest {
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

pub fn sdk_date(unix_secs: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp(unix_secs).expect("time");
    format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

impl SignedRequest {
    /// `path_and_query` as sent; the body as JSON when given. Headers as the SDK sends them:
    /// Host, X-Sdk-Date (now), Content-Type with a body, X-Security-Token for a temporary key.
    pub fn new(app: &TestApp, signer: &Signer, method: &str, path_and_query: &str, body: Option<Value>) -> Self {
        let (path, query) = match path_and_query.split_once('?') {
            Some((p, q)) => (p.to_string(), Some(q.to_string())),
            None => (path_and_query.to_string(), None),
        };
        let host = app.base.trim_start_matches("http://").to_string();
        let mut headers = vec![
            ("Host".to_string(), host),
            ("X-Sdk-Date".to_string(), sdk_date(fedgate::service::now_ms() / 1000)),
        ];
        let body = match body {
            Some(b) => {
                headers.push(("Content-Type".into(), "application/json;charset=UTF-8".into()));
                serde_json::to_vec(&b).expect("json")
            }
            None => Vec::new(),
        };
        if let Some(st) = &signer.security_token {
            headers.push(("X-Security-Token".into(), st.clone()));
        }
        SignedRequest {
            method: method.into(),
            path,
            query,
            headers,
            body,
        }
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.retain(|(k, _)| !k.eq_ignore_ascii_case(name));
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Signs every header present except X-Security-Token and Authorization, as the SDK does.
    pub fn sign(self, signer: &Signer) -> Self {
        let mut names: Vec<String> = self
            .headers
            .iter()
            .map(|(k, _)| k.to_ascii_lowercase())
            .filter(|k| k != "x-security-token" && k != "authorization")
            .collect();
        names.sort();
        names.dedup();
        self.sign_headers(signer, &names.iter().map(String::as_str).collect::<Vec<_>>())
    }

    /// Signs with exactly `signed_headers` listed (sorted, lower case).
    pub fn sign_headers(mut self, signer: &Signer, signed_headers: &[&str]) -> Self {
        let headers: Vec<(&str, &[u8])> = self.headers.iter().map(|(k, v)| (k.as_str(), v.as_bytes())).collect();
        let received = Received {
            method: &self.method,
            path: &self.path,
            query: self.query.as_deref(),
            headers: &headers,
            body: &self.body,
            body_sha256: None,
        };
        let auth = Authorization {
            access: &signer.access,
            signed_headers: signed_headers.to_vec(),
            signature: [0; 32],
        };
        // What fedgate itself would refuse to rebuild (a body that is not its declared digest)
        // is signed over a placeholder: the server must refuse it before any signature check.
        let canonical = canonical_request(&received, &auth).unwrap_or_else(|_| b"unsignable".to_vec());
        let date = self
            .headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("x-sdk-date"))
            .map(|(_, v)| v.clone())
            .unwrap_or_default();
        let sig = signature(signer.secret.as_bytes(), &string_to_sign(date.as_bytes(), &canonical));
        let value = format!(
            "SDK-HMAC-SHA256 Access={}, SignedHeaders={}, Signature={}",
            signer.access,
            signed_headers.join(";"),
            hex::encode(sig)
        );
        drop(headers);
        self.headers.push(("Authorization".into(), value));
        self
    }

    /// Sends it as is; (status, JSON body or Null).
    pub async fn send(&self, app: &TestApp) -> (u16, Value) {
        let (status, _, body) = self.send_full(app).await;
        (status, body)
    }

    /// (status, response headers, JSON body or Null).
    pub async fn send_full(&self, app: &TestApp) -> (u16, reqwest::header::HeaderMap, Value) {
        let url = match &self.query {
            Some(q) => app.url(&format!("{}?{q}", self.path)),
            None => app.url(&self.path),
        };
        let method = reqwest::Method::from_bytes(self.method.as_bytes()).expect("method");
        let mut req = app.client.request(method, url).body(self.body.clone());
        for (k, v) in &self.headers {
            if !k.eq_ignore_ascii_case("host") {
                req = req.header(k.as_str(), v.as_str());
            }
        }
        let r = req.send().await.expect("request");
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        (status, headers, r.json().await.unwrap_or(Value::Null))
    }
}

/// Signs and sends in one go.
pub async fn signed_call(
    app: &TestApp,
    signer: &Signer,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    SignedRequest::new(app, signer, method, path, body)
        .sign(signer)
        .send(app)
        .await
}
