#!/usr/bin/env bash
# Benchmark: the cost of the per-open access check. With allow_other, a user other than root
# opening a member makes daqfs (as root) open the backing archive as that user once; root skips
# the check. Measured: `cat` of every member of an archive of many small files (an XDS-style
# frame folder), warm (page cache and daqfs caches filled by a first pass), through daqfs as
# uid 65534 (checked) and as root (unchecked), and of the same files extracted to a plain
# folder as uid 65534 (the reference: what the files cost without FUSE).
# Runs are interleaved; medians of RUNS runs and their ratios are printed as a Markdown table.
# Usage: tools/bench/access.sh [--files N] [--runs N] [--dir WORKDIR] [--keep]
# Needs root (mounting with allow_other, setpriv).
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD

files=5000
runs=5
work=/var/tmp/daqfs-bench-access
keep=0
while [ $# -gt 0 ]; do
  case "$1" in
    --files) files=$2; shift ;;
    --runs) runs=$2; shift ;;
    --dir) work=$2; shift ;;
    --keep) keep=1 ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    *) echo "access.sh: unknown option $1" >&2; exit 1 ;;
  esac
  shift
done
[ "$(id -u)" -eq 0 ] || { echo "access.sh: needs root" >&2; exit 1; }
[ "$runs" -ge 5 ] || echo "access.sh: warning: fewer than 5 runs" >&2
daqfs=$root/build/tools/daqfs
[ -x "$daqfs" ] || { cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null &&
  cmake --build build -j"$(nproc)" --target daqfs >/dev/null; }

mnt=$work/mnt
cleanup() {
  if grep -qs " $mnt " /proc/mounts; then fusermount3 -u "$mnt" || fusermount3 -u -z "$mnt"; fi
  [ "$keep" = 1 ] || rm -rf "$work"
}
trap cleanup EXIT
rm -rf "$work"
mkdir -p "$work/frames" "$work/archives" "$mnt" "$work/cache"
chmod 755 "$work" "$work/frames" "$work/archives" "$mnt"
echo "access.sh: making $files files of 64 KiB" >&2
head -c $((files * 65536)) /dev/urandom | split -a 6 -d -b 65536 - "$work/frames/frame_"
tar -cf "$work/archives/frames.tar" -C "$work" frames
chmod 644 "$work/archives/frames.tar"

"$daqfs" -o allow_other --source "$work/archives" --cache-dir "$work/cache" "$mnt" 2>/dev/null
nobody="setpriv --reuid=65534 --regid=65534 --clear-groups"
# One pass each to fill the page cache and the daqfs caches: the runs then measure the open
# path (lookup, open with its check, read from cache, release), not the disk.
cat_all() { find "$1" -type f -print0 | $2 xargs -0 cat >/dev/null; }
cat_all "$mnt/frames.tar/frames" ""
cat_all "$work/frames" "$nobody"

time_ms() {  # prints the milliseconds of: cat_all DIR PREFIX
  local t0 t1
  t0=$(date +%s%N)
  cat_all "$1" "$2"
  t1=$(date +%s%N)
  echo $(((t1 - t0) / 1000000))
}
declare -a checked unchecked plain
for ((i = 0; i < runs; i++)); do
  checked+=("$(time_ms "$mnt/frames.tar/frames" "$nobody")")
  unchecked+=("$(time_ms "$mnt/frames.tar/frames" "")")
  plain+=("$(time_ms "$work/frames" "$nobody")")
done
median() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
mc=$(median "${checked[@]}")
mu=$(median "${unchecked[@]}")
mp=$(median "${plain[@]}")
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2fx", (b > 0 ? a / b : 0) }'; }
per_open() { awk -v t="$1" -v n="$files" 'BEGIN { printf "%.1f", t * 1000 / n }'; }
echo
echo "| cat of $files members of 64 KiB, warm | ms (median of $runs) | us per file | vs root through daqfs | vs plain folder |"
echo "|---|---|---|---|---|"
echo "| daqfs, uid 65534 (access checked at open) | $mc | $(per_open "$mc") | $(ratio "$mc" "$mu") | $(ratio "$mc" "$mp") |"
echo "| daqfs, root (no check) | $mu | $(per_open "$mu") | 1.00x | $(ratio "$mu" "$mp") |"
echo "| plain folder, uid 65534 | $mp | $(per_open "$mp") | | 1.00x |"
