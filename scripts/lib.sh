# Shared by scripts/run and scripts/test: install what a fresh machine lacks.

# Debian packages the build and tests need (samael links libxmlsec1; the SAML interop runs
# xmlsec1 and makes its IdP key with the openssl command; tests/fixtures/independent/generate
# runs both and PyJWT from a venv).
FEDGATE_APT_PACKAGES=(libxml2-dev libxmlsec1-dev libxmlsec1-openssl libssl-dev pkg-config libclang-dev xmlsec1 libxml2-utils postgresql-client openssl python3-venv)

ensure_apt_packages() {
    local missing=()
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        echo "==> installing Debian packages: ${missing[*]}"
        local sudo=""
        [ "$(id -u)" -eq 0 ] || sudo="sudo"
        $sudo apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    fi
}

ensure_rust() {
    if ! command -v cargo >/dev/null 2>&1; then
        [ -f "$HOME/.cargo/env" ] && . "$HOME/.cargo/env"
    fi
    command -v cargo >/dev/null 2>&1 || { echo "cargo is required (https://rustup.rs)" >&2; exit 1; }
}

# PostgreSQL on 127.0.0.1:5432 (trust auth, database `test`) is started before sessions and CI;
# start it if it stopped.
ensure_postgres() {
    if command -v pg_isready >/dev/null 2>&1 && pg_isready -q -h 127.0.0.1 -p 5432; then
        return 0
    fi
    if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
        echo "==> starting PostgreSQL"
        pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
        for _ in $(seq 1 30); do
            pg_isready -q -h 127.0.0.1 -p 5432 && return 0
            sleep 1
        done
    fi
    echo "warning: PostgreSQL is not reachable on 127.0.0.1:5432" >&2
}

# PostgreSQL tests that cannot reach the database append one line each (test, outcome,
# reason) to $FEDGATE_TEST_SKIP_LOG (tests/journeys/support.rs): with CI=true they fail,
# otherwise they skip. scripts/test empties the file before the tests and calls this at exit.
report_postgres_skips() {
    local log="$1"
    [ -s "$log" ] || return 0
    local skipped failed
    skipped=$(awk -F'\t' '$2 == "skipped"' "$log" | wc -l)
    failed=$(awk -F'\t' '$2 == "failed"' "$log" | wc -l)
    echo "==> PostgreSQL was unreachable: $skipped test(s) skipped, $failed failed (CI)" >&2
    awk -F'\t' '{print "    " $2 "  " $1}' "$log" | sort >&2
    echo "    first reason: $(head -n1 "$log" | cut -f3-)" >&2
}
