#!/usr/bin/env bash
# Installs the OCI registry (Debian's docker-registry, the CNCF distribution registry) and
# Buildah from Debian's packages for c2c's tests. Idempotent: a no-op when both are present.
set -euo pipefail

missing=()
command -v docker-registry >/dev/null 2>&1 || missing+=(docker-registry)
command -v buildah >/dev/null 2>&1 || missing+=(buildah)
[ -f /etc/containers/policy.json ] || missing+=(golang-github-containers-common)

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

start=$(date +%s)
if [ "$(id -u)" -ne 0 ]; then
  echo "registry.sh: need root to apt-get install ${missing[*]}" >&2
  exit 1
fi
# apt-get needs a fresh package list on a new machine (its lists are empty or stale there).
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "registry.sh: installed ${missing[*]} in $(( $(date +%s) - start ))s"
