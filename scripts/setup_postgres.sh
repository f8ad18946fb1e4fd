#!/usr/bin/env bash
# Make PostgreSQL's server binaries (initdb, pg_ctl) available for the service tests, which
# start a throwaway cluster of their own (tests/conftest.py, pg_cluster). Installs Debian's
# `postgresql` package with apt-get when initdb is missing; does nothing when it is there.
# The package also creates the non-root `postgres` user the tests run the cluster as (the
# server refuses to run as root). Idempotent and quiet; without apt-get or root it says so
# and exits 0 (the PostgreSQL tests then skip, or fail under HER2KIT_REQUIRE_POSTGRES=1).
set -euo pipefail
have_initdb() {
    command -v initdb >/dev/null 2>&1 || compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null
}
if have_initdb; then
    if [ "$(id -u)" = 0 ] && ! id postgres >/dev/null 2>&1; then
        useradd --system --home-dir /var/lib/postgresql --shell /usr/sbin/nologin postgres
    fi
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "setup_postgres.sh: initdb not found and no apt-get; install PostgreSQL yourself" >&2
    exit 0
fi
sudo=""
if [ "$(id -u)" != 0 ]; then
    if ! command -v sudo >/dev/null 2>&1; then
        echo "setup_postgres.sh: initdb not found; installing PostgreSQL needs root" >&2
        exit 0
    fi
    sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq >/dev/null
# The package's own cluster is not needed (the tests make theirs): don't start it.
$sudo mkdir -p /etc/postgresql-common
if [ ! -f /etc/postgresql-common/createcluster.conf ]; then
    echo "create_main_cluster = false" | $sudo tee /etc/postgresql-common/createcluster.conf >/dev/null
fi
$sudo apt-get install -y -qq --no-install-recommends postgresql >/dev/null
have_initdb || { echo "setup_postgres.sh: installed postgresql but found no initdb" >&2; exit 1; }
