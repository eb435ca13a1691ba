#!/usr/bin/env bash
# Installs a real OpenSearch 2.19 single node for c2c's tests, built from Maven Central jars
# (the distribution tarball cannot be downloaded here: only package registries are reachable).
#
# Builds services/opensearch (a tiny main class that boots org.opensearch.node.Node with the
# Netty, analysis-common and Painless modules) with Maven and lays it out in
#   ${C2C_CACHE:-~/.cache/c2c}/opensearch-2.19.4/
#     lib/*.jar      the server, its modules and their dependencies, plus our main class
#     plugins/opensearch-security/   the security plugin, unpacked from its Maven Central zip;
#                    only a secured test node links it into its home (plugins are found there)
#     jvm.args       java @argfile: classpath + JVM flags, the one place they are defined
#     node.jsa       class-data-sharing archive (halves JVM start-up; optional, best effort)
#     .stamp         written last; holds a hash of the inputs below
# devstack/c2c_devstack/services/opensearch.py runs `java @jvm.args ...` from there.
#
# Idempotent: when .stamp matches the current inputs (pom, sources, this script) it returns at
# once without calling Maven; anything else (no stamp, a half-done install, changed sources) is
# rebuilt from scratch into a temporary directory and swapped in whole.
set -euo pipefail

# 2.19.4: the newest 2.19 for which the security plugin is published (it loads on its exact
# node version only), so plain and secured test nodes run the same server.
VERSION=2.19.4
SECURITY_PLUGIN=org.opensearch.plugin:opensearch-security:${VERSION}.0:zip
script="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "${BASH_SOURCE[0]}")"
repo_root="$(cd "$(dirname "$script")/../.." && pwd)"
project="$repo_root/services/opensearch"
cache="${C2C_CACHE:-$HOME/.cache/c2c}"
dest="$cache/opensearch-$VERSION"
start_ns=$(date +%s%N)

elapsed() { echo "$(( ($(date +%s%N) - start_ns) / 1000000 ))ms"; }

# The stamp is the hash of everything that shapes the install, so an edit to the pom or the
# Java source is picked up without anyone having to remember to wipe the cache.
inputs_hash() {
  (cd "$project" && find pom.xml src -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum
   sha256sum "$script" | cut -d' ' -f1) | sha256sum | cut -d' ' -f1
}
want="$(inputs_hash)"

if [ "$(cat "$dest/.stamp" 2>/dev/null || true)" = "$want" ]; then
  echo "opensearch.sh: OpenSearch $VERSION already installed in $dest ($(elapsed))"
  exit 0
fi

mkdir -p "$cache"
# Two test sessions may install at once: serialise them, then re-check (the other may have won).
exec 9>"$cache/opensearch-$VERSION.lock"
flock 9
if [ "$(cat "$dest/.stamp" 2>/dev/null || true)" = "$want" ]; then
  echo "opensearch.sh: OpenSearch $VERSION installed by a concurrent run in $dest ($(elapsed))"
  exit 0
fi

