#!/usr/bin/python3
"""Make the parity fixtures in tests/fixtures/: tiny random ConvNeXt checkpoints and their expected outputs.

Usage (Debian 12: python3-torch, python3-numpy; run from anywhere):
    /usr/bin/python3 tests/reference/make_fixtures.py [--out tests/fixtures]

Deterministic: every model draws its parameters from its own seeded generator, so rerunning rewrites
byte-identical files (same torch/numpy build).  The fixtures are recorded once and committed; rerun only
when cases are added, and say so in the commit.  The script deletes and rewrites only models/, cases/,
manifest.json and README.md under --out.

What it writes:
- models/<model>/config.json + the weights: a Hugging Face checkpoint of ConvNextForImageClassification
  (`convnext.*`, `classifier.*`), of the bare ConvNextModel (no prefix, no classifier), of
  ConvNextV2ForImageClassification (`convnextv2.*`, `classifier.*`) or of ConvNextBackbone / ConvNextV2Backbone
  (no prefix, `hidden_states_norms.<stage>`).  The weights are model.safetensors, or pytorch_model.bin written by
  this torch's torch.save (the zip format; some with non-contiguous tensors and storage offsets), or either
  sharded with transformers' *.index.json.  Every parameter is
  random, including LayerNorm weights (1 + 0.3·N(0,1)) and biases, layer scale gamma (U(0.2, 1.5)) and GRN
  weight (N(0, 0.5)) and bias (N(0, 0.2)), so that no part of the network is invisible to the comparison.  F16/BF16 files hold the F32 weights rounded to
  nearest-even.
- cases/<case>/input.npy: float32 pixel_values [N, C, H, W] drawn from N(0, 1).
- cases/<case>/logits.npy, pooler_output.npy, hidden_state_<i>.npy, feature_map_<k>.npy: the outputs of the
  PyTorch reference (tests/reference/convnext_torch.py, a transcription of transformers' modeling_convnext.py;
  tests/reference/convnextv2_torch.py for V2 and the backbones), computed in float64 from the weights read back
  from the written files (safetensors_io.load, or torch.load for .bin; so F16/BF16 cases use the same rounded
  weights as the engine) and from the float32 input; stored as float32 (.npy '<f4', C order).
  hidden_state_<i> is transformers' hidden_states[i]: 0 = embeddings output, s = output of stage s;
  feature_map_<k> is a backbone's feature_maps[k].
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
import collections  # noqa: E402

import convnext_torch  # noqa: E402
import convnextv2_torch  # noqa: E402
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
        "layer_scale_init_value": layer_scale_init_value,  # ConvNextV2Config has none: removed below
        "model_type": "convnextv2" if arch.startswith("ConvNextV2") else "convnext",
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
    if cfg["model_type"] == "convnextv2":
        del cfg["layer_scale_init_value"]
    cfg.update(extra)
    return dict(sorted(cfg.items()))


# name -> (seed, config, file dtype, what it covers).  Weights of "-f16"/"-bf16" variants are those of the
# F32 model with the same seed, rounded.
TINY = dict(arch="ConvNextForImageClassification", patch_size=4, hidden_sizes=[8, 12, 16, 24], depths=[3, 3, 9, 3],
            hidden_act="gelu", labels=CIFAR10, image_size=64, out_features=["stage4"], out_indices=[4])
MINI = dict(arch="ConvNextForImageClassification", patch_size=4, hidden_sizes=[8, 12, 16, 24], depths=[1, 1, 2, 1],
            hidden_act="gelu", labels=CIFAR10, image_size=64)
V2 = dict(arch="ConvNextV2ForImageClassification", patch_size=4, hidden_sizes=[8, 12, 16, 24], depths=[2, 1, 2, 1],
          hidden_act="gelu", labels=CIFAR10, image_size=64)
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
    # hidden_act was "selu" until transformers judged it (issue 21): ACT2FN has no selu, so
    # transformers cannot build that model; gelu_python is an ACT2FN name the others do not cover
    "small-p3-minimal": (3, {"depths": [2, 1], "hidden_act": "gelu_python", "hidden_sizes": [5, 7],
                             "model_type": "convnext", "num_stages": 2, "patch_size": 3}, "F32",
                         ["patch_size 3", "2 stages", "odd channel counts (5, 7)",
                          "hidden_act gelu_python (transformers' name for the erf form)",
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
    # pytorch_model.bin (torch.save, zip format) and sharded checkpoints, on a smaller model
    "mini-bin-f32": (11, full_config(**MINI), "F32", ["pytorch_model.bin (torch.save zip), F32"], {"format": "bin"}),
    "mini-bin-f16": (11, full_config(**MINI, dtype="F16"), "F16", ["pytorch_model.bin, F16 (mini-bin-f32 rounded)"],
                     {"format": "bin"}),
    "mini-bin-bf16": (11, full_config(**MINI, dtype="BF16"), "BF16",
                      ["pytorch_model.bin, BF16 (mini-bin-f32 rounded)"], {"format": "bin"}),
    "mini-bin-views": (11, full_config(**MINI), "F32",
                       ["pytorch_model.bin with non-contiguous tensors (transposed pwconv, column-major dwconv "
                        "weights) and storage offsets (each layer's biases share one storage)"],
                       {"format": "bin-views"}),
    "mini-sharded-st": (11, full_config(**MINI), "F32",
                        ["sharded model.safetensors.index.json (3 shards)"], {"format": "sharded-safetensors"}),
    "mini-sharded-bin": (11, full_config(**MINI, dtype="F16"), "F16",
                         ["sharded pytorch_model.bin.index.json (2 shards), F16"], {"format": "sharded-bin"}),
    "mini-extra-tensors": (11, full_config(**MINI), "F32",
                           ["tensors outside the network (another head's): loaded, listed as unused"],
                           {"extra": {"aux_head.weight": [2, 24], "aux_head.bias": [2]}}),
    # ConvNeXt V2
    "v2-f32": (12, full_config(**V2), "F32", ["ConvNextV2ForImageClassification (GRN, no layer scale)", "F32"]),
    "v2-f16": (12, full_config(**V2, dtype="F16"), "F16", ["V2, F16 (v2-f32 rounded)"]),
    "v2-bf16-bin": (12, full_config(**V2, dtype="BF16"), "BF16", ["V2 pytorch_model.bin, BF16 (v2-f32 rounded)"],
                    {"format": "bin"}),
    "v2-gamma-beta-bin": (13, full_config("ConvNextV2ForImageClassification", 4, [8, 16], [2, 1], "gelu",
                                          labels=["x", "y", "z"]), "F32",
                          ["V2 pytorch_model.bin with the pre-2023 GRN names grn.gamma / grn.beta"],
                          {"format": "bin", "grn_names": ("gamma", "beta")}),
    "v2-bare": (14, full_config("ConvNextV2Model", 4, [8, 12, 16], [1, 2, 1], "gelu_new",
                                out_indices=[1, 2]), "F32",
                ["bare ConvNextV2Model (no prefix, no classifier)", "hidden_act gelu_new"]),
    # backbones
    "backbone-v1": (15, full_config("ConvNextBackbone", 4, [8, 12, 16, 24], [1, 1, 2, 1], "gelu",
                                    out_features=["stem", "stage2", "stage4"], out_indices=[0, 2, 4]), "F32",
                    ["ConvNextBackbone: hidden_states_norms of stem, stage2, stage4; no final layernorm"]),
    "backbone-v2-bin": (16, full_config("ConvNextV2Backbone", 4, [8, 12, 16, 24], [1, 2, 1, 1], "gelu",
                                        out_features=["stage1", "stage3"], out_indices=[1, 3]), "F16",
                        ["ConvNextV2Backbone from pytorch_model.bin, F16",
                         "saved with a stage4 norm too: out_features no longer selects it (unused, listed)"],
                        {"format": "bin", "norm_stages": ["stage1", "stage3", "stage4"]}),
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
    ("small-p3-b1-27x33", "small-p3-minimal", 105, [1, 3, 27, 33], ["non-square input"]),
    ("small-gelunew-b1-20x28", "small-gelunew-1stage", 106, [1, 3, 20, 28], ["non-square input"]),
    ("small-gelunew-b1-23x30", "small-gelunew-1stage", 107, [1, 3, 23, 30],
     ["input not a multiple of patch_size (the patch conv drops the remainder: 23x30 -> 5x7)"]),
    ("bare-model-b2-48x48", "bare-model", 108, [2, 3, 48, 48], ["batch 2"]),
    ("no-layer-scale-b1-32x40", "no-layer-scale", 109, [1, 3, 32, 40], ["non-square input"]),
    ("gray-1ch-b1-32x32", "gray-1ch", 110, [1, 1, 32, 32], ["single-channel input"]),
    ("tiny-f32-b1-112x80", "tiny-f32", 111, [1, 3, 112, 80], ["larger spatial size (28x20 in stage 1)"]),
    ("wide-f16-b2-32x40", "wide-f16", 112, [2, 3, 32, 40], ["batch 2", "non-square input"]),
    ("zero-depth-stage-b1-20x20", "zero-depth-stage", 113, [1, 3, 20, 20], ["square input"]),
    ("mini-bin-f32-b2-32x40", "mini-bin-f32", 114, [2, 3, 32, 40], ["batch 2", "non-square input"]),
    ("mini-bin-f16-b1-32x32", "mini-bin-f16", 115, [1, 3, 32, 32], ["square input"]),
    ("mini-bin-bf16-b1-32x32", "mini-bin-bf16", 115, [1, 3, 32, 32], ["same input as mini-bin-f16-b1-32x32"]),
    ("mini-bin-views-b1-40x32", "mini-bin-views", 116, [1, 3, 40, 32], ["non-square input"]),
    ("mini-sharded-st-b1-32x32", "mini-sharded-st", 117, [1, 3, 32, 32], ["square input"]),
    ("mini-sharded-bin-b1-32x32", "mini-sharded-bin", 117, [1, 3, 32, 32], ["square input"]),
    ("mini-extra-tensors-b1-32x32", "mini-extra-tensors", 117, [1, 3, 32, 32], ["same input as mini-sharded-*"]),
    ("v2-f32-b2-64x48", "v2-f32", 118, [2, 3, 64, 48], ["batch 2", "non-square input"]),
    ("v2-f32-b1-36x44", "v2-f32", 119, [1, 3, 36, 44], ["odd stage sizes (9x11 -> 4x5 -> 2x2 -> 1x1)"]),
    ("v2-f16-b1-32x32", "v2-f16", 120, [1, 3, 32, 32], ["square input"]),
    ("v2-bf16-bin-b1-32x32", "v2-bf16-bin", 120, [1, 3, 32, 32], ["same input as v2-f16-b1-32x32"]),
    ("v2-gamma-beta-bin-b1-24x32", "v2-gamma-beta-bin", 121, [1, 3, 24, 32], ["non-square input"]),
    ("v2-bare-b2-32x32", "v2-bare", 122, [2, 3, 32, 32], ["batch 2"]),
    ("backbone-v1-b2-64x48", "backbone-v1", 123, [2, 3, 64, 48], ["batch 2", "non-square input"]),
    ("backbone-v2-bin-b1-48x40", "backbone-v2-bin", 124, [1, 3, 48, 40], ["non-square input"]),
]
NO_HIDDEN_STATES = {"tiny-f16-b2-64x48", "tiny-bf16-b1-64x64", "tiny-f32-b1-112x80"}


def architecture(cfg):
    return cfg.get("architectures", ["ConvNextForImageClassification"])[0]


def is_classifier(cfg):
    return architecture(cfg).endswith("ForImageClassification")


def is_backbone(cfg):
    return architecture(cfg).endswith("Backbone")


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
            is_norm = "layernorm" in name or "downsampling_layer.0" in name or "hidden_states_norms" in name
            if leaf == "layer_scale_parameter":
                p.copy_(0.2 + 1.3 * torch.rand(p.shape, generator=g, dtype=torch.float64))
            elif ".grn." in name and leaf == "weight":
                p.copy_(normal(p.shape, 0.5))
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


def build_reference(cfg, opts=None):
    rcfg = ref_config(cfg)
    arch = architecture(cfg)
    if arch == "ConvNextBackbone":
        return convnextv2_torch.Backbone(rcfg, 1, (opts or {}).get("norm_stages")).double()
    if arch == "ConvNextV2Backbone":
        return convnextv2_torch.Backbone(rcfg, 2, (opts or {}).get("norm_stages")).double()
    return {
        "ConvNextForImageClassification": convnext_torch.ConvNextForImageClassification,
        "ConvNextModel": convnext_torch.ConvNextModel,
        "ConvNextV2ForImageClassification": convnextv2_torch.ConvNextV2ForImageClassification,
        "ConvNextV2Model": convnextv2_torch.ConvNextV2Model,
    }[arch](rcfg).double()


def write_npy(path, array):
    np.save(path, np.ascontiguousarray(array, dtype="<f4"), allow_pickle=False)


def labels_of(cfg):
    if cfg.get("id2label") is not None:
        return [cfg["id2label"][str(i)] for i in range(len(cfg["id2label"]))]
    return [f"LABEL_{i}" for i in range(convnext_torch.num_labels(cfg))]


def torch_save(state, path, views=False):
    """torch.save of a state dict as transformers' save_pretrained writes it (an OrderedDict with _metadata).

    views: save some tensors as non-contiguous views and with storage offsets (same values): pwconv weights
    transposed, dwconv weights with H and W swapped in memory, and each layer's biases as slices of one shared storage."""
    sd = collections.OrderedDict()
    shared = {}
    for k, v in state.items():
        if views and k.endswith("pwconv1.weight") or views and k.endswith("pwconv2.weight"):
            v = v.t().contiguous().t()
            assert not v.is_contiguous()
        elif views and k.endswith("dwconv.weight"):
            v = v.transpose(2, 3).contiguous().transpose(2, 3)
            assert not v.is_contiguous()
        elif views and ".layers." in k and k.endswith(".bias"):
            shared.setdefault(k.rsplit(".", 2)[0], []).append(k)
        sd[k] = v
    for layer, keys in shared.items():
        flat = torch.cat([sd[k].reshape(-1) for k in keys])
        at = 0
        for k in keys:
            n = sd[k].numel()
            sd[k] = flat[at:at + n].view(sd[k].shape)
            at += n
    sd._metadata = collections.OrderedDict([("", {"version": 1})])
    torch.save(sd, path)


