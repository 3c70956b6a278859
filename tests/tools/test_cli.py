#!/usr/bin/python3
"""convnext-classify end to end: real photos in, the PyTorch reference's numbers out; bad input reported.

    test_cli.py CONVNEXT_CLASSIFY

expected.json (tests/tools/make_expected.py) holds the PyTorch reference's logits for the PNGs in tests/data
on the checkpoint tests/element/models/tiny, preprocessed by the independent PIL + numpy re-implementation of
ConvNextImageProcessor.  PNG is lossless, so GStreamer's decoding gives the same pixels as PIL's.
"""
import json
import math
import os
import shutil
import struct
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
EXPECTED = json.load(open(os.path.join(HERE, "expected.json")))
MODEL = os.path.join(ROOT, EXPECTED["model"])
PHOTOS = [os.path.join(ROOT, "tests", "data", n) for n in sorted(EXPECTED["logits"])]
LABELS = json.load(open(os.path.join(MODEL, "config.json")))["id2label"]
failures = []


def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what)
    if not ok:
        failures.append(what)


def run(*args):
    return subprocess.run([CLI, "--threads", "1", *args], capture_output=True, text=True, timeout=300)


def results(stdout):
    return {os.path.basename(r["input"]): r for r in map(json.loads, stdout.splitlines())}


def check_against_reference(got, name, top_k):
    ref = EXPECTED["logits"][name]
    bound = 1e-4 * max(1.0, max(map(abs, ref)))
    diff = max(abs(a - b) for a, b in zip(got["logits"], ref))
    check(diff <= bound, f"{name}: logits within {bound:.1e} of PyTorch (max |diff| {diff:.1e})")
    z = sum(math.exp(v - max(ref)) for v in ref)
    order = sorted(range(len(ref)), key=lambda i: -ref[i])[:top_k]
    want = [(i, LABELS[str(i)], math.exp(ref[i] - max(ref)) / z) for i in order]
    top = [(t["id"], t["label"], t["score"]) for t in got["top"]]
    check(len(top) == top_k and all(g[:2] == w[:2] and abs(g[2] - w[2]) <= 1e-5 for g, w in zip(top, want)),
          f"{name}: top-{top_k} ids, labels and softmax scores as PyTorch's: {top}")


def strict_json(line):
    """json.loads that refuses NaN and Infinity as well (Python accepts them, JSON has no such numbers)."""
    def refuse(name):
        raise ValueError(f"{name} is not JSON")
    return json.loads(line, parse_constant=refuse)


