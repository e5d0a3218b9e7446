#!/usr/bin/env bash
# Benchmark of TIFF series (issue 11): FRAMES frames of HEIGHTxWIDTH u16 (default 1000 of
# 2048x2048, 8 MiB each: a tomography scan), dense projections of ~3000 counts with Poisson noise
# (tools/make_eiger_dataset.py --pattern projection),
# as a folder of single-page TIFF files (tifffile) uncompressed and deflate (level 4), and the
# same frames as an HDF5 master with data files (uncompressed and deflate level 4). Cold runs:
# `sync; echo 3 > /proc/sys/vm/drop_caches` and an emptied daqfs cache folder before each;
# medians of RUNS interleaved runs. Frames/s of:
#   daqfs tiff data.npy   `cat` of the TIFF source's data.npy through the mount
#   tifffile              /usr/bin/python3 + tifffile.imread of every file, one by one, one
#                         process (tifffile decodes a page's strips on half the cores)
#   daqfs hdf5 data.npy   `cat` of the HDF5 master's data.npy through the mount
# and the rules of issue 11: the deflate series' data.npy >= 1.5x tifffile; the TIFF and HDF5
# views of the same frames within 10% of each other (both compressions).
# Usage: tools/bench/tiff.sh [--frames N] [--height H] [--width W] [--runs N] [--dir WORKDIR]
#        [--keep]
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
frames=1000
height=2048
width=2048
runs=5
work=/var/tmp/daqfs-bench-tiff
keep=0
while [ $# -gt 0 ]; do
  case "$1" in
    --frames) frames=$2; shift ;;
    --height) height=$2; shift ;;
    --width) width=$2; shift ;;
    --runs) runs=$2; shift ;;
    --dir) work=$2; shift ;;
    --keep) keep=1 ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) echo "tiff.sh: unknown option $1" >&2; exit 1 ;;
  esac
  shift
done
[ "$(id -u)" -eq 0 ] || { echo "tiff.sh: needs root (drop_caches, mounts)" >&2; exit 1; }
PY=/usr/bin/python3
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)" --target daqfs >/dev/null
daqfs=$root/build/tools/daqfs

mkdir -p "$work/mnt"
mnt=$work/mnt
cachedir=$work/cache
d_pid=
. tools/bench/lib.sh
cleanup() {
  stop_d
  [ "$keep" = 1 ] || rm -rf "$work"
}
trap cleanup EXIT

per_file=100
stamp="$work/done-$frames-$height-$width"
if [ ! -f "$stamp" ]; then
  rm -rf "$work"/{h5none,h5gzip,tifnone,tifdeflate}
  for f in none gzip; do
    echo "generating $frames frames of ${width}x${height} as HDF5 ($f) ..." >&2
    $PY tools/make_eiger_dataset.py "$work/h5$f" --name bench --frames "$frames" \
        --per-file $per_file --height "$height" --width "$width" --filter $f \
        --pattern projection >&2
  done
  echo "writing them as TIFF files (uncompressed, deflate) ..." >&2
  mkdir -p "$work/tifnone" "$work/tifdeflate"
  $PY - "$work/h5none/bench_master.h5" "$work" <<'PYEOF'
import sys, h5py, tifffile
n = 0
with h5py.File(sys.argv[1], "r") as f:
    g = f["/entry/data"]
    for k in sorted(g):
        d = g[k]
        for i in range(d.shape[0]):
            a = d[i]
            tifffile.imwrite(f"{sys.argv[2]}/tifnone/proj_{n}.tif", a)
            tifffile.imwrite(f"{sys.argv[2]}/tifdeflate/proj_{n}.tif", a, compression="zlib",
                             compressionargs={"level": 4})
            n += 1
PYEOF
  touch "$stamp"
fi
cat > "$work/daqfs.ini" <<INI
[cache]
dir = $cachedir
[source tnone]
type = tiff
path = $work/tifnone
[source tdeflate]
type = tiff
path = $work/tifdeflate
[source hnone]
type = hdf5
path = $work/h5none/bench_master.h5
[source hgzip]
type = hdf5
path = $work/h5gzip/bench_master.h5
INI

