#!/usr/bin/env bash
# Installs the npm packages of the dashboards' display proof and previews (Grafana's own
# @grafana/data, uPlot) from npm with `npm ci`, exactly as c2c_dagster_tests/observability/
# grafana_display/package-lock.json pins them, into ${C2C_CACHE:-~/.cache/c2c}/grafana-display-<hash
# of the lockfile>/node_modules. Idempotent: a no-op when that directory is complete.
#
# stdout: "grafana-display=<node_modules directory>".
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
package="$here/../../c2c_dagster_tests/observability/grafana_display"
cache="${C2C_CACHE:-$HOME/.cache/c2c}"
key="$(sha256sum "$package/package-lock.json" | cut -c1-12)"
target="$cache/grafana-display-$key"

if [[ ! -f "$target/.complete" ]]; then
    start=$SECONDS
    command -v npm >/dev/null || { echo "grafana-display.sh: npm is needed (Debian: nodejs, npm)" >&2; exit 1; }
    rm -rf "$target" "$target.tmp"
    mkdir -p "$target.tmp"
    cp "$package/package.json" "$package/package-lock.json" "$target.tmp/"
    (cd "$target.tmp" && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error >/dev/null)
    touch "$target.tmp/.complete"
    mv "$target.tmp" "$target"
    echo "grafana-display.sh: installed @grafana/data and uPlot in $((SECONDS - start))s" >&2
fi
echo "grafana-display=$target/node_modules"
