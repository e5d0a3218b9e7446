#!/usr/bin/env bash
# Benchmark of compressed archives, on generated beamline-like data (12-bit samples in 16-bit
# words, zstd ratio ~0.7). Cold runs: `sync; echo 3 > /proc/sys/vm/drop_caches` and an emptied
# daqfs cache folder before each. Medians of RUNS interleaved runs. Compared:
#   sequential read of a SIZE decompressed member (daqfs-repack: seekable, 1 MiB frames):
#     `cat` through daqfs  vs  `zstd -dc` of the same member  vs  fuse-overlayfs over a plain copy
#     (the FUSE ceiling here)  vs  squashfuse on `mksquashfs -comp zstd` of the same file  vs
#     archivemount of a .tar.zst of it (where installed)
#   4 KiB random read latency p50/p99 (fio, O_DIRECT) inside the member, cold and warm
#   index time of a 100,000-member archive (daemon start to a complete `ls -lR`), first mount
#     and remount (persistent index)
#   a multi-frame .tar.zst (1 MiB frames of the tar stream, as t2sz writes them: they do not
#     line up with members or reads) of SIZE MiB in members of 3-20 MiB, read cold member by
#     member with the default cache settings: MB/s and decodes per frame (1.00 = each frame
#     decoded once, also the frames two members share)
# Usage: tools/bench/archive.sh [--size MIB] [--runs N] [--dir WORKDIR] [--members N] [--keep]
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
size_mib=1024
runs=5
work=/var/tmp/daqfs-bench-archive
members=100000
keep=0
am_mib=32
while [ $# -gt 0 ]; do
  case "$1" in
    --size) size_mib=$2; shift ;;
    --runs) runs=$2; shift ;;
    --dir) work=$2; shift ;;
    --members) members=$2; shift ;;
    --keep) keep=1 ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) echo "archive.sh: unknown option $1" >&2; exit 1 ;;
  esac
  shift
done
[ "$(id -u)" -eq 0 ] || { echo "archive.sh: needs root (drop_caches, mounts)" >&2; exit 1; }
PY=/usr/bin/python3
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)" --target daqfs daqfs-repack >/dev/null
daqfs=$root/build/tools/daqfs
repack=$root/build/tools/daqfs-repack

mkdir -p "$work"/{plain,data,many-data,mnt,mnt-o,mnt-s,mnt-a,cache}
mnt=$work/mnt
d_pid=
. tools/bench/lib.sh
cleanup() {
  stop_d "$work/mnt" "$work/mnt-o" "$work/mnt-s" "$work/mnt-a" "$work/mnt-many"
  [ "$keep" = 1 ] || rm -rf "$work"
}
trap cleanup EXIT
bytes=$((size_mib * 1024 * 1024))

if [ "$(stat -c %s "$work/plain/member.dat" 2>/dev/null || echo 0)" != "$bytes" ]; then
  echo "generating ${size_mib} MiB of 12-bit detector samples ..." >&2
  $PY - "$work/plain/member.dat" "$bytes" <<'PYEOF'
import sys, numpy as np
path, n = sys.argv[1], int(sys.argv[2])
rng = np.random.default_rng(7)
with open(path, "wb") as f:
    left = n // 2
    while left:
        k = min(left, 1 << 24)
        # Noise around a slowly varying baseline: compresses like real detector data (~0.7).
        base = 2048 + 300 * np.sin(np.arange(k) / 5000.0)
        f.write(((base + rng.normal(0, 60, k)).astype(np.uint16) & 0x0FFF).tobytes())
        left -= k
