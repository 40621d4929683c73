# Writes dense_ops.safetensors: inputs, outputs and input gradients of Core.Nn's dense and shape ops as PyTorch computes
# them, read by tests/NnDenseOpsTests.fs. Regenerate from the repository root with Debian's python3-torch (1.13):
#   python3 tests/golden/make_dense_ops.py tests/golden/dense_ops.safetensors
# Every case "NAME" stores its inputs (NAME.x, NAME.w, ...), a projection NAME.v of the output, the output NAME.y, and
# the gradients of sum(v * y) with respect to each input (NAME.gx, NAME.gw, ...). Everything is float32.
import sys

import torch
import torch.nn.functional as F
from safetensors_writer import write

torch.manual_seed(4)
tensors = {}


def case(name, op, **inputs):
    """Runs op on the named inputs (all requiring grad) and stores inputs, output and gradients under name."""
    leaves = {k: v.clone().requires_grad_(True) for k, v in inputs.items()}
    y = op(**leaves)
    v = torch.randn_like(y)
    (y * v).sum().backward()
    for k, leaf in leaves.items():
        tensors[f"{name}.{k}"] = leaf.detach()
        tensors[f"{name}.g{k}"] = leaf.grad
    tensors[f"{name}.y"] = y.detach()
    tensors[f"{name}.v"] = v


def masked(value, mask):
    # SeaM's straight-through mask: the forward uses value * 1[mask > 0], the mask's gradient is dL/d(effective) * value.
    class Binarize(torch.autograd.Function):
        @staticmethod
        def forward(ctx, v, m):
            ctx.save_for_backward(v, m)
            return v * (m > 0).float()

        @staticmethod
        def backward(ctx, g):
            v, m = ctx.saved_tensors
            return g * (m > 0).float(), g * v
    return Binarize.apply(value, mask)


def away_from_zero(*shape):
    # Mask scores in +-[0.5, 1.5]: about half the weights are off, none sits at the step.
    s = torch.rand(*shape) + 0.5
    return torch.where(torch.rand(*shape) < 0.5, -s, s)


r = torch.randn
case("conv_grouped", lambda x, w, b: F.conv2d(x, w, b, stride=(2, 1), padding=(1, 2), dilation=(2, 1), groups=2),
     x=r(2, 4, 7, 6), w=r(6, 2, 3, 3), b=r(6))
case("conv_depthwise", lambda x, w: F.conv2d(x, w, None, stride=1, padding=1, groups=4), x=r(1, 4, 5, 5), w=r(4, 1, 3, 3))
case("masked_conv", lambda x, w, m, b: F.conv2d(x, masked(w, m), b, stride=2, padding=1),
     x=r(2, 3, 6, 6), w=r(4, 3, 3, 3), m=away_from_zero(4, 3, 3, 3), b=r(4))
case("linear", lambda x, w, b: F.linear(x, w, b), x=r(2, 3, 5), w=r(4, 5), b=r(4))
case("masked_linear", lambda x, w, m, b, bm: F.linear(x, masked(w, m), masked(b, bm)),
     x=r(3, 5), w=r(4, 5), m=away_from_zero(4, 5), b=r(4), bm=away_from_zero(4))
case("matmul_broadcast", lambda a, b: torch.matmul(a, b), a=r(2, 1, 3, 4), b=r(3, 4, 5))
case("matmul_vector", lambda a, b: torch.matmul(a, b), a=r(4), b=r(2, 4, 3))
case("bmm", lambda a, b: torch.bmm(a, b), a=r(3, 2, 4), b=r(3, 4, 5))
case("maxpool_ceil", lambda x: F.max_pool2d(x, 3, stride=2, padding=1, ceil_mode=True), x=r(2, 3, 8, 7))
case("maxpool_dilated", lambda x: F.max_pool2d(x, (2, 3), stride=(1, 2), padding=(1, 0), dilation=(2, 1)), x=r(1, 2, 7, 8))
case("avgpool_exclude_pad", lambda x: F.avg_pool2d(x, 3, stride=2, padding=1, ceil_mode=True, count_include_pad=False),
     x=r(2, 3, 8, 7))
case("avgpool_include_pad", lambda x: F.avg_pool2d(x, (3, 2), stride=(2, 1), padding=(1, 1)), x=r(1, 2, 7, 6))
case("adaptive_avgpool", lambda x: F.adaptive_avg_pool2d(x, (3, 2)), x=r(2, 3, 7, 5))
case("permute", lambda x: x.permute(2, 0, 3, 1), x=r(2, 3, 4, 5))
case("slice", lambda x: x[:, -5:7:2], x=r(3, 9, 2))
case("cat", lambda a, b, c: torch.cat([a, b, c], dim=1), a=r(2, 1, 3), b=r(2, 4, 3), c=r(2, 2, 3))
case("pad", lambda x: F.pad(x, (1, -1, -2, 2), value=0.5), x=r(2, 3, 5, 4))


write(sys.argv[1] if len(sys.argv) > 1 else "tests/golden/dense_ops.safetensors",
      {name: t.float().contiguous() for name, t in tensors.items()}, {"torch": torch.__version__})
