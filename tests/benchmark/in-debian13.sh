#!/bin/bash
# Run by families/debian13.py inside the Debian 13 chroot (tests/debian13/run.sh run -- ...):
# builds the project there and runs bench.py on the model directory given (made on the host by
# make_model.py and shipped in the project copy: the same weights and ONNX file), then prints
# its results.json after a marker line on stdout; everything else goes to stderr.
#   bash tests/benchmark/in-debian13.sh MODEL_DIR [bench.py options]
set -euo pipefail
cd "$(dirname "$0")/../.."
model=$1
shift
{
  meson setup /tmp/build >/dev/null
  meson compile -C /tmp/build
  /usr/bin/python3 tests/benchmark/bench.py /tmp/build --no-build --model-dir "$model" \
    --cache /tmp/bench-cache --output /tmp/bench-out "$@"
} >&2
echo "=== results.json"
cat /tmp/bench-out/results.json
