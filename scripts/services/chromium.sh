#!/usr/bin/env bash
# Installs headless Chromium from Debian (the `chromium` package), which renders the dashboards'
# preview PNGs (dashboards/previews/). Idempotent: a no-op when it is there.
#
# stdout: "chromium=<binary>".
set -euo pipefail

binary=/usr/bin/chromium
if [[ ! -x "$binary" ]]; then
    start=$SECONDS
    if [[ "$(id -u)" -ne 0 ]]; then
        echo "chromium.sh: need root to apt-get install chromium" >&2
        exit 1
    fi
    # apt-get needs a fresh package list on a new machine (its lists are empty or stale there).
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
    echo "chromium.sh: installed chromium in $((SECONDS - start))s" >&2
fi
echo "chromium=$binary"
