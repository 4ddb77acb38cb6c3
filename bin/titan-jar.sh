# Sourced by ./titan (sh, set -eu) and bench/run (bash, set -euo pipefail), after titan_find_jdk
# has set JAVA_HOME; every function works under both.

# The JVM options Titan runs with, unless TITAN_JAVA_OPTS says otherwise.
TITAN_DEFAULT_JAVA_OPTS="-XX:+UseParallelGC -Xss512k"

# titan_jar_stale ROOT JAR: succeeds when JAR is missing or older than a pom or a main source file
# of the checkout at ROOT (then it needs ./mvnw install).
titan_jar_stale() {
  [ ! -f "$2" ] || [ -n "$(find "$1/pom.xml" "$1"/titan-*/pom.xml "$1"/titan-*/src/main -newer "$2" -type f 2>/dev/null | head -n 1)" ]
}

# titan_run_jar JAR: sets TITAN_RUN_JAR to a private copy of JAR named by its content, in
# titan-app/target/run beside it. A later build rewrites JAR in place, which would break a Titan
# still running from it (classes it has not loaded yet would vanish); the copy is never rewritten.
# Copies other than the two newest are deleted with their AOT caches, which is safe for a process
# that has them open.
titan_run_jar() {
  run_dir="$(dirname "$1")/run"
  sum=$(cksum < "$1" | tr -s ' ' '-')
  TITAN_RUN_JAR="$run_dir/titan-$sum.jar"
  if [ ! -f "$TITAN_RUN_JAR" ]; then
    mkdir -p "$run_dir"
    cp "$1" "$TITAN_RUN_JAR.tmp.$$" && mv -f "$TITAN_RUN_JAR.tmp.$$" "$TITAN_RUN_JAR"
  fi
  # (grep finds nothing on a first run: `|| true` keeps callers under `set -o pipefail` going)
  ls -t "$run_dir"/titan-*.jar | { grep -vxF "$TITAN_RUN_JAR" || true; } | tail -n +3 | while read -r old; do
    rm -f "$old" "${old%.jar}".*.aot "${old%.jar}".*.aot.log
  done
}

# titan_aot_cache OPTS TRAIN: on a JDK with AOT caches (25 and later), sets TITAN_AOT_CACHE to the
# cache of TITAN_RUN_JAR for this JDK and these JVM options, and TITAN_AOT_OPTS to the options that
# use it; otherwise, or with TITAN_AOT=off, sets both empty. The JVM checks a cache against the jar
# it was recorded with only loosely (JDK 25 used a cache with another jar of the same size and ran
# classes from it), so the file is named by the jar's content, the JDK's build and the options.
# TRAIN=1: a missing cache is recorded first, by a JVM running `titan aot-training` (about 30 s,
# once per build and JDK); if that fails, Titan runs without a cache and says where the log is.
titan_aot_cache() {
  TITAN_AOT_CACHE=""
  TITAN_AOT_OPTS=""
  [ "${TITAN_AOT:-on}" = off ] && return 0
  # titan_find_jdk knows the version; only a caller that set JAVA_HOME itself makes us ask the JVM
  major=${TITAN_JDK_MAJOR:-$(titan_jdk_major "$JAVA_HOME")}
  [ -n "$major" ] && [ "$major" -ge 25 ] || return 0
  build=$(sed -n 's/^JAVA_RUNTIME_VERSION="\(.*\)"$/\1/p' "$JAVA_HOME/release" 2>/dev/null)
  [ -n "$build" ] || return 0
  key=$(printf '%s|%s|%s' "$JAVA_HOME" "$build" "$1" | cksum | cut -d' ' -f1)
  cache="${TITAN_RUN_JAR%.jar}.jdk-$(printf '%s' "$build" | tr -c 'A-Za-z0-9.+-' '_')-$key.aot"
  if [ ! -f "$cache" ]; then
    [ "$2" = 1 ] || return 0
    echo "titan: recording an AOT cache for this build and JDK (once, about 30 s; TITAN_AOT=off skips it)..." >&2
    # shellcheck disable=SC2086 # the options are words
    if "$JAVA_HOME/bin/java" $1 -XX:AOTCacheOutput="$cache.tmp.$$" -jar "$TITAN_RUN_JAR" aot-training > "$cache.log" 2>&1 &&
       [ -f "$cache.tmp.$$" ]; then
      mv -f "$cache.tmp.$$" "$cache"
    else
      rm -f "$cache.tmp.$$"
      echo "titan: recording the AOT cache failed (see $cache.log); running without it" >&2
      return 0
    fi
  fi
  TITAN_AOT_CACHE=$cache
  TITAN_AOT_OPTS="-XX:AOTCache=$cache"
}
