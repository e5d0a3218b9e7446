#!/bin/sh
# Writes the manual page of a daqfs tool from its own --help and --version with Debian's help2man,
# so the page cannot drift from the tool. Run by the build (packaging/CMakeLists.txt).
#
# Usage: help2man.sh EXE SECTION INCLUDE OUTPUT [VERSION]
#   EXE      the built tool; INCLUDE a help2man include file (NAME, FILES, EXAMPLES, SEE ALSO...)
#   VERSION  the version string to show when EXE --version fails (a tool without --version)
#
# help2man runs the tool through a link to this script named like the tool (DAQFS_H2M_EXE set),
# which turns the tools' lower-case "usage:", "options:" and "exit status:" lines into the forms
# help2man recognises (SYNOPSIS, OPTIONS, EXIT STATUS) and passes everything else through.
set -eu

if [ -n "${DAQFS_H2M_EXE-}" ]; then
  if [ "${1-}" != --help ]; then
    exec "$DAQFS_H2M_EXE" "$@"
  fi
  help=$("$DAQFS_H2M_EXE" --help)
  printf '%s\n' "$help" | awk -v prog="${DAQFS_H2M_EXE##*/}" '
    NR == 1 && /^usage: / { sub(/^usage: /, "Usage: "); line = $0; in_usage = 1; next }
    in_usage {
      if ($0 ~ "^ +" prog "( |$)") {  # a second synopsis
        print line; sub(/^ +/, ""); line = "  or: " $0; next
      }
      if ($0 ~ /^ +[^ ]/) {  # continued arguments of this synopsis
        sub(/^ +/, " "); line = line $0; next
      }
      print line; in_usage = 0
    }
    /^options:$/ { print "Options:"; next }
    /^exit status: / { sub(/^exit status: /, ""); print "*Exit status*"; print ""; print; next }
    { print }
    END { if (in_usage) print line }'
  exit 0
fi

[ $# -ge 4 ] || { echo "usage: $0 EXE SECTION INCLUDE OUTPUT [VERSION]" >&2; exit 1; }
exe=$1 section=$2 include=$3 out=$4 version=${5-}
name=${exe##*/}
if [ -n "$version" ] && "$exe" --version >/dev/null 2>&1; then
  version=''  # the tool has --version: help2man asks it
fi
self=$(readlink -f "$0")
links="$out.bin"
rm -rf "$links"
mkdir -p "$links"
ln -s "$self" "$links/$name"
set -- --no-info --section="$section" --include="$include" --output="$out.tmp"
[ -n "$version" ] && set -- "$@" --version-string="$version"
DAQFS_H2M_EXE=$exe help2man "$@" "$links/$name"
rm -rf "$links"
# help2man dates pages "Month YYYY"; mandoc -T lint wants an ISO date (SOURCE_DATE_EPOCH honoured).
date=$(date -u -d "@${SOURCE_DATE_EPOCH:-$(date +%s)}" +%Y-%m-%d)
sed -E "s/^(\\.TH [^ ]+ \"[^\"]*\") \"[^\"]*\"/\\1 \"$date\"/" "$out.tmp" >"$out"
rm -f "$out.tmp"
