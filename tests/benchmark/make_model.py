#!/usr/bin/python3
"""Make the benchmark's inputs: a random ConvNeXt-T 224 checkpoint in Hugging Face layout, the ONNX
export of the same PyTorch model, input tensors and the PyTorch logits for them.

Run with Debian's /usr/bin/python3 (python3-torch 1.13, numpy).  torch.onnx.export serialises the
graph in C++, so the `onnx` Python package (not packaged for Debian 12) is not needed.

    /usr/bin/python3 tests/benchmark/make_model.py OUT_DIR

OUT_DIR/
  convnext-tiny-224-random/   config.json, preprocessor_config.json, model.safetensors (F32)
  convnextv2-tiny-224-random/ ConvNeXt V2-T (GRN, no layer scale; tests/reference/convnextv2_torch.py)
  convnext-micro-224-random/  the same with hidden_sizes 16..128 and depths 1,1,1,1: its forward
                              is ~100x cheaper, so the element's overhead stands out from the noise
  convnext-tiny-224-random.onnx   input "pixel_values" [batch,3,224,224] -> output "logits" [batch,1000]
  input-b1.npy, input-b8.npy      float32 pixel_values (normalised-image statistics)
  logits-b1.npy, logits-b8.npy    PyTorch logits for them (does every runtime run the same model?)
  manifest.json                   opset, versions, sizes
"""
import argparse
import json
import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "reference"))
import convnext_torch  # noqa: E402
import convnextv2_torch  # noqa: E402
import safetensors_io  # noqa: E402

NAME = "convnext-tiny-224-random"
MICRO_NAME = "convnext-micro-224-random"
V2_NAME = "convnextv2-tiny-224-random"
OPSET = 17  # the newest torch 1.13 exports; LayerNormalization is a single op from 17 on
SEED = 20240607

# The keys a hub checkpoint (facebook/convnext-tiny-224) has, with 1000 anonymous labels.
CONFIG = {
    "architectures": ["ConvNextForImageClassification"],
    "model_type": "convnext",
    "num_channels": 3,
    "patch_size": 4,
    "num_stages": 4,
    "hidden_sizes": [96, 192, 384, 768],
    "depths": [3, 3, 9, 3],
    "hidden_act": "gelu",
    "layer_norm_eps": 1e-12,
    "layer_scale_init_value": 1e-6,
    "drop_path_rate": 0.0,
    "initializer_range": 0.02,
    "image_size": 224,
    "torch_dtype": "float32",
    "id2label": {str(i): f"LABEL_{i}" for i in range(1000)},
    "label2id": {f"LABEL_{i}": i for i in range(1000)},
}

PREPROCESSOR_CONFIG = {
    "image_processor_type": "ConvNextImageProcessor",
    "do_resize": True,
    "size": {"shortest_edge": 224},
    "crop_pct": 0.875,
    "resample": 3,
    "do_rescale": True,
    "rescale_factor": 1 / 255,
    "do_normalize": True,
    "image_mean": [0.485, 0.456, 0.406],
    "image_std": [0.229, 0.224, 0.225],
}


MICRO_CONFIG = {**CONFIG, "hidden_sizes": [16, 32, 64, 128], "depths": [1, 1, 1, 1]}
# facebook/convnextv2-tiny-1k-224's shape: ConvNextV2Config has no layer_scale_init_value
V2_CONFIG = {**{k: v for k, v in CONFIG.items() if k != "layer_scale_init_value"},
             "architectures": ["ConvNextV2ForImageClassification"], "model_type": "convnextv2"}


class LogitsOnly(torch.nn.Module):
    """The reference returns (logits, pooled, hidden_states); ONNX Runtime is timed on logits alone."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, pixel_values):
        return self.model(pixel_values)[0]


def randomise(model):
    """Trained-looking values for the parameters whose init is a constant (LayerNorm 1/0, layer
    scale 1e-6): with those, most of each block would be a no-op and the numbers unrealistic."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("layer_scale_parameter"):
                p.uniform_(0.05, 0.5)
            elif ".grn." in name:       # zeros at init would make GRN the identity
                p.normal_(0.0, 0.3)
            elif "layernorm" in name or "downsampling_layer.0" in name:
                if name.endswith("weight"):
                    p.normal_(1.0, 0.1)
                else:
                    p.normal_(0.0, 0.1)


def save_checkpoint(model, config, model_dir):
    """Hugging Face layout: config.json, preprocessor_config.json, model.safetensors."""
    os.makedirs(model_dir, exist_ok=True)
    with open(os.path.join(model_dir, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
    with open(os.path.join(model_dir, "preprocessor_config.json"), "w") as f:
        json.dump(PREPROCESSOR_CONFIG, f, indent=2)
    weights = os.path.join(model_dir, "model.safetensors")
    safetensors_io.save(model.state_dict(), weights, metadata={"format": "pt"})
    return weights


def save_npy(path, array):
    np.save(path, np.ascontiguousarray(array, dtype=np.float32))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", help="output directory (created)")
    args = ap.parse_args()

    torch.manual_seed(SEED)
    model = convnext_torch.ConvNextForImageClassification(CONFIG).eval()
    randomise(model)

    weights = save_checkpoint(model, CONFIG, os.path.join(args.out, NAME))
    micro = convnext_torch.ConvNextForImageClassification(MICRO_CONFIG).eval()
    randomise(micro)
    save_checkpoint(micro, MICRO_CONFIG, os.path.join(args.out, MICRO_NAME))
    v2 = convnextv2_torch.ConvNextV2ForImageClassification(V2_CONFIG).eval()
    randomise(v2)
    save_checkpoint(v2, V2_CONFIG, os.path.join(args.out, V2_NAME))

    gen = torch.Generator().manual_seed(SEED + 1)
    inputs = {b: torch.randn(b, 3, 224, 224, generator=gen) for b in (1, 8)}
    with torch.no_grad():
        for b, x in inputs.items():
            save_npy(os.path.join(args.out, f"input-b{b}.npy"), x.numpy())
            save_npy(os.path.join(args.out, f"logits-b{b}.npy"), model(x)[0].numpy())

    onnx_path = os.path.join(args.out, NAME + ".onnx")
    torch.onnx.export(LogitsOnly(model), inputs[1], onnx_path, opset_version=OPSET,
                      input_names=["pixel_values"], output_names=["logits"],
                      dynamic_axes={"pixel_values": {0: "batch"}, "logits": {0: "batch"}},
                      do_constant_folding=True)

    manifest = {
        "model_dir": NAME,  # relative to OUT_DIR, so that the directory can be moved
        "onnx": NAME + ".onnx",
        "micro_model_dir": MICRO_NAME,
        "v2_model_dir": V2_NAME,
        "onnx_opset": OPSET,
        "torch_version": torch.__version__,
        "seed": SEED,
        "parameters": sum(p.numel() for p in model.parameters()),
        "weights_bytes": os.path.getsize(weights),
        "onnx_bytes": os.path.getsize(onnx_path),
    }
    with open(os.path.join(args.out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=2)
    print(json.dumps(manifest))


if __name__ == "__main__":
    main()
