#!/bin/sh
# Installs what building, testing and the demo need on Debian 12 (run as root).
set -e
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends \
  gcc pkg-config meson ninja-build \
  libdnnl-dev libjson-glib-dev libminizip-dev zlib1g-dev \
  libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev libpango1.0-dev libcairo2-dev \
  libgdk-pixbuf-2.0-dev \
  gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good \
  python3-gi python3-gst-1.0 gir1.2-gstreamer-1.0 gir1.2-gst-plugins-base-1.0 \
  python3-numpy python3-pil \
  darknet python3-skimage \
  >/dev/null
