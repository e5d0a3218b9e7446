#!/usr/bin/env bash
# Benchmark: tar members through daqfs vs fuse-overlayfs (a mature FUSE3 pass-through) over the
# same bytes vs the tar file read directly. Cold runs: caches dropped before every run.
#   1. sequential 1 MiB reads of a SIZE member (dd bs=1M)
#   2. 4 KiB random reads (fio, psync, one job, fixed time)
#   3. start-up: daemon start to a complete `ls -lR` of a 10,000-member archive (cold)
# Runs are interleaved (daqfs, overlay, direct, daqfs, ...); medians of RUNS runs and their
# ratios are printed as a Markdown table.
# Usage: tools/bench/tar.sh [--size GIB] [--runs N] [--dir WORKDIR] [--fio-seconds S] [--keep]
# Needs root (drop_caches, mounts), fio and fuse-overlayfs (tools/install-deps.sh).
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD

size_gib=2
runs=5
work=/var/tmp/daqfs-bench-tar
fio_seconds=8
keep=0
while [ $# -gt 0 ]; do
  case "$1" in
    --size) size_gib=$2; shift ;;
    --runs) runs=$2; shift ;;
    --dir) work=$2; shift ;;
    --fio-seconds) fio_seconds=$2; shift ;;
    --keep) keep=1 ;;
    -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
    *) echo "tar.sh: unknown option $1" >&2; exit 1 ;;
  esac
  shift
done
[ "$(id -u)" -eq 0 ] || { echo "tar.sh: needs root (drop_caches, mounts)" >&2; exit 1; }
[ "$runs" -ge 5 ] || echo "tar.sh: warning: fewer than 5 runs" >&2
PY=/usr/bin/python3
daqfs=$root/build/tools/daqfs
[ -x "$daqfs" ] || { cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null && cmake --build build -j"$(nproc)" --target daqfs >/dev/null; }

mkdir -p "$work"
plain=$work/plain          # the member's bytes as a plain file (for fuse-overlayfs)
archives=$work/archives    # big.tar and many.tar
mnt_d=$work/mnt-daqfs
mnt_o=$work/mnt-overlay
mnt=$mnt_d                 # what tools/bench/lib.sh mounts
mkdir -p "$plain" "$archives" "$mnt_d" "$mnt_o"
. tools/bench/lib.sh
cleanup() {
  stop_d "$mnt_d" "$mnt_o"
  [ "$keep" = 1 ] || rm -rf "$work"
}
trap cleanup EXIT

bytes=$((size_gib * 1024 * 1024 * 1024))
if [ ! -f "$archives/big.tar" ] || [ "$(stat -c %s "$plain/member.bin" 2>/dev/null || echo 0)" != "$bytes" ]; then
  echo "preparing a ${size_gib} GiB member ..." >&2
  # Beamline-like bytes: incompressible random data (the content does not matter for tar).
  head -c "$bytes" /dev/urandom > "$plain/member.bin"
  tar -cf "$archives/big.tar" -C "$plain" member.bin
  mkdir -p "$work/many"
  (cd "$work/many" && for d in $(seq 0 99); do mkdir -p d$d; for f in $(seq 0 99); do echo "$d/$f" > d$d/f$f; done; done)
  tar -cf "$archives/many.tar" -C "$work/many" .
  rm -rf "$work/many"
fi

# daqfs is mounted afresh for every daqfs run: a cold run starts with empty daqfs caches too.
mount_src() { mount_d --source "$archives"; }
mount_src
fuse-overlayfs -o lowerdir="$plain" "$mnt_o"
offset=$(getfattr --only-values -n user.daqfs.offset "$mnt_d/big.tar/member.bin")
umount_d

declare -A file
file[daqfs]=$mnt_d/big.tar/member.bin
file[overlay]=$mnt_o/member.bin
results=$work/results.txt
: > "$results"

seq_read() {  # target -> MB/s
  local t=$1 s e
  drop
  s=$(now)
  if [ "$t" = direct ]; then
    dd if="$archives/big.tar" of=/dev/null bs=1M skip="$offset" count="$bytes" \
      iflag=count_bytes,skip_bytes 2>/dev/null
  else
    dd if="${file[$t]}" of=/dev/null bs=1M 2>/dev/null
  fi
  e=$(now)
  $PY -c "print(f'{$bytes/($e-$s)/1e6:.1f}')"
}

rand_read() {  # target -> IOPS
  local t=$1 f off=0
  if [ "$t" = direct ]; then f=$archives/big.tar; off=$offset; else f=${file[$t]}; fi
  drop
  fio --name=rand --filename="$f" --readonly --rw=randread --bs=4k --ioengine=psync \
      --offset="$off" --size="$bytes" --runtime="$fio_seconds" --time_based --invalidate=0 \
      --output-format=json 2>/dev/null |
    $PY -c 'import json,sys; print("%.0f" % json.load(sys.stdin)["jobs"][0]["read"]["iops"])'
}

for r in $(seq 1 "$runs"); do
  for t in daqfs overlay direct; do
    [ $t = daqfs ] && mount_src
    echo "seq $t $(seq_read $t)" >> "$results"
    [ $t = daqfs ] && { umount_d; mount_src; }
    echo "rand $t $(rand_read $t)" >> "$results"
    [ $t = daqfs ] && umount_d
  done
  echo "run $r/$runs done" >&2
done

# Start-up to a complete ls -lR of the 10,000-member archive, cold (its own mount each time).
lsr=$work/mnt-lsr
mkdir -p "$lsr" "$work/one"
ln -sf "$archives/many.tar" "$work/one/many.tar"
for r in $(seq 1 "$runs"); do
  drop
  s=$(now)
  "$daqfs" --source "$archives/many.tar" "$lsr" 2>/dev/null
  n=$(ls -lR "$lsr" | wc -l)
  e=$(now)
  fusermount3 -u "$lsr"
  echo "startup daqfs $($PY -c "print(f'{($e-$s)*1000:.0f}')")" >> "$results"
  [ "$n" -gt 10000 ] || { echo "ls -lR listed only $n lines" >&2; exit 1; }
done

$PY - "$results" "$size_gib" "$runs" <<'PYEOF'
import sys, statistics
rows = {}
for line in open(sys.argv[1]):
    kind, target, value = line.split()
    rows.setdefault((kind, target), []).append(float(value))
m = {k: statistics.median(v) for k, v in rows.items()}
size, runs = sys.argv[2], sys.argv[3]
print(f"\n### tar.sh: {size} GiB member, cold, medians of {runs} interleaved runs\n")
print("| test | daqfs | fuse-overlayfs | tar file direct | daqfs / overlay | daqfs / direct |")
print("|---|---|---|---|---|---|")
for kind, unit in (("seq", "MB/s, dd bs=1M"), ("rand", "IOPS, fio 4 KiB randread")):
    d, o, x = m[(kind, "daqfs")], m[(kind, "overlay")], m[(kind, "direct")]
    print(f"| {kind} ({unit}) | {d:.0f} | {o:.0f} | {x:.0f} | {d/o:.2f}x | {d/x:.2f}x |")
print(f"| start-up to complete `ls -lR`, 10,000 members (ms) | {m[('startup','daqfs')]:.0f} | | | | |")
PYEOF
