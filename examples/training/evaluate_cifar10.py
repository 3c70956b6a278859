#!/usr/bin/python3
"""Evaluate a CIFAR-10 ConvNeXt checkpoint with the PyTorch reference and record its predictions.

    /usr/bin/python3 examples/training/evaluate_cifar10.py --data ../shared/data/cifar10 \
        --model examples/models/convnext-cifar10 --out tests/eval/pytorch-predictions.json

Reads model.safetensors / config.json / preprocessor_config.json as a user would, decodes the 10,000 test
JPEGs with PIL, and applies the checkpoint's preprocessing (for 32x32 CIFAR photos with shortest_edge 32 and
crop_pct 1.0, ConvNextImageProcessor's resize and crop are the identity: only rescale and normalise remain).
The output lists the predicted class of every test image, keyed by its path inside test.tar.gz, twice:
`predictions` on PIL's decoding (what transformers users get) and `predictions_gstreamer` on the pixels GStreamer
decodes (jpegdec ! videoconvert, what convnextclassify sees in a pipeline, run here through gst-launch-1.0).  The
two decoders upsample JPEG chroma differently (up to 9 levels), which alone changes about 2% of this small model's
answers.  tests/eval/test_cifar10.py checks convnext-classify (which decodes still images as PIL does) against
`predictions`, and prints its agreement with `predictions_gstreamer`.
"""
import argparse
import io
import json
import os
import subprocess
import sys
import tarfile
import tempfile

import numpy as np
import torch
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "reference"))
import convnext_torch  # noqa: E402
import safetensors_io  # noqa: E402


def gstreamer_decode(tar, names):
    """Decode the JPEGs with GStreamer's jpegdec + videoconvert to RGB, one gst-launch-1.0 per folder."""
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        tar.extractall(tmp)
        for folder in sorted({os.path.dirname(n) for n in names}):
            files = sorted(n for n in names if os.path.dirname(n) == folder)
            raw = os.path.join(tmp, "frames.rgb")
            for k, n in enumerate(files):  # multifilesrc wants a numbered pattern
                os.symlink(os.path.join(tmp, n), os.path.join(tmp, f"img{k:05d}.jpg"))
            subprocess.run(["gst-launch-1.0", "-q", "multifilesrc", f"location={tmp}/img%05d.jpg", "index=0",
                            f"stop-index={len(files) - 1}", "caps=image/jpeg,framerate=1/1", "!", "jpegdec", "!",
                            "videoconvert", "!", "video/x-raw,format=RGB", "!", "filesink", f"location={raw}"],
                           check=True)
            frames = np.fromfile(raw, np.uint8).reshape(len(files), 32, 32, 3)
            for k, n in enumerate(files):
                out[n] = frames[k]
                os.unlink(os.path.join(tmp, f"img{k:05d}.jpg"))
    return [out[n] for n in names]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    torch.set_num_threads(2)

    cfg = json.load(open(os.path.join(args.model, "config.json")))
    pre = json.load(open(os.path.join(args.model, "preprocessor_config.json")))
    assert pre["size"]["shortest_edge"] == 32 and pre["crop_pct"] == 1.0, "this script only handles 32x32 inputs"
    model = convnext_torch.ConvNextForImageClassification(cfg)
    model.load_state_dict(safetensors_io.load(os.path.join(args.model, "model.safetensors")))
    model.eval()
    mean = torch.tensor(pre["image_mean"]).view(1, 3, 1, 1)
    std = torch.tensor(pre["image_std"]).view(1, 3, 1, 1)

    names, images, truth = [], [], []
    label2id = cfg["label2id"]
    with tarfile.open(os.path.join(args.data, "test.tar.gz")) as tar:
        for m in tar:
            if m.isfile() and m.name.endswith(".jpg"):
                names.append(m.name)
                images.append(np.asarray(Image.open(io.BytesIO(tar.extractfile(m).read())).convert("RGB")))
                truth.append(label2id[m.name.split("/")[-2]])
        gst_images = gstreamer_decode(tar, names)

    def predict(imgs):
        x = torch.from_numpy(np.stack(imgs)).permute(0, 3, 1, 2).float() * pre["rescale_factor"]
        x = (x - mean) / std
        preds = []
        with torch.no_grad():
            for k in range(0, len(x), 500):
                preds += model(x[k:k + 500])[0].argmax(1).tolist()
        return preds, float(np.mean(np.array(preds) == np.array(truth)))

    preds, acc = predict(images)
    gst_preds, gst_acc = predict(gst_images)
    with open(args.out, "w") as f:
        json.dump({"model": os.path.basename(os.path.abspath(args.model)), "top1": acc, "top1_gstreamer": gst_acc,
                   "predictions": dict(zip(names, preds)),
                   "predictions_gstreamer": dict(zip(names, gst_preds))}, f, indent=0, sort_keys=True)
    print(f"PyTorch top-1 on {len(names)} test images: {acc * 100:.2f}% (PIL decoding), "
          f"{gst_acc * 100:.2f}% (GStreamer decoding)")


if __name__ == "__main__":
    main()