fps() { $PY -c "print(f'{$frames/($2-$1):.1f}')"; }
timed_cat() {  # NAME FILE: a cold `cat` of FILE through a fresh mount
  drop; rm -rf "$cachedir"; mount_d "$work/daqfs.ini"
  ls "$mnt"/*/ > /dev/null  # the sources are listed (folders scanned) before the clock starts
  local s e
  s=$(now); cat "$2" > /dev/null; e=$(now)
  echo "$1 $(fps "$s" "$e")" >> "$results"
  umount_d
}

results=$work/results.txt
: > "$results"
for r in $(seq 1 "$runs"); do
  for kind in none deflate; do
    timed_cat "tiff_$kind" "$mnt/t$kind/data.npy"
    drop
    # Timed inside the interpreter (its start and imports are not the reader's work), from
    # listing the folder to the last frame.
    $PY - "$work/tif$kind" "$frames" "$kind" >> "$results" <<'PYEOF'
import os, re, sys, time, tifffile
d, frames, kind = sys.argv[1], int(sys.argv[2]), sys.argv[3]
s = time.perf_counter()
names = sorted(os.listdir(d), key=lambda n: int(re.sub(r"\D", "", n)))
for n in names:
    tifffile.imread(os.path.join(d, n))
print(f"tifffile_{kind} {frames / (time.perf_counter() - s):.1f}")
PYEOF
    h5=hnone
    [ "$kind" = deflate ] && h5=hgzip
    timed_cat "hdf5_$kind" "$mnt/$h5/bench_master/data.npy"
  done
  echo "run $r/$runs done" >&2
done
du_none=$(du -sb "$work/tifnone" | cut -f1)
du_deflate=$(du -sb "$work/tifdeflate" | cut -f1)

rc=0
$PY - "$results" "$frames" "$height" "$width" "$runs" "$du_none" "$du_deflate" <<'PYEOF' || rc=$?
import sys, statistics
rows = {}
for line in open(sys.argv[1]):
    name, value = line.split()
    rows.setdefault(name, []).append(float(value))
m = {k: statistics.median(v) for k, v in rows.items()}
frames, h, w, runs = sys.argv[2:6]
sizes = {"none": int(sys.argv[6]), "deflate": int(sys.argv[7])}
print(f"\n### tiff.sh: {frames} frames of {w}x{h} u16 as single-page TIFF files and as an HDF5 "
      f"master, cold, medians of {runs} interleaved runs\n")
print("| series | reader | frames/s | vs tifffile | TIFF vs HDF5 view |")
print("|---|---|---|---|---|")
for kind in ("none", "deflate"):
    t, f, d = m[f"tiff_{kind}"], m[f"tifffile_{kind}"], m[f"hdf5_{kind}"]
    label = f"{kind} ({sizes[kind] / 2**30:.2f} GiB)"
    print(f"| {label} | daqfs tiff `cat data.npy` | {t:.0f} | {t / f:.2f}x | {t / d:.2f} |")
    print(f"| {label} | tifffile, file by file | {f:.0f} | 1.00x | |")
    print(f"| {label} | daqfs hdf5 `cat data.npy` | {d:.0f} | {d / f:.2f}x | |")
ok = True
def rule(text, good):
    global ok
    ok = ok and good
    print(f"| {text} | {'pass' if good else 'FAIL'} |")
print("\n| rule | result |\n|---|---|")
r = m["tiff_deflate"] / m["tifffile_deflate"]
rule(f"deflate series data.npy >= 1.5x tifffile: {r:.2f}x", r >= 1.5)
for kind in ("none", "deflate"):
    q = m[f"tiff_{kind}"] / m[f"hdf5_{kind}"]
    rule(f"{kind}: TIFF view within 10% of the HDF5 view: {q:.3f}", abs(q - 1) <= 0.10)
sys.exit(0 if ok else 1)
PYEOF
exit $rc
