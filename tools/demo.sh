#!/usr/bin/env bash
# Installs what is missing, builds daqfs (Release), makes a small demo archive, mounts it under
# ./demo-mnt, shows `ls -lR` and a `cat`, and leaves it mounted.
# Usage: tools/demo.sh        Unmount afterwards with: fusermount3 -u demo-mnt
set -euo pipefail
cd "$(dirname "$0")/.."
case "${1:-}" in -h|--help) sed -n '2,4p' "$0"; exit 0 ;; esac

tools/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)" --target daqfs

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
build/tools/daqfs --source "$data" "$mnt"
echo "== ls -lR $mnt"
ls -lR "$mnt"
echo "== cat $mnt/run_0001.tar/run_0001/metadata.txt"
cat "$mnt/run_0001.tar/run_0001/metadata.txt"
echo "== cmp with the original: $(cmp "$mnt/run_0001.tar/run_0001/detector/frames_000001.raw" \
  "$data/src/run_0001/detector/frames_000001.raw" && echo identical)"
echo "== packed/detector/frames_000002.raw is stored as .zst in the tar, shown decompressed: $(cmp \
  "$mnt/run_0001.tar/packed/detector/frames_000002.raw" \
  "$data/src/run_0001/detector/frames_000002.raw" && echo identical)"
echo
echo "daqfs is mounted on $mnt (daemon in the background, stats in $mnt/.daqfs/stats)."
echo "Unmount with: fusermount3 -u $mnt"
