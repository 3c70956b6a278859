#!/usr/bin/python3
"""Make the parity fixtures in tests/fixtures/: tiny random ConvNeXt checkpoints and their expected outputs.

Usage (Debian 12: python3-torch, python3-numpy; run from anywhere):
    /usr/bin/python3 tests/reference/make_fixtures.py [--out tests/fixtures]

Deterministic: every model draws its parameters from its own seeded generator, so rerunning rewrites
byte-identical files (same torch/numpy build).  The fixtures are recorded once and committed; rerun only
when cases are added, and say so in the commit.  The script deletes and rewrites only models/, cases/,
manifest.json and README.md under --out.

What it writes:
- models/<model>/config.json + model.safetensors: a Hugging Face checkpoint of ConvNextForImageClassification
  (`convnext.*`, `classifier.*`) or of the bare ConvNextModel (no prefix, no classifier).  Every parameter is
  random, including LayerNorm weights (1 + 0.3·N(0,1)) and biases, and layer scale gamma (U(0.2, 1.5)), so that
  no part of the network is invisible to the comparison.  F16/BF16 files hold the F32 weights rounded to
  nearest-even.
- cases/<case>/input.npy: float32 pixel_values [N, C, H, W] drawn from N(0, 1).
- cases/<case>/logits.npy, pooler_output.npy, hidden_state_<i>.npy: the outputs of the PyTorch reference
  (tests/reference/convnext_torch.py, a transcription of transformers' modeling_convnext.py), computed in
  float64 from the weights read back from the written model.safetensors (so F16/BF16 cases use the same
  rounded weights as the engine) and from the float32 input; stored as float32 (.npy '<f4', C order).
  hidden_state_<i> is transformers' hidden_states[i]: 0 = embeddings output, s = output of stage s.
- manifest.json: every model and case, its files, shapes, expected out_indices, labels, softmax top-k and what
  it covers.  The C tests (tests/lib/test-parity.c) iterate over it.
"""
import argparse
import json
import os
import shutil
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import convnext_torch  # noqa: E402
import safetensors_io  # noqa: E402

TOP_K = 5
CIFAR10 = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
FILE_DTYPES = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16}
TORCH_DTYPE_NAMES = {"F32": "float32", "F16": "float16", "BF16": "bfloat16"}


def full_config(arch, patch_size, hidden_sizes, depths, hidden_act, labels=None, layer_scale_init_value=1e-6,
                layer_norm_eps=1e-12, num_channels=3, dtype="F32", image_size=224, **extra):
    """A config.json as transformers' save_pretrained writes it (ConvNextConfig.to_dict)."""
    cfg = {
        "architectures": [arch],
        "depths": depths,
        "drop_path_rate": 0.0,
        "hidden_act": hidden_act,
        "hidden_sizes": hidden_sizes,
        "image_size": image_size,
        "initializer_range": 0.02,
        "layer_norm_eps": layer_norm_eps,
        "layer_scale_init_value": layer_scale_init_value,
        "model_type": "convnext",
        "num_channels": num_channels,
        "num_stages": len(depths),
        "patch_size": patch_size,
        "torch_dtype": TORCH_DTYPE_NAMES[dtype],
        "transformers_version": "4.40.0",
    }
    if labels is not None:
        cfg["id2label"] = {str(i): l for i, l in enumerate(labels)}
        cfg["label2id"] = {l: i for i, l in enumerate(labels)}
    cfg["stage_names"] = convnext_torch.stage_names(cfg)
    cfg.update(extra)
    return dict(sorted(cfg.items()))


# name -> (seed, config, file dtype, what it covers).  Weights of "-f16"/"-bf16" variants are those of the
# F32 model with the same seed, rounded.
TINY = dict(arch="ConvNextForImageClassification", patch_size=4, hidden_sizes=[8, 12, 16, 24], depths=[3, 3, 9, 3],
            hidden_act="gelu", labels=CIFAR10, image_size=64, out_features=["stage4"], out_indices=[4])
