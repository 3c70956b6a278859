#!/bin/bash
# The test suite on Debian 13 (trixie: GStreamer 1.26, oneDNN 3.7, GLib 2.84, gcc 14), in a chroot,
# from a Debian 12 host (run as root).  See README.md beside this file.
#
#   bash tests/debian13/run.sh                  the README's test command (both builds) in the chroot
#   bash tests/debian13/run.sh run -- CMD...    CMD in the chroot, in a copy of the project
#   options (before the mode):  --fresh  rebuild the cached chroot
#                               --cache DIR   where the chroot is kept (default /var/cache/convnext)
#                               --packages "P Q"  extra Debian 13 packages (own cache entry)
#
# The chroot is made once by mmdebstrap from the Debian archive that this host's apt uses, and kept
# under the cache folder for reuse while its package list is unchanged.  Every run works on a
# throw-away overlay over it, in a private mount namespace: the cached chroot, the host's packages
# and the host's mount table are never changed, and the run's mounts vanish with its processes
# however it ends; the trap removes the overlay's files.
set -euo pipefail

SUITE=trixie
# The project's packages (tests/install-deps.sh --list, the same names on Debian 13) and what
# Debian 13 adds: gst-plugins-bad for libgstanalytics-1.0 (and the elements other checks compare
# with), its typelibs for GstAnalytics in Python.
DEBIAN13_PACKAGES=(libc6-dev gstreamer1.0-plugins-bad gir1.2-gst-plugins-bad-1.0)
# gstreamer-analytics-1.0's .pc file and headers come from libgstreamer-plugins-bad1.0-dev, which
# depends on libopencv-dev (VTK, GDAL: +216 packages, +0.8 GB).  analytics_dev() below installs just
# those files from that .deb; the library itself is in libgstreamer-plugins-bad1.0-0.
# Bump when the way the chroot is made changes (the cache key includes it).
FORMAT=1

here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
cache=/var/cache/convnext
fresh=0
extra=""

die () { echo "debian13: $*" >&2; exit 2; }
log () { echo "[debian13] $*" >&2; }

# ---- the Debian archive this host's apt uses ---------------------------------------------------

# Prints "URI SUITE" for each deb source in /etc/apt/sources.list{,.d/*.list,.d/*.sources}.
apt_sources () {
  local f
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] && sed -n 's/^deb[ \t]\+\(\[[^]]*\][ \t]\+\)\?\([^ \t]\+\)[ \t]\+\([^ \t]\+\).*/\2 \3/p' "$f"
  done
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] && awk '
      /^[ \t]*$/ { flush(); next }
      tolower($1) == "types:" { deb = ($0 ~ /(^|[ \t])deb([ \t]|$)/) }
      tolower($1) == "uris:" { uris = $2 }
      tolower($1) == "suites:" { suites = ""; for (i = 2; i <= NF; i++) suites = suites " " $i }
      function flush() { if (deb && uris != "") { n = split(suites, s, " ");
                           for (i = 1; i <= n; i++) print uris, s[i] }
                         deb = 0; uris = ""; suites = "" }
      END { flush() }' "$f"
  done
}

# The archive (the source of the host's own release) and its security archive.
find_mirrors () {
  local codename uri suite
  codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")
  mirror=${CONVNEXT_DEBIAN_MIRROR:-}
  security=${CONVNEXT_DEBIAN_SECURITY_MIRROR:-}
  while read -r uri suite; do
    case "$suite" in
      "$codename") [ -n "$mirror" ] || mirror=$uri ;;
      "$codename"-security|"$codename"/updates) [ -n "$security" ] || security=$uri ;;
    esac
  done < <(apt_sources)
  [ -n "$mirror" ] || die "no deb source for $codename in /etc/apt/sources.list*; set CONVNEXT_DEBIAN_MIRROR"
}

# ---- the cached chroot ------------------------------------------------------------------------

# Run by mmdebstrap (--customize-hook) with the new chroot in $1 and apt still set up in it.
analytics_dev () {
  local root=$1 version
  version=$(chroot "$root" dpkg-query -W -f '${Version}' libgstreamer-plugins-bad1.0-0)
  chroot "$root" sh -euc "
    cd /tmp && apt-get download -q libgstreamer-plugins-bad1.0-dev=$version
    dpkg-deb -x libgstreamer-plugins-bad1.0-dev_*.deb dev
    cd dev
    cp -a usr/include/gstreamer-1.0/gst/analytics /usr/include/gstreamer-1.0/gst/
    cp -a usr/lib/x86_64-linux-gnu/pkgconfig/gstreamer-analytics-1.0.pc /usr/lib/x86_64-linux-gnu/pkgconfig/
    cp -a usr/lib/x86_64-linux-gnu/libgstanalytics-1.0.so /usr/lib/x86_64-linux-gnu/
    cd /tmp && rm -rf dev libgstreamer-plugins-bad1.0-dev_*.deb
    test -e \"\$(readlink -f /usr/lib/x86_64-linux-gnu/libgstanalytics-1.0.so)\""
  # The installed packages, for the record (and for whoever wonders what a run used).
  chroot "$root" dpkg-query -W -f '${Package} ${Version}\n' > "$root/../packages.txt"
}

