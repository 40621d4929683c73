"""PyTorch (CPU) peer of `hybrid bench conv`: for each --layer NAME CIN COUT SIZE STRIDE BIAS, a 3x3 convolution
with padding 1 on a (batch, CIN, SIZE, SIZE) input, timed as forward + backward (gradients of input, weight and,
with BIAS=1, bias), in two cases:
  "NAME fwd+bwd"         the plain convolution;
  "NAME masked fwd+bwd"  the weight masked by scores, w_eff = w * 1[s > 0], with the straight-through gradients
                         Core.Gpu computes: dL/dw = dL/dw_eff * 1[s > 0] and dL/ds = dL/dw_eff * w."""

import argparse

from bench_timing import emit, fail, measure, parse_torch_arguments

try:
    import torch
    import torch.nn.functional as F
except ImportError:
    fail("python3-torch is not installed (apt-get install -y python3-torch)")


class StraightThroughMask(torch.autograd.Function):
    """w * 1[s > 0] whose backward passes the gradient to w through the mask and to s straight through (times w)."""

    @staticmethod
    def forward(ctx, w, s):
        m = (s > 0).to(w.dtype)
        ctx.save_for_backward(w, m)
        return w * m

    @staticmethod
    def backward(ctx, grad):
        w, m = ctx.saved_tensors
        return grad * m, grad * w


def time_layer(args, name, cin, cout, size, stride, bias):
    x = torch.randn(args.batch, cin, size, size, requires_grad=True)
    w = (torch.randn(cout, cin, 3, 3) * (2.0 / (cin * 9)) ** 0.5).requires_grad_()
    s = torch.randn(cout, cin, 3, 3, requires_grad=True)
    b = torch.randn(cout, requires_grad=True) if bias else None
    out = (size + 2 - 3) // stride + 1
    gy = torch.randn(args.batch, cout, out, out)
    with_bias = [b] if bias else []

    # autograd.grad returns fresh gradients instead of accumulating into .grad, as our backward overwrites its outputs.
    def dense():
        y = F.conv2d(x, w, b, stride=stride, padding=1)
        torch.autograd.grad(y, [x, w] + with_bias, gy)

    def masked():
        y = F.conv2d(x, StraightThroughMask.apply(w, s), b, stride=stride, padding=1)
        torch.autograd.grad(y, [x, w, s] + with_bias, gy)

    return [(f"{name} fwd+bwd", measure(dense, args)), (f"{name} masked fwd+bwd", measure(masked, args))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, required=True)
    parser.add_argument("--layer", nargs=6, action="append", required=True,
                        metavar=("NAME", "CIN", "COUT", "SIZE", "STRIDE", "BIAS"))
    args = parse_torch_arguments(parser, torch)
    cases = []
    with torch.enable_grad():
        for name, cin, cout, size, stride, bias in args.layer:
            cases += time_layer(args, name, int(cin), int(cout), int(size), int(stride), bias == "1")
    emit(cases)


if __name__ == "__main__":
    main()
