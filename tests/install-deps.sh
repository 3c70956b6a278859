#!/bin/sh
# Installs what building, testing and the demo need on Debian 12 (run as root).
#   sh tests/install-deps.sh --list   prints the project's packages instead (tests/debian13/run.sh
#                                     installs the same ones in its Debian 13 chroot)
set -e
PACKAGES="
  gcc pkg-config meson ninja-build
  libdnnl-dev libjson-glib-dev libminizip-dev zlib1g-dev
  libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev libpango1.0-dev libcairo2-dev
  libgdk-pixbuf-2.0-dev
  gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good
  python3-gi python3-gst-1.0 gir1.2-gstreamer-1.0 gir1.2-gst-plugins-base-1.0
  python3-numpy python3-pil
  darknet python3-skimage
  gstreamer1.0-opencv opencv-data
  valgrind
"
# python3-skimage brings the photos test_facedetect uses: its astronaut.png, and through
# python3-matplotlib, python-matplotlib-data's grace_hopper.jpg.
# Only for this host: tests/debian13/run.sh makes the Debian 13 chroot with mmdebstrap (nothing
# else of Debian 13 is installed here); python3-torch (with libopenblas0-pthread, else ~25x
# slower) and python3-venv serve the transformers check (tests/reference/check_transformers.sh,
# which skips without them, as in the chroot) and the benchmark's references.
HOST_TOOLS="mmdebstrap python3-venv python3-torch libopenblas0-pthread"
if [ "${1:-}" = --list ]; then
  echo $PACKAGES
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $PACKAGES $HOST_TOOLS >/dev/null

# The fuzzers (tests/fuzz/run.sh): Debian's clang and its libFuzzer/sanitizer runtimes, which
# come in a package versioned like clang (Debian 12: clang-14, libclang-rt-14-dev, libomp-14-dev;
# Debian 13: clang-19, libclang-rt-19-dev, libomp-19-dev); libomp because libconvnext is built
# with -fopenmp.
llvm=$(apt-cache depends clang | sed -n 's/^ *Depends: clang-\([0-9][0-9]*\)$/\1/p' | head -n 1)
apt-get install -y -qq --no-install-recommends \
  clang "libclang-rt-$llvm-dev" "libomp-$llvm-dev" \
  >/dev/null
