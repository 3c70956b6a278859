#!/usr/bin/python3
"""Record what convnext-classify must print for the photos in tests/data, from the independent references.

    /usr/bin/python3 tests/tools/make_expected.py      (from the source root; Debian's python3-torch, python3-pil)

For each PNG in tests/data (lossless, so PIL and GStreamer decode the same pixels): PIL's RGB conversion,
ConvNextImageProcessor's preprocessing as tests/reference/preprocess_reference.py re-implements it, and the
PyTorch reference model (tests/reference/convnext_torch.py) on the checkpoint tests/element/models/tiny
(bilinear resize to 32/0.875, center crop 32: a real resize path).  Writes tests/tools/expected.json.
"""
import json
import os
import sys

import numpy as np
import torch
from PIL import Image

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests", "reference"))
import convnext_torch  # noqa: E402
import preprocess_reference  # noqa: E402
import safetensors_io  # noqa: E402

MODEL = "tests/element/models/tiny"


def main():
    model_dir = os.path.join(ROOT, MODEL)
    cfg = json.load(open(os.path.join(model_dir, "config.json")))
    pre = json.load(open(os.path.join(model_dir, "preprocessor_config.json")))
    model = convnext_torch.ConvNextForImageClassification(cfg)
    model.load_state_dict(safetensors_io.load(os.path.join(model_dir, "model.safetensors")))
    model.eval()
    images = {}
    data = os.path.join(ROOT, "tests", "data")
    for name in sorted(f for f in os.listdir(data) if f.endswith(".png")):
        rgb = np.asarray(Image.open(os.path.join(data, name)).convert("RGB"))
        _, pixel_values = preprocess_reference.preprocess(rgb, pre)
        with torch.no_grad():
            logits = model(torch.from_numpy(pixel_values)[None])[0][0]
        images[name] = [float(v) for v in logits]
    out = os.path.join(ROOT, "tests", "tools", "expected.json")
    with open(out, "w") as f:
        json.dump({"model": MODEL, "logits": images}, f, indent=1)
        f.write("\n")
    print(f"wrote {out}: {len(images)} images")


if __name__ == "__main__":
    main()
