"""ConvNeXt V2 and the ConvNeXt backbones in plain PyTorch: the project's independent reference for them.

Written from the ConvNeXt V2 paper (Woo et al. 2023, "Global Response Normalization", eq. 1-3 and
Algorithm 1) and transformers' definitions (modeling_convnextv2.py: ConvNextV2GRN, ConvNextV2Layer,
ConvNextV2Model, ConvNextV2ForImageClassification, ConvNextV2Backbone; modeling_convnext.py:
ConvNextBackbone), not from the C engine.  Parameter names follow transformers, so that a state_dict
is a Hugging Face checkpoint.  Shared pieces (embeddings, channels-first LayerNorm, activations,
stage names) come from convnext_torch.py, the V1 reference.

GRN on a channels-last x [N, H, W, C]:
    gx = ||x||_2 over (H, W), per sample and channel          [N, 1, 1, C]
    nx = gx / (mean over C of gx + 1e-6)
    out = weight * (x * nx) + bias + x                          (weight, bias [1, 1, 1, C])
"""
import torch
from torch import nn

import convnext_torch as v1


class GRN(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(1, 1, 1, dim))
        self.bias = nn.Parameter(torch.zeros(1, 1, 1, dim))

    def forward(self, x):
        gx = torch.sqrt((x * x).sum(dim=(1, 2), keepdim=True))
        nx = gx / (gx.mean(dim=-1, keepdim=True) + 1e-6)
        return self.weight * (x * nx) + self.bias + x


class ConvNextV2Layer(nn.Module):
    """dwconv 7x7 -> LN (1e-6) -> pwconv1 C->4C -> act -> GRN -> pwconv2 4C->C, plus the residual; no layer scale."""

    def __init__(self, cfg, dim):
        super().__init__()
        self.dwconv = nn.Conv2d(dim, dim, kernel_size=7, padding=3, groups=dim)
        self.layernorm = v1.ConvNextLayerNorm(dim, eps=1e-6)
        self.pwconv1 = nn.Linear(dim, 4 * dim)
        self.act = v1.ACT2FN[cfg["hidden_act"]]
        self.grn = GRN(4 * dim)
        self.pwconv2 = nn.Linear(4 * dim, dim)

    def forward(self, x):
        y = self.dwconv(x).permute(0, 2, 3, 1)
        y = self.pwconv2(self.grn(self.act(self.pwconv1(self.layernorm(y)))))
        return x + y.permute(0, 3, 1, 2)


def ConvNextV2Encoder(cfg):
    """transformers' ConvNextV2Encoder: V1's stages (downsampling, then blocks) of V2 blocks."""
    return v1.ConvNextEncoder(cfg, ConvNextV2Layer)


class ConvNextV2Model(nn.Module):
    """Returns (last_hidden_state, pooler_output, hidden_states) like transformers' ConvNextV2Model."""

    def __init__(self, cfg):
        super().__init__()
        self.embeddings = v1.ConvNextEmbeddings(cfg)
        self.encoder = ConvNextV2Encoder(cfg)
        self.layernorm = nn.LayerNorm(cfg["hidden_sizes"][-1], eps=cfg.get("layer_norm_eps", 1e-12))

    def forward(self, pixel_values):
        e = self.embeddings(pixel_values)
        last, states = self.encoder(e)
        return last, self.layernorm(last.mean([-2, -1])), [e] + states


class ConvNextV2ForImageClassification(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.convnextv2 = ConvNextV2Model(cfg)
        self.classifier = nn.Linear(cfg["hidden_sizes"][-1], v1.num_labels(cfg))

    def forward(self, pixel_values):
        last, pooled, states = self.convnextv2(pixel_values)
        return self.classifier(pooled), pooled, states


class Backbone(nn.Module):
    """ConvNextBackbone / ConvNextV2Backbone: embeddings and encoder without prefix, no final LayerNorm, and a
    channels-first LayerNorm (eps 1e-6) per selected stage, hidden_states_norms.<stage name>.

    Returns (feature_maps, hidden_states): feature_maps[k] = hidden_states_norms[name](hidden_states[i]) for the
    k-th selected index i (out_features/out_indices, as BackboneMixin aligns them); hidden_states as the model's.
    `norm_stages`: the stages that get a norm (default: the selected ones, as transformers builds it).
    """

    def __init__(self, cfg, version, norm_stages=None):
        super().__init__()
        self.embeddings = v1.ConvNextEmbeddings(cfg)
        self.encoder = (v1.ConvNextEncoder if version == 1 else ConvNextV2Encoder)(cfg)
        names = v1.stage_names(cfg)
        channels = [cfg["hidden_sizes"][0]] + list(cfg["hidden_sizes"])  # num_features
        self.out_indices = v1.out_indices(cfg)
        selected = norm_stages or [names[i] for i in self.out_indices]
        self.hidden_states_norms = nn.ModuleDict(
            {n: v1.ConvNextLayerNorm(channels[names.index(n)], eps=1e-6, data_format="channels_first")
             for n in selected})
        self.names = names

    def forward(self, pixel_values):
        e = self.embeddings(pixel_values)
        _, states = self.encoder(e)
        states = [e] + states
        maps = [self.hidden_states_norms[self.names[i]](states[i]) for i in self.out_indices]
        return maps, states
