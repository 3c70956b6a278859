#!/usr/bin/python3
"""Runs an example program (convnext-json or convnext-json.py) on a short videotestsrc stream and
checks its JSON lines.

What is checked, line by line, against facts that do not come from the program:
- one line per frame, each a JSON object; frame = its index; pts = videotestsrc's timestamps
  (frame * 1e9 * den / num, rounded down);
- model = the checkpoint directory's name; every class_id/label pair is the checkpoint's own
  id2label entry (config.json); top_k holds --top-k distinct classes (all, or those >= the
  threshold), scores in [0, 1], descending, summing to at most 1 (softmax probabilities);
- C only: source_frame = frame (inference-interval 1), inference_ns > 0;
- with --reference PROGRAM: the other program, run on the same stream, printed exactly the same
  frame, pts, model and top_k (C reads GstConvNextClassificationMeta, Python the ROI meta);
- with --annotate png|webm (C): the overlaid frames were written: one 160x120 PNG per frame, or
  a WebM (Matroska EBML header, DocType webm);
- with --stats (C): the summary on stderr counts every frame, and a positive median inference
  time no larger than the max;
- with --analytics (GStreamer >= 1.24): the program reads the GstAnalyticsClsMtd instead of its
  usual meta: no model, class_id null, every label one of id2label's; with --reference, the same
  frames, pts, labels and scores as the reference reading its usual meta (so the ClsMtd carries
  the same top-k through videoconvert and appsink);
- with --bad-model: the program fails (status 1) with an error naming the model directory and
  prints no JSON; given a file that does not exist, it fails (status 2) with an error naming it.

Model: $CONVNEXT_DEFAULT_MODEL (the project's default model) when it holds a checkpoint; then the
program runs without --model, so the default is what gets used. Otherwise --fallback-model.
Exit status 77 (skip) when no model is available or --skip-reason is given.
"""
import argparse
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile

FRAMERATE = (30, 1)


def fail(message):
    print("FAIL: " + message, file=sys.stderr)
    sys.exit(1)


def skip(message):
    print("SKIP: " + message)
    sys.exit(77)


def is_checkpoint(path):
    return bool(path) and os.path.isfile(os.path.join(path, "config.json")) and any(
        os.path.isfile(os.path.join(path, name))
        for name in ("model.safetensors", "pytorch_model.bin"))


def command(program, interpreter):
    """The program's command line; a C program runs under memcheck when meson test --setup valgrind
    says so (tests/valgrind-wrapper.sh sets CONVNEXT_VALGRIND)."""
    if interpreter:
        return [interpreter, program]
    return os.environ.get("CONVNEXT_VALGRIND", "").split() + [program]


def run(cmd, timeout):
    print("+ " + " ".join("'%s'" % a if " " in a else a for a in cmd), flush=True)
    if os.environ.get("CONVNEXT_VALGRIND"):
        timeout *= 20  # as meson's timeout_multiplier for the valgrind setup
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          timeout=timeout)
    if proc.stderr:
        print(proc.stderr, file=sys.stderr, end="")
    if proc.returncode == 99 and os.environ.get("CONVNEXT_VALGRIND"):
        fail("memcheck found errors or definite leaks (its report is above)")
    return proc


def check_annotated(outdir, kind, n_frames):
    if kind == "png":
        names = sorted(os.listdir(outdir))
        if names != ["frame-%03d.png" % i for i in range(n_frames)]:
            fail("--annotate wrote %r" % names)
        for name in names:
            with open(os.path.join(outdir, name), "rb") as f:
                head = f.read(24)
            if head[:8] != b"\x89PNG\r\n\x1a\n" or head[12:16] != b"IHDR":
                fail("%s is not a PNG" % name)
            if struct.unpack(">II", head[16:24]) != (160, 120):
                fail("%s is %dx%d" % ((name,) + struct.unpack(">II", head[16:24])))
        print("ok: --annotate wrote %d PNG frames" % len(names))
    else:
        with open(os.path.join(outdir, "annotated.webm"), "rb") as f:
            data = f.read()
        if data[:4] != b"\x1a\x45\xdf\xa3" or b"webm" not in data[:64]:
            fail("annotated.webm is not a WebM file")
        print("ok: --annotate wrote a %d-byte WebM" % len(data))


