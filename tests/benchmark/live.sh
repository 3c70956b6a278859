#!/bin/sh
# The live-stream benchmark of issue 15 (see README.md, "Live streams"):
#   bash tests/benchmark/live.sh [BUILD_DIR] [--study] [--loads 1,2] [--seconds 10] ...
exec /usr/bin/python3 "$(dirname "$0")/live.py" "$@"
