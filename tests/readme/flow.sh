# README.md, run as a reader's terminal session (see tests/readme/run). `#block NAME` lines are
# the README's blocks; what is between them fills in what a reader brings (a password, an
# IdP's metadata) and checks that each block did what the README says it does.
# Runs under bash -euo pipefail, in an empty directory, with TEST_URL and ADMIN_PASSWORD.

must() { # what text: text must contain what
    case "$2" in *"$1"*) ;; *) echo "expected to see: $1" >&2; echo "$2" | tail -5 >&2; exit 1 ;; esac
}

# ---- Using it
#block using http://127.0.0.1:5000=>$TEST_URL OS_PASSWORD=...=>OS_PASSWORD="$ADMIN_PASSWORD"
[ -n "$T" ]

# ---- Accounts
#block accounts
must "acme-admin" "$(openstack group contains user --group-domain acme --user-domain acme acme-admins acme-admin 2>&1)"
must "deploy" "$(as_acme_admin openstack project list -f value -c Name)"
#block accounts-retire
if openstack domain show trial >/dev/null 2>&1; then echo "domain trial still exists" >&2; exit 1; fi

# ---- Trying mapping rules
#block mapping
must '"name":"alice"' "$(fedgate mapping test --rules rules.json --assertion alice.json)"
if fedgate mapping test --rules missing.json --assertion alice.json 2>/dev/null; then exit 1; else [ $? = 2 ]; fi

# ---- SAML: an IdP's metadata, as the IdP's admin would hand it over.
openssl req -x509 -newkey rsa:2048 -nodes -keyout idp.key -out idp.crt -days 2 -subj /CN=idp.example.com 2>/dev/null
cert="$(grep -v '^-----' idp.crt | tr -d '\n')"
cat > idp-metadata.xml <<XML
<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="https://idp.example.com/idp/shibboleth">
  <md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    <md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>$cert</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>
    <md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://idp.example.com/idp/profile/SAML2/Redirect/SSO"/>
  </md:IDPSSODescriptor>
</md:EntityDescriptor>
XML
#block saml
code=$(curl -s -o /dev/null -w '%{http_code}' "$FEDGATE/v3/OS-FEDERATION/identity_providers/acme-saml/protocols/saml/auth")
[ "$code" = 302 ] || { echo "SP-initiated start answered $code" >&2; exit 1; }
must '"groups_dropped":[]' "$(call POST /v3-ext/OS-FEDERATION/mappings/acme-saml/test "{\"assertion\": $(cat alice.json)}")"

# ---- OpenID Connect providers (keycloak.example.com does not answer: the answer warns)
#block oidc
must '"replay_protection":true' "$(call GET /v3.0/OS-FEDERATION/identity-providers/corp-sso/openid-connect-config '')"

# ---- Configuration as code, on the running server's store
DATA_DIR="$(dirname "$FEDGATE_LOG_FILE")/data"
#block config /var/lib/fedgate=>$DATA_DIR
must '"description": "Corporate SSO"' "$(fedgate config export --domain acme)"
must 'nothing to change' "$(fedgate config apply acme-next.json --dry-run)"

# ---- CI systems
#block ci
must "member" "$(as_acme_admin openstack role assignment list --group ci-deployers --project deploy --names -f value)"
# The job, with a stand-in for GitHub's token endpoint that hands out a token fedgate refuses:
# the README's snippet must stop with fedgate's answer, not carry on with an empty OS_TOKEN.
mkdir -p actions && echo '{"value": "eyJhbGciOiJSUzI1NiJ9.e30.c2ln"}' > actions/token
actions_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
(cd actions && exec python3 -m http.server --bind 127.0.0.1 "$actions_port" >/dev/null 2>&1) &
actions=$!
trap 'kill $actions 2>/dev/null || true' EXIT
for _ in $(seq 1 40); do curl -fs -o /dev/null "http://127.0.0.1:$actions_port/token" && break; sleep 0.1; done
set +e
(
    ACTIONS_ID_TOKEN_REQUEST_URL="http://127.0.0.1:$actions_port/token?api-version=2.0"
    ACTIONS_ID_TOKEN_REQUEST_TOKEN=stand-in
#block ci-job
) >ci-job.out 2>&1
code=$?
set -e
[ "$code" = 1 ] || { echo "the job snippet exited $code" >&2; cat ci-job.out >&2; exit 1; }
must "id_token exchange failed: HTTP 401" "$(cat ci-job.out)"

# ---- Temporary credentials, with any token
OS_TOKEN=$T
#block sts
must '"securitytoken"' "$(cat credential.json)"
SERVICE_TOKEN=$T
must '"error_code":"IAM.0001"' "$(
#block signed-requests
)"
#block login-tokens
must '"logintoken"' "$(curl -sS "$FEDGATE/v3-ext/auth/logintokens" -H "X-Auth-Token: $OS_TOKEN" -H "X-Subject-LoginToken: $LOGIN_TOKEN")"
