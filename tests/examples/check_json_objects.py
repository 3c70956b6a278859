#!/usr/bin/python3
"""convnext-json --objects face behind upstream's facedetect: each JSON line's "objects" has every face
with its box and top-k scores equal to PyTorch's on the crop saved as an image
(tests/element/expected_faces.json, recorded by tests/element/make_expected_faces.py), within 1e-5.
Exit 77 without facedetect.

    check_json_objects.py PROGRAM MODEL_DIR EXPECTED_JSON SOURCE_ROOT
"""
import json
import os
import subprocess
import sys


def main():
    program, model, expected_path, root = sys.argv[1:5]
    if subprocess.run(["gst-inspect-1.0", "facedetect"], capture_output=True).returncode != 0:
        print("SKIP: no facedetect (gstreamer1.0-opencv)")
        return 77
    expected = json.load(open(expected_path))["photos"]["astronaut-portrait.png"]
    photo = os.path.join(root, expected["path"])
    out = subprocess.run([program, "-m", model, "-k", "10", "-j", "1", "-o", "face",
                          f"filesrc location={photo} ! pngdec ! videoconvert ! facedetect display=false"],
                         capture_output=True, text=True, timeout=120)
    if out.returncode != 0:
        print(out.stderr)
        return 1
    lines = [json.loads(l) for l in out.stdout.splitlines() if l.strip()]
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
    return 0


if __name__ == "__main__":
    sys.exit(main())
