#!/bin/sh
# libconvnext.so exports its API and nothing else: every dynamic symbol it defines is a function
# that convnext.h declares with CONVNEXT_API, every such function is exported, and every function
# convnext.h declares carries the mark.  (The library is built with -fvisibility=hidden; an
# internal function leaking out would become ABI that nobody meant to keep.)
#   check-exports.sh NM LIBCONVNEXT.so CONVNEXT.h
set -eu
nm=$1 lib=$2 header=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

"$nm" -D --defined-only "$lib" | awk '{ print $NF }' | sort -u > "$tmp/exported"
sed -n 's/^CONVNEXT_API [^(]*\<\(convnext_[a-z0-9_]*\) (.*/\1/p' "$header" | sort -u > "$tmp/declared"
# Declarations (at the start of a line, a type then "convnext_…  (") without the mark.
grep -E '^[A-Za-z][^(]*\<convnext_[a-z0-9_]+ \(' "$header" \
  | grep -v -E '^(CONVNEXT_API |G_DEFINE_|typedef |#)' > "$tmp/unmarked" || true

status=0
if [ ! -s "$tmp/exported" ]; then
  echo "no defined dynamic symbols in $lib (wrong file?)"; exit 1
fi
if [ ! -s "$tmp/declared" ]; then
  echo "no CONVNEXT_API declarations found in $header"; exit 1
fi
comm -23 "$tmp/exported" "$tmp/declared" > "$tmp/extra"
comm -13 "$tmp/exported" "$tmp/declared" > "$tmp/missing"
if [ -s "$tmp/extra" ]; then
  echo "$lib exports $(wc -l < "$tmp/extra") symbol(s) that $header does not declare as CONVNEXT_API:"
  sed 's/^/  /' "$tmp/extra"
  status=1
fi
if [ -s "$tmp/missing" ]; then
  echo "$header declares $(wc -l < "$tmp/missing") CONVNEXT_API function(s) that $lib does not export:"
  sed 's/^/  /' "$tmp/missing"
  status=1
fi
if [ -s "$tmp/unmarked" ]; then
  echo "$header declares function(s) without CONVNEXT_API:"
  sed 's/^/  /' "$tmp/unmarked"
  status=1
fi
[ "$status" -ne 0 ] || echo "ok: $(wc -l < "$tmp/exported") symbols exported, all of them convnext.h's API"
exit "$status"
