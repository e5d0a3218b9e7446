#!/usr/bin/env bash
# Installs the Debian 12 packages daqfs needs to build, test and benchmark, if any are missing.
# Usage: tools/install-deps.sh   (as root, or with sudo available)
set -euo pipefail

PACKAGES=(
  # build
  cmake g++ make pkg-config libfuse3-dev libinih-dev libgtest-dev libgmock-dev
  libzstd-dev libxxhash-dev libpcre2-dev libmount-dev libsystemd-dev
  # compressed tars: zlib (.tar.gz inflate checkpoints), liblzma, libbz2 (.tar.xz, .tar.bz2);
  # their tests write archives with xz, bzip2 and lz4
  zlib1g-dev liblzma-dev libbz2-dev xz-utils bzip2 lz4
  # hdf5 sources and image views: the HDF5 library (metadata, fallback reads), LZ4, libdeflate
  # (HDF5 deflate chunks), libtiff
  libhdf5-dev liblz4-dev libdeflate-dev libtiff-dev
  # stream sources: ZeroMQ (libzmq, cppzmq), JSON (nlohmann-json) and CBOR (libcbor) messages;
  # their tests write messages with pyzmq and cbor2
  libzmq3-dev cppzmq-dev nlohmann-json3-dev libcbor-dev python3-zmq python3-cbor2
  # format check (tools/check.sh --format): the repo's .clang-format with Debian 12's version
  clang-format
  # run
  fuse3
  # tests: real tools used against the mount
  tar libarchive-tools attr acl util-linux procps diffutils findutils coreutils zstd rsync
  python3 python3-numpy
  # hdf5 tests: h5py and Debian's HDF5 filter plugins (bitshuffle 32008, LZ4 32004) write and
  # read the references; h5dump, tiffinfo, tifffile and fabio check what the mount shows;
  # python3-zstandard writes the zstd chunks no Debian plugin can; python3-pil writes LZW TIFFs
  python3-h5py bitshuffle hdf5-filter-plugin hdf5-tools libtiff-tools python3-tifffile python3-fabio
  python3-zstandard python3-pil
  # packaging: man pages (help2man; mandoc, groff-base and man-db lint and render them),
  # cpack -G DEB (dpkg-dev: dpkg-shlibdeps), systemd-analyze verify of the units
  help2man mandoc groff-base man-db dpkg-dev systemd
  # operations: promtool checks the .daqfs/metrics exposition
  prometheus
  # benchmarks
  fio fuse-overlayfs squashfs-tools squashfuse archivemount
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "install-deps: installing ${missing[*]}" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-deps: need root (or sudo) to install: ${missing[*]}" >&2; exit 1; }
  SUDO=sudo
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
