#!/usr/bin/env bash
# Installs the binaries of c2c's test Kubernetes cluster, built from the Go module proxy:
#   kube-apiserver, kube-controller-manager, kube-scheduler  (services/k8s/controlplane)
#   etcd                                                     (services/k8s/etcd)
#   kwok                                                     (services/k8s/kwok)
# into ${C2C_CACHE:-~/.cache/c2c}/<component>-<version>/bin, the version read from the
# module's go.mod, so bumping a go.mod builds into a new directory and never reuses stale
# binaries.
#
# Idempotent: a component whose binaries are all present is skipped, so a warm run only
# stats a few files. Cold, the control plane takes tens of minutes on two cores; it prints
# one line per component built, with the time it took, on stderr.
#
# stdout (the interface devstack/c2c_devstack/services/kubernetes.py reads): one line per
# component, "<component>=<bin dir>", whether it was built now or earlier.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
modules="$repo_root/services/k8s"
cache="${C2C_CACHE:-$HOME/.cache/c2c}"

# module_version <module dir> <module path>: the version go.mod requires of that module,
# without the leading "v". Parsed with awk rather than `go list -m` to keep warm runs fast.
module_version() {
    local version
    version="$(awk -v mod="$2" '
        { for (i = 1; i < NF; i++) if ($i == mod && $(i + 1) ~ /^v[0-9]/) { print substr($(i + 1), 2); exit } }
    ' "$1/go.mod")"
    if [[ -z "$version" ]]; then
        echo "kubernetes.sh: $2 is not required in $1/go.mod" >&2
        exit 1
    fi
    printf '%s\n' "$version"
}

# all_present <bin dir> <binary>...: true when every binary is there and executable.
all_present() {
    local dir="$1" bin
    shift
    for bin in "$@"; do
        [[ -x "$dir/$bin" ]] || return 1
    done
}

# build <component> <module dir> <bin dir> <ldflags> <binary>=<package>...: go build the
# packages (each a `tool` of the module, pinned by its go.mod/go.sum) into <bin dir>.
build() {
    local component="$1" module_dir="$2" bin_dir="$3" ldflags="$4"
    shift 4
    local binaries=() packages=() pair bin
    for pair in "$@"; do
        binaries+=("${pair%%=*}")
        packages+=("${pair#*=}")
    done

    all_present "$bin_dir" "${binaries[@]}" && return 0

    if ! command -v go >/dev/null; then
        echo "kubernetes.sh: go is needed to build $component (see services/k8s/*/go.mod)" >&2
        exit 1
    fi

    mkdir -p "$bin_dir"
    # One builder per component at a time: a second caller (another test session) waits,
    # then finds the binaries and skips instead of compiling the same thing again.
    exec {lock}>"$bin_dir/.build.lock"
    flock "$lock"
    if ! all_present "$bin_dir" "${binaries[@]}"; then
        # Build beside the final place, then rename each binary in: a rename is atomic, so
        # an interrupted build never leaves a half-written binary under the final name.
        build_tmp="$(mktemp -d "$bin_dir/.tmp.XXXXXX")"
        trap 'rm -rf "$build_tmp"' EXIT
        # One package: -o names the file (etcd's main is .../server/v3, which go would call
        # "server"). Several: -o is a directory and each binary keeps its package's name.
        local out="$build_tmp/"
        ((${#packages[@]} == 1)) && out="$build_tmp/${binaries[0]}"
        local start="$SECONDS"
        # -mod=readonly: go.sum must already pin everything (a fresh clone builds exactly
        # what was reviewed); CGO off for static binaries that run on any glibc/musl host.
        (cd "$module_dir" && CGO_ENABLED=0 go build -mod=readonly -trimpath \
            -ldflags="-s -w $ldflags" -o "$out" "${packages[@]}")
        for bin in "${binaries[@]}"; do
            mv -f "$build_tmp/$bin" "$bin_dir/$bin"
        done
        rm -rf "$build_tmp"
        trap - EXIT
        echo "kubernetes.sh: built $component (${binaries[*]}) in $((SECONDS - start))s" >&2
    fi
    flock -u "$lock"
    exec {lock}>&-
}

k8s_version="$(module_version "$modules/controlplane" k8s.io/kubernetes)"
etcd_version="$(module_version "$modules/etcd" go.etcd.io/etcd/server/v3)"
kwok_version="$(module_version "$modules/kwok" sigs.k8s.io/kwok)"

k8s_bin="$cache/k8s-$k8s_version/bin"
etcd_bin="$cache/etcd-$etcd_version/bin"
kwok_bin="$cache/kwok-$kwok_version/bin"

# The release builds stamp their version with -X (hack/lib/version.sh); without it
# /version says v0.0.0-master, which clients that check the server version misread.
IFS=. read -r k8s_major k8s_minor _ <<<"$k8s_version"
k8s_ldflags="-X k8s.io/component-base/version.gitVersion=v$k8s_version"
k8s_ldflags+=" -X k8s.io/component-base/version.gitMajor=$k8s_major"
k8s_ldflags+=" -X k8s.io/component-base/version.gitMinor=$k8s_minor"
k8s_ldflags+=" -X k8s.io/component-base/version.gitTreeState=clean"

build "kubernetes $k8s_version" "$modules/controlplane" "$k8s_bin" "$k8s_ldflags" \
    kube-apiserver=k8s.io/kubernetes/cmd/kube-apiserver \
    kube-controller-manager=k8s.io/kubernetes/cmd/kube-controller-manager \
    kube-scheduler=k8s.io/kubernetes/cmd/kube-scheduler
build "etcd $etcd_version" "$modules/etcd" "$etcd_bin" "" etcd=go.etcd.io/etcd/server/v3
build "kwok $kwok_version" "$modules/kwok" "$kwok_bin" "" kwok=sigs.k8s.io/kwok/cmd/kwok

echo "kubernetes=$k8s_bin"
echo "etcd=$etcd_bin"
echo "kwok=$kwok_bin"
