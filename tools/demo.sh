#!/usr/bin/env bash
# Installs what is missing, builds daqfs (Release), makes a small demo archive and a small
# EIGER-style HDF5 master with two data files, mounts both under ./demo-mnt (archive/ and
# eiger/) with a live stream source (live/) that daqfs-sim feeds, shows `ls -lR`, a `cat`, a
# frame through `tiffinfo`, the stack through numpy and the live series filling, and leaves it
# mounted (daqfs-sim sends for about 20 s more).
# Usage: tools/demo.sh        Unmount afterwards with: fusermount3 -u demo-mnt
set -euo pipefail
cd "$(dirname "$0")/.."
case "${1:-}" in -h|--help) sed -n '2,7p' "$0"; exit 0 ;; esac

tools/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)" --target daqfs daqfs-sim

root=$PWD
data=$root/demo-data
mnt=$root/demo-mnt
if grep -qs " $mnt " /proc/mounts; then
  echo "demo: unmounting the previous demo mount"
  fusermount3 -u "$mnt"
fi
rm -rf "$data"
mkdir -p "$data/src/run_0001/detector" "$mnt"
(
  cd "$data/src"
  printf 'beamline = demo\nenergy_keV = 12.4\n' > run_0001/metadata.txt
  head -c 4194304 /dev/urandom > run_0001/detector/frames_000001.raw
  head -c 1048576 /dev/urandom > run_0001/detector/frames_000002.raw
  ln -s detector/frames_000001.raw run_0001/latest.raw
  # One member stored zstd-compressed: daqfs shows it decompressed, under its own name.
  cp -a run_0001 packed && zstd -q --rm packed/detector/frames_000002.raw
  tar --format=pax -cf "$data/run_0001.tar" run_0001 packed
)
# An EIGER-style master (the layout DECTRIS detectors write): 6 frames of 256 x 256 uint16 in two
# bitshuffle+LZ4 data files.
/usr/bin/python3 tools/make_eiger_dataset.py "$data/eiger" --name demo --frames 6 --per-file 3 \
  --height 256 --width 256 >/dev/null
cat >"$data/daqfs.ini" <<INI
[cache]
dir = $data/cache
memory = 256M
disk = 1G
[source archive]
type = archive
path = $data
[source eiger]
type = hdf5
path = $data/eiger
[source live]
type = stream
; daqfs binds a free port on loopback (its status file names it); daqfs-sim connects
endpoint = tcp://127.0.0.1:*
bind = true
protocol = dectris-stream2
formats = tiff,raw
INI
build/tools/daqfs "$data/daqfs.ini" "$mnt"
a=$mnt/archive
echo "== ls -lR $a"
ls -lR "$a"
echo "== cat $a/run_0001.tar/run_0001/metadata.txt"
cat "$a/run_0001.tar/run_0001/metadata.txt"
echo "== cmp with the original: $(cmp "$a/run_0001.tar/run_0001/detector/frames_000001.raw" \
  "$data/src/run_0001/detector/frames_000001.raw" && echo identical)"
echo "== packed/detector/frames_000002.raw is stored as .zst in the tar, shown decompressed: $(cmp \
  "$a/run_0001.tar/packed/detector/frames_000002.raw" \
  "$data/src/run_0001/detector/frames_000002.raw" && echo identical)"
m=$mnt/eiger/demo_master
echo "== ls $mnt/eiger; ls $m; ls $m/frames | head -3"
ls "$mnt/eiger"
ls "$m"
ls "$m/frames" | sed -n 1,3p
echo "== tiffinfo $m/frames/000001.tif"
tiffinfo "$m/frames/000001.tif"
echo "== numpy.load('$m/data.npy', mmap_mode='r')"
/usr/bin/python3 -c "import numpy, sys; a = numpy.load(sys.argv[1], mmap_mode='r'); \
print('shape', a.shape, a.dtype, '- frame 000001 sums to', int(a[0].sum()))" "$m/data.npy"
l=$mnt/live
endpoint=$(sed -n 's/^endpoint: \([^ ]*\) .*/\1/p' "$l/status")
echo "== daqfs-sim sends 3 series of 200 frames (1030 x 514 uint16, bitshuffle+LZ4) at 25 frames/s to $endpoint"
build/tools/daqfs-sim --protocol dectris-stream2 --endpoint "$endpoint" --connect --series 3 \
  --frames 200 --rate 25 --wait 0.2 >"$data/daqfs-sim.log" 2>&1 &
sleep 2
echo "== ls $l; the .tif files in $l/latest/frames (twice, a second apart: the series fills)"
ls "$l"
echo "frames: $(ls "$l/latest/frames" | grep -c "\.tif$")"
sleep 1
echo "frames: $(ls "$l/latest/frames" | grep -c "\.tif$")"
echo "== tiffinfo $l/latest/frames/000010.tif | head -3"
tiffinfo "$l/latest/frames/000010.tif" | sed -n 1,3p
echo "== grep -E 'current_series|frames|lost|malformed|connected' $l/status"
grep -E '^(current_series|frames|lost|malformed|connected):' "$l/status"
echo
echo "daqfs is mounted on $mnt (daemon in the background, stats in $mnt/.daqfs/stats)."
echo "daqfs-sim keeps sending for about 20 s: ls $l/latest/frames, cat $l/status; end.json and"
echo "data.npy appear in each series folder when it ends."
echo "Unmount with: fusermount3 -u $mnt"
