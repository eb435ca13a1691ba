#!/usr/bin/env bash
# Installs PostgreSQL 15 from Debian's packages: the Dagster instance's storage in the tests of
# c2c's Kubernetes deployment (dagster-postgres). Idempotent: a no-op when the server binaries are
# there. The tests never use a cluster the package may have created and started: they make their
# own with initdb/pg_ctl in a temporary directory on a free port (devstack/.../postgresql.py).
# stdout: "postgresql=<bin dir>".
set -euo pipefail

MAJOR=15
bin_dir="/usr/lib/postgresql/$MAJOR/bin"

if [ ! -x "$bin_dir/initdb" ] || [ ! -x "$bin_dir/postgres" ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "postgresql.sh: need root to apt-get install postgresql-$MAJOR" >&2
    exit 1
  fi
  start=$(date +%s)
  apt-get update -qq
  # policy-rc.d: the package's own cluster is not started (nothing here uses it).
  printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d.c2c
  chmod +x /usr/sbin/policy-rc.d.c2c
  [ -e /usr/sbin/policy-rc.d ] || ln -s /usr/sbin/policy-rc.d.c2c /usr/sbin/policy-rc.d
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "postgresql-$MAJOR" >/dev/null
  [ "$(readlink /usr/sbin/policy-rc.d 2>/dev/null)" = /usr/sbin/policy-rc.d.c2c ] && rm -f /usr/sbin/policy-rc.d
  rm -f /usr/sbin/policy-rc.d.c2c
  echo "postgresql.sh: installed postgresql-$MAJOR in $(( $(date +%s) - start ))s" >&2
fi
echo "postgresql=$bin_dir"