MODELS = {
    "tiny-f32": (1, full_config(**TINY), "F32",
                 ["tiny-shaped (depths 3,3,9,3, 4 stages, patch 4)", "F32 file", "hidden_act gelu (erf)",
                  "id2label with names", "out_features/out_indices as save_pretrained writes them"]),
    "tiny-f16": (1, full_config(**TINY, dtype="F16"), "F16", ["F16 file (same weights as tiny-f32, rounded)"]),
    "tiny-bf16": (1, full_config(**TINY, dtype="BF16"), "BF16", ["BF16 file (same weights as tiny-f32, rounded)"]),
    "small-relu-p2": (2, full_config("ConvNextForImageClassification", 2, [6, 10, 14], [1, 2, 1], "relu",
                                     labels=[f"LABEL_{i}" for i in range(5)]), "F32",
                      ["patch_size 2", "3 stages", "hidden_act relu", "odd spatial sizes (floor in downsampling)",
                       "unaligned tensor data (data section starts at offset 3 mod 8)"]),
    "small-selu-p3-minimal": (3, {"depths": [2, 1], "hidden_act": "selu", "hidden_sizes": [5, 7],
                                  "model_type": "convnext", "num_stages": 2, "patch_size": 3}, "F32",
                              ["patch_size 3", "2 stages", "odd channel counts (5, 7)", "hidden_act selu",
                               "minimal config.json: every other key takes ConvNextConfig's default "
                               "(num_channels 3, layer_norm_eps 1e-12, no id2label: 2 labels LABEL_0/LABEL_1, "
                               "default out_indices)"]),
    "small-gelunew-1stage": (4, full_config("ConvNextForImageClassification", 4, [16], [2], "gelu_new",
                                            labels=["cat", "dog", "bird", "fish"], layer_norm_eps=0.05,
                                            out_indices=[0, -1]), "F32",
                             ["1 stage (no downsampling layer at all)", "hidden_act gelu_new (tanh approximation)",
                              "layer_norm_eps 0.05 (final pooled LayerNorm only; blocks keep 1e-6)",
                              "out_indices with a negative index ([0, -1] -> [0, 1])"]),
    "bare-model": (5, full_config("ConvNextModel", 4, [4, 8, 12, 16], [1, 1, 2, 1], "gelu",
                                  out_features=["stage1", "stage3"]), "F32",
                   ["bare ConvNextModel: no `convnext.` prefix, no classifier (num_labels 0, no logits)",
                    "out_features only ([stage1, stage3] -> out_indices [1, 3])"]),
    "no-layer-scale": (6, full_config("ConvNextForImageClassification", 4, [8, 16], [2, 2], "gelu",
                                      labels=["non", "oui", "peut-être"], layer_scale_init_value=0.0), "F32",
                       ["layer_scale_init_value 0: no layer_scale_parameter tensors",
                        "non-ASCII label (\\u escape in config.json, as transformers writes it)"]),
    "gray-1ch": (7, full_config("ConvNextForImageClassification", 4, [8, 12], [1, 1], "gelu",
                                labels=[f"shade {i}" for i in range(12)], num_channels=1), "F32",
                 ["num_channels 1 (input [N, 1, H, W])",
                  "12 labels: config.json keys sorted as strings (\"0\", \"1\", \"10\", \"11\", \"2\", ...)"]),
    "wide-f16": (8, full_config("ConvNextForImageClassification", 4, [40, 56], [1, 1], "gelu",
                                labels=["left", "middle", "right"], dtype="F16"), "F16",
                 ["channel counts above one SIMD block and not multiples of 16 (40, 56)", "F16 file"]),
    "zero-depth-stage": (9, full_config("ConvNextForImageClassification", 2, [4, 6, 8], [1, 0, 2], "relu",
                                        labels=["a", "b", "c"]), "F32",
                         ["a stage of depth 0 (downsampling layer only)"]),
}

