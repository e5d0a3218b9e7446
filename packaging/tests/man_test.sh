#!/usr/bin/env bash
# Checks the manual pages the build made (CTest "man_pages", label unit):
#   - each page exists, plain and gzip -9n compressed (no name, no time stamp), and the two agree;
#   - groff -ww and mandoc -T lint (warning level) report nothing; man -l renders it;
#   - every option the tool's --help prints appears in the rendered page, and the page's version
#     is the tool's; every key and section of the example configuration appears in daqfs.ini(5).
# Usage: man_test.sh MAN_DIR DAQFS DAQFS_CACHE DAQFS_REPACK DAQFS_SIM DAQFS_METRICS_TEXTFILE
#                    EXAMPLE_INI
set -uo pipefail

[ $# -eq 7 ] || {
  echo "usage: $0 MAN_DIR DAQFS DAQFS_CACHE DAQFS_REPACK DAQFS_SIM DAQFS_METRICS_TEXTFILE" \
    "EXAMPLE_INI" >&2
  exit 2
}
man_dir=$1 daqfs=$2 daqfs_cache=$3 daqfs_repack=$4 daqfs_sim=$5 textfile=$6 example=$7
export LC_ALL=C.UTF-8
failures=0
fail() {
  echo "FAIL: $*" >&2
  failures=$((failures + 1))
}

# Plain text of a page, one long line per paragraph (no hyphenation, no line breaks inside).
render() {
  groff -man -Tascii -P-cbou -rLL=2000n -rHY=0 "$1" 2>/dev/null | tr -s ' '
}

check_page() {
  local page=$1
  if [ ! -s "$page" ] || [ ! -s "$page.gz" ]; then
    fail "$page or $page.gz is missing or empty"
    return 1
  fi
  gzip -dc "$page.gz" | cmp -s - "$page" || fail "$page.gz does not decompress to $page"
  # gzip header: byte 3 = flags (0: no FNAME), bytes 4-7 = MTIME (0 with -n), byte 8 = XFL (2: -9).
  local header
  header=$(od -An -tu1 -N9 "$page.gz" | tr -s ' ' | sed 's/^ //')
  [ "$header" = "31 139 8 0 0 0 0 0 2" ] || fail "$page.gz is not gzip -9n (header: $header)"
  local out
  out=$(groff -man -Tutf8 -ww -z "$page" 2>&1) || fail "groff failed on $page"
  [ -z "$out" ] || fail "groff -ww warns on $page:"$'\n'"$out"
  out=$(mandoc -T lint -W warning "$page" 2>&1) || fail "mandoc -T lint on $page:"$'\n'"$out"
  [ -z "$out" ] || fail "mandoc -T lint warns on $page:"$'\n'"$out"
  out=$(MANWIDTH=80 man -l -P cat "$page" 2>&1) || fail "man -l failed on $page"
  grep -q '^NAME' <<<"$out" || fail "man -l $page shows no NAME section"
  grep -q 'manual page for' <<<"$out" && fail "$page has help2man's placeholder NAME"
  return 0
}

# Options (-x, --long-name) that TOOL --help prints must all appear in PAGE.
check_options() {
  local tool=$1 page=$2 help text opts opt
  help=$("$tool" --help) || { fail "$tool --help failed"; return; }
  text=$(render "$page")
  opts=$(grep -oE '(^|[^A-Za-z0-9_.-])--?[A-Za-z][A-Za-z0-9-]*' <<<"$help" | sed -E 's/^[^-]*//' |
    sort -u)
  [ -n "$opts" ] || fail "found no options in $tool --help"
  for opt in $opts; do
    grep -qE -- "(^|[^A-Za-z0-9-])$opt([^A-Za-z0-9-]|\$)" <<<"$text" ||
      fail "$(basename "$page"): option $opt of $(basename "$tool") --help is missing"
  done
  echo "$(basename "$page"): $(wc -w <<<"$opts") options of --help checked"
}

pages=(daqfs.8 daqfs-cache.1 daqfs-repack.1 daqfs-sim.1 daqfs-metrics-textfile.1 daqfs.ini.5)
for p in "${pages[@]}"; do
  check_page "$man_dir/$p"
done
check_options "$daqfs" "$man_dir/daqfs.8"
check_options "$daqfs_cache" "$man_dir/daqfs-cache.1"
check_options "$daqfs_repack" "$man_dir/daqfs-repack.1"
check_options "$daqfs_sim" "$man_dir/daqfs-sim.1"
check_options "$textfile" "$man_dir/daqfs-metrics-textfile.1"

# Sub-commands of daqfs-cache and the sections of the pages.
text=$(render "$man_dir/daqfs-cache.1")
for cmd in stats clear warm; do
  grep -q "daqfs-cache $cmd" <<<"$text" || fail "daqfs-cache.1: sub-command $cmd missing"
done
for s in SYNOPSIS OPTIONS 'EXIT STATUS' FILES EXAMPLES 'SEE ALSO'; do
  grep -q "^$s" <<<"$(render "$man_dir/daqfs.8")" || fail "daqfs.8: no $s section"
done

# The version shown is the tool's own.
version=$("$daqfs" --version) || fail "daqfs --version failed"
grep -q "^\.TH DAQFS \"8\" \"[^\"]*\" \"$version\"" "$man_dir/daqfs.8" ||
  fail "daqfs.8 does not carry \"$version\""

# daqfs.ini(5): every section and key of the example (set or commented out) appears as "key =".
text=$(render "$man_dir/daqfs.ini.5")
keys=$(sed -nE 's/^(; )?([a-z_][a-z0-9_]*) = .*/\2/p' "$example" | sort -u)
[ "$(wc -w <<<"$keys")" -ge 20 ] || fail "found only $(wc -w <<<"$keys") keys in $example"
for k in $keys; do
  grep -qE "(^|[ ,])$k = " <<<"$text" || fail "daqfs.ini.5: key $k missing"
done
for s in '\[mount\]' '\[cache\]' '\[source NAME\]'; do
  grep -q "^ *$s" <<<"$text" || fail "daqfs.ini.5: section $s missing"
done
echo "daqfs.ini.5: $(wc -w <<<"$keys") keys of $(basename "$example") checked"

if [ "$failures" -ne 0 ]; then
  echo "$failures check(s) failed" >&2
  exit 1
fi
echo "all manual pages OK"
