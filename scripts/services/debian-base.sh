#!/usr/bin/env bash
# The base image the tests build c2c's code-location image on: there is no Docker Hub here, so
# instead of python:3.11-slim-bookworm (the Containerfile's default) the tests use a minimal
# Debian 12 root filesystem with Debian's python3 (3.11), made with debootstrap from Debian's
# packages, trimmed of docs, locales and apt lists. devstack/c2c_devstack/services/registry.py
# imports the tarball into Buildah and pushes it to the test registry.
#
# Cached as ${C2C_CACHE:-~/.cache/c2c}/debian-base-<suite>-<recipe>/rootfs.tar, keyed by the
# suite and this recipe's revision (bump RECIPE when the package list or trimming changes); the
# date it was made is in built-at. stdout: "debian-base=<rootfs.tar path>".
set -euo pipefail

SUITE=bookworm
RECIPE=1
PACKAGES=python3
MIRROR="${C2C_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
cache="${C2C_CACHE:-$HOME/.cache/c2c}/debian-base-$SUITE-r$RECIPE"
tarball="$cache/rootfs.tar"

if [ -f "$tarball" ]; then
  echo "debian-base=$tarball"
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "debian-base.sh: debootstrap needs root (chroot, device nodes) to make $tarball" >&2
  exit 1
fi
if ! command -v debootstrap >/dev/null 2>&1; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >/dev/null
fi

mkdir -p "$cache"
exec {lock}>"$cache/.lock"
flock "$lock"
if [ ! -f "$tarball" ]; then
  start=$(date +%s)
  work="$(mktemp -d "$cache/.tmp.XXXXXX")"
  trap 'rm -rf "$work"' EXIT
  debootstrap --variant=minbase --include="$PACKAGES" "$SUITE" "$work/rootfs" "$MIRROR" \
      >"$work/debootstrap.log" 2>&1 || { tail -20 "$work/debootstrap.log" >&2; exit 1; }
  # What a runtime image does not need; the apt lists alone are ~100 MB.
  rm -rf "$work/rootfs"/usr/share/doc/* "$work/rootfs"/usr/share/man/* "$work/rootfs"/usr/share/locale/* \
      "$work/rootfs"/usr/share/info/* "$work/rootfs"/var/cache/apt/* "$work/rootfs"/var/lib/apt/lists/* \
      "$work/rootfs"/var/log/* "$work/rootfs"/tmp/*
  tar --numeric-owner -C "$work/rootfs" -cf "$work/rootfs.tar" .
  mv "$work/rootfs.tar" "$tarball"
  date -u +%Y-%m-%dT%H:%M:%SZ >"$cache/built-at"
  echo "debian-base.sh: made $tarball ($(du -m "$tarball" | cut -f1) MiB) in $(( $(date +%s) - start ))s" >&2
fi
echo "debian-base=$tarball"
