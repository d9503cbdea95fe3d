#!/usr/bin/env bash
# Installs PostgreSQL from Debian's packages, starts it on loopback, and creates the test
# database. Prints the URL for HOURGLASS_TEST_POSTGRES.
set -euo pipefail
if ! command -v pg_lsclusters >/dev/null 2>&1; then
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
fi
if [ -z "$(ls /etc/postgresql 2>/dev/null)" ]; then
  pg_createcluster "$(ls /usr/lib/postgresql | sort -V | tail -n 1)" main >&2
fi
version=$(ls /etc/postgresql | sort -V | tail -n 1)
pg_ctlcluster "$version" main start >&2 2>/dev/null || true
for _ in $(seq 30); do pg_isready -q -h 127.0.0.1 && break; sleep 1; done
admin() { su postgres -c "psql -q -tA -c \"$1\""; }
[ "$(admin "SELECT 1 FROM pg_roles WHERE rolname='hourglass'")" = 1 ] \
  || admin "CREATE ROLE hourglass LOGIN PASSWORD 'hourglass'" >&2
[ "$(admin "SELECT 1 FROM pg_database WHERE datname='hourglass_test'")" = 1 ] \
  || su postgres -c "createdb -O hourglass hourglass_test" >&2
echo "postgresql://hourglass:hourglass@127.0.0.1:5432/hourglass_test"