make_chroot () {
  local dir=$1 new=$1.new
  local lists=("deb $mirror $SUITE main" "deb $mirror $SUITE-updates main")
  [ -z "$security" ] || lists+=("deb $security $SUITE-security main")
  rm -rf "$new" && mkdir -p "$new"
  log "making the Debian 13 chroot in $dir (mmdebstrap, ${#PACKAGES[@]} packages; about 2 minutes)"
  # In its own mount namespace: whatever mmdebstrap mounts goes away with it, even if it is killed.
  unshare --mount --propagation private mmdebstrap --variant=minbase --quiet \
    --include="$(IFS=,; echo "${PACKAGES[*]}")" \
    --customize-hook="bash '$here/run.sh' --analytics-dev \"\$1\"" \
    "$SUITE" "$new/root" "${lists[@]}"
  echo "$key" > "$new/key"
  rm -rf "$dir" && mv "$new" "$dir"
  du -sh "$dir/root" | sed 's/^/[debian13] chroot size: /' >&2
}

# ---- one run ---------------------------------------------------------------------------------

# Inside a private mount and pid namespace (see run_in_chroot): the overlay, the project copy,
# /proc and /dev, then CMD.  Nothing mounted here is visible outside, nor outlives the namespace.
inside () {
  local base=$1 run=$2; shift 2
  local root=$run/root
  mount -t overlay overlay -o "lowerdir=$base,upperdir=$run/upper,workdir=$run/work" "$root"
  mkdir -p "$root/work/convnext" "$root/work/shared"
  # A copy of the project as git sees it (tracked and untracked files, uncommitted changes
  # included, build directories left out), at /work/convnext with ../shared beside it as here.
  if git -C "$src" rev-parse --git-dir >/dev/null 2>&1; then
    git -C "$src" ls-files -z -c -o --exclude-standard \
      | (cd "$src" && tar --null -T - --ignore-failed-read -cf - 2>/dev/null) \
      | tar -xf - -C "$root/work/convnext"
  else
    tar -C "$src" --exclude='./build*' -cf - . | tar -xf - -C "$root/work/convnext"
  fi
  if [ -d "$src/../shared" ]; then
    mount --bind "$src/../shared" "$root/work/shared"
    mount -o remount,bind,ro "$root/work/shared"
  fi
  mount -t proc proc "$root/proc"
  mount --rbind /dev "$root/dev"
  cp /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null || true
  chroot "$root" /usr/bin/env -i HOME=/root LANG=C.UTF-8 TERM="${TERM:-dumb}" CI="${CI:-}" \
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    /bin/sh -c 'cd /work/convnext && exec "$@"' sh "$@"
}

run_in_chroot () {
  local rc=0
  run=$(mktemp -d /var/tmp/convnext-debian13.XXXXXX)
  mkdir "$run/upper" "$run/work" "$run/root"
  # Held while any process of this run lives (they inherit it): remove_stale_runs tests it.
  exec 8>"$run/lock"
  flock -x 8
  # --kill-child: when unshare dies, the namespace's first process gets SIGKILL and the kernel
  # ends everything else in the namespace with it; setpriv --pdeathsig: unshare dies with this
  # script, even by SIGKILL.  In the background, so that a signal reaches the traps at once
  # instead of after the command (stdin passed on for interactive use).
  setpriv --pdeathsig KILL unshare --mount --propagation private --pid --fork --kill-child \
    bash "$here/run.sh" --inside "$entry/root" "$run" "$@" <&0 &
  child=$!
  wait "$child" || rc=$?
  child=
  return "$rc"
}

cleanup () {
  local rc=$?
  trap - INT TERM HUP
  if [ -n "${child:-}" ]; then
    # unshare blocks SIGINT and SIGTERM while it waits (they are for its child), so SIGKILL: then
    # --kill-child kills the namespace's first process, and the kernel the rest of it.
    kill -KILL "$child" 2>/dev/null || true
    wait "$child" 2>/dev/null || true
  fi
  if [ -n "${run:-}" ] && [ -d "$run" ]; then
    rm -rf --one-file-system "$run"
  fi
  exit "$rc"
}

