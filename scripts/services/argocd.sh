#!/usr/bin/env bash
# Installs the real Argo CD that c2c's tests and demo sync with: the application controller and
# the repo server, both in Argo CD's multi-call binary, built from the Go module proxy
# (services/argocd/go.mod pins github.com/argoproj/argo-cd/v3), and Redis, their cache, from
# Debian. Into ${C2C_CACHE:-~/.cache/c2c}/argocd-<version>/:
#   bin/argocd                  the multi-call binary (ARGOCD_BINARY_NAME picks the component)
#   bin/git-verify-wrapper.sh   the repo server runs it from PATH (hack/ in the module)
#   bin/redis-server            Debian's Redis server binary (scripts/services/redis.sh)
#   crds/*.yaml                 Argo CD's CRDs (manifests/crds in the module)
#   config/*.yaml               its default config objects: argocd-cm, argocd-rbac-cm, argocd-secret,
#                               argocd-cmd-params-cm (manifests/base/config in the module)
# The version is read from go.mod, so bumping it builds into a new directory.
#
# Idempotent: with everything present a warm run only stats a few files. Cold, the compile
# takes several minutes on two cores and about 3 GB of memory; it prints the time on stderr.
# The Go 1.27 toolchain Argo CD 3.6 needs (go.mod's toolchain line) is fetched by the go
# command through the module proxy into the module cache, like every module.
#
# stdout (the interface devstack/c2c_devstack/services/argocd.py reads): "argocd=<dir>".
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
module="$repo_root/services/argocd"
cache="${C2C_CACHE:-$HOME/.cache/c2c}"

version="$(awk '$1 == "github.com/argoproj/argo-cd/v3" && $2 ~ /^v[0-9]/ { print substr($2, 2); exit }' "$module/go.mod")"
toolchain="$(awk '$1 == "toolchain" { print $2; exit }' "$module/go.mod")"
if [[ -z "$version" || -z "$toolchain" ]]; then
    echo "argocd.sh: $module/go.mod must require github.com/argoproj/argo-cd/v3 and name a toolchain" >&2
    exit 1
fi
dir="$cache/argocd-$version"
# Redis (Debian's, see redis.sh) is linked in as bin/redis-server.
redis_binary="$("$repo_root/scripts/services/redis.sh" | sed -n 's/^redis-server=//p')"

installed() {
    [[ -x "$dir/bin/argocd" && -x "$dir/bin/git-verify-wrapper.sh" && -L "$dir/bin/redis-server" \
        && -f "$dir/crds/application-crd.yaml" && -f "$dir/config/argocd-cm.yaml" && -x "$redis_binary" ]]
}
if installed; then
    echo "argocd=$dir"
    exit 0
fi

if ! command -v go >/dev/null; then
    echo "argocd.sh: go is needed to build Argo CD (see services/argocd/go.mod)" >&2
    exit 1
fi

mkdir -p "$dir/bin"
# One builder at a time: a second caller (another test session) waits, then finds it built.
exec {lock}>"$dir/.build.lock"
flock "$lock"
if ! installed; then
    tmp="$(mktemp -d "$dir/.tmp.XXXXXX")"
    trap 'rm -rf "$tmp"' EXIT
    start=$SECONDS
    # -mod=readonly: go.sum pins everything, so a fresh clone builds exactly what was reviewed.
    # CGO off for a static binary; -X stamps the version as Argo CD's Makefile does (else it
    # reports v99.99.99).
    (cd "$module" && GOTOOLCHAIN="$toolchain" CGO_ENABLED=0 go build -mod=readonly -trimpath \
        -ldflags="-s -w -X github.com/argoproj/argo-cd/v3/common.version=$version" \
        -o "$tmp/argocd" github.com/argoproj/argo-cd/v3/cmd)
    built=$((SECONDS - start))
    source_dir="$(cd "$module" && GOTOOLCHAIN="$toolchain" go list -mod=readonly -m -f '{{.Dir}}' github.com/argoproj/argo-cd/v3)"
    mkdir -p "$tmp/crds"
    install -m 0644 "$source_dir"/manifests/crds/*-crd.yaml "$tmp/crds/"
    mkdir -p "$tmp/config"
    for name in argocd-cm argocd-rbac-cm argocd-secret argocd-cmd-params-cm; do
        install -m 0644 "$source_dir/manifests/base/config/$name.yaml" "$tmp/config/"
    done
    install -m 0755 "$source_dir/hack/git-verify-wrapper.sh" "$tmp/git-verify-wrapper.sh"
    ln -sfn "$redis_binary" "$tmp/redis-server"
    # Renames are atomic: an interrupted install never leaves a half-written file in place;
    # the binary goes last, as it is what marks the install complete.
    rm -rf "$dir/crds" "$dir/config"
    mv "$tmp/crds" "$tmp/config" "$dir/"
    mv -f "$tmp/git-verify-wrapper.sh" "$tmp/redis-server" "$dir/bin/"
    mv -f "$tmp/argocd" "$dir/bin/argocd"
    rm -rf "$tmp"
    trap - EXIT
    echo "argocd.sh: built Argo CD $version (with $toolchain) in ${built}s" >&2
fi
flock -u "$lock"
exec {lock}>&-
echo "argocd=$dir"
