#!/bin/sh
# The benchmark in one command (see README.md): libconvnext against ONNX Runtime and OpenVINO.
#   bash tests/benchmark/run.sh [BUILD_DIR] [--quick] [--rounds N] [--cache DIR] [--no-build] ...
# BUILD_DIR defaults to <source>/build.  Tooling runs on Debian's python3 (python3-torch, numpy).
exec /usr/bin/python3 "$(dirname "$0")/bench.py" "$@"
