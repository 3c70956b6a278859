#!/bin/sh
# The demo: real photographs → a short video → convnextclassify → convnextoverlay → VP8/WebM file,
# with one JSON line per classified frame on stdout and the fps/latency readout (--stats) on stderr.
#
# Run it from `meson devenv -C build` (the README's main command does):
#   sh examples/demo.sh [OUTPUT_DIR]          (default: ./convnext-demo)
#
# The clip is built at run time from photos installed by Debian packages (nothing is committed):
#   cat     skimage data chelsea.png (python3-skimage): CC0, photographer Stefan van der Walt
#   dog     darknet data/dog.jpg     (darknet):         GPL-3.0+ or MIT or WTFPL (debian/copyright)
#   horses  darknet data/horses.jpg  (darknet):         same
#   bird    darknet data/eagle.jpg   (darknet):         same
# Each photo is cropped to 4:3 around its subject (as CIFAR-10's photos are framed: the dog photo also shows a
# bicycle and a truck), scaled to 640x480 and held for 1.5 s at 10 fps.
set -eu
out=${1:-convnext-demo}
mkdir -p "$out"
skimage=/usr/lib/python3/dist-packages/skimage/data
darknet=/usr/share/darknet/data

# segment FILE [LEFT RIGHT TOP BOTTOM]: the pixels cropped off each side before the 4:3 crop.
segment () {
  echo "filesrc location=$1 ! decodebin ! videoconvert" \
       "! videocrop left=${2:-0} right=${3:-0} top=${4:-0} bottom=${5:-0} ! aspectratiocrop aspect-ratio=4/3 ! videoscale" \
       "! video/x-raw,width=640,height=480,pixel-aspect-ratio=1/1 ! imagefreeze num-buffers=15" \
       "! video/x-raw,framerate=10/1 ! clip."
}

# 1. The input video (MJPEG in AVI), from the photographs.
gst-launch-1.0 -q concat name=clip ! videoconvert ! video/x-raw,format=I420 ! jpegenc quality=90 \
  ! avimux ! filesink location="$out/photos.avi" \
  $(segment $skimage/chelsea.png) $(segment $darknet/dog.jpg 0 328 200 46) \
  $(segment $darknet/horses.jpg) $(segment $darknet/eagle.jpg 110 153 70 60)

# 2. The main job: decode → classify → overlay → encode, printing one JSON line per frame.
convnext-json --stats --top-k 3 --annotate "$out/annotated.webm" "filesrc location=$out/photos.avi ! decodebin" \
  | tee "$out/results.jsonl"

echo "demo: $(wc -l < "$out/results.jsonl") frames classified; annotated video: $out/annotated.webm" >&2
