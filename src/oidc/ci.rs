//! Ready-made identity provider, mapping and OpenID Connect configuration for CI systems whose
//! jobs carry id_tokens: the mapping admits one repository on one protected branch (and,
//! optionally, one deployment environment) and nothing else.

use serde_json::{Value, json};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CiSystem {
    /// GitHub Actions (issuer https://token.actions.githubusercontent.com).
    Github,
    /// GitLab CI on gitlab.com (issuer https://gitlab.com).
    Gitlab,
}

#[derive(Debug, Clone)]
pub struct CiRequest {
    pub system: CiSystem,
    /// `owner/repo` on GitHub, `group/project` on GitLab.
    pub repository: String,
    pub branch: String,
    pub environment: Option<String>,
    /// The audience the job asks its id_token for; also the client_id fedgate expects.
    pub audience: String,
    pub idp_id: String,
    /// The group (in the provider's account) whose role grants the job receives.
    pub group: String,
    pub domain: String,
}

/// What to create, in order: identity provider, mapping, protocol, OIDC configuration.
#[derive(Debug, Clone)]
pub struct CiPreset {
    pub idp_id: String,
    pub identity_provider: Value,
    pub mapping_id: String,
    pub mapping: Value,
    pub protocol: Value,
    pub openid_connect_config: Value,
}

impl CiSystem {
    pub fn issuer(self) -> &'static str {
        match self {
            CiSystem::Github => "https://token.actions.githubusercontent.com",
            CiSystem::Gitlab => "https://gitlab.com",
        }
    }
}

pub fn preset(r: &CiRequest) -> CiPreset {
    // Claim names differ: GitHub says `repository` and a full ref, GitLab `project_path` and a
    // branch name with `ref_type`.
    let mut remote = vec![json!({"type": "sub"})];
    match r.system {
        CiSystem::Github => {
            remote.push(json!({"type": "repository", "any_one_of": [r.repository]}));
            remote.push(json!({"type": "ref", "any_one_of": [format!("refs/heads/{}", r.branch)]}));
        }
        CiSystem::Gitlab => {
            remote.push(json!({"type": "project_path", "any_one_of": [r.repository]}));
            remote.push(json!({"type": "ref_type", "any_one_of": ["branch"]}));
            remote.push(json!({"type": "ref", "any_one_of": [r.branch]}));
        }
    }
    remote.push(json!({"type": "ref_protected", "any_one_of": ["true"]}));
    if let Some(env) = &r.environment {
        remote.push(json!({"type": "environment", "any_one_of": [env]}));
    }
    let mapping_id = format!("{}-mapping", r.idp_id);
    CiPreset {
        idp_id: r.idp_id.clone(),
        identity_provider: json!({"identity_provider": {
            "sso_type": "virtual_user_sso",
            "enabled": true,
            "description": format!("{:?} id_tokens for {}", r.system, r.repository),
        }}),
        mapping: json!({"mapping": {"rules": [{
            "remote": remote,
            "local": [
                {"user": {"name": "{0}", "type": "ephemeral"}},
                {"group": {"name": r.group, "domain": {"name": r.domain}}}
            ]
        }]}}),
        protocol: json!({"protocol": {"mapping_id": mapping_id}}),
        mapping_id,
        // No signing_key: keys are discovered from the issuer and follow its rotations.
        openid_connect_config: json!({"openid_connect_config": {
            "access_mode": "program",
            "idp_url": r.system.issuer(),
            "client_id": r.audience,
        }}),
    }
}

fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// A shell script that creates the preset through the API with `$OS_TOKEN` at `$FEDGATE_URL`.
pub fn render_script(p: &CiPreset) -> String {
    let call = |method: &str, path: String, body: &Value| {
        format!(
            "curl -fsS -X {method} \"$FEDGATE_URL{path}\" -H \"X-Auth-Token: $OS_TOKEN\" \\\n  -H 'Content-Type: application/json' -d {}\n",
            shell_quote(&serde_json::to_string_pretty(body).unwrap_or_default())
        )
    };
    let idp = &p.idp_id;
    let mut out = String::from(
        "#!/bin/sh\n# Creates an identity provider for CI id_tokens. Needs FEDGATE_URL (e.g. https://iam.example.com)\n# and OS_TOKEN (an admin token of the account).\nset -eu\n",
    );
    out += &call(
        "PUT",
        format!("/v3/OS-FEDERATION/identity_providers/{idp}"),
        &p.identity_provider,
    );
    out += &call(
        "PUT",
        format!("/v3/OS-FEDERATION/mappings/{}", p.mapping_id),
        &p.mapping,
    );
    out += &call(
        "PUT",
        format!("/v3/OS-FEDERATION/identity_providers/{idp}/protocols/oidc"),
        &p.protocol,
    );
    out += &call(
        "POST",
        format!("/v3.0/OS-FEDERATION/identity-providers/{idp}/openid-connect-config"),
        &p.openid_connect_config,
    );
    out += &format!(
        r#"
# In the CI job, with the job's id_token in $ID_TOKEN, two requests give a temporary access key
# (nothing stored; it ends with the job's token, at most 15 minutes by default):
#   TOKEN=$(curl -fsSi -X POST "$FEDGATE_URL/v3.0/OS-AUTH/id-token/tokens" -H 'X-Idp-Id: {idp}' \
#     -H 'Content-Type: application/json' -d '{{"auth": {{"id_token": {{"id": "'"$ID_TOKEN"'"}},
#       "scope": {{"project": {{"name": "<project>", "domain": {{"name": "<account>"}}}}}}}}}}' |
#     awk 'tolower($1)=="x-subject-token:" {{print $2}}' | tr -d '\r')
#   curl -fsS -X POST "$FEDGATE_URL/v3.0/OS-CREDENTIAL/securitytokens" -H "X-Auth-Token: $TOKEN" \
#     -H 'Content-Type: application/json' -d '{{"auth": {{"identity": {{"methods": ["token"]}}}}}}'
# The answer's credential.access, .secret and .securitytoken sign SDK calls, e.g. in Python:
#   GlobalCredentials(access, secret, "<account id>").with_security_token(securitytoken)
"#
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mapping::{Mapping, assertion_from_json};

    fn request(system: CiSystem, environment: Option<&str>) -> CiRequest {
        CiRequest {
            system,
            repository: "acme/app".into(),
            branch: "main".into(),
            environment: environment.map(str::to_string),
            audience: "https://github.com/acme".into(),
            idp_id: "ci".into(),
            group: "deployers".into(),
            domain: "acme".into(),
        }
    }

    #[test]
    fn presets_admit_one_repository_on_its_protected_branch() {
        let github = json!({"sub": "repo:acme/app:environment:prod", "repository": "acme/app",
            "ref": "refs/heads/main", "ref_protected": "true", "environment": "prod"});
        let gitlab = json!({"sub": "project_path:acme/app:ref_type:branch:ref:main", "project_path": "acme/app",
            "ref": "main", "ref_type": "branch", "ref_protected": "true", "environment": "prod"});
        for (system, claims) in [(CiSystem::Github, github), (CiSystem::Gitlab, gitlab)] {
            for env in [None, Some("prod")] {
                let p = preset(&request(system, env));
                let rules = &p.mapping["mapping"];
                let mapping = Mapping::compile(rules, None).expect("preset mapping compiles");
                let admit = |c: &Value| mapping.evaluate(&assertion_from_json(c.as_object().unwrap())).is_ok();
                assert!(admit(&claims), "{system:?} {env:?}");
                let repo_claim = if system == CiSystem::Github {
                    "repository"
                } else {
                    "project_path"
                };
                for (claim, value) in [
                    (repo_claim, "acme/other"),
                    ("ref_protected", "false"),
                    ("environment", "dev"),
                ] {
                    let mut c = claims.clone();
                    c[claim] = json!(value);
                    let expect = claim == "environment" && env.is_none();
                    assert_eq!(admit(&c), expect, "{system:?} {env:?} {claim}={value}");
                }
                let script = render_script(&p);
                assert!(script.contains("openid-connect-config"));
                assert!(script.contains("/v3.0/OS-CREDENTIAL/securitytokens"));
            }
        }
    }

    #[test]
    fn script_quotes_bodies_for_the_shell() {
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
    }
}
