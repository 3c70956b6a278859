#!/usr/bin/python3
"""Runs examples/demo.sh (the README's main job) and checks what it produced.

- 75 JSON lines, one per frame, each with a top-3 from the default model;
- the input clip (MJPEG AVI) and the annotated WebM (Matroska EBML header, DocType webm) exist;
- the top-1 label of each photo's 15 frames is, for most of the 5 photos, what the photo shows
  (cat, dog, horse, horse, bird: the subjects, not anything the model said), as the README states.

Usage: check_demo.py --demo examples/demo.sh --convnext-json build/examples/convnext-json [--skip-reason R]
"""
import argparse
import atexit
import collections
import json
import os
import shutil
import tempfile

from check_json import check_annotated, fail, run, skip

# demo.sh's photos, in clip order: 15 frames each.
SUBJECTS = ["cat", "dog", "horse", "horse", "bird"]
FRAMES_PER_PHOTO = 15


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--demo", required=True)
    parser.add_argument("--convnext-json", required=True, help="the built program demo.sh runs")
    parser.add_argument("--skip-reason")
    args = parser.parse_args()
    if args.skip_reason:
        skip(args.skip_reason)
    if not os.path.isdir("/usr/share/darknet/data"):
        skip("the darknet package's photos are not installed (tests/install-deps.sh)")

    out = tempfile.mkdtemp(prefix="convnext-demo-")
    atexit.register(shutil.rmtree, out, ignore_errors=True)
    os.environ["PATH"] = os.path.dirname(os.path.abspath(args.convnext_json)) + os.pathsep + os.environ["PATH"]
    proc = run(["sh", args.demo, out], 240)
    if proc.returncode != 0:
        fail("demo.sh exited with status %d" % proc.returncode)

    lines = proc.stdout.splitlines()
    with open(os.path.join(out, "results.jsonl")) as f:
        if f.read().splitlines() != lines:
            fail("results.jsonl differs from what was printed")
    if len(lines) != FRAMES_PER_PHOTO * len(SUBJECTS):
        fail("%d JSON lines, expected %d" % (len(lines), FRAMES_PER_PHOTO * len(SUBJECTS)))
    records = [json.loads(line) for line in lines]
    for i, r in enumerate(records):
        if r["frame"] != i or len(r["top_k"]) != 3:
            fail("frame %d: %s" % (i, lines[i][:200]))
    check_annotated(out, "webm", len(records))
    if os.path.getsize(os.path.join(out, "photos.avi")) == 0:
        fail("photos.avi is empty")

    right = 0
    for p, subject in enumerate(SUBJECTS):
        top1 = collections.Counter(r["top_k"][0]["label"]
                                   for r in records[p * FRAMES_PER_PHOTO:(p + 1) * FRAMES_PER_PHOTO])
        label, count = top1.most_common(1)[0]
        ok = label == subject and count == FRAMES_PER_PHOTO
        right += ok
        print("%s photo: top-1 %s on %d of %d frames%s" % (subject, label, count, FRAMES_PER_PHOTO,
                                                            "" if ok else "  (wrong)"))
    if 2 * right <= len(SUBJECTS):
        fail("the demo's labels are right for %d of %d photos; the README promises most" % (right, len(SUBJECTS)))
    print("ok: %d frames, labels right for %d of %d photos" % (len(records), right, len(SUBJECTS)))


if __name__ == "__main__":
    main()
