#!/usr/bin/python3
"""Independent reference for libconvnext's preprocessing, and the recorder of its fixtures.

ConvNextImageProcessor.preprocess (transformers, models/convnext/image_processing_convnext.py)
re-written with PIL + numpy, following transformers' own helpers (image_transforms.py):

- size: {"shortest_edge": N} or the old integer N (get_size_dict(default_to_square=False));
  crop_pct null -> 224 / 256; the defaults of ConvNextImageProcessor.__init__ otherwise.
- resize (ConvNextImageProcessor.resize):
    N < 384:  get_resize_output_image_size(size=int(N / crop_pct), default_to_square=False):
              short side -> int(N / crop_pct), long side -> int(short * long / short); then
              image_transforms.center_crop to N x N: top = (h - N) // 2, left = (w - N) // 2,
              zero padding (placed at ceil((N - h) / 2)) when the image is smaller;
    N >= 384: resize straight to N x N (warp).
  image_transforms.resize converts the uint8 array to PIL, calls Image.resize((w, h), resample)
  (resample None -> BILINEAR) and converts back: the result is uint8.
- rescale: image.astype(float64) * rescale_factor, then astype(float32).
- normalize: image (cast to float32 if not float) - mean, / std, with mean and std as float32.
- channels first: pixel_values [3, H, W].

It writes, under tests/fixtures/preprocess/ (see README.md there):
  configs/<name>/preprocessor_config.json   the configurations under test
  inputs/<name>.png                         synthetic test patterns (photos are tests/data/)
  expected/<case>.png                       the uint8 image after resize + crop (before rescale
                                            and normalize): what the C test compares with, in
                                            uint8 levels, after undoing the normalisation
  expected/<case>.f32                       for some cases the full float32 pixel_values, [3,H,W]
                                            little-endian, to check rescale + normalize exactly
  cases.json                                the list of cases

Run with Debian's python3 from the source root: /usr/bin/python3 tests/reference/preprocess_reference.py
"""

import argparse
import json
import math
import os
import shutil
import sys

import numpy as np
import PIL
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
DATA = os.path.join(ROOT, "tests", "data")
OUT = os.path.join(ROOT, "tests", "fixtures", "preprocess")

IMAGENET_STANDARD = [0.5, 0.5, 0.5]
IMAGENET_DEFAULT_MEAN = [0.485, 0.456, 0.406]
IMAGENET_DEFAULT_STD = [0.229, 0.224, 0.225]

# ---- the reference ---------------------------------------------------------------------------


def processor_settings(cfg):
    """ConvNextImageProcessor.__init__ + preprocess() defaults for a preprocessor_config.json."""
    size = cfg.get("size")
    if size is None:
        size = {"shortest_edge": 384}
    if isinstance(size, int):
        size = {"shortest_edge": size}
    if "shortest_edge" not in size:
        raise ValueError(f"Size dictionary must contain 'shortest_edge' key. Got {size.keys()}")
    crop_pct = cfg.get("crop_pct")
    return {
        "do_resize": cfg.get("do_resize", True),
        "shortest_edge": size["shortest_edge"],
        "crop_pct": crop_pct if crop_pct is not None else 224 / 256,
        "resample": cfg.get("resample", 3),
        "do_rescale": cfg.get("do_rescale", True),
        "rescale_factor": cfg.get("rescale_factor", 1 / 255),
        "do_normalize": cfg.get("do_normalize", True),
        "image_mean": cfg.get("image_mean") if cfg.get("image_mean") is not None else IMAGENET_STANDARD,
        "image_std": cfg.get("image_std") if cfg.get("image_std") is not None else IMAGENET_STANDARD,
    }


def resize_output_size(height, width, size):
    """get_resize_output_image_size(image, size, default_to_square=False) -> (h, w)."""
    short, long = (width, height) if width <= height else (height, width)
    new_short, new_long = size, int(size * long / short)
    return (new_long, new_short) if width <= height else (new_short, new_long)


def pil_resize(image, height, width, resample):
    """image_transforms.resize on a uint8 HWC array: through PIL and back."""
    if resample is None:
        resample = 2  # PILImageResampling.BILINEAR
    return np.array(Image.fromarray(image).resize((width, height), resample=resample))


def center_crop(image, height, width):
    """image_transforms.center_crop on an HWC array, zero padding when smaller."""
    orig_h, orig_w = image.shape[:2]
    top = (orig_h - height) // 2
    left = (orig_w - width) // 2
    if top >= 0 and left >= 0 and top + height <= orig_h and left + width <= orig_w:
        return image[top:top + height, left:left + width]
    new_h, new_w = max(height, orig_h), max(width, orig_w)
    padded = np.zeros((new_h, new_w) + image.shape[2:], dtype=image.dtype)
    top_pad = math.ceil((new_h - orig_h) / 2)
    left_pad = math.ceil((new_w - orig_w) / 2)
    padded[top_pad:top_pad + orig_h, left_pad:left_pad + orig_w] = image
    top += top_pad
    left += left_pad
    return padded[max(0, top):min(new_h, top + height), max(0, left):min(new_w, left + width)]


