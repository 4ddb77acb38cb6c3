# Sourced by ./titan, ./mvnw, .ci/run and bench/run (POSIX sh). Sets JAVA_HOME to a JDK >= 21
# (and TITAN_JDK_MAJOR to its feature version),
# looking in JAVA_HOME, then the java on PATH, then the system's JVM directory, or says clearly
# that there is none and returns 1.
titan_jdk_major() {
  # Prints the feature version of the JDK at $1 (a JDK home), or nothing if it is not a JDK.
  [ -x "$1/bin/java" ] && [ -x "$1/bin/javac" ] || return 0
  "$1/bin/java" -XshowSettings:properties -version 2>&1 |
    sed -n 's/^ *java\.specification\.version = \([0-9][0-9]*\).*/\1/p' | head -n 1
}

titan_find_jdk() {
  want=${TITAN_MIN_JDK:-21}
  candidates=""
  [ -n "${JAVA_HOME:-}" ] && candidates="$JAVA_HOME"
  if command -v java >/dev/null 2>&1; then
    path_java=$(command -v java)
    if command -v readlink >/dev/null 2>&1; then path_java=$(readlink -f "$path_java"); fi
    candidates="$candidates
$(dirname "$(dirname "$path_java")")"
  fi
  # callers such as mvnw run with globbing off (set -f); this loop needs it
  case $- in *f*) titan_noglob=1; set +f ;; *) titan_noglob=0 ;; esac
  for dir in /usr/lib/jvm/* /usr/java/* /opt/java/* /Library/Java/JavaVirtualMachines/*/Contents/Home; do
    [ -d "$dir" ] && candidates="$candidates
$dir"
  done
  [ "$titan_noglob" = 1 ] && set -f
  old_ifs=$IFS
  IFS='
'
  for home in $candidates; do
    [ -n "$home" ] || continue
    major=$(titan_jdk_major "$home")
    if [ -n "$major" ] && [ "$major" -ge "$want" ]; then
      IFS=$old_ifs
      JAVA_HOME=$home
      TITAN_JDK_MAJOR=$major # for the sourcing shell only: a child may run another JDK
      export JAVA_HOME
      return 0
    fi
  done
  IFS=$old_ifs
  echo "titan: no JDK $want or newer found (looked at JAVA_HOME, the java on PATH, /usr/lib/jvm)." >&2
  echo "titan: install one (e.g. 'apt-get install openjdk-21-jdk-headless') or set JAVA_HOME to it." >&2
  return 1
}
