#!/usr/bin/python3
"""Live streams through convnextclassify (issue 15): issue 15's pipeline, a 1080p30 live
videotestsrc into a synchronised fakesink, with a random ConvNeXt-T 224, in sync, sync + QoS and
async modes at threads=1 and threads=0, next to a controlled competing CPU load (N busy-loop
processes); and, with --study, how the engine's OpenMP threads fare against that load.
See README.md beside this file ("Live streams").

    /usr/bin/python3 tests/benchmark/live.py [BUILD_DIR] [--loads 1,2] [--seconds 10] [...]
    /usr/bin/python3 tests/benchmark/live.py [BUILD_DIR] --study [--loads 0,1,2]

Each row is one run of convnext-live-bench (live-bench.c): fps at the sink, the end-to-end delay
of the frames rendered in the last second, inferences per second.  The busy loops run only while
their rows do.  Other processes on the machine (not ours, not controlled) are recorded as the
load average and the runnable-process count before each row.
"""
import argparse
import json
import os
import signal
import subprocess
import sys
import time

from bench import prepare_model
from common import SOURCE_ROOT, cpu_model, git_commit, json_lines, log, run

MODES = {"sync": "sync", "qos": "sync + qos", "async": "async"}
TARGET_FPS = 29.5
TARGET_DELAY_PERIODS = 2

# The OpenMP study: (label, threads property, environment).  GNU OpenMP reads OMP_WAIT_POLICY and
# GOMP_SPINCOUNT once, when libgomp loads, so these are process-wide settings a user can make;
# "auto" is what threads=0 does by default.
STUDY = [
    ("threads=1", 1, {}),
    ("threads=2, libgomp default spin", 2, {}),
    ("threads=2, OMP_WAIT_POLICY=passive", 2, {"OMP_WAIT_POLICY": "passive"}),
    ("threads=2, GOMP_SPINCOUNT=10000", 2, {"GOMP_SPINCOUNT": "10000"}),
    ("threads=0 (default)", 0, {}),
]