# (case, model, input seed, input shape [N, C, H, W], covers).  Hidden states are recorded for every case
# except those in NO_HIDDEN_STATES (same network as another case; keeps tests/fixtures small).
CASES = [
    ("tiny-f32-b1-64x64", "tiny-f32", 101, [1, 3, 64, 64], ["square input", "batch 1"]),
    ("tiny-f32-b3-48x40", "tiny-f32", 102, [3, 3, 48, 40], ["batch 3", "non-square input",
                                                            "odd stage sizes (40/4=10 -> 5 -> 2 -> 1)",
                                                            "second input shape on the same model"]),
    ("tiny-f16-b2-64x48", "tiny-f16", 103, [2, 3, 64, 48], ["batch 2", "non-square input"]),
    ("tiny-bf16-b1-64x64", "tiny-bf16", 101, [1, 3, 64, 64], ["same input as tiny-f32-b1-64x64"]),
    ("small-relu-p2-b2-24x36", "small-relu-p2", 104, [2, 3, 24, 36], ["batch 2", "non-square input"]),
    ("small-selu-p3-b1-27x33", "small-selu-p3-minimal", 105, [1, 3, 27, 33], ["non-square input"]),
    ("small-gelunew-b1-20x28", "small-gelunew-1stage", 106, [1, 3, 20, 28], ["non-square input"]),
    ("small-gelunew-b1-23x30", "small-gelunew-1stage", 107, [1, 3, 23, 30],
     ["input not a multiple of patch_size (the patch conv drops the remainder: 23x30 -> 5x7)"]),
    ("bare-model-b2-48x48", "bare-model", 108, [2, 3, 48, 48], ["batch 2"]),
    ("no-layer-scale-b1-32x40", "no-layer-scale", 109, [1, 3, 32, 40], ["non-square input"]),
    ("gray-1ch-b1-32x32", "gray-1ch", 110, [1, 1, 32, 32], ["single-channel input"]),
    ("tiny-f32-b1-112x80", "tiny-f32", 111, [1, 3, 112, 80], ["larger spatial size (28x20 in stage 1)"]),
    ("wide-f16-b2-32x40", "wide-f16", 112, [2, 3, 32, 40], ["batch 2", "non-square input"]),
    ("zero-depth-stage-b1-20x20", "zero-depth-stage", 113, [1, 3, 20, 20], ["square input"]),
]
NO_HIDDEN_STATES = {"tiny-f16-b2-64x48", "tiny-bf16-b1-64x64", "tiny-f32-b1-112x80"}


def is_classifier(cfg):
    return cfg.get("architectures", ["ConvNextForImageClassification"])[0] == "ConvNextForImageClassification"


def ref_config(cfg):
    """The config dict with ConvNextConfig's defaults filled in, as the reference modules read it."""
    full = {"num_channels": 3, "layer_norm_eps": 1e-12, "layer_scale_init_value": 1e-6, "image_size": 224}
    full.update(cfg)
    return full


def randomize(model, seed):
    """Give every parameter a visible random value (see the module docstring)."""
    g = torch.Generator().manual_seed(seed)

    def normal(shape, std=1.0, mean=0.0):
        return torch.randn(shape, generator=g, dtype=torch.float64) * std + mean

    with torch.no_grad():
        for name, p in sorted(model.named_parameters()):
            leaf = name.split(".")[-1]
            is_norm = "layernorm" in name or "downsampling_layer.0" in name
            if leaf == "layer_scale_parameter":
                p.copy_(0.2 + 1.3 * torch.rand(p.shape, generator=g, dtype=torch.float64))
            elif is_norm and leaf == "weight":
                p.copy_(normal(p.shape, 0.3, 1.0))
            elif leaf == "bias":
                p.copy_(normal(p.shape, 0.5 if name.startswith("classifier") else 0.2))
            else:  # conv and linear weights: unit-variance outputs (fan-in scaling)
                fan_in = p[0].numel()
                gain = 3.0 if name.startswith("classifier") else 1.0
                p.copy_(normal(p.shape, gain / fan_in ** 0.5))
            # Store F32 values so that the F32 file and the reference hold exactly the same numbers.
            p.copy_(p.float().double())


