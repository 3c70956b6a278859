#!/bin/sh
# transformers as the judge of parity (issue 21), in one command (see check_transformers.py):
#   bash tests/reference/check_transformers.sh [BUILD_DIR] [--cache DIR] [--only models,preprocess,weights]
# Installs the pinned judges (transformers 4.49.0 and 5.23.0) into venvs under the cache (default
# $CONVNEXT_REFERENCE_CACHE or ~/.cache/convnext-reference) on first use; needs Debian's
# python3-torch, python3-venv (tests/install-deps.sh) and BUILD_DIR's convnext-dump.
exec /usr/bin/python3 "$(dirname "$0")/check_transformers.py" "$@"