# Overlays left by runs killed with SIGKILL (no trap ran; their namespaces died with them).
remove_stale_runs () {
  local d
  for d in /var/tmp/convnext-debian13.*; do
    [ -d "$d" ] || continue
    # (older than a minute: a run makes its directory, then takes the lock)
    if [ "$(stat -c %Y "$d")" -lt "$(($(date +%s) - 60))" ] && flock -n "$d/lock" true 2>/dev/null; then
      rm -rf --one-file-system "$d"
    fi
  done
}

# Entries of other package lists (other branches may still use them) go once unused for a week
# (every run touches its entry's key file), and only when no run holds them.
prune_entries () {
  local d
  find "$cache/debian13" -mindepth 2 -maxdepth 2 -name key -mtime +7 -printf '%h\n' \
    | while read -r d; do
        [ "$d" = "$entry" ] || flock -n -x "$d.lock" rm -rf --one-file-system "$d" || true
      done
}

# ---- main ------------------------------------------------------------------------------------

case "${1:-}" in
  --analytics-dev) analytics_dev "$2"; exit ;;
  --inside) shift; inside "$@"; exit ;;
esac

while [ $# -gt 0 ]; do
  case "$1" in
    --fresh) fresh=1; shift ;;
    --cache) cache=${2:?--cache DIR}; shift 2 ;;
    --packages) extra=${2?--packages LIST}; shift 2 ;;
    -h|--help) sed -n '2,15p' "$0" | sed 's/^# \?//'; exit 0 ;;
    *) break ;;
  esac
done
mode=${1:-test}
case "$mode" in
  test) [ $# -le 1 ] || die "test takes no arguments" ;;
  run) shift; [ "${1:-}" != "--" ] || shift; [ $# -gt 0 ] || die "run needs a command: run -- CMD..." ;;
  *) die "unknown mode '$mode' (test, run -- CMD...; --help)" ;;
esac

[ "$(id -u)" = 0 ] || die "needs root (chroot, mounts)"
command -v mmdebstrap >/dev/null || die "mmdebstrap is missing: sh tests/install-deps.sh installs it"
# shellcheck disable=SC2207
PACKAGES=($(sh "$src/tests/install-deps.sh" --list) "${DEBIAN13_PACKAGES[@]}")
[ "${#PACKAGES[@]}" -gt "${#DEBIAN13_PACKAGES[@]}" ] || die "tests/install-deps.sh --list gave no packages"
# shellcheck disable=SC2206
[ -z "$extra" ] || PACKAGES+=($extra)
find_mirrors
key=$(printf '%s\n' "$FORMAT" "$SUITE" "$mirror" "$security" "${PACKAGES[@]}" | sha256sum | cut -c1-16)
mkdir -p "$cache/debian13"
entry=$cache/debian13/$key
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP
remove_stale_runs

# Each entry has its own lock: runs hold it shared, making (or remaking) the entry holds it
# exclusively, so runs on other entries never wait.  The entry is looked at again once the shared
# lock is held: it may have been remade while we waited.
exec 9>"$entry.lock"
# Copies of this script from before the per-entry locks removed other entries under this one
# exclusively: held shared, it keeps them off ours while we run.
exec 7>"$cache/debian13/lock"
until flock -s -w 2 7; do :; done
# flock waits 2 s at a time: a signal's trap runs between them (bash defers it while a command
# runs), and an entry that another run has made meanwhile is seen.
while :; do
  if [ "$fresh" = 1 ] || [ ! -f "$entry/key" ]; then
    flock -x -w 2 9 || continue
    if [ "$fresh" = 1 ] || [ ! -f "$entry/key" ]; then
      t0=$(date +%s)
      make_chroot "$entry"
      log "chroot made in $(($(date +%s) - t0)) s"
      fresh=0
      prune_entries
    fi
  fi
  flock -s -w 2 9 || continue
  [ -f "$entry/key" ] && break
done
touch "$entry/key"
log "chroot $entry/root ($(sed -n 's/^libdnnl-dev /oneDNN /p; s/^libgstreamer1.0-dev /GStreamer /p' "$entry/packages.txt" | paste -sd, -))"

if [ "$mode" = test ]; then
  # The README's test command (as .ci/run takes it), without tests/install-deps.sh: the chroot
  # has the packages.
  cmd=$(sed -n '/<!-- test-command -->/,/<!-- \/test-command -->/p' "$src/README.md" \
    | sed -n '/^```sh$/,/^```$/p' | sed '1d;$d')
  case "$cmd" in
    "sh tests/install-deps.sh && "*) cmd=${cmd#sh tests/install-deps.sh && } ;;
    *) die "README.md's test command does not start with 'sh tests/install-deps.sh && ': $cmd" ;;
  esac
  log "+ $cmd"
  t0=$(date +%s)
  run_in_chroot bash -euo pipefail -c "$cmd"
  log "suite passed on Debian 13 in $(($(date +%s) - t0)) s"
else
  run_in_chroot "$@"
fi