def runnable_processes():
    """procs_running of /proc/stat: the processes wanting a CPU right now (ours included)."""
    try:
        with open("/proc/stat") as f:
            for line in f:
                if line.startswith("procs_running"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


class BusyLoops:
    """N processes that each keep one core busy, started and stopped by pid."""

    def __init__(self, n):
        self.procs = [subprocess.Popen(["/bin/sh", "-c", "while :; do :; done"],
                                       stdin=subprocess.DEVNULL) for _ in range(n)]
        time.sleep(0.5 if n else 0)   # let the scheduler spread them before measuring

    def stop(self):
        for p in self.procs:
            p.send_signal(signal.SIGKILL)
        for p in self.procs:
            p.wait()


def build(build_dir, targets):
    if not os.path.exists(os.path.join(build_dir, "build.ninja")):
        sys.exit(f"{build_dir} is not a meson build directory")
    r = run(["ninja", "-C", build_dir] + targets, timeout=1800)
    if r.rc != 0:
        sys.exit(f"building {' '.join(targets)} failed: {r.last_error_line()}")


def live_row(args, bench, model_dir, mode, threads, env):
    r = run([bench, "--model", model_dir, "--mode", mode, "--threads", str(threads),
             "--seconds", str(args.seconds)], env=env, timeout=args.seconds + 300)
    got = json_lines(r.stdout)
    if r.rc != 0 or not got:
        return {"error": r.last_error_line()}
    return got[-1]


def library_row(args, classify, model, threads, env):
    r = run([classify, "--model", model["model_dir"], "--input-tensor",
             os.path.join(model["dir"], "input-b1.npy"), "--repeat", str(args.repeat),
             "--threads", str(threads)], env=env, timeout=1800)
    for obj in reversed(json_lines(r.stdout)):
        if "median_ms" in obj:
            return {"median_ms": obj["median_ms"], "min_ms": obj.get("min_ms")}
    return {"error": r.last_error_line()}


def fmt(v, spec):
    return "n/a" if v is None else format(v, spec)


def table(rows, study):
    period_ms = 1000 / 30
    if study:
        head = ("| competing load | setting | library ms (median) | async fps | async delay ms "
                "| async inferences/s | load avg | runnable |\n|---|---|---:|---:|---:|---:|---:|---:|")
    else:
        head = ("| competing load | threads | mode | fps at sink | delay after 10 s (ms) | "
                "inferences/s | late frames | latency (ms) | target | load avg | runnable |\n"
                "|---|---:|---|---:|---:|---:|---:|---:|---|---:|---:|")
    lines = [head]
    for r in rows:
        live = r.get("live", {})
        load = f"{r['busy_loops']} busy loop{'s' if r['busy_loops'] != 1 else ''}"
        if study:
            lines.append(f"| {load} | {r['label']} | {fmt(r.get('library', {}).get('median_ms'), '.1f')} "
                         f"| {fmt(live.get('fps'), '.1f')} | {fmt(live.get('delay_ms'), '.0f')} "
                         f"| {fmt(live.get('inferences_per_s'), '.1f')} | {r['loadavg']:.1f} "
                         f"| {r['runnable']} |")
            continue
        target = ""
        if r["mode"] == "async" and "fps" in live:
            ok = live["fps"] >= TARGET_FPS and live["delay_ms"] <= TARGET_DELAY_PERIODS * period_ms
            target = "met" if ok else "missed"
        lines.append(f"| {load} | {r['threads']} | {MODES[r['mode']]} | {fmt(live.get('fps'), '.1f')} "
                     f"| {fmt(live.get('delay_ms'), '.0f')} | {fmt(live.get('inferences_per_s'), '.1f')} "
                     f"| {live.get('late', 'n/a')} | {fmt(live.get('latency_ms'), '.0f')} | {target} "
                     f"| {r['loadavg']:.1f} | {r['runnable']} |")
    return "\n".join(lines)


def main():
    # A stop (SIGTERM) still runs the finally blocks that end the busy loops.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("build_dir", nargs="?", default=os.path.join(SOURCE_ROOT, "build"))
    ap.add_argument("--study", action="store_true", help="the OpenMP threading study instead")
    ap.add_argument("--loads", default=None,
                    help="competing busy-loop processes per block of rows (default 1,2; study 0,1,2)")
    ap.add_argument("--threads", default="1,0", help="threads values of the rows (default 1,0)")
    ap.add_argument("--modes", default="sync,qos,async")
    ap.add_argument("--seconds", type=int, default=10, help="measured seconds per row (10)")
    ap.add_argument("--repeat", type=int, default=10, help="study: timed library runs (10)")
    ap.add_argument("--rounds", type=int, default=1, help="repeat every block, order reversed")
    ap.add_argument("--cache", default=os.environ.get("CONVNEXT_BENCH_CACHE",
                    os.path.join(os.path.expanduser("~"), ".cache", "convnext-bench")))
    ap.add_argument("--output", default=None, help="where live.json / live.md go "
                    "(default BUILD_DIR/tests/benchmark)")
    ap.add_argument("--only", default=None, help="study: only the settings whose label has this")
    ap.add_argument("--no-build", action="store_true")
    args = ap.parse_args()

    build_dir = os.path.abspath(args.build_dir)
    cache = os.path.abspath(args.cache)
    output = os.path.abspath(args.output or os.path.join(build_dir, "tests", "benchmark"))
    os.makedirs(cache, exist_ok=True)
    os.makedirs(output, exist_ok=True)
    targets = ["tests/benchmark/convnext-live-bench", "gst-plugin/libgstconvnext.so",
               "libconvnext/tools/convnext-classify"]
    if not args.no_build:
        build(build_dir, targets)
    bench = os.path.join(build_dir, targets[0])
    classify = os.path.join(build_dir, targets[2])
    model = prepare_model(cache)
    env = {"GST_PLUGIN_PATH": os.path.join(build_dir, "gst-plugin"),
           "GST_REGISTRY_1_0": os.path.join(cache, "gst-registry-live.bin")}
    loads = [int(x) for x in (args.loads or ("0,1,2" if args.study else "1,2")).split(",")]

    blocks = []
    for load in loads:
        if args.study:
            blocks.append([(load, label, t, None, e) for label, t, e in STUDY
                           if not args.only or args.only in label])
        else:
            blocks.append([(load, None, int(t), m, {}) for t in args.threads.split(",")
                           for m in args.modes.split(",")])
    rows = []
    for rnd in range(args.rounds):
        for block in blocks:
            busy = BusyLoops(block[0][0])
            try:
                for load, label, threads, mode, extra in (block if rnd % 2 == 0 else block[::-1]):
                    row = {"busy_loops": load, "threads": threads, "mode": mode, "label": label,
                           "env": extra, "round": rnd, "loadavg": os.getloadavg()[0],
                           "runnable": runnable_processes()}
                    log(f"load {load}: {label or f'threads={threads} {mode}'}")
                    if args.study:
                        row["library"] = library_row(args, classify, model, threads, {**env, **extra})
                        row["live"] = live_row(args, bench, model["model_dir"], "async", threads,
                                               {**env, **extra})
                    else:
                        row["live"] = live_row(args, bench, model["model_dir"], mode, threads,
                                               {**env, **extra})
                    log(f"  {json.dumps({k: v for k, v in row.items() if k in ('library', 'live')})}")
                    rows.append(row)
            finally:
                busy.stop()

    md = table(rows, args.study)
    name = "live-study" if args.study else "live"
    result = {"date": time.strftime("%Y-%m-%d %H:%M:%S %z"), "cpu": cpu_model(),
              "cores": os.cpu_count(), "git_commit": git_commit(), "seconds": args.seconds,
              "model": model["model_dir"], "rows": rows}
    with open(os.path.join(output, name + ".json"), "w") as f:
        json.dump(result, f, indent=2)
    with open(os.path.join(output, name + ".md"), "w") as f:
        f.write(md + "\n")
    print(md)
    log(f"wrote {os.path.join(output, name + '.json')} and {name}.md")


if __name__ == "__main__":
    main()
