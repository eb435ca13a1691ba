#!/usr/bin/env bash
# Installs the Redis server Argo CD caches in, from Debian's redis-tools package (Redis 7.0 on
# Debian 12). Idempotent: a no-op when it is there.
#
# Debian's redis-server package is only the service wrapper around redis-tools' binary (its
# /usr/bin/redis-server is a symlink to redis-check-rdb; Redis picks its role by argv[0]), and
# installing it would also start and enable a system-wide Redis on port 6379 that nothing here
# uses. redis-tools alone brings the binary; argocd.sh links to it as redis-server, as that
# package does, and the tests start it themselves on loopback ports.
#
# stdout: "redis-server=<binary>".
set -euo pipefail

binary=/usr/bin/redis-check-rdb
if [[ ! -x "$binary" ]]; then
    start=$SECONDS
    if [[ "$(id -u)" -ne 0 ]]; then
        echo "redis.sh: need root to apt-get install redis-tools" >&2
        exit 1
    fi
    # apt-get needs a fresh package list on a new machine (its lists are empty or stale there).
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends redis-tools >/dev/null
    echo "redis.sh: installed redis-tools in $((SECONDS - start))s" >&2
fi
echo "redis-server=$binary"
