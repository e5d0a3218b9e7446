#!/usr/bin/env bash
# Benchmark of the cache layer on a slow source: a tar member behind simulate_latency_ms = 20
# (every block read sleeps 20 ms first: the latency of a busy parallel filesystem, not CPU),
# with cache = disk. Measured, as medians of RUNS interleaved runs:
#   sequential MB/s (dd bs=1M): cold with prefetch on, cold with prefetch off (same
#     read_ahead_kb), SSD-warm (remounted, page cache dropped), memory-warm (same mount, page
#     cache dropped), and one `cat` of all the cache's block files (cold) as the SSD reference
#   4 KiB random IOPS (fio, psync, O_DIRECT, one job): cold, SSD-warm, memory-warm
# Cold = `sync; echo 3 > /proc/sys/vm/drop_caches` and an emptied daqfs cache folder.
# Usage: tools/bench/cache.sh [--size MIB] [--runs N] [--dir WORKDIR] [--latency MS] [--keep]
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
size_mib=256
runs=5
work=/var/tmp/daqfs-bench-cache
latency=20
keep=0
while [ $# -gt 0 ]; do
  case "$1" in
    --size) size_mib=$2; shift ;;
    --runs) runs=$2; shift ;;
    --dir) work=$2; shift ;;
    --latency) latency=$2; shift ;;
    --keep) keep=1 ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "cache.sh: unknown option $1" >&2; exit 1 ;;
  esac
  shift
done
[ "$(id -u)" -eq 0 ] || { echo "cache.sh: needs root (drop_caches, mounts)" >&2; exit 1; }
PY=/usr/bin/python3
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)" --target daqfs daqfs-cache >/dev/null
daqfs=$root/build/tools/daqfs
dcache=$root/build/tools/daqfs-cache

mkdir -p "$work/data" "$work/src" "$work/mnt"
mnt=$work/mnt
cachedir=$work/cache
d_pid=
cleanup() {
  grep -qs " $mnt " /proc/mounts && fusermount3 -u "$mnt" || true
  [ -n "$d_pid" ] && kill "$d_pid" 2>/dev/null || true
  [ "$keep" = 1 ] || rm -rf "$work"
}
trap cleanup EXIT
bytes=$((size_mib * 1024 * 1024))
if [ "$(stat -c %s "$work/src/member.bin" 2>/dev/null || echo 0)" != "$bytes" ]; then
  head -c "$bytes" /dev/urandom > "$work/src/member.bin"
  tar -cf "$work/data/a.tar" -C "$work/src" member.bin
fi
for mode in on off; do
  window=64M; [ $mode = off ] && window=0
  cat > "$work/$mode.ini" <<INI
[mount]
read_ahead_kb = 4096
[cache]
dir = $cachedir
memory = 1G
disk = 4G
prefetch_window = $window
prefetch_budget = 256M
[source s]
type = archive
path = $work/data
cache = disk
simulate_latency_ms = $latency
INI
done

