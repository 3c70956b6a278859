#!/usr/bin/python3
"""convnext-json --objects face (C or Python) behind upstream's facedetect: each JSON line's
"objects" has every face with its box and top-k scores equal to PyTorch's on the crop saved as an
image (tests/element/expected_faces.json, recorded by tests/element/make_expected_faces.py),
within 1e-5; frames without a face print "objects":[]. With --reference PROGRAM (the C program), both programs, run on three frames of the
photo, print the same frame, pts, model and objects. Exit 77 without facedetect.

    check_json_objects.py PROGRAM MODEL_DIR EXPECTED_JSON SOURCE_ROOT
        [--interpreter PYTHON] [--reference C_PROGRAM] [--skip-reason TEXT]
"""
import argparse
import json
import os
import subprocess
import sys


def run(cmd, source):
    out = subprocess.run(cmd + ["-k", "10", "-j", "1", "-o", "face", source],
                         capture_output=True, text=True, timeout=120)
    if out.returncode != 0:
        print(out.stderr)
        sys.exit(1)
    return [json.loads(line) for line in out.stdout.splitlines() if line.strip()]


def main():
    parser = argparse.ArgumentParser()
    for name in ("program", "model", "expected", "root"):
        parser.add_argument(name)
    parser.add_argument("--interpreter")
    parser.add_argument("--reference")
    parser.add_argument("--skip-reason")
    args = parser.parse_args()
    if args.skip_reason:
        print("SKIP: " + args.skip_reason)
        return 77
    if subprocess.run(["gst-inspect-1.0", "facedetect"], capture_output=True).returncode != 0:
        print("SKIP: no facedetect (gstreamer1.0-opencv)")
        return 77
    expected = json.load(open(args.expected))["photos"]["astronaut-portrait.png"]
    photo = os.path.join(args.root, expected["path"])
    cmd = ([args.interpreter] if args.interpreter else []) + [args.program, "-m", args.model]
    detector = "videoconvert ! facedetect display=false"

    lines = run(cmd, f"filesrc location={photo} ! pngdec ! {detector}")
    assert len(lines) == 1, lines
    objects = lines[0]["objects"]
    assert len(objects) == len(expected["faces"]), (objects, expected["faces"])
    for face in expected["faces"]:
        obj = next(o for o in objects if o["box"] == face["box"])
        assert len(obj["top_k"]) == 10
        for c in obj["top_k"]:
            ref = face["scores"][c["class_id"]]
            assert abs(c["score"] - ref) <= 1e-5, (face["box"], c, ref)
        print(f"face {face['box']}: {obj['top_k'][0]['label']} {obj['top_k'][0]['score']} (PyTorch "
              f"{face['scores'][obj['top_k'][0]['class_id']]:.7f})")

    # A frame without objects still has the key (and, from C, its own frame as source_frame).
    empty = run(cmd, "videotestsrc num-buffers=2")
    assert [line["objects"] for line in empty] == [[], []], empty
    assert all(line.get("source_frame", line["frame"]) == line["frame"] for line in empty), empty

    if args.reference:
        # Several frames, so that each frame's objects must reach that frame's line.
        source = f"filesrc location={photo} ! pngdec ! imagefreeze num-buffers=3 ! {detector}"
        mine = run(cmd, source)
        ref = run([args.reference, "-m", args.model], source)
        keys = ("frame", "pts", "model", "top_k", "objects")
        assert len(mine) == len(ref) == 3, (mine, ref)
        for a, b in zip(mine, ref):
            assert {k: a.get(k) for k in keys} == {k: b.get(k) for k in keys}, (a, b)
        print(f"same {len(mine)} lines as {os.path.basename(args.reference)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