def preprocess(image, cfg):
    """RGB uint8 HWC -> (uint8 HWC after resize/crop, float32 [3, H, W] pixel_values)."""
    s = processor_settings(cfg)
    if s["do_resize"]:
        n = s["shortest_edge"]
        if n < 384:
            h, w = resize_output_size(*image.shape[:2], int(n / s["crop_pct"]))
            image = center_crop(pil_resize(image, h, w, s["resample"]), n, n)
        else:
            image = pil_resize(image, n, n, s["resample"])
    resized = image
    if s["do_rescale"]:
        image = (image.astype(np.float64) * s["rescale_factor"]).astype(np.float32)
    if s["do_normalize"]:
        if not np.issubdtype(image.dtype, np.floating):
            image = image.astype(np.float32)
        mean = np.array(s["image_mean"], dtype=image.dtype)
        std = np.array(s["image_std"], dtype=image.dtype)
        image = (image - mean) / std
    return resized, np.ascontiguousarray(image.astype(np.float32).transpose(2, 0, 1))


# ---- what is recorded ------------------------------------------------------------------------

IMAGENET = {"image_mean": IMAGENET_DEFAULT_MEAN, "image_std": IMAGENET_DEFAULT_STD}
RESCALE = {"do_rescale": True, "rescale_factor": 0.00392156862745098, "do_normalize": True}
RESAMPLE_NAMES = {0: "nearest", 1: "lanczos", 2: "bilinear", 3: "bicubic", 4: "box", 5: "hamming"}


def configs():
    c = {}
    # facebook/convnext-tiny-224 and convnext-*-384 as published on the hub
    c["c224-bicubic"] = {"size": {"shortest_edge": 224}, "crop_pct": 0.875, "resample": 3,
                         **RESCALE, **IMAGENET, "do_resize": True}
    c["c384-bicubic"] = {"size": {"shortest_edge": 384}, "crop_pct": 0.875, "resample": 3,
                         **RESCALE, **IMAGENET, "do_resize": True}
    for mode, name in RESAMPLE_NAMES.items():
        # every filter in both branches; small crops keep the fixtures small
        c[f"c64-{name}"] = {"size": {"shortest_edge": 64}, "crop_pct": 0.875, "resample": mode,
                            **RESCALE, **IMAGENET}
        c[f"c384-{name}"] = {"size": {"shortest_edge": 384}, "resample": mode, **RESCALE,
                             **IMAGENET}
    # the old integer size, crop_pct null (-> 224/256: int(200 / 0.875) = 228), BILINEAR
    c["c200-int-size"] = {"size": 200, "crop_pct": None, "resample": 2, **RESCALE, **IMAGENET}
    # crop_pct > 1: the resized image is smaller than the crop -> zero padding
    c["c64-pad"] = {"size": {"shortest_edge": 64}, "crop_pct": 1.6, "resample": 3, **RESCALE,
                    **IMAGENET}
    # normalising on the 0..255 scale (do_rescale false), a single-number mean/std
    c["c64-norescale"] = {"size": {"shortest_edge": 64}, "crop_pct": 0.875, "resample": 3,
                          "do_rescale": False, "do_normalize": True, "image_mean": 127.5,
                          "image_std": 64.0}
    # no resize, no crop: the input size goes through
    c["noresize"] = {"do_resize": False, "resample": 3, **RESCALE, **IMAGENET}
    # no preprocessor_config.json at all: ConvNextImageProcessor's defaults (384 warp, bicubic,
    # mean = std = 0.5)
    c["defaults"] = None
    return c