PYEOF
  tar -cf "$work/in.tar" -C "$work/plain" member.dat
  rm -f "$work"/data/*
  "$repack" -o "$work/data" "$work/in.tar" >&2
  tar -xf "$work/data/in.tar" -C "$work" member.dat.zst
  mksquashfs "$work/plain" "$work/member.sqfs" -comp zstd -noappend -quiet >/dev/null
  tar -cf - -C "$work/plain" member.dat | zstd -q -T0 -o "$work/member.tar.zst"
fi
if [ ! -f "$work/tzst/multi.tar.zst" ]; then
  echo "generating a t2sz-like .tar.zst of ${size_mib} MiB ..." >&2
  rm -rf "$work/tzst-src"; mkdir -p "$work/tzst-src" "$work/tzst"
  $PY - "$work/plain/member.dat" "$work/tzst-src" <<'PYEOF'
import os, random, sys
src, out = sys.argv[1], sys.argv[2]
rnd = random.Random(5)
with open(src, "rb") as f:
    i = 0
    while True:
        b = f.read(rnd.randint(3 << 20, 20 << 20) + rnd.randint(0, 4095))
        if not b: break
        with open(os.path.join(out, "part_%03d.dat" % i), "wb") as o: o.write(b)
        i += 1
PYEOF
  tar --sort=name -cf "$work/tzst.tar" -C "$work/tzst-src" .
  $PY - "$work/tzst.tar" "$work/tzst/multi.tar.zst" <<'PYEOF'
import subprocess, sys
with open(sys.argv[1], "rb") as f, open(sys.argv[2], "wb") as o:
    while chunk := f.read(1 << 20):  # one frame per MiB of the tar stream, sizes recorded
        o.write(subprocess.run(["zstd", "-q", "-3", "-c", "--stream-size=%d" % len(chunk)],
                               input=chunk, capture_output=True, check=True).stdout)
PYEOF
  rm -rf "$work/tzst-src" "$work/tzst.tar"
fi
comp=$(stat -c %s "$work/member.dat.zst")
echo "member: $bytes bytes, compressed $comp ($(awk "BEGIN{printf \"%.2f\", $comp/$bytes}"))" >&2

cat > "$work/daqfs.ini" <<INI
[cache]
dir = $work/cache
disk = 8G
[source s]
type = archive
path = $work/data
[source t]
type = archive
path = $work/tzst
INI
clear_cache() { rm -rf "$work/cache/v1/blocks"; }
mbs() { $PY -c "print(f'{$1/($3-$2)/1e6:.1f}')"; }

have_sq=0; command -v squashfuse >/dev/null && have_sq=1
have_am=0; command -v archivemount >/dev/null && have_am=1
results=$work/results.txt
: > "$results"
for r in $(seq 1 "$runs"); do
  clear_cache; drop; mount_d "$work/daqfs.ini"
  s=$(now); cat "$mnt/s/in.tar/member.dat" > /dev/null; e=$(now)
  echo "seq daqfs $(mbs $bytes $s $e)" >> "$results"
  umount_d
  drop
  s=$(now); zstd -dc "$work/member.dat.zst" > /dev/null; e=$(now)
  echo "seq zstd_dc $(mbs $bytes $s $e)" >> "$results"
  drop; fuse-overlayfs -o lowerdir="$work/plain" "$work/mnt-o"
  s=$(now); cat "$work/mnt-o/member.dat" > /dev/null; e=$(now)
  fusermount3 -u "$work/mnt-o"
  echo "seq overlay $(mbs $bytes $s $e)" >> "$results"
  if [ $have_sq = 1 ]; then
    drop; squashfuse "$work/member.sqfs" "$work/mnt-s"
    s=$(now); cat "$work/mnt-s/member.dat" > /dev/null; e=$(now)
    fusermount3 -u "$work/mnt-s"
    echo "seq squashfuse $(mbs $bytes $s $e)" >> "$results"
  fi
  if [ $have_am = 1 ]; then
    # archivemount decodes from the start of the stream again for every read request, so a
    # whole 1 GiB read does not finish in minutes: it is timed on the first AM_MIB MiB.
    drop; archivemount -o ro "$work/member.tar.zst" "$work/mnt-a" 2>/dev/null
    s=$(now)
    timeout 300 dd if="$work/mnt-a/member.dat" of=/dev/null bs=1M count="$am_mib" 2>/dev/null || true
    e=$(now)
    fusermount3 -u "$work/mnt-a"
    echo "seq archivemount $(mbs $((am_mib * 1024 * 1024)) $s $e)" >> "$results"
  fi
  # Random 4 KiB reads, O_DIRECT so each reaches daqfs: cold (empty cache) then warm.
  clear_cache; drop; mount_d "$work/daqfs.ini"
  for phase in cold warm; do
    [ $phase = warm ] && cat "$mnt/s/in.tar/member.dat" > /dev/null
    fio --name=r --filename="$mnt/s/in.tar/member.dat" --readonly --rw=randread --bs=4k \
        --ioengine=psync --direct=1 --number_ios=300 --invalidate=0 --output-format=json \
        2>/dev/null | $PY -c '
import json, sys
j = json.load(sys.stdin)["jobs"][0]["read"]["clat_ns"]["percentile"]
print("%.3f %.3f" % (j["50.000000"] / 1e6, j["99.000000"] / 1e6))' | {
      read -r p50 p99; echo "lat ${phase}_p50 $p50" >> "$results"; echo "lat ${phase}_p99 $p99" >> "$results"; }
  done
  umount_d
  # The t2sz-like .tar.zst, cold, member by member in archive order.
  clear_cache; drop; mount_d "$work/daqfs.ini"
  tz="$mnt/t/multi.tar.zst"
  tz_bytes=$(du -b --apparent-size -s "$tz" | awk '{print $1}')
  s=$(now); for f in $(ls "$tz" | sort); do cat "$tz/$f" > /dev/null; done; e=$(now)
  echo "tzst mbs $(mbs "$tz_bytes" "$s" "$e")" >> "$results"
  dec=$(awk '/^daqfs_decodes_total/ {print $2}' "$mnt/.daqfs/metrics")
  frames=$(getfattr --only-values -n user.daqfs.frames "$tz/$(ls "$tz" | head -1)" | awk '{print $1}')
  echo "tzst decodes_per_frame $($PY -c "print(f'{$dec/$frames:.3f}')")" >> "$results"
  umount_d
  echo "run $r/$runs done" >&2
done

# 100,000 members: generated small detector files, repacked (zstd members), indexed cold, then
# remounted with the persistent index.
if [ ! -f "$work/many-data/many.tar" ]; then
  echo "generating $members members ..." >&2
  mkdir -p "$work/many"
  $PY - "$work/many" "$members" <<'PYEOF'
import os, sys
root, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    d = os.path.join(root, "ch%03d" % (i % 100))
    if i < 100: os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "frame_%06d.dat" % i), "wb") as f:
        f.write(i.to_bytes(8, "little") * 64)
PYEOF
  tar -cf "$work/many-in.tar" -C "$work/many" .
  rm -rf "$work/many"
  "$repack" -o "$work/many-data" "$work/many-in.tar" >&2
  mv "$work/many-data/many-in.tar" "$work/many-data/many.tar"
fi
cat > "$work/many.ini" <<INI
[cache]
dir = $work/cache-many
[source s]
type = archive
path = $work/many-data
INI
mkdir -p "$work/mnt-many"
for r in $(seq 1 "$runs"); do
  for phase in first remount; do
    [ $phase = first ] && rm -rf "$work/cache-many"
    drop
    s=$(now)
    "$daqfs" "$work/many.ini" "$work/mnt-many" 2>/dev/null
    n=$(ls -lR "$work/mnt-many" | wc -l)
    e=$(now)
    fusermount3 -u "$work/mnt-many"
    echo "index $phase $($PY -c "print(f'{($e-$s)*1000:.0f}')")" >> "$results"
    [ "$n" -gt "$members" ] || { echo "ls -lR listed only $n lines" >&2; exit 1; }
  done
done

$PY - "$results" "$size_mib" "$runs" "$members" <<'PYEOF'
import sys, statistics
rows = {}
for line in open(sys.argv[1]):
    kind, name, value = line.split()
    rows.setdefault((kind, name), []).append(float(value))
m = {k: statistics.median(v) for k, v in rows.items()}
size, runs, members = sys.argv[2:5]
s = lambda n: m.get(("seq", n))
d = s("daqfs")
print(f"\n### archive.sh: {size} MiB member (daqfs-repack, 1 MiB frames), cold, medians of {runs} interleaved runs\n")
print("| sequential read of the member | MB/s | daqfs / this |")
print("|---|---|---|")
for name, label in (("daqfs", "daqfs `cat`"), ("zstd_dc", "`zstd -dc` of the member"),
                    ("overlay", "fuse-overlayfs, plain copy (FUSE ceiling)"),
                    ("squashfuse", "squashfuse, `mksquashfs -comp zstd`"),
                    ("archivemount", "archivemount, .tar.zst (first 32 MiB only)")):
    v = s(name)
    if v: print(f"| {label} | {v:.0f} | {d / v:.2f}x |")
print()
print("| 4 KiB random read (fio, O_DIRECT) | p50 ms | p99 ms |")
print("|---|---|---|")
for ph in ("cold", "warm"):
    print(f"| {ph} | {m[('lat', ph + '_p50')]:.3f} | {m[('lat', ph + '_p99')]:.3f} |")
print()
print(f"| t2sz-like {size} MiB .tar.zst (1 MiB frames), cold, member by member | value |")
print("|---|---|")
print(f"| MB/s (default cache settings) | {m[('tzst', 'mbs')]:.0f} |")
print(f"| decodes per frame | {m[('tzst', 'decodes_per_frame')]:.3f} |")
print()
print(f"| {int(members):,} members: daemon start to complete `ls -lR` | ms |")
print("|---|---|")
print(f"| first mount (index built) | {m[('index', 'first')]:.0f} |")
print(f"| remount (persistent index) | {m[('index', 'remount')]:.0f} |")
PYEOF
