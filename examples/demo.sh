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
#   horse   darknet data/person.jpg, the white horse:   same
#   horses  darknet data/horses.jpg  (darknet):         same
#   bird    darknet data/eagle.jpg   (darknet):         same
# Each photo is cropped to a 4:3 box around its subject (margins read off the photo, not tuned against the
# model's answers), as CIFAR-10's photos are framed on their subject; scaled to 640x480 and held for 1.5 s at
# 10 fps.
set -eu
out=${1:-convnext-demo}
mkdir -p "$out"
skimage=/usr/lib/python3/dist-packages/skimage/data
darknet=/usr/share/darknet/data

# segment FILE [LEFT RIGHT TOP BOTTOM]: the pixels cropped off each side before the 4:3 crop.  The decoder is
# named, not found by decodebin: decodebin's late pads under concat made the pipeline miss its EOS now and then.
segment () {
  case $1 in *.png) dec=pngdec ;; *) dec=jpegdec ;; esac
  echo "filesrc location=$1 ! $dec ! videoconvert" \
       "! videocrop left=${2:-0} right=${3:-0} top=${4:-0} bottom=${5:-0} ! aspectratiocrop aspect-ratio=4/3 ! videoscale" \
       "! video/x-raw,width=640,height=480,pixel-aspect-ratio=1/1 ! imagefreeze num-buffers=15" \
       "! video/x-raw,framerate=10/1 ! clip."
}

# 1. The input video (MJPEG in AVI), from the photographs.
gst-launch-1.0 -q concat name=clip ! videoconvert ! video/x-raw,format=I420 ! jpegenc quality=90 \
  ! avimux ! filesink location="$out/photos.avi" \
  $(segment $skimage/chelsea.png) $(segment $darknet/dog.jpg 0 328 200 46) \
  $(segment $darknet/person.jpg 364 0 138 79) \
  $(segment $darknet/horses.jpg 0 173 62 0) $(segment $darknet/eagle.jpg 110 153 70 60)

# 2. The main job: decode → classify → overlay → encode, printing one JSON line per frame.
convnext-json --stats --top-k 3 --annotate "$out/annotated.webm" "filesrc location=$out/photos.avi ! decodebin" \
  | tee "$out/results.jsonl"

echo "demo: $(wc -l < "$out/results.jsonl") frames classified; annotated video: $out/annotated.webm" >&2