def checker_and_bars(width, height, square):
    """Black/white checkerboard above saturated colour bars: sharp edges, so that the filters'
    negative lobes overshoot and PIL's clipping to 0..255 matters."""
    y, x = np.mgrid[0:height, 0:width]
    checker = (((x // square) + (y // square)) % 2 * 255).astype(np.uint8)
    image = np.stack([checker, checker, checker], -1)
    bars = np.array([[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 0], [0, 255, 255],
                     [255, 0, 255], [255, 255, 255], [0, 0, 0]], np.uint8)
    image[height // 2:, :] = bars[(x[height // 2:, :] * 8 // width) % 8]
    return image


def synthetic_inputs():
    """Deterministic patterns: rounding (noise), ringing and clipping (edges), smoothness
    (gradient), extreme upsampling (tiny) and extreme aspect ratios (strip)."""
    rng = np.random.RandomState(20240605)
    out = {}
    out["noise-97x61"] = rng.randint(0, 256, (61, 97, 3)).astype(np.uint8)
    out["edges-300x200"] = checker_and_bars(300, 200, 7)
    out["edges-1001x751"] = checker_and_bars(1001, 751, 23)
    y, x = np.mgrid[0:360, 0:641]
    out["gradient-641x360"] = np.stack([x * 255 // 640, y * 255 // 359,
                                        (x + y) * 255 // 1000], -1).astype(np.uint8)
    out["tiny-5x3"] = rng.randint(0, 256, (3, 5, 3)).astype(np.uint8)
    out["strip-7x150"] = rng.randint(0, 256, (150, 7, 3)).astype(np.uint8)
    return out


PHOTOS = ["chelsea", "astronaut-portrait", "camera"]


def cases():
    """(case name, input, config, roi or None, record float32 too)."""
    out = []

    def add(inp, cfg, roi=None, f32=False):
        name = f"{cfg}--{inp}" + ("" if roi is None else "--roi-" + "-".join(map(str, roi)))
        out.append((name, inp, cfg, roi, f32))

    for photo in PHOTOS:                      # landscape (odd width), portrait, gray
        add(photo, "c224-bicubic")
    add("chelsea", "c384-bicubic")
    for inp in ["edges-300x200", "gradient-641x360", "tiny-5x3", "strip-7x150"]:
        add(inp, "c224-bicubic")
    for mode in RESAMPLE_NAMES.values():
        for inp in ["chelsea", "astronaut-portrait", "noise-97x61", "edges-300x200", "tiny-5x3"]:
            add(inp, f"c64-{mode}", f32=(inp == "chelsea" and mode == "bicubic"))
        for inp in ["edges-300x200", "edges-1001x751"]:
            add(inp, f"c384-{mode}")
    add("chelsea", "c200-int-size")
    add("gradient-641x360", "c200-int-size")
    for inp in ["chelsea", "astronaut-portrait", "tiny-5x3", "edges-300x200"]:
        add(inp, "c64-pad", f32=(inp == "tiny-5x3"))
    add("chelsea", "c64-norescale", f32=True)
    add("noise-97x61", "noresize")
    add("tiny-5x3", "noresize", f32=True)
    add("edges-300x200", "defaults", f32=False)
    # regions of interest: odd offsets and sizes, landscape and portrait
    add("chelsea", "c64-bicubic", roi=(101, 37, 211, 157))
    add("chelsea", "c64-bilinear", roi=(250, 20, 31, 200))
    add("astronaut-portrait", "c64-lanczos", roi=(1, 2, 3, 4))
    return out


def load_input(name, synthetic):
    if name in synthetic:
        return synthetic[name]
    return np.array(Image.open(os.path.join(DATA, name + ".png")).convert("RGB"))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=OUT, help="fixtures directory (default: %(default)s)")
    args = ap.parse_args()

    for sub in ["configs", "inputs", "expected"]:
        shutil.rmtree(os.path.join(args.out, sub), ignore_errors=True)
        os.makedirs(os.path.join(args.out, sub))

    cfgs = configs()
    for name, cfg in cfgs.items():
        d = os.path.join(args.out, "configs", name)
        os.makedirs(d)
        if cfg is not None:
            with open(os.path.join(d, "preprocessor_config.json"), "w") as f:
                json.dump({"image_processor_type": "ConvNextImageProcessor", **cfg}, f, indent=2)
                f.write("\n")
        else:
            with open(os.path.join(d, "README"), "w") as f:
                f.write("No preprocessor_config.json on purpose: ConvNextImageProcessor's defaults.\n")

    synthetic = synthetic_inputs()
    for name, image in synthetic.items():
        Image.fromarray(image).save(os.path.join(args.out, "inputs", name + ".png"), optimize=True)

    manifest = []
    for name, inp, cfg, roi, f32 in cases():
        image = load_input(inp, synthetic)
        if roi is not None:
            x, y, w, h = roi
            image = image[y:y + h, x:x + w]
        resized, pixel_values = preprocess(image, cfgs[cfg] or {})
        Image.fromarray(resized).save(os.path.join(args.out, "expected", name + ".png"),
                                      optimize=True)
        entry = {"name": name,
                 "input": ("tests/fixtures/preprocess/inputs/" if inp in synthetic
                           else "tests/data/") + inp + ".png",
                 "config": cfg, "roi": list(roi) if roi is not None else None,
                 "expected": "expected/" + name + ".png",
                 "shape": list(pixel_values.shape)}
        if f32:
            pixel_values.astype("<f4").tofile(os.path.join(args.out, "expected", name + ".f32"))
            entry["float32"] = "expected/" + name + ".f32"
        manifest.append(entry)

    with open(os.path.join(args.out, "cases.json"), "w") as f:
        json.dump({"generator": "tests/reference/preprocess_reference.py",
                   "pillow": PIL.__version__, "numpy": np.__version__,
                   "cases": manifest}, f, indent=1)
        f.write("\n")
    total = sum(os.path.getsize(os.path.join(r, n)) for r, _, ns in os.walk(args.out) for n in ns)
    print(f"{len(manifest)} cases, {total / 1024:.0f} KiB in {args.out}")


if __name__ == "__main__":
    sys.exit(main())