def build_reference(cfg):
    rcfg = ref_config(cfg)
    if is_classifier(cfg):
        return convnext_torch.ConvNextForImageClassification(rcfg).double(), ""
    return convnext_torch.ConvNextModel(rcfg).double(), None


def write_npy(path, array):
    np.save(path, np.ascontiguousarray(array, dtype="<f4"), allow_pickle=False)


def labels_of(cfg):
    if cfg.get("id2label") is not None:
        return [cfg["id2label"][str(i)] for i in range(len(cfg["id2label"]))]
    return [f"LABEL_{i}" for i in range(convnext_torch.num_labels(cfg))]


def make_model(out, name, seed, cfg, dtype, covers):
    model, _ = build_reference(cfg)
    randomize(model, seed)
    prefix_model = model
    state = {k: v.to(FILE_DTYPES[dtype]) for k, v in prefix_model.state_dict().items()}
    mdir = os.path.join(out, "models", name)
    os.makedirs(mdir)
    with open(os.path.join(mdir, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2, sort_keys=True)  # as PretrainedConfig.to_json_string
        f.write("\n")
    st_path = os.path.join(mdir, "model.safetensors")
    misalign = 3 if "unaligned" in " ".join(covers) else None
    safetensors_io.save(state, st_path, metadata={"format": "pt"}, data_start_mod=misalign)

    # The reference runs on the weights read back from the file (rounded ones for F16/BF16).
    ref, _ = build_reference(cfg)
    ref.load_state_dict({k: v.double() for k, v in safetensors_io.load(st_path).items()}, strict=True)
    ref.eval()
    classifier = is_classifier(cfg)
    hs = cfg["hidden_sizes"]
    entry = {
        "dir": f"models/{name}",
        "architecture": "ConvNextForImageClassification" if classifier else "ConvNextModel",
        "dtype": dtype,
        "seed": seed,
        "num_channels": ref_config(cfg)["num_channels"],
        "hidden_size": hs[-1],
        "image_size": ref_config(cfg)["image_size"],
        "num_labels": convnext_torch.num_labels(cfg) if classifier else 0,
        "num_hidden_states": len(hs) + 1,
        "out_indices": convnext_torch.out_indices(cfg),
        "labels": labels_of(cfg) if classifier else [],
        "num_tensors": len(state),
        "covers": covers,
    }
    return ref, entry


def run_case(out, name, ref, model_entry, seed, shape, covers):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(shape, generator=g, dtype=torch.float32)
    cdir = os.path.join(out, "cases", name)
    os.makedirs(cdir)
    with torch.no_grad():
        if model_entry["architecture"] == "ConvNextModel":
            _, pooled, states = ref(x.double())
            logits = None
        else:
            logits, pooled, states = ref(x.double())
    files = {"input": f"cases/{name}/input.npy"}
    write_npy(os.path.join(out, files["input"]), x.numpy())
    files["pooler_output"] = f"cases/{name}/pooler_output.npy"
    write_npy(os.path.join(out, files["pooler_output"]), pooled.numpy())
    files["hidden_states"] = []
    if name in NO_HIDDEN_STATES:
        states = []
    for i, s in enumerate(states):
        files["hidden_states"].append(f"cases/{name}/hidden_state_{i}.npy")
        write_npy(os.path.join(out, files["hidden_states"][-1]), s.numpy())
    case = {"name": name, "model": model_entry["name"], "input_shape": shape}
    case.update(files)
    case["hidden_state_shapes"] = [list(s.shape) for s in states]
    top = None
    if logits is not None:
        case["logits"] = f"cases/{name}/logits.npy"
        write_npy(os.path.join(out, case["logits"]), logits.numpy())
        probs = torch.softmax(logits, dim=-1)
        k = min(TOP_K, logits.shape[-1])
        top = []
        for b in range(shape[0]):
            scores, ids = torch.sort(probs[b], descending=True, stable=True)
            top.append([{"id": int(i), "label": model_entry["labels"][int(i)], "score": float(s)}
                        for s, i in zip(scores[:k], ids[:k])])
    else:
        case["logits"] = None
    case["top_k"] = top
    case["max_abs"] = {"logits": None if logits is None else float(logits.abs().max()),
                       "pooler_output": float(pooled.abs().max()),
                       "hidden_states": [float(s.abs().max()) for s in states]}
    case["covers"] = covers
    return case


README = """# Parity fixtures (generated — do not edit by hand)

Made by `tests/reference/make_fixtures.py`; regenerate with

    /usr/bin/python3 tests/reference/make_fixtures.py

Tiny random ConvNeXt checkpoints in Hugging Face layout (`models/<name>/config.json`, `model.safetensors`) and,
per case, an input (`cases/<case>/input.npy`, float32 NCHW) with the outputs of the PyTorch reference
(`tests/reference/convnext_torch.py`, a transcription of transformers' modeling_convnext.py) computed in
float64 and stored as float32: `logits.npy`, `pooler_output.npy`, `hidden_state_<i>.npy` (transformers'
hidden_states[i]).  F16/BF16 checkpoints hold the F32 weights rounded; their expected outputs come from those
rounded weights.  `manifest.json` lists every model and case, shapes, expected out_indices, labels and softmax
top-k, and what each one covers.  The C tests (tests/lib/test-parity.c) iterate over the manifest; their bar is
max |Δ| ≤ 1e-4 · max(1, max |ref|) per tensor.

(`preprocess/` holds the image-preprocessing fixtures, made by `tests/reference/preprocess_reference.py`.)

## Models

{models}

## Cases

{cases}
"""


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.path.join(HERE, "..", "fixtures"))
    args = ap.parse_args()
    out = os.path.abspath(args.out)
    os.makedirs(out, exist_ok=True)
    for sub in ("models", "cases"):
        shutil.rmtree(os.path.join(out, sub), ignore_errors=True)
    torch.use_deterministic_algorithms(True)

    models, refs = {}, {}
    for name, (seed, cfg, dtype, covers) in MODELS.items():
        refs[name], models[name] = make_model(out, name, seed, cfg, dtype, covers)
        models[name]["name"] = name
    cases = [run_case(out, c, refs[m], models[m], seed, shape, covers) for c, m, seed, shape, covers in CASES]

    manifest = {
        "generator": "tests/reference/make_fixtures.py",
        "reference": "tests/reference/convnext_torch.py, float64, stored as float32",
        "tolerance": {"rel": 1e-4, "rule": "max|engine - ref| <= rel * max(1, max|ref|) per tensor"},
        "models": [dict(sorted(m.items())) for m in models.values()],
        "cases": cases,
    }
    with open(os.path.join(out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")
    model_lines = "\n".join(f"- `{n}` ({m['architecture']}, {m['dtype']}): " + "; ".join(m["covers"])
                            for n, m in models.items())
    case_lines = "\n".join(f"- `{c['name']}` on `{c['model']}`, input {c['input_shape']}: " + "; ".join(c["covers"])
                           for c in cases)
    with open(os.path.join(out, "README.md"), "w") as f:
        f.write(README.format(models=model_lines, cases=case_lines))
    total = sum(os.path.getsize(os.path.join(d, fn)) for sub in ("models", "cases")
                for d, _, fns in os.walk(os.path.join(out, sub)) for fn in fns)
    total += sum(os.path.getsize(os.path.join(out, fn)) for fn in ("manifest.json", "README.md"))
    print(f"wrote {len(models)} models, {len(cases)} cases to {out} ({total / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
