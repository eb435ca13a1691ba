#!/usr/bin/env bash
# Installs cosign (sigstore, Apache-2.0), built from the Go module proxy, into
# ${C2C_CACHE:-~/.cache/c2c}/cosign-<version>/bin: the tests sign provenance with `cosign attest`
# and check c2c's own attestations with `cosign verify-attestation`, and the demo's pipeline signs
# with it. `go install module@version` builds the release's own go.mod/go.sum, checked against the
# Go checksum database, so the binary is the tagged release's dependency set.
#
# Idempotent: a warm run only stats the binary. Cold: a few minutes on two cores (module
# downloads and the compile); it prints the time on stderr.
# stdout (read by devstack/c2c_devstack/services/cosign.py): "cosign=<binary path>".
set -euo pipefail

version="2.6.5"
bin_dir="${C2C_CACHE:-$HOME/.cache/c2c}/cosign-$version/bin"

if [[ ! -x "$bin_dir/cosign" ]]; then
    command -v go >/dev/null || { echo "cosign.sh: go is needed to build cosign $version" >&2; exit 1; }
    mkdir -p "$bin_dir"
    # One builder at a time: a second caller (another test session) waits, then finds it built.
    exec {lock}>"$bin_dir/.build.lock"
    flock "$lock"
    if [[ ! -x "$bin_dir/cosign" ]]; then
        start="$SECONDS"
        tmp="$(mktemp -d "$bin_dir/.tmp.XXXXXX")"
        trap 'rm -rf "$tmp"' EXIT
        # GOBIN into a scratch directory then a rename: an interrupted build never leaves a
        # half-written binary under the final name. Static binary, no cgo; -buildvcs=false as
        # there is no VCS checkout to stamp (GOFLAGS from the environment are kept).
        GOBIN="$tmp" CGO_ENABLED=0 GOFLAGS="${GOFLAGS:+$GOFLAGS }-buildvcs=false -trimpath" \
            go install -ldflags="-s -w -X sigs.k8s.io/release-utils/version.gitVersion=v$version" \
            "github.com/sigstore/cosign/v2/cmd/cosign@v$version"
        mv -f "$tmp/cosign" "$bin_dir/cosign"
        echo "cosign.sh: built cosign $version in $((SECONDS - start))s" >&2
    fi
fi
echo "cosign=$bin_dir/cosign"
