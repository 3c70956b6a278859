#!/usr/bin/python3
"""ConvNeXt-T 224 benchmark: libconvnext (f32, bf16) against ONNX Runtime and OpenVINO on the same
weights and inputs, plus preprocessing cost, the element's overhead and peak memory.  See
README.md beside this file.

    /usr/bin/python3 tests/benchmark/bench.py [BUILD_DIR] [--quick] [...]   (or run.sh)

Every number that is judged against a goal is a ratio measured in this one run, because the
machine is shared: absolute milliseconds move with the load, ratios much less.  What is measured
comes from the families in families/ (one module each); rounds.py times their rows in
interleaved rounds, report.py prints the tables.
"""
import argparse
import fcntl
import glob
import json
import os
import shutil
import sys
import time

import families
import report
from common import (HERE, SOURCE_ROOT, cpu_flags, cpu_model, file_hash, git_commit, log, run)
from rounds import Context, plan, run_rounds


def prepare_model(cache):
    """The random checkpoint, its ONNX export and inputs, remade when the scripts change."""
    scripts = [os.path.join(HERE, "make_model.py"),
               os.path.join(SOURCE_ROOT, "tests", "reference", "convnext_torch.py"),
               os.path.join(SOURCE_ROOT, "tests", "reference", "convnextv2_torch.py"),
               os.path.join(SOURCE_ROOT, "tests", "reference", "safetensors_io.py")]
    stamp = file_hash(scripts)
    out = os.path.join(cache, "model-" + stamp)
    manifest = os.path.join(out, "manifest.json")
    if not os.path.exists(manifest):
        for old in glob.glob(os.path.join(cache, "model-*")):   # made by older scripts
            shutil.rmtree(old, ignore_errors=True)
        log(f"making the random ConvNeXt-T 224 checkpoint and its ONNX export in {out}")
        tmp = out + ".tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        r = run(["/usr/bin/python3", scripts[0], tmp], timeout=600)
        if r.rc != 0:
            sys.exit(f"make_model.py failed: {r.stderr.strip()[-2000:]}")
        os.rename(tmp, out)
    return load_model(out)


def load_model(out):
    """make_model.py's manifest.json in out, its paths made absolute."""
    with open(os.path.join(out, "manifest.json")) as f:
        m = json.load(f)
    m["dir"] = out
    for key in ("model_dir", "onnx", "micro_model_dir", "v2_model_dir"):
        m[key] = os.path.join(out, m[key])
    return m


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("build_dir", nargs="?", default=os.path.join(SOURCE_ROOT, "build"),
                    help="meson build directory (default: <source>/build)")
    ap.add_argument("--cache", default=os.environ.get("CONVNEXT_BENCH_CACHE",
                    os.path.join(os.path.expanduser("~"), ".cache", "convnext-bench")),
                    help="where the checkpoint, the ONNX file, onnxruntime-node and the OpenVINO "
                         "venv are kept (default $CONVNEXT_BENCH_CACHE or ~/.cache/convnext-bench)")
    ap.add_argument("--output", help="directory for results.json and results.md "
                                     "(default BUILD_DIR/tests/benchmark)")
    ap.add_argument("--rounds", type=int, default=3, help="rounds over all configurations (3)")
    ap.add_argument("--repeat", type=int, default=30, help="timed runs per round at batch 1 (30)")
    ap.add_argument("--repeat-b8", type=int, default=8, help="timed runs per round at batch 8 (8)")
    ap.add_argument("--frames", type=int, default=20, help="timed 1080p frames, element bench (20)")
    ap.add_argument("--threads", type=int, default=2, help="threads for every runtime (2)")
    ap.add_argument("--budget", type=int, default=600,
                    help="seconds for the timing rounds (600); fewer runs/rounds on a busy machine; "
                         "0 = always the full counts")
    ap.add_argument("--nice", type=int, default=0,
                    help="run at this niceness (negative needs root): a fairer share of a busy machine")
    ap.add_argument("--quick", action="store_true", help="1 round, 10/3 runs, 6 frames: a smoke run")
    ap.add_argument("--families", help="comma-separated subset of: " + ", ".join(families.ORDER))
    ap.add_argument("--model-dir", help="use this directory made by make_model.py (its "
                                        "manifest.json) instead of the cache's")
    ap.add_argument("--no-build", action="store_true", help="do not run `meson compile` first")
    args = ap.parse_args()
    if args.quick:
        args.rounds, args.repeat, args.repeat_b8, args.frames = 1, 10, 3, 6
    return args