work="$(mktemp -d "$cache/opensearch-$VERSION.tmp.XXXXXX")"
cds_pid=""
cleanup() {
  if [ -n "$cds_pid" ]; then kill "$cds_pid" 2>/dev/null || true; wait "$cds_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

# 1. Build. Maven's target/ goes to the scratch dir so nothing is written inside the clone.
#    Its output is kept for a failure only (even -q prints stray colour codes otherwise).
if ! mvn -q -B -f "$project/pom.xml" \
    -Dc2c.build.dir="$work/build" \
    -DoutputDirectory="$work/install/lib" \
    package dependency:copy-dependencies >"$work/mvn.log" 2>&1; then
  echo "opensearch.sh: Maven build of $project failed:" >&2
  cat "$work/mvn.log" >&2
  exit 1
fi
cp "$work/build/c2c-opensearch-node.jar" "$work/install/lib/"

# 1b. The security plugin: its zip (plugin descriptor, its jar and its own dependencies) as the
#     distribution's bin/opensearch-plugin would unpack it into plugins/. Fetched by Maven too.
if ! mvn -q -B org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy \
    -Dartifact="$SECURITY_PLUGIN" -DoutputDirectory="$work/plugin-zip" >"$work/mvn-plugin.log" 2>&1; then
  echo "opensearch.sh: Maven could not fetch $SECURITY_PLUGIN:" >&2
  cat "$work/mvn-plugin.log" >&2
  exit 1
fi
mkdir -p "$work/install/plugins/opensearch-security"
(cd "$work/install/plugins/opensearch-security" && jar xf "$work"/plugin-zip/opensearch-security-*.zip)

# 2. The JVM command line, as a java @argfile (one token per line). Paths point at $dest, where
#    the install will live once swapped in. The flags follow what the OpenSearch 2.x launcher
#    passes (SystemJvmOptions), minus those that only matter for long-lived production nodes.
{
  # An explicit, sorted jar list rather than lib/*: the CDS archive is only valid for the very
  # classpath it was recorded with. Quoted in case $C2C_CACHE holds a space.
  echo "-cp"
  echo "\"$( (cd "$work/install/lib" && LC_ALL=C ls -1 ./*.jar) | sed "s|^\./|$dest/lib/|" | paste -sd: -)\""
  # Heap for a test node: small, but enough for a few thousand documents and aggregations.
  echo "-Xms512m"
  echo "-Xmx1g"
  # Start-up dominates a test node's life: C1 alone boots ~2x faster than tiered C2 on 2 cores.
  echo "-XX:TieredStopAtLevel=1"
  echo "-Xss1m"
  # Fail loudly rather than limp on with a broken node.
  echo "-XX:+ExitOnOutOfMemoryError"
  echo "-XX:-OmitStackTraceInFastThrow"
  echo "-XX:+ShowCodeDetailsInExceptionMessages"
  echo "-Djava.awt.headless=true"
  echo "-Dfile.encoding=UTF-8"
  echo "-Djna.nosys=true"
  # OpenSearch's date handling needs its SPI CalendarDataProvider and the COMPAT locale data,
  # exactly as the 2.x launcher sets on JDK 9+ (otherwise some date patterns parse differently).
  echo "-Djava.locale.providers=SPI,COMPAT"
  # Netty as the distribution runs it (no sun.misc.Unsafe, no per-thread recyclers).
  echo "-Dio.netty.noUnsafe=true"
  echo "-Dio.netty.noKeySetOptimization=true"
  echo "-Dio.netty.recycler.maxCapacityPerThread=0"
  echo "-Dio.netty.allocator.numDirectArenas=0"
  # The node closes itself on SIGTERM and then stops log4j; log4j must not race it.
  echo "-Dlog4j.shutdownHookEnabled=false"
  echo "-Dlog4j2.disable.jmx=true"
} >"$work/install/jvm.args"

# 3. Swap the new install in (the argfile's paths only resolve from here on).
rm -rf "$dest"
mv "$work/install" "$dest"

# 4. Best effort: boot the node once and record the classes it loaded in a dynamic CDS archive,
#    which the JVM then maps instead of parsing ~10k classes from 66 jars (about 4s saved per
#    test session on 2 busy cores). Without it the node still starts, just more slowly.
cds_home="$work/cds-home"
mkdir -p "$cds_home"
java @"$dest/jvm.args" -XX:ArchiveClassesAtExit="$work/node.jsa" -Djava.io.tmpdir="$work" \
  org.c2c.opensearch.C2cOpenSearchNode "$cds_home" 0 0 >"$work/cds.log" 2>&1 &
cds_pid=$!
for _ in $(seq 1 240); do
  grep -q '^c2c-opensearch: started' "$work/cds.log" 2>/dev/null && break
  kill -0 "$cds_pid" 2>/dev/null || break
  sleep 0.5
done
cds_note="without CDS archive (training run did not start; see below)"
if grep -q '^c2c-opensearch: started' "$work/cds.log"; then
  kill -TERM "$cds_pid"     # a clean exit is what makes the JVM write the archive
  wait "$cds_pid" || true
  cds_pid=""
  if [ -s "$work/node.jsa" ]; then
    mv "$work/node.jsa" "$dest/node.jsa"
    cds_note="with CDS archive"
  fi
fi
if [ "$cds_note" != "with CDS archive" ]; then
  echo "opensearch.sh: CDS training run failed, continuing without it; its log tail:" >&2
  tail -n 20 "$work/cds.log" >&2 || true
fi

# 5. Stamp last: only a complete install is ever taken as done.
echo "$want" >"$dest/.stamp"
echo "opensearch.sh: built OpenSearch $VERSION from Maven jars into $dest $cds_note ($(elapsed))"