def patch_floats(path, tensor, value, count=None):
    """Overwrites the first @count (all when None) float32 values of @tensor in a safetensors file."""
    with open(path, "r+b") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        begin, end = header[tensor]["data_offsets"]
        assert header[tensor]["dtype"] == "F32"
        f.seek(8 + n + begin)
        f.write(struct.pack("<f", value) * ((end - begin) // 4 if count is None else count))


def check_non_finite(tmp, tensor):
    """NaN and infinity never reach stdout: bad input and bad weights are refused by name, an overflow in
    the network gets no line; exit status 1 each time, and every line printed is strict JSON."""
    with open(tensor, "rb") as f:
        data = bytearray(f.read())
    offset = 10 + struct.unpack("<H", data[8:10])[0]
    for value, word in [(math.nan, "NaN"), (math.inf, "inf"), (-math.inf, "-inf")]:
        bad = os.path.join(tmp, f"bad-{word}.npy")
        data[offset + 4 * 37:offset + 4 * 38] = struct.pack("<f", value)  # item 0, channel 0, row 1, column 5
        with open(bad, "wb") as f:
            f.write(data)
        r = run("--model", MODEL, "--input-tensor", bad, "--logits")
        check(r.returncode == 1 and r.stdout == "" and bad in r.stderr and f"pixel_values[0, 0, 1, 5] is {word}" in r.stderr,
              f"{word} in --input-tensor: exit 1, nothing printed, the file and element named: {r.stderr.strip()!r}")

    nan_model, huge_model = os.path.join(tmp, "nan-weights"), os.path.join(tmp, "huge-weights")
    for d in (nan_model, huge_model):
        shutil.copytree(MODEL, d)
    patch_floats(os.path.join(nan_model, "model.safetensors"), "classifier.bias", math.nan, 1)
    r = run("--model", nan_model, "--top-k", "2", PHOTOS[0])
    check(r.returncode == 1 and r.stdout == "" and "classifier.bias" in r.stderr and "NaN" in r.stderr,
          f"NaN in the weights: refused at load, the tensor named: {r.stderr.strip()!r}")

    # Finite weights whose products overflow float32: the logits come out inf/NaN.
    patch_floats(os.path.join(huge_model, "model.safetensors"), "classifier.weight", 3e38)
    r = run("--model", huge_model, "--top-k", "2", "--logits", *PHOTOS)
    try:
        lines = [strict_json(x) for x in r.stdout.splitlines()]
    except ValueError as e:
        lines = [str(e)]
    check(r.returncode == 1 and lines == [] and all(f"{p}: no result" in r.stderr for p in PHOTOS)
          and "3 inputs gave no finite result" in r.stderr,
          f"overflowing network: exit 1, no line, each input named: {r.stdout.strip()!r} {r.stderr.strip()!r}")


def main():
    # Real photos of three sizes (three batches): the reference's logits, top-k and scores.
    r = run("--model", MODEL, "--top-k", "3", "--logits", *PHOTOS)
    check(r.returncode == 0, f"photos classified (exit {r.returncode}, stderr {r.stderr.strip()!r})")
    got = results(r.stdout)
    check(sorted(got) == sorted(EXPECTED["logits"]), f"one JSON line per photo: {sorted(got)}")
    for name in sorted(got):
        check_against_reference(got[name], name, 3)
        check(len(got[name]["pooler_output"]) == 16, f"{name}: pooler_output has hidden_sizes[-1] = 16 values")

    with tempfile.TemporaryDirectory() as tmp:
        # A bad file among good ones: reported by name, skipped, the others still classified, exit 1.
        junk, missing = os.path.join(tmp, "junk.jpg"), os.path.join(tmp, "missing.png")
        with open(junk, "w") as f:
            f.write("not an image\n")
        r = run("--model", MODEL, "--top-k", "1", "--logits", PHOTOS[0], junk, missing, tmp, PHOTOS[1])
        got = results(r.stdout)
        check(r.returncode == 1, f"bad files: exit status 1 (got {r.returncode})")
        check(junk in r.stderr and f"{missing}: no such file" in r.stderr and f"{tmp}: not a regular file" in r.stderr
              and "3 of 5 images" in r.stderr,
              f"bad files: each named on stderr: {r.stderr.strip()!r}")
        check(sorted(got) == sorted(os.path.basename(p) for p in PHOTOS[:2]), f"good files still classified: {sorted(got)}")
        for name in sorted(got):
            check_against_reference(got[name], name, 1)

        # --dump-pixel-values, then the dump as --input-tensor: the same logits as from the images.
        dump = os.path.join(tmp, "pixel_values.npy")
        r = run("--model", MODEL, "--dump-pixel-values", dump, "--top-k", "1", *PHOTOS)
        check(r.returncode == 0 and os.path.getsize(dump) == 128 + 3 * 3 * 32 * 32 * 4,
              f"--dump-pixel-values writes a [3, 3, 32, 32] float32 .npy (exit {r.returncode}, {r.stderr.strip()!r})")
        r = run("--model", MODEL, "--input-tensor", dump, "--top-k", "1", "--logits")
        lines = [json.loads(x) for x in r.stdout.splitlines()]
        check(r.returncode == 0 and len(lines) == 3, f"--input-tensor: one line per batch item (exit {r.returncode})")
        for name, line in zip(sorted(EXPECTED["logits"]), lines):
            check_against_reference(line, name, 1)

        check_non_finite(tmp, dump)

        # --repeat: one JSON line of latencies.
        r = run("--model", MODEL, "--repeat", "3", PHOTOS[2])
        lines = r.stdout.splitlines()
        t = json.loads(lines[0]) if r.returncode == 0 and len(lines) == 1 else {}
        check(t.get("repeat") == 3 and t.get("batch") == 1 and t.get("precision") == "f32"
              and 0 < t.get("min_ms", 0) <= t.get("median_ms", 0) <= t.get("max_ms", 0),
              f"--repeat 3: one line with median/min/max ms: {r.stdout.strip()!r}")

        # --repeat --end-to-end: the image's whole path (decode .. top-k) timed, nothing else printed.
        r = run("--model", MODEL, "--repeat", "3", "--end-to-end", PHOTOS[2])
        lines = r.stdout.splitlines()
        t = json.loads(lines[0]) if r.returncode == 0 and len(lines) == 1 else {}
        check(t.get("repeat") == 3 and t.get("timed") == "decode+preprocess+forward+top-k"
              and 0 < t.get("min_ms", 0) <= t.get("median_ms", 0) <= t.get("max_ms", 0),
              f"--repeat 3 --end-to-end: one line with median/min/max ms: {r.stdout.strip()!r}")

        # Usage errors: exit 1, one line on stderr that names the culprit.
        bad_tensor = os.path.join(tmp, "bad.npy")
        with open(bad_tensor, "wb") as f:
            f.write(b"\x93NUMPY garbage")
        for args, needle in [(["--precision", "f16", PHOTOS[0]], "--precision"),
                             (["--top-k", "-1", PHOTOS[0]], "--top-k"),
                             (["--model", os.path.join(tmp, "no-model"), PHOTOS[0]], os.path.join(tmp, "no-model")),
                             (["--model", MODEL], "nothing to classify"),
                             (["--model", MODEL, "--input-tensor", bad_tensor], bad_tensor),
                             (["--end-to-end", PHOTOS[0]], "--end-to-end"),
                             (["--repeat", "2", "--end-to-end", PHOTOS[0], PHOTOS[1]], "--end-to-end")]:
            r = run(*args)
            check(r.returncode == 1 and needle in r.stderr and r.stderr.count("\n") == 1 and r.stdout == "",
                  f"{' '.join(args[:2])}: exit 1 and one line naming {needle!r}: {r.stderr.strip()!r}")

    # A checkpoint without preprocessor_config.json: classified with ConvNextImageProcessor's defaults, and
    # said so (a model trained at another size would otherwise give wrong answers silently).
    with tempfile.TemporaryDirectory() as bare:
        for f in ("config.json", "model.safetensors"):
            shutil.copy(os.path.join(MODEL, f), bare)
        r = run("--model", bare, "--top-k", "1", PHOTOS[0])
        check(r.returncode == 0 and len(r.stdout.splitlines()) == 1
              and "warning" in r.stderr and "no preprocessor_config.json" in r.stderr and bare in r.stderr,
              f"no preprocessor_config.json: classified, with a warning naming the model: {r.stderr.strip()!r}")

    # A backbone checkpoint (tests/fixtures): --features writes one .npy per selected stage, [N, C, H, W] as the
    # PyTorch reference's feature_maps; each input's line lists the shapes.  --features on a classifier is an
    # error, and tensors no module reads are named in a warning.
    import numpy as np
    fixtures = os.path.join(ROOT, "tests", "fixtures")
    manifest = json.load(open(os.path.join(fixtures, "manifest.json")))
    case = next(c for c in manifest["cases"] if c["name"] == "backbone-v1-b2-64x48")
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "feat.npy")
        r = run("--model", os.path.join(fixtures, "models", "backbone-v1"), "--input-tensor",
                os.path.join(fixtures, case["input"]), "--features", out)
        lines = [json.loads(l) for l in r.stdout.splitlines()]
        check(r.returncode == 0 and len(lines) == 2
              and [m["shape"] for m in lines[0]["feature_maps"]] == [s[1:] for s in case["feature_map_shapes"]],
              f"backbone: a line per input with the feature maps' shapes ({r.stderr.strip()!r})")
        for k, stage in enumerate(["stem", "stage2", "stage4"]):
            path = os.path.join(tmp, f"feat-{stage}.npy")
            ref = np.load(os.path.join(fixtures, case["feature_maps"][k]))
            got = np.load(path) if os.path.exists(path) else np.zeros(0)
            ok = got.shape == ref.shape and np.abs(got - ref).max() <= 1e-4 * max(1.0, np.abs(ref).max())
            check(ok, f"--features {stage}: {got.shape} within 1e-4 of the reference's feature map {k}")
    r = run("--model", os.path.join(fixtures, "models", "mini-bin-f32"), "--input-tensor",
            os.path.join(fixtures, "cases", "mini-bin-f32-b2-32x40", "input.npy"), "--features", "/nonexistent/x.npy")
    check(r.returncode == 1 and "not a backbone" in r.stderr, f"--features on a classifier: {r.stderr.strip()!r}")
    r = run("--model", os.path.join(fixtures, "models", "mini-extra-tensors"), "--input-tensor",
            os.path.join(fixtures, "cases", "mini-extra-tensors-b1-32x32", "input.npy"))
    check(r.returncode == 0 and "warning" in r.stderr and "aux_head.bias, aux_head.weight" in r.stderr,
          f"unused tensors named in a warning: {r.stderr.strip()!r}")

    # No --model: the default model (CONVNEXT_DEFAULT_MODEL in the test environment, else the installed one).
    default = os.environ.get("CONVNEXT_DEFAULT_MODEL")
    if default:
        a, b = run("--logits", PHOTOS[1]), run("--model", default, "--logits", PHOTOS[1])
        check(a.returncode == 0 and a.stdout == b.stdout, "no --model: the default model's output")
    print(f"{len(failures)} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    CLI = sys.argv[1]
    sys.exit(main())
