"""Training-speed forward passes for convnext_torch's modules on 2 CPU cores: the same parameters, the same
function (checked against the reference by check()), computed in the layouts and kernels that are fast here."""
import types

import torch
import torch.nn.functional as F

import convnext_torch


class DepthwiseConv(torch.autograd.Function):
    """conv2d(x, weight, bias, padding, groups=C) with a faster weight gradient.

    oneDNN 2.6 has no depthwise kernel for the weight gradient on channels_last tensors and falls back to a
    grouped convolution padded to 16x16 blocks (9 ms for stage 0 at batch 128).  The gradient is itself a
    depthwise convolution of x with the output gradient as the kernel, one group per (image, channel):
    dW[c,i,j] = sum_n sum_hw x_pad[n,c,h+i,w+j] * dY[n,c,h,w]  (3 ms)."""

    @staticmethod
    def forward(ctx, x, weight, bias, padding):
        ctx.save_for_backward(x, weight)
        ctx.padding = padding
        return F.conv2d(x, weight, bias, padding=padding, groups=x.shape[1])

    @staticmethod
    def backward(ctx, dy):
        x, weight = ctx.saved_tensors
        n, c, h, w = x.shape
        p = ctx.padding
        dx = torch.ops.aten.convolution_backward(dy, x, weight, None, (1, 1), (p, p), (1, 1), False, (0, 0), c,
                                                 (True, False, False))[0]
        dw = F.conv2d(x.contiguous().view(1, n * c, h, w), dy.contiguous().view(n * c, 1, h, w),
                      padding=p, groups=n * c)
        dw = dw.view(n, c, *weight.shape[2:]).sum(0).view_as(weight)
        db = dy.sum((0, 2, 3))
        return dx, dw, db, None


def layer_norm_channels_first(self, x):
    """ConvNextLayerNorm(data_format="channels_first") as one f32 layer_norm on the NHWC view."""
    with torch.autocast("cpu", enabled=False):
        y = F.layer_norm(x.float().permute(0, 2, 3, 1), (self.n,), self.weight, self.bias, self.eps)
    return y.permute(0, 3, 1, 2)


def pointwise(y, weight, bias):
    """F.linear over the channels of an NHWC tensor: as is under bf16 autocast (oneDNN's bf16 matmul); in f32 a
    1x1 convolution of the channels_last view, as this PyTorch build's f32 Linear is not oneDNN (2.5x slower)."""
    if torch.is_autocast_cpu_enabled():
        return F.linear(y, weight, bias)
    return F.conv2d(y.permute(0, 3, 1, 2), weight[:, :, None, None], bias).permute(0, 2, 3, 1)


def patchify(x, conv):
    """Conv2d with kernel == stride (patch embedding, downsampling) as a Linear on non-overlapping patches, f32
    out.  Rows and columns past the last whole patch are dropped, as the strided convolution drops them."""
    n, c, h, w = x.shape
    k = conv.kernel_size[0]
    h, w = h // k * k, w // k * k
    patches = x[:, :, :h, :w].permute(0, 2, 3, 1).reshape(n, h // k, k, w // k, k, c).permute(0, 1, 3, 2, 4, 5)
    patches = patches.reshape(n, h // k, w // k, k * k * c)
    weight = conv.weight.permute(0, 2, 3, 1).reshape(conv.out_channels, k * k * c)
    return pointwise(patches, weight, conv.bias).float().permute(0, 3, 1, 2)


def embeddings_forward(self, x):
    return self.layernorm(patchify(x, self.patch_embeddings))


def downsampling_forward(self, x):
    return patchify(self[0](x), self[1])


def layer_forward(self, x):
    """ConvNextLayer: x + gamma * pwconv2(act(pwconv1(LN(dwconv(x))))), in NHWC; under autocast the two
    Linears and the activation run in bf16 (oneDNN), the depthwise convolution, LayerNorm and residual in f32."""
    with torch.autocast("cpu", enabled=False):
        y = DepthwiseConv.apply(x.float(), self.dwconv.weight, self.dwconv.bias, self.dwconv.padding[0])
        y = y.permute(0, 2, 3, 1)
        y = self.layernorm(y)
    y = pointwise(y, self.pwconv1.weight, self.pwconv1.bias)
    y = pointwise(self.act(y), self.pwconv2.weight, self.pwconv2.bias).float()
    if self.layer_scale_parameter is not None:
        y = y * self.layer_scale_parameter
    if self.training and self.drop_path > 0.0:  # stochastic depth, as transformers' ConvNextDropPath
        keep = (torch.rand(y.shape[0], 1, 1, 1) >= self.drop_path).to(y.dtype)
        y = y * keep / (1.0 - self.drop_path)
    return x + y.permute(0, 3, 1, 2)


def use_fast_forward(model, on, drop_path_rate=0.0):
    """Switch model's modules to the training-speed forwards (on) or back to the reference (off)."""
    layers = [m for m in model.modules() if isinstance(m, convnext_torch.ConvNextLayer)]
    for k, m in enumerate(layers):
        # drop-path rate rises linearly with depth: torch.linspace(0, drop_path_rate, sum(depths)) in transformers
        m.drop_path = drop_path_rate * k / max(1, len(layers) - 1)
    for m in model.modules():
        fast = None
        if isinstance(m, convnext_torch.ConvNextLayer):
            fast = layer_forward
        elif isinstance(m, convnext_torch.ConvNextEmbeddings):
            fast = embeddings_forward
        elif isinstance(m, convnext_torch.ConvNextLayerNorm) and m.data_format == "channels_first":
            fast = layer_norm_channels_first
        elif isinstance(m, torch.nn.Sequential) and len(m) == 2 and isinstance(m[1], torch.nn.Conv2d):
            fast = downsampling_forward
        if fast is None:
            continue
        if on:
            m.forward = types.MethodType(fast, m)
        else:
            m.__dict__.pop("forward", None)


def check(model, x, labels):
    """Raise AssertionError unless the fast forwards (no drop path) give the reference's logits and parameter
    gradients for a cross-entropy loss on (x, labels): in f32 to 1e-4 of each tensor's largest magnitude, under
    bf16 autocast (the training path) to 5e-2."""
    def run(bf16=False):
        model.zero_grad(set_to_none=True)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            logits = model(x)[0].float()
        F.cross_entropy(logits, labels).backward()
        return [logits.detach()] + [p.grad for p in model.parameters()]

    names = ["logits"] + [n for n, _ in model.named_parameters()]
    want = run()
    use_fast_forward(model, True)
    for bf16, rtol in ((False, 1e-4), (True, 5e-2)):
        for name, a, b in zip(names, run(bf16), want):
            err = ((a - b).abs().max() / b.abs().max().clamp_min(1e-30)).item()
            assert err <= rtol, f"fast forward ({'bf16' if bf16 else 'f32'}) differs from the reference in {name}: " \
                                f"{err:.2e} of its range"
    use_fast_forward(model, False)
    model.zero_grad(set_to_none=True)
