#!/usr/bin/env bash
# Installs kustomize, built from the Go module proxy (services/kustomize/go.mod pins it), into
# ${C2C_CACHE:-~/.cache/c2c}/kustomize-<version>/bin: the tests render k8s/ with it. Idempotent:
# a warm run only stats the binary. Cold: about a minute (module downloads and the compile).
# stdout (read by devstack/c2c_devstack/services/kustomize.py): "kustomize=<binary path>".
set -euo pipefail

module="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../services/kustomize" && pwd)"
version="$(awk '$1 == "sigs.k8s.io/kustomize/kustomize/v5" { sub(/^v/, "", $2); print $2; exit }' "$module/go.mod")"
if [[ -z "$version" ]]; then
    echo "kustomize.sh: sigs.k8s.io/kustomize/kustomize/v5 is not required in $module/go.mod" >&2
    exit 1
fi
bin_dir="${C2C_CACHE:-$HOME/.cache/c2c}/kustomize-$version/bin"

if [[ ! -x "$bin_dir/kustomize" ]]; then
    command -v go >/dev/null || { echo "kustomize.sh: go is needed to build kustomize $version" >&2; exit 1; }
    mkdir -p "$bin_dir"
    exec {lock}>"$bin_dir/.build.lock"
    flock "$lock"
    if [[ ! -x "$bin_dir/kustomize" ]]; then
        start="$SECONDS"
        tmp="$(mktemp -d "$bin_dir/.tmp.XXXXXX")"
        trap 'rm -rf "$tmp"' EXIT
        # -mod=readonly: go.sum pins every module; static binary, no cgo.
        (cd "$module" && CGO_ENABLED=0 go build -mod=readonly -trimpath -ldflags="-s -w" \
            -o "$tmp/kustomize" sigs.k8s.io/kustomize/kustomize/v5)
        mv -f "$tmp/kustomize" "$bin_dir/kustomize"
        echo "kustomize.sh: built kustomize $version in $((SECONDS - start))s" >&2
    fi
fi
echo "kustomize=$bin_dir/kustomize"