def check_lines(stdout, n_frames, top_k, threshold, id2label, model_name, is_c, analytics):
    lines = stdout.splitlines()
    if len(lines) != n_frames:
        fail("%d lines for %d frames" % (len(lines), n_frames))
    records = []
    for i, line in enumerate(lines):
        try:
            rec = json.loads(line)
        except ValueError as error:
            fail("line %d is not JSON (%s): %r" % (i, error, line))
        if not isinstance(rec, dict):
            fail("line %d is not an object" % i)
        where = "line %d" % i
        if rec.get("frame") != i:
            fail("%s: frame %r" % (where, rec.get("frame")))
        expected_pts = i * 1000000000 * FRAMERATE[1] // FRAMERATE[0]
        if rec.get("pts") != expected_pts:
            fail("%s: pts %r, expected %d" % (where, rec.get("pts"), expected_pts))
        if analytics:
            model_name = None
        if rec.get("model") != model_name:
            fail("%s: model %r, expected %r" % (where, rec.get("model"), model_name))
        classes = rec.get("top_k")
        if not isinstance(classes, list):
            fail("%s: top_k is not a list" % where)
        expected_n = min(top_k, len(id2label))
        if threshold is None and len(classes) != expected_n:
            fail("%s: %d classes, expected %d" % (where, len(classes), expected_n))
        if len(classes) > expected_n:
            fail("%s: %d classes, more than %d" % (where, len(classes), expected_n))
        scores = []
        for c in classes:
            cid, label, score = c.get("class_id"), c.get("label"), c.get("score")
            if analytics:
                if cid is not None or label not in id2label.values():
                    fail("%s: class_id %r, label %r: a ClsMtd has no ids, and only the model's "
                         "labels" % (where, cid, label))
            elif not isinstance(cid, int) or str(cid) not in id2label:
                fail("%s: class_id %r not in the model's id2label" % (where, cid))
            elif label != id2label[str(cid)]:
                fail("%s: class %d is %r in config.json, printed %r"
                     % (where, cid, id2label[str(cid)], label))
            if not isinstance(score, (int, float)) or not 0.0 <= score <= 1.0:
                fail("%s: score %r" % (where, score))
            if threshold is not None and score < threshold:
                fail("%s: score %r below the threshold %r" % (where, score, threshold))
            scores.append(score)
        if scores != sorted(scores, reverse=True):
            fail("%s: scores not in descending order: %r" % (where, scores))
        if sum(scores) > 1.0 + 1e-5:
            fail("%s: scores sum to %r > 1" % (where, sum(scores)))
        if len({c["label"] for c in classes}) != len(classes):
            fail("%s: repeated class" % where)
        if is_c and not analytics:
            if rec.get("source_frame") != i:
                fail("%s: source_frame %r" % (where, rec.get("source_frame")))
            if not isinstance(rec.get("inference_ns"), int) or rec["inference_ns"] <= 0:
                fail("%s: inference_ns %r" % (where, rec.get("inference_ns")))
        records.append(rec)
    return records


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--program", required=True)
    parser.add_argument("--interpreter", help="run --program with this (the Python example)")
    parser.add_argument("--reference", help="convnext-json (C), to compare results with")
    parser.add_argument("--fallback-model", help="checkpoint used when the default model is absent")
    parser.add_argument("--frames", type=int, default=12)
    parser.add_argument("--top-k", type=int, default=3)
    parser.add_argument("--threshold", type=float)
    parser.add_argument("--stats", action="store_true")
    parser.add_argument("--annotate", choices=("png", "webm"))
    parser.add_argument("--analytics", action="store_true")
    parser.add_argument("--bad-model", action="store_true")
    parser.add_argument("--skip-reason")
    parser.add_argument("--timeout", type=float, default=240)
    args = parser.parse_args()

    if args.skip_reason:
        skip(args.skip_reason)
    cmd = command(args.program, args.interpreter)

    if args.bad_model:
        missing = os.path.join(os.getcwd(), "no-such-model-dir")
        proc = run(cmd + ["--model", missing, "--threads", "1", "videotestsrc num-buffers=2"],
                   args.timeout)
        if proc.returncode != 1:
            fail("status %d with a missing model, expected 1" % proc.returncode)
        if missing not in proc.stderr:
            fail("the error does not name %s" % missing)
        if proc.stdout.strip():
            fail("JSON printed despite the error: %r" % proc.stdout[:200])
        print("ok: missing model -> status 1, error names it")
        missing = os.path.join(os.getcwd(), "no-such-video.mp4")
        proc = run(cmd + [missing], args.timeout)
        if proc.returncode != 2 or missing + ": no such file" not in proc.stderr or proc.stdout.strip():
            fail("missing source file: status %d, stderr %r" % (proc.returncode, proc.stderr[-300:]))
        print("ok: missing source file -> status 2, error names it")
        proc = run(cmd + ["--help"], args.timeout)
        usage = " ".join(proc.stdout.split("\n\n")[0].split())
        if proc.returncode != 0 or usage.count("SOURCE") + usage.count("source") != 1:
            fail("--help: the usage line should name the source once: %r" % usage)
        print("ok: --help names the source once: %r" % usage)
        return 0

    default_model = os.environ.get("CONVNEXT_DEFAULT_MODEL")
    if is_checkpoint(default_model):
        model_dir, model_args = default_model, []
    elif is_checkpoint(args.fallback_model):
        model_dir, model_args = args.fallback_model, ["--model", args.fallback_model]
    else:
        skip("no model: neither $CONVNEXT_DEFAULT_MODEL (%r) nor %r is a checkpoint"
             % (default_model, args.fallback_model))
    with open(os.path.join(model_dir, "config.json"), encoding="utf-8") as f:
        config = json.load(f)
    id2label = config.get("id2label") or {str(i): "LABEL_%d" % i
                                          for i in range(config.get("num_labels", 2))}
    model_name = os.path.basename(os.path.normpath(os.path.realpath(model_dir)))

    source = ("videotestsrc num-buffers=%d pattern=ball "
              "! video/x-raw,format=I420,width=160,height=120,framerate=%d/%d"
              % (args.frames, FRAMERATE[0], FRAMERATE[1]))
    options = model_args + ["--top-k", str(args.top_k), "--threads", "1"]
    if args.threshold is not None:
        options += ["--threshold", repr(args.threshold)]

    extra = ["--stats"] if args.stats else []
    if args.analytics:
        extra.append("--analytics")
    outdir = tempfile.mkdtemp(prefix="convnext-json-")
    if args.annotate == "png":
        extra += ["--annotate", os.path.join(outdir, "frame-%03d.png")]
    elif args.annotate == "webm":
        extra += ["--annotate", os.path.join(outdir, "annotated.webm")]
    proc = run(cmd + options + extra + [source], args.timeout)
    if proc.returncode != 0:
        fail("%s exited with status %d" % (args.program, proc.returncode))
    records = check_lines(proc.stdout, args.frames, args.top_k, args.threshold, id2label,
                          model_name, is_c=args.interpreter is None, analytics=args.analytics)
    print("ok: %d frames, model %s, first frame %s" % (len(records), model_name,
                                                       json.dumps(records[0]["top_k"])))
    if args.annotate:
        check_annotated(outdir, args.annotate, args.frames)
    shutil.rmtree(outdir)
    if args.stats:
        summary = re.search(r"^stats: (\d+) frames in [0-9.]+ s \([0-9.]+ fps\), "
                            r"median inference ([0-9.]+) ms \(max ([0-9.]+) ms\) over (\d+) results$",
                            proc.stderr, re.MULTILINE)
        if not summary:
            fail("no --stats summary on stderr")
        frames, median_ms, max_ms, results = (int(summary[1]), float(summary[2]), float(summary[3]),
                                              int(summary[4]))
        if frames != args.frames or results != args.frames or not 0 < median_ms <= max_ms:
            fail("--stats summary: %s" % summary[0])
        print("ok: " + summary[0])

    if args.reference:
        ref = run([args.reference] + options + [source], args.timeout)
        if ref.returncode != 0:
            fail("%s exited with status %d" % (args.reference, ref.returncode))
        ref_records = [json.loads(line) for line in ref.stdout.splitlines()]
        if len(ref_records) != len(records):
            fail("%d frames from %s, %d from %s"
                 % (len(ref_records), args.reference, len(records), args.program))
        for i, (a, b) in enumerate(zip(records, ref_records)):
            if args.analytics:    # the ClsMtd has no model and no class ids
                b = dict(b, model=None, top_k=[dict(c, class_id=None) for c in b["top_k"]])
            for key in ("frame", "pts", "model", "top_k"):
                if a.get(key) != b.get(key):
                    fail("frame %d: %s differs: %r here, %r from %s"
                         % (i, key, a.get(key), b.get(key), args.reference))
        print("ok: same results as %s" % os.path.basename(args.reference))
    return 0


if __name__ == "__main__":
    sys.exit(main())
