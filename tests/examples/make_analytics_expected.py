#!/usr/bin/python3
"""Write analytics_expected.json: the PyTorch reference top-k of tests/element/models/tiny-noresize
on a plain white 64x48 RGB frame (what `videotestsrc pattern=white` draws), for check_analytics.py.

    /usr/bin/python3 tests/examples/make_analytics_expected.py      (python3-torch, numpy)

tiny-noresize's preprocessing is rescale + normalize only, so pixel_values are (1 - mean) / std per
channel; the model is tests/reference/convnext_torch.py (independent of the C engine).
"""
import json
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "reference"))
import convnext_torch  # noqa: E402
import safetensors_io  # noqa: E402

MODEL = os.path.join(HERE, "..", "element", "models", "tiny-noresize")
WIDTH, HEIGHT = 64, 48


def main():
    with open(os.path.join(MODEL, "config.json")) as f:
        cfg = json.load(f)
    with open(os.path.join(MODEL, "preprocessor_config.json")) as f:
        pre = json.load(f)
    model = convnext_torch.ConvNextForImageClassification(cfg).eval()
    model.load_state_dict(safetensors_io.load(os.path.join(MODEL, "model.safetensors")))
    mean = torch.tensor(pre["image_mean"])[:, None, None]
    std = torch.tensor(pre["image_std"])[:, None, None]
    x = ((torch.full((3, HEIGHT, WIDTH), 255.0) * pre["rescale_factor"] - mean) / std)[None]
    with torch.no_grad():
        logits, _, _ = model(x)
    probs = torch.softmax(logits[0].double(), 0)
    order = sorted(range(len(probs)), key=lambda i: (-probs[i].item(), i))
    out = {"generator": "tests/examples/make_analytics_expected.py", "model": "tiny-noresize",
           "pattern": "white", "width": WIDTH, "height": HEIGHT,
           "top_k": [{"label": cfg["id2label"][str(i)], "score": probs[i].item()} for i in order]}
    with open(os.path.join(HERE, "analytics_expected.json"), "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")
    print(out["top_k"][:3])


if __name__ == "__main__":
    main()