def torch_load(path):
    return {k: v.float() for k, v in torch.load(path, map_location="cpu").items()}


def save_weights(mdir, state, fmt):
    """Writes `state` in format `fmt`; returns the files written (relative to mdir)."""
    if fmt == "safetensors":
        safetensors_io.save(state, os.path.join(mdir, "model.safetensors"), metadata={"format": "pt"})
        return ["model.safetensors"]
    if fmt in ("bin", "bin-views"):
        torch_save(state, os.path.join(mdir, "pytorch_model.bin"), views=fmt == "bin-views")
        return ["pytorch_model.bin"]
    # sharded as transformers' shard_checkpoint: consecutive keys, files <base>-0000i-of-0000n.<ext>
    n = 3 if fmt == "sharded-safetensors" else 2
    keys = sorted(state)
    groups = [keys[i * len(keys) // n:(i + 1) * len(keys) // n] for i in range(n)]
    base, ext = ("model", "safetensors") if fmt == "sharded-safetensors" else ("pytorch_model", "bin")
    weight_map, files = {}, []
    for i, group in enumerate(groups):
        fn = f"{base}-{i + 1:05d}-of-{n:05d}.{ext}"
        part = {k: state[k] for k in group}
        if ext == "safetensors":
            safetensors_io.save(part, os.path.join(mdir, fn), metadata={"format": "pt"})
        else:
            torch_save(part, os.path.join(mdir, fn))
        weight_map.update({k: fn for k in group})
        files.append(fn)
    index = f"{base}.{ext}.index.json"
    total = sum(v.numel() * v.element_size() for v in state.values())
    with open(os.path.join(mdir, index), "w") as f:
        json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, f, indent=2, sort_keys=True)
        f.write("\n")
    return [index] + files


def load_weights(mdir, files):
    state = {}
    for fn in files:
        path = os.path.join(mdir, fn)
        if fn.endswith(".safetensors"):
            state.update(safetensors_io.load(path))
        elif fn.endswith(".bin"):
            state.update(torch_load(path))
    return state


def make_model(out, name, seed, cfg, dtype, covers, opts=None):
    opts = opts or {}
    model = build_reference(cfg, opts)
    randomize(model, seed)
    state = {k: v.to(FILE_DTYPES[dtype]) for k, v in model.state_dict().items()}
    renames = {}
    if "grn_names" in opts:  # the pre-2023 spelling
        w, b = opts["grn_names"]
        renames = {k: k.replace(".grn.weight", f".grn.{w}").replace(".grn.bias", f".grn.{b}") for k in state}
        state = {renames[k]: v for k, v in state.items()}
    extra = {k: torch.full(shape, 0.5, dtype=FILE_DTYPES[dtype]) for k, shape in opts.get("extra", {}).items()}
    state.update(extra)
    mdir = os.path.join(out, "models", name)
    os.makedirs(mdir)
    with open(os.path.join(mdir, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2, sort_keys=True)  # as PretrainedConfig.to_json_string
        f.write("\n")
    fmt = opts.get("format", "safetensors")
    if fmt == "safetensors" and "unaligned" in " ".join(covers):
        safetensors_io.save(state, os.path.join(mdir, "model.safetensors"), metadata={"format": "pt"},
                            data_start_mod=3)
        files = ["model.safetensors"]
    else:
        files = save_weights(mdir, state, fmt)

    # The reference runs on the weights read back from the files (rounded ones for F16/BF16).
    back = load_weights(mdir, files)
    inverse = {v: k for k, v in renames.items()}
    ref = build_reference(cfg, opts)
    ref.load_state_dict({inverse.get(k, k): v.double() for k, v in back.items() if k not in extra}, strict=True)
    ref.eval()
    hs = cfg["hidden_sizes"]
    arch = architecture(cfg)
    classifier = is_classifier(cfg)
    unused = sorted(extra)
    if is_backbone(cfg):
        selected = [convnext_torch.stage_names(cfg)[i] for i in convnext_torch.out_indices(cfg)]
        unused = sorted(k for k in state if k.startswith("hidden_states_norms.")
                        and k.split(".")[1] not in selected)
    entry = {
        "dir": f"models/{name}",
        "files": files,
        "format": fmt,
        "version": 2 if cfg["model_type"] == "convnextv2" else 1,
        "architecture": arch,
        "dtype": dtype,
        "seed": seed,
        "num_channels": ref_config(cfg)["num_channels"],
        "hidden_size": hs[-1],
        "image_size": ref_config(cfg)["image_size"],
        "num_labels": convnext_torch.num_labels(cfg) if classifier else 0,
        "has_pooler": not is_backbone(cfg),
        "num_hidden_states": len(hs) + 1,
        "out_indices": convnext_torch.out_indices(cfg),
        "labels": labels_of(cfg) if classifier else [],
        "num_tensors": len(state),
        "unused_tensors": unused,
        "covers": covers,
    }
    return ref, entry


def run_case(out, name, ref, model_entry, seed, shape, covers):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(shape, generator=g, dtype=torch.float32)
    cdir = os.path.join(out, "cases", name)
    os.makedirs(cdir)
    logits = pooled = None
    maps = []
    with torch.no_grad():
        arch = model_entry["architecture"]
        if arch.endswith("Backbone"):
            maps, states = ref(x.double())
        elif arch.endswith("ForImageClassification"):
            logits, pooled, states = ref(x.double())
        else:
            _, pooled, states = ref(x.double())
    files = {"input": f"cases/{name}/input.npy"}
    write_npy(os.path.join(out, files["input"]), x.numpy())
    files["pooler_output"] = None
    if pooled is not None:
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
    if maps:
        case["feature_maps"] = []
        for k, m in enumerate(maps):
            case["feature_maps"].append(f"cases/{name}/feature_map_{k}.npy")
            write_npy(os.path.join(out, case["feature_maps"][-1]), m.numpy())
        case["feature_map_shapes"] = [list(m.shape) for m in maps]
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
                       "pooler_output": None if pooled is None else float(pooled.abs().max()),
                       "hidden_states": [float(s.abs().max()) for s in states],
                       "feature_maps": [float(m.abs().max()) for m in maps]}
    case["covers"] = covers
    return case


README = """# Parity fixtures (generated — do not edit by hand)

Made by `tests/reference/make_fixtures.py`; regenerate with

    /usr/bin/python3 tests/reference/make_fixtures.py

Tiny random ConvNeXt and ConvNeXt V2 checkpoints in Hugging Face layout (`models/<name>/config.json` and
`model.safetensors`, or `pytorch_model.bin` written by torch.save, or either sharded with its `*.index.json`) and,
per case, an input (`cases/<case>/input.npy`, float32 NCHW) with the outputs of the PyTorch reference
(`tests/reference/convnext_torch.py`, a transcription of transformers' modeling_convnext.py;
`tests/reference/convnextv2_torch.py` for V2 and the backbones) computed in float64 and stored as float32:
`logits.npy`, `pooler_output.npy`, `hidden_state_<i>.npy` (transformers' hidden_states[i]),
`feature_map_<k>.npy` (a backbone's feature_maps[k]).  F16/BF16 checkpoints hold the F32 weights rounded; their expected outputs come from those
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
    for name, (seed, cfg, dtype, covers, *opts) in MODELS.items():
        refs[name], models[name] = make_model(out, name, seed, cfg, dtype, covers, *opts)
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