drop() { sync; echo 3 > /proc/sys/vm/drop_caches; }
now() { date +%s.%N; }
mount_d() {
  local fifo=$work/ready
  rm -f "$fifo"; mkfifo "$fifo"
  "$daqfs" -f --ready-fd 3 "$work/$1.ini" "$mnt" 3>"$fifo" 2>>"$work/daqfs.log" &
  d_pid=$!
  read -r _ < "$fifo"
}
umount_d() { fusermount3 -u "$mnt"; wait "$d_pid" || true; d_pid=; }
file=$mnt/s/a.tar/member.bin
seq_mbs() {
  local s e
  s=$(now); dd if="$file" of=/dev/null bs=1M 2>/dev/null; e=$(now)
  $PY -c "print(f'{$bytes/($e-$s)/1e6:.1f}')"
}
rand_iops() {
  # O_DIRECT: every 4 KiB read reaches daqfs (the kernel's page cache would hide the tiers).
  fio --name=rand --filename="$file" --readonly --rw=randread --bs=4k --ioengine=psync \
      --direct=1 --runtime=4 --time_based --invalidate=0 --output-format=json 2>/dev/null |
    $PY -c 'import json,sys; print("%.0f" % json.load(sys.stdin)["jobs"][0]["read"]["iops"])'
}
results=$work/results.txt
: > "$results"
for r in $(seq 1 "$runs"); do
  # Prefetch off, cold.
  "$dcache" clear --dir "$cachedir" >/dev/null 2>&1 || true
  drop; mount_d off
  echo "seq cold_prefetch_off $(seq_mbs)" >> "$results"
  umount_d
  # Prefetch on, cold; then memory-warm in the same mount.
  "$dcache" clear --dir "$cachedir" >/dev/null 2>&1 || true
  drop; mount_d on
  echo "seq cold_prefetch_on $(seq_mbs)" >> "$results"
  drop
  echo "seq memory_warm $(seq_mbs)" >> "$results"
  umount_d
  # SSD-warm: a new mount (empty memory tier), page cache dropped.
  drop; mount_d on
  echo "seq ssd_warm $(seq_mbs)" >> "$results"
  umount_d
  # Reference: one cat of every block file, oldest first (the order they were written in).
  drop
  blk_bytes=$(find "$cachedir/v1/blocks" -type f -printf '%s\n' | awk '{s+=$1} END {print s}')
  s=$(now)
  find "$cachedir/v1/blocks" -type f -printf '%T@ %p\n' | sort -n | cut -d' ' -f2- |
    xargs -d '\n' cat > /dev/null
  e=$(now)
  echo "seq cat_block_files $($PY -c "print(f'{$blk_bytes/($e-$s)/1e6:.1f}')")" >> "$results"
  # Random 4 KiB reads: cold, SSD-warm, memory-warm.
  "$dcache" clear --dir "$cachedir" >/dev/null 2>&1 || true
  drop; mount_d on
  echo "rand cold $(rand_iops)" >> "$results"
  umount_d
  drop; mount_d on
  dd if="$file" of=/dev/null bs=1M 2>/dev/null  # fill the SSD tier with every block
  umount_d
  drop; mount_d on
  echo "rand ssd_warm $(rand_iops)" >> "$results"
  drop
  echo "rand memory_warm $(rand_iops)" >> "$results"
  umount_d
  echo "run $r/$runs done" >&2
done

$PY - "$results" "$size_mib" "$runs" "$latency" <<'PYEOF'
import sys, statistics
rows = {}
for line in open(sys.argv[1]):
    kind, name, value = line.split()
    rows.setdefault((kind, name), []).append(float(value))
m = {k: statistics.median(v) for k, v in rows.items()}
size, runs, lat = sys.argv[2:5]
s = lambda n: m[("seq", n)]
r = lambda n: m[("rand", n)]
print(f"\n### cache.sh: {size} MiB member, simulate_latency_ms = {lat}, cache = disk, medians of {runs} interleaved runs\n")
print("| sequential, dd bs=1M | MB/s | ratio |")
print("|---|---|---|")
print(f"| cold, prefetch on | {s('cold_prefetch_on'):.0f} | {s('cold_prefetch_on')/s('cold_prefetch_off'):.2f}x prefetch off |")
print(f"| cold, prefetch off (same read_ahead_kb) | {s('cold_prefetch_off'):.0f} | 1.00x |")
print(f"| SSD-warm (remounted, page cache dropped) | {s('ssd_warm'):.0f} | {s('ssd_warm')/s('cat_block_files'):.2f}x cat of block files |")
print(f"| `cat` of all block files, cold | {s('cat_block_files'):.0f} | 1.00x |")
print(f"| memory-warm (page cache dropped) | {s('memory_warm'):.0f} | {s('memory_warm')/s('ssd_warm'):.2f}x SSD-warm |")
print()
print("| random 4 KiB, fio psync O_DIRECT | IOPS | ratio to cold |")
print("|---|---|---|")
for n in ("cold", "ssd_warm", "memory_warm"):
    print(f"| {n.replace('_', '-')} | {r(n):.0f} | {r(n)/r('cold'):.1f}x |")
PYEOF
