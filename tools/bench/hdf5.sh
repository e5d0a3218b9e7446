#!/usr/bin/env bash
# Benchmark of HDF5 detector images (issue 9): a generated EIGER-layout dataset (a master linking
# DATAFILES data files, FRAMES frames of 1065x1030 u16 in all, bitshuffle+LZ4 (--filter), Poisson-like
# counts; tools/make_eiger_dataset.py). Cold runs: `sync; echo 3 > /proc/sys/vm/drop_caches`
# and an emptied daqfs cache folder before each; medians of RUNS interleaved runs. Frames/s of:
#   daqfs data.npy     `cat` of the master's data.npy through the mount (default settings)
#   daqfs frames/*.tif `cat` of every frames/NNNNNN.tif through the mount
#   h5py               /usr/bin/python3 + h5py reading every frame through the master, one process
#   convert-first      h5py + tifffile writing every frame as a TIFF (the converter workflow;
#                      into a tmpfs, its best case)
#   own decoder        hdf5_decode_bench: the raw chunks in memory, decoded by our decoders on
#                      every core (the ceiling of the decode itself)
#   plain member       `cat` of a plain tar member of the same decoded size through the mount
#                      (the FUSE transport ceiling of this machine), in frames/s of that size
# and the rules of issue 9: all frames >= 2x h5py and >= 0.6x the plain member; the TIFF view
# within 10% of data.npy. Then the bitshuffle micro-benchmark (tools/bench/bitshuffle.sh) and
# the chunk-address lookup on a dataset of 10^5 chunks (hdf5_chunk_index_bench).
# --filter FILTER (tools/make_eiger_dataset.py: bslz4, lz4, shuffle-gzip, none) picks the chunk
# filters (default bslz4, what EIGER writes; shuffle-gzip is h5py's gzip with shuffle and
# fletcher32).
# Usage: tools/bench/hdf5.sh [--frames N] [--datafiles N] [--runs N] [--filter F] [--dir WORKDIR]
#        [--keep]
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
frames=2000
datafiles=20
runs=5
filter=bslz4
work=/var/tmp/daqfs-bench-hdf5
keep=0
while [ $# -gt 0 ]; do
  case "$1" in
    --frames) frames=$2; shift ;;
    --datafiles) datafiles=$2; shift ;;
    --runs) runs=$2; shift ;;
    --filter) filter=$2; shift ;;
    --dir) work=$2; shift ;;
    --keep) keep=1 ;;
    -h|--help) sed -n '2,23p' "$0"; exit 0 ;;
    *) echo "hdf5.sh: unknown option $1" >&2; exit 1 ;;
  esac
  shift
done
[ "$(id -u)" -eq 0 ] || { echo "hdf5.sh: needs root (drop_caches, mounts)" >&2; exit 1; }
PY=/usr/bin/python3
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)" --target daqfs hdf5_decode_bench hdf5_chunk_index_bench >/dev/null
daqfs=$root/build/tools/daqfs
decode_bench=$root/build/tools/bench/hdf5_decode_bench
index_bench=$root/build/tools/bench/hdf5_chunk_index_bench

mkdir -p "$work"/{h5,tar,mnt}
tifs=/dev/shm/daqfs-bench-hdf5-tifs
mnt=$work/mnt
cachedir=$work/cache
d_pid=
. tools/bench/lib.sh
cleanup() {
  stop_d
  rm -rf "$tifs"
  [ "$keep" = 1 ] || rm -rf "$work"
}
trap cleanup EXIT

