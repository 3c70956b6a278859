#!/bin/sh
# Issue 17: N convnextclassify instances in one process (one gst-launch-1.0, N branches), sharing
# one model (share-model=true, the default) or each with a private copy.  Prints peak RSS
# (/usr/bin/time) and total classified frames/s (N x FRAMES / wall time, start-up included).
#   sh tests/benchmark/shared.sh BUILD MODEL_DIR [FRAMES] [THREADS]
# e.g. MODEL_DIR from tests/benchmark/make_model.py (convnext-tiny-224-random, 224x224 f32).
set -eu
build=$1 model=$2 frames=${3:-10} threads=${4:-1}
export GST_PLUGIN_PATH="$build/gst-plugin"
for share in true false; do
  for n in 1 2 4 8; do
    branches=""
    i=0
    while [ $i -lt $n ]; do
      branches="$branches videotestsrc num-buffers=$frames ! video/x-raw,width=224,height=224 ! \
        convnextclassify model=$model share-model=$share threads=$threads ! fakesink"
      i=$((i + 1))
    done
    start=$(date +%s.%N)
    /usr/bin/time -f "%M" -o /tmp/shared-bench.rss gst-launch-1.0 -q $branches >/dev/null
    end=$(date +%s.%N)
    echo "share-model=$share streams=$n threads=$threads peak_rss_mib=$(($(cat /tmp/shared-bench.rss) / 1024))" \
      "fps=$(echo "$n * $frames / ($end - $start)" | bc -l | cut -c1-5)"
  done
done
