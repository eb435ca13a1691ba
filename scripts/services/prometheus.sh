#!/usr/bin/env bash
# Installs Prometheus and promtool (Debian's `prometheus` package, 2.42 on Debian 12) for c2c's
# tests: the rule unit tests run promtool, the dashboard proof scrapes c2c's exporter and kwok's
# emulated kubelet metrics with a real Prometheus. Idempotent: a no-op when the wanted version is
# installed. The package's own service is never started: the tests run `prometheus` themselves
# on loopback ports (a policy-rc.d keeps apt from starting it, as in Debian's container images).
set -euo pipefail

VERSION=2.42.0

installed() {
  command -v prometheus >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1 &&
    prometheus --version 2>&1 | grep -q "version $VERSION"
}
if installed; then
  exit 0
fi

start=$(date +%s)
if [ "$(id -u)" -ne 0 ]; then
  echo "prometheus.sh: need root to apt-get install prometheus" >&2
  exit 1
fi
policy=/usr/sbin/policy-rc.d
added_policy=""
if [ ! -e "$policy" ]; then
  # invoke-rc.d asks this script whether to start services; 101 = "no" (and it is removed again).
  printf '#!/bin/sh\nexit 101\n' >"$policy"
  chmod +x "$policy"
  added_policy=1
fi
cleanup() { if [ -n "$added_policy" ]; then rm -f "$policy"; fi; }
trap cleanup EXIT
# apt-get needs a fresh package list on a new machine (its lists are empty or stale there).
apt-get update -qq
# --no-install-recommends: the recommended node exporter would be one more daemon nobody reads.
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null
if ! installed; then
  echo "prometheus.sh: Debian's prometheus package is not version $VERSION:" >&2
  prometheus --version >&2 || true
  exit 1
fi
echo "prometheus.sh: installed prometheus $VERSION in $(( $(date +%s) - start ))s"
