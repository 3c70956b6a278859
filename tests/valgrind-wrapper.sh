#!/bin/sh
# The exe_wrapper of `meson test --setup valgrind` (tests/meson.build).  C test programs run
# under memcheck; a Python driver (examples, tools, eval) runs as it is and gets the memcheck
# command in CONVNEXT_VALGRIND, to put in front of the C programs it starts (check_json.py
# does).  Memcheck's findings exit with status 99, so that drivers can tell them from the
# programs' own failures.
#   valgrind-wrapper.sh VALGRIND [OPTION...] -- COMMAND [ARG...]   (no spaces inside words)
vg=""
while [ $# -gt 0 ] && [ "$1" != "--" ]; do
  vg="$vg $1"
  shift
done
shift
case "$(basename "$1")" in
  python3*) CONVNEXT_VALGRIND="$vg" exec "$@" ;;
  # shellcheck disable=SC2086
  *) exec $vg "$@" ;;
esac