def main():
    args = parse_args()
    build_dir = os.path.abspath(args.build_dir)
    cache = os.path.abspath(args.cache)
    output = os.path.abspath(args.output or os.path.join(build_dir, "tests", "benchmark"))
    os.makedirs(cache, exist_ok=True)
    if args.nice:
        os.setpriority(os.PRIO_PROCESS, 0, args.nice)   # inherited by every child
    started = time.monotonic()
    load_before = os.getloadavg()

    if not args.no_build and os.path.exists(os.path.join(build_dir, "build.ninja")):
        log(f"meson compile -C {build_dir} -j 2")
        r = run(["meson", "compile", "-C", build_dir, "-j", "2"], timeout=1800)
        if r.rc != 0:
            log(f"build failed, benchmarking what exists: {r.last_error_line()}")

    fams = families.load(args.families.split(",") if args.families else None)
    with open(os.path.join(cache, ".lock"), "w") as lock:   # one preparer per cache at a time
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log(f"waiting for another benchmark run to finish preparing {cache}")
            fcntl.flock(lock, fcntl.LOCK_EX)
        ctx = Context(args, build_dir, cache, output,
                      load_model(os.path.abspath(args.model_dir)) if args.model_dir
                      else prepare_model(cache))
        reasons = {f.name: f.prepare(ctx) for f in fams}
    for f in fams:
        for row in f.rows(ctx):
            row.na = reasons[f.name]
            ctx.rows.append(row)

    repeat, repeat_b8, ctx.frames = plan(args, ctx.rows)
    rounds_done = run_rounds(args, ctx.rows, repeat, repeat_b8, ctx.model["dir"])

    log("checking that every runtime computes the PyTorch logits")
    checks = {}
    for f in fams:
        checks.update(f.checks(ctx))
    for f in fams:
        log(f"{f.name}: one-off measurements")
        ctx.results[f.name] = f.measure(ctx)
    latency, throughput = report.latency_rows(ctx), report.throughput_rows(ctx)
    end_to_end = report.end_to_end_rows(ctx)
    extras = [e for f in fams for e in f.extras(ctx)]
    tables = [t for f in fams for t in f.tables(ctx)]

    result = {
        "date": time.strftime("%Y-%m-%d %H:%M:%S %z"),
        "machine": {"cpu": cpu_model(), "cores": os.cpu_count(),
                    "isa": sorted(cpu_flags() & {"avx2", "avx512f", "avx512_bf16", "amx_bf16",
                                                  "amx_int8", "avx512_vnni", "avx_vnni"}),
                    "loadavg_before": load_before, "loadavg_after": os.getloadavg()},
        "build_dir": build_dir,
        "git_commit": git_commit(),
        "settings": {"threads": args.threads, "rounds": rounds_done, "repeat_b1": repeat,
                     "repeat_b8": repeat_b8, "frames": ctx.frames, "budget_s": args.budget,
                     "nice": args.nice, "families": [f.name for f in fams]},
        "model": {k: ctx.model[k] for k in ("parameters", "weights_bytes", "onnx_opset",
                                             "torch_version", "seed")},
        "rows": latency,
        "throughput": throughput,
        "end_to_end": end_to_end,
        "extras": extras,
        "logit_checks": checks,
        "tables": tables,
        "raw_rows": [r.to_json() for r in ctx.rows],     # for a run that reports this one's
        **{f.name: ctx.results[f.name] for f in fams if ctx.results[f.name]},
        "duration_s": round(time.monotonic() - started, 1),
    }
    os.makedirs(output, exist_ok=True)
    with open(os.path.join(output, "results.json"), "w") as f:
        json.dump(result, f, indent=2)

    notes = report.logit_notes(checks) + [n for f in fams for n in f.notes(ctx)]
    ort_b1 = ctx.row("onnxruntime", "f32", 1)
    ort_s = ort_b1.summary() if ort_b1 else None
    la = result["machine"]["loadavg_before"][0]
    if (ort_s and ort_s["median_ms"] > 60) or la > 0.5:
        notes.append(f"- machine busy (load {la:.1f} before, {result['machine']['loadavg_after'][0]:.1f} "
                     f"after, on {result['machine']['cores']} cores)"
                     + (f": ONNX Runtime b1 took {ort_s['median_ms']:.0f} ms against ~40 ms idle"
                        if ort_s else "") + "; trust the ratios, not the milliseconds")
    head = (f"ConvNeXt-T 224, {args.threads} threads, random weights "
            f"({ctx.model['parameters']:,} parameters, ONNX opset {ctx.model['onnx_opset']}); "
            f"{result['machine']['cpu']}; {rounds_done} round(s), commit {result['git_commit']}, "
            f"{result['date']}")
    with open(os.path.join(output, "results.md"), "w") as f:
        f.write("\n".join([head, ""] + report.table_lines(latency, throughput, end_to_end, extras,
                                                              tables, markdown=True)
                          + [""] + notes) + "\n")
    print()
    print(head)
    print("\n".join(report.table_lines(latency, throughput, end_to_end, extras, tables)))
    print()
    print("\n".join(notes))
    print(f"\nresults: {output}/results.json, results.md ({result['duration_s']} s)")


if __name__ == "__main__":
    main()
