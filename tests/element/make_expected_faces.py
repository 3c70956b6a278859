#!/usr/bin/python3
"""Record what convnextclassify inference-region=roi-list must attach to facedetect's faces.

    /usr/bin/python3 tests/element/make_expected_faces.py   (from the source root; needs gstreamer1.0-opencv,
                                                             opencv-data, python3-torch, python3-pil,
                                                             python3-skimage, python-matplotlib-data)

For each photo: the face boxes that upstream's facedetect (display=false) finds, read from its "facedetect"
bus messages (gst-launch-1.0 -m); each face cropped with PIL from the RGB photo and saved as a PNG, that PNG
preprocessed as ConvNextImageProcessor does (tests/reference/preprocess_reference.py) and classified by the
PyTorch reference model (tests/reference/convnext_torch.py) on tests/element/models/tiny: softmax scores of
all 10 classes.  Writes tests/element/expected_faces.json; test_facedetect compares the element's scores on
each face ROI with these (1e-5).
"""
import json
import os
import re
import subprocess
import sys
import tempfile

import numpy as np
import torch
from PIL import Image

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests", "reference"))
import convnext_torch  # noqa: E402
import preprocess_reference  # noqa: E402
import safetensors_io  # noqa: E402

MODEL = "tests/element/models/tiny"
PHOTOS = ["/usr/lib/python3/dist-packages/skimage/data/astronaut.png", "tests/data/astronaut-portrait.png",
          "/usr/share/matplotlib/mpl-data/sample_data/grace_hopper.jpg"]   # python-matplotlib-data
FACE = re.compile(r"face, x=\(uint\)(\d+), y=\(uint\)(\d+), width=\(uint\)(\d+), height=\(uint\)(\d+)")


def faces(path):
    out = subprocess.run(["gst-launch-1.0", "-m", "filesrc", "location=" + path, "!", "decodebin", "!",
                          "videoconvert", "!", "facedetect", "display=false", "!", "fakesink"],
                         capture_output=True, text=True, check=True).stdout
    line = next(l for l in out.splitlines() if "faces=" in l).replace("\\", "")  # unescape
    return [[int(v) for v in m.groups()] for m in FACE.finditer(line)]


def decoded_rgb(path, tmp):
    """The photo as the test pipeline's element sees it: a PNG as PIL reads it (pngdec is lossless);
    anything else (JPEG) decoded by GStreamer exactly as in the pipeline (decodebin ! videoconvert to
    RGB, which is what facedetect takes), since another JPEG decoder or YUV->RGB conversion gives other
    pixels."""
    if path.endswith(".png"):
        return Image.open(path).convert("RGB")
    png = os.path.join(tmp, "decoded.png")
    subprocess.run(["gst-launch-1.0", "-q", "filesrc", "location=" + path, "!", "decodebin", "!",
                    "videoconvert", "!", "video/x-raw,format=RGB", "!", "pngenc", "!", "filesink",
                    "location=" + png], check=True)
    return Image.open(png).convert("RGB")


def main():
    model_dir = os.path.join(ROOT, MODEL)
    cfg = json.load(open(os.path.join(model_dir, "config.json")))
    pre = json.load(open(os.path.join(model_dir, "preprocessor_config.json")))
    model = convnext_torch.ConvNextForImageClassification(cfg)
    model.load_state_dict(safetensors_io.load(os.path.join(model_dir, "model.safetensors")))
    model.eval()
    photos = {}
    for photo in PHOTOS:
        path = os.path.join(ROOT, photo)
        with tempfile.TemporaryDirectory() as tmp:
            image = decoded_rgb(path, tmp)
        entries = []
        for x, y, w, h in faces(path):
            with tempfile.TemporaryDirectory() as tmp:
                crop_path = os.path.join(tmp, "crop.png")
                image.crop((x, y, x + w, y + h)).save(crop_path)
                rgb = np.asarray(Image.open(crop_path).convert("RGB"))
            _, pixel_values = preprocess_reference.preprocess(rgb, pre)
            with torch.no_grad():
                logits = model(torch.from_numpy(pixel_values)[None])[0][0]
            scores = torch.softmax(logits.double(), 0)
            entries.append({"box": [x, y, w, h], "scores": [float(v) for v in scores]})
        photos[os.path.basename(photo)] = {"path": photo, "faces": entries}
    out = os.path.join(ROOT, "tests", "element", "expected_faces.json")
    with open(out, "w") as f:
        json.dump({"model": MODEL, "photos": photos}, f, indent=1)
        f.write("\n")
    print(f"wrote {out}: " + ", ".join(f"{k}: {len(v['faces'])} faces" for k, v in photos.items()))


if __name__ == "__main__":
    main()