height=1065
width=1030
frame_bytes=$((height * width * 2))
per_file=$(((frames + datafiles - 1) / datafiles))
if [ ! -f "$work/h5/done-$frames-$datafiles-$filter" ]; then
  echo "generating $frames frames in $datafiles data files ..." >&2
  rm -rf "$work/h5"/*
  $PY tools/make_eiger_dataset.py "$work/h5" --name bench --frames "$frames" --per-file "$per_file" \
      --height $height --width $width --filter "$filter" >&2
  touch "$work/h5/done-$frames-$datafiles-$filter"
  # The transport ceiling: a plain tar member of the same decoded size.
  head -c $((frames * frame_bytes)) /dev/urandom > "$work/tar/member.bin"
  tar -cf "$work/tar/plain.tar" -C "$work/tar" member.bin
  rm "$work/tar/member.bin"
fi
cat > "$work/daqfs.ini" <<INI
[cache]
dir = $cachedir
[source h5]
type = hdf5
path = $work/h5/bench_master.h5
[source tar]
type = archive
path = $work/tar/plain.tar
INI

cold_mount() { drop; rm -rf "$cachedir"; mount_d "$work/daqfs.ini"; }
fps() { $PY -c "print(f'{$frames/($2-$1):.1f}')"; }

results=$work/results.txt
: > "$results"
master=$mnt/h5/bench_master
for r in $(seq 1 "$runs"); do
  cold_mount
  s=$(now); cat "$master/data.npy" > /dev/null; e=$(now)
  echo "npy $(fps "$s" "$e")" >> "$results"
  umount_d
  cold_mount
  s=$(now); cat "$master"/frames/*.tif > /dev/null; e=$(now)
  echo "tif $(fps "$s" "$e")" >> "$results"
  umount_d
  cold_mount
  s=$(now); cat "$mnt/tar/plain.tar/member.bin" > /dev/null; e=$(now)
  echo "plain $(fps "$s" "$e")" >> "$results"
  umount_d
  drop
  s=$(now)
  $PY - "$work/h5/bench_master.h5" <<'PYEOF'
import sys, h5py
with h5py.File(sys.argv[1], "r") as f:
    g = f["/entry/data"]
    for k in sorted(g):
        d = g[k]
        for i in range(d.shape[0]):
            d[i]
PYEOF
  e=$(now)
  echo "h5py $(fps "$s" "$e")" >> "$results"
  # The converter writes to a tmpfs (its best case, and no writeback left to slow the next
  # cold run down); the TIFFs are removed after each run.
  drop; rm -rf "$tifs"; mkdir -p "$tifs"
  s=$(now)
  $PY - "$work/h5/bench_master.h5" "$tifs" <<'PYEOF'
import sys, h5py, tifffile
with h5py.File(sys.argv[1], "r") as f:
    g = f["/entry/data"]
    for k in sorted(g):
        d = g[k]
        low = int(d.attrs["image_nr_low"])
        for i in range(d.shape[0]):
            tifffile.imwrite(f"{sys.argv[2]}/{low + i:06d}.tif", d[i])
PYEOF
  e=$(now)
  rm -rf "$tifs"
  echo "convert $(fps "$s" "$e")" >> "$results"
  drop
  echo "own $("$decode_bench" "$work/h5"/bench_data_*.h5 | awk '/frames\/s/ {print $1}')" >> "$results"
  echo "run $r/$runs done" >&2
done

rc=0
$PY - "$results" "$frames" "$datafiles" "$runs" "$filter" <<'PYEOF' || rc=$?
import sys, statistics
rows = {}
for line in open(sys.argv[1]):
    name, value = line.split()
    rows.setdefault(name, []).append(float(value))
m = {k: statistics.median(v) for k, v in rows.items()}
frames, files, runs, filt = sys.argv[2:6]
print(f"\n### hdf5.sh: {frames} frames of 1065x1030 u16 {filt} in {files} data files, cold, medians of {runs} interleaved runs\n")
print("| reader | frames/s | vs h5py | vs plain member |")
print("|---|---|---|---|")
names = [("npy", "daqfs `cat data.npy`"), ("tif", "daqfs `cat frames/*.tif`"),
         ("h5py", "h5py, one process"), ("convert", "convert first (h5py + tifffile)"),
         ("own", "own decoder in-process, all cores"), ("plain", "plain tar member through daqfs")]
for k, t in names:
    print(f"| {t} | {m[k]:.0f} | {m[k] / m['h5py']:.2f}x | {m[k] / m['plain']:.2f}x |")
ok = True
def rule(text, good):
    global ok
    ok = ok and good
    print(f"| {text} | {'pass' if good else 'FAIL'} |")
print("\n| rule | result |\n|---|---|")
worst = min(m["npy"], m["tif"])
rule(f"all frames through the mount >= 2x h5py: {worst / m['h5py']:.2f}x", worst >= 2 * m["h5py"])
rule(f"all frames >= 0.6x the plain member: {worst / m['plain']:.2f}x", worst >= 0.6 * m["plain"])
d = abs(m["tif"] / m["npy"] - 1)
rule(f"TIFF view within 10% of data.npy: {m['tif'] / m['npy']:.3f}", d <= 0.10)
sys.exit(0 if ok else 1)
PYEOF
[ "$filter" = bslz4 ] || exit $rc  # the micro-benchmarks below are of bitshuffle and indexes
echo
tools/bench/bitshuffle.sh || true
echo
"$index_bench" --chunks 100000 --dir "$work"
exit $rc
