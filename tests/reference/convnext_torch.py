"""A plain PyTorch transcription of transformers' ConvNeXt (modeling_convnext.py).

This is the project's independent reference: it is written from the transformers
modules (ConvNextEmbeddings, ConvNextLayer, ConvNextStage, ConvNextModel,
ConvNextForImageClassification), not from the C engine, and uses the same
parameter names so that its state_dict is a Hugging Face checkpoint.
"""
import math

import torch
from torch import nn
import torch.nn.functional as F


def gelu_new(x):
    # transformers' NewGELUActivation (tanh approximation)
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))


# transformers' ACT2FN (activations.py), for the names this project runs
ACT2FN = {
    "gelu": lambda x: F.gelu(x),  # GELUActivation: the exact erf form
    "gelu_python": lambda x: x * 0.5 * (1.0 + torch.erf(x / math.sqrt(2.0))),
    "gelu_new": gelu_new,
    "gelu_pytorch_tanh": lambda x: F.gelu(x, approximate="tanh"),
    "relu": F.relu,
}


class ConvNextLayerNorm(nn.Module):
    """LayerNorm over channels for NHWC ("channels_last") or NCHW ("channels_first") input."""

    def __init__(self, n, eps=1e-6, data_format="channels_last"):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(n))
        self.bias = nn.Parameter(torch.zeros(n))
        self.eps = eps
        self.data_format = data_format
        self.n = n

    def forward(self, x):
        if self.data_format == "channels_last":
            return F.layer_norm(x, (self.n,), self.weight, self.bias, self.eps)
        u = x.mean(1, keepdim=True)
        s = (x - u).pow(2).mean(1, keepdim=True)
        x = (x - u) / torch.sqrt(s + self.eps)
        return self.weight[:, None, None] * x + self.bias[:, None, None]


class ConvNextEmbeddings(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        c0 = cfg["hidden_sizes"][0]
        p = cfg["patch_size"]
        self.patch_embeddings = nn.Conv2d(cfg["num_channels"], c0, kernel_size=p, stride=p)
        self.layernorm = ConvNextLayerNorm(c0, eps=1e-6, data_format="channels_first")

    def forward(self, x):
        return self.layernorm(self.patch_embeddings(x))


class ConvNextLayer(nn.Module):
    def __init__(self, cfg, dim):
        super().__init__()
        self.dwconv = nn.Conv2d(dim, dim, kernel_size=7, padding=3, groups=dim)
        self.layernorm = ConvNextLayerNorm(dim, eps=1e-6)
        self.pwconv1 = nn.Linear(dim, 4 * dim)
        self.act = ACT2FN[cfg["hidden_act"]]
        self.pwconv2 = nn.Linear(4 * dim, dim)
        v = cfg.get("layer_scale_init_value", 1e-6)
        self.layer_scale_parameter = nn.Parameter(v * torch.ones(dim)) if v > 0 else None

    def forward(self, x):
        y = self.dwconv(x).permute(0, 2, 3, 1)
        y = self.pwconv2(self.act(self.pwconv1(self.layernorm(y))))
        if self.layer_scale_parameter is not None:
            y = self.layer_scale_parameter * y
        return x + y.permute(0, 3, 1, 2)


class ConvNextStage(nn.Module):
    def __init__(self, cfg, cin, cout, stride, depth, layer=None):
        super().__init__()
        layer = layer or ConvNextLayer
        if cin != cout or stride > 1:
            self.downsampling_layer = nn.Sequential(
                ConvNextLayerNorm(cin, eps=1e-6, data_format="channels_first"),
                nn.Conv2d(cin, cout, kernel_size=stride, stride=stride),
            )
        else:
            self.downsampling_layer = nn.Identity()
        self.layers = nn.Sequential(*[layer(cfg, cout) for _ in range(depth)])

    def forward(self, x):
        return self.layers(self.downsampling_layer(x))


class ConvNextEncoder(nn.Module):
    """`layer`: the block class (ConvNextLayer; convnextv2_torch passes its own)."""

    def __init__(self, cfg, layer=None):
        super().__init__()
        hs = cfg["hidden_sizes"]
        self.stages = nn.ModuleList()
        prev = hs[0]
        for i in range(cfg["num_stages"]):
            self.stages.append(ConvNextStage(cfg, prev, hs[i], 2 if i > 0 else 1, cfg["depths"][i], layer))
            prev = hs[i]

    def forward(self, x):
        states = []
        for stage in self.stages:
            x = stage(x)
            states.append(x)
        return x, states


class ConvNextModel(nn.Module):
    """Returns (last_hidden_state, pooler_output, hidden_states) like transformers' ConvNextModel."""

    def __init__(self, cfg):
        super().__init__()
        self.embeddings = ConvNextEmbeddings(cfg)
        self.encoder = ConvNextEncoder(cfg)
        self.layernorm = nn.LayerNorm(cfg["hidden_sizes"][-1], eps=cfg.get("layer_norm_eps", 1e-12))

    def forward(self, pixel_values):
        e = self.embeddings(pixel_values)
        last, states = self.encoder(e)
        pooled = self.layernorm(last.mean([-2, -1]))
        return last, pooled, [e] + states


def num_labels(cfg):
    """PretrainedConfig: len(id2label) when given, else the num_labels kwarg, else 2 (LABEL_0, LABEL_1)."""
    if cfg.get("id2label") is not None:
        return len(cfg["id2label"])
    return cfg.get("num_labels", 2)


def stage_names(cfg):
    """ConvNextConfig.stage_names: "stem", then "stage1".."stageN"."""
    return ["stem"] + [f"stage{i}" for i in range(1, len(cfg["depths"]) + 1)]


def out_indices(cfg):
    """BackboneMixin's aligned out_indices (utils/backbone_utils.py), made non-negative and checked.

    Neither set: the last stage; only out_features: their positions in stage_names; only
    out_indices: as given (Python-style negative indices allowed); both: must agree.
    """
    names = stage_names(cfg)
    feats, idx = cfg.get("out_features"), cfg.get("out_indices")
    if feats is None and idx is None:
        return [len(names) - 1]
    if idx is None:
        idx = [names.index(f) for f in feats]
    pos = [i % len(names) if i < 0 else i for i in idx]
    if pos != sorted(pos) or len(set(pos)) != len(pos):
        raise ValueError(f"out_indices {idx} must be in the order of stage_names")
    if feats is not None and [names[i] for i in pos] != list(feats):
        raise ValueError(f"out_features {feats} and out_indices {idx} do not match")
    return pos


class ConvNextForImageClassification(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.convnext = ConvNextModel(cfg)
        n = num_labels(cfg)
        self.classifier = nn.Linear(cfg["hidden_sizes"][-1], n) if n > 0 else nn.Identity()

    def forward(self, pixel_values):
        last, pooled, states = self.convnext(pixel_values)
        return self.classifier(pooled), pooled, states
