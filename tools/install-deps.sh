#!/usr/bin/env bash
# Installs the Debian 12 packages daqfs needs to build, test and benchmark, if any are missing.
# Usage: tools/install-deps.sh   (as root, or with sudo available)
set -euo pipefail

PACKAGES=(
  # build
  cmake g++ make pkg-config libfuse3-dev libinih-dev libgtest-dev libgmock-dev
  libzstd-dev libxxhash-dev libpcre2-dev libmount-dev libsystemd-dev
  # format check (tools/check.sh --format): the repo's .clang-format with Debian 12's version
  clang-format
  # run
  fuse3
  # tests: real tools used against the mount
  tar libarchive-tools attr acl util-linux procps diffutils findutils coreutils zstd rsync
  python3 python3-numpy
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
