# Writes pointwise_ops.safetensors: inputs, outputs and gradients of Core.Nn's element-wise, normalisation, softmax and
# loss ops as PyTorch computes them, read by tests/NnPointwiseOpsTests.fs. Regenerate from the repository root with
# Debian's python3-torch (1.13):
#   python3 tests/golden/make_pointwise_ops.py tests/golden/pointwise_ops.safetensors
# Every case "NAME" stores its inputs (NAME.a, NAME.x, NAME.weight, ...), a projection NAME.v of the output, the output
# NAME.y and the gradients of sum(v * y) with respect to each floating-point input (NAME.g.a, NAME.g.x, ...). Batch norm
# cases in training also store the running statistics after the update (NAME.running_mean_out, NAME.running_var_out).
# Everything is float64 except int64 targets; the tests run our float64 path and our float32 path against it.
import sys

import torch
import torch.nn.functional as F
from safetensors_writer import write

torch.manual_seed(7)
torch.set_default_dtype(torch.float64)
tensors = {}


def case(name, op, grads, **inputs):
    """Runs op on the inputs; those named in grads require grad. Stores inputs, projection, output and gradients."""
    leaves = {k: (v.clone().requires_grad_(k in grads) if v.is_floating_point() else v) for k, v in inputs.items()}
    y = op(**leaves)
    v = torch.randn_like(y)
    (y * v).sum().backward()
    for k, leaf in leaves.items():
        tensors[f"{name}.{k}"] = leaf.detach().clone()
        if k in grads:
            tensors[f"{name}.g.{k}"] = leaf.grad
    tensors[f"{name}.y"] = y.detach()
    tensors[f"{name}.v"] = v
    return leaves


def away_from(x, kinks, gap=0.05):
    """Moves values within gap of a kink out of it, so gradients are not taken where the derivative jumps."""
    for k in kinks:
        near = (x - k).abs() < gap
        x = torch.where(near, x + 2 * gap, x)
    return x


# Broadcasting arithmetic and reductions.
case("add", lambda a, b: a + b, "ab", a=torch.randn(2, 3, 4), b=torch.randn(3, 1))
case("sub", lambda a, b: a - b, "ab", a=torch.randn(1), b=torch.randn(2, 3))
case("mul", lambda a, b: a * b, "ab", a=torch.randn(2, 3, 4), b=torch.randn(3, 1))
case("div", lambda a, b: a / b, "ab", a=torch.randn(2, 3, 4), b=torch.rand(4) + 0.5)
case("sum", lambda x: x.sum(dim=(0, 2)), "x", x=torch.randn(2, 3, 4))
case("mean", lambda x: x.mean(dim=1, keepdim=True), "x", x=torch.randn(2, 3, 4))

# Activations on values spread over [-5, 5], kept away from each function's kinks.
act = away_from(torch.rand(4, 6) * 10 - 5, [-3.0, 0.0, 3.0])
case("relu", lambda x: F.relu(x), "x", x=act)
case("relu6", lambda x: F.relu6(x), "x", x=away_from(act + 2, [0.0, 6.0]))
case("gelu", lambda x: F.gelu(x), "x", x=act)
case("gelu_tanh", lambda x: F.gelu(x, approximate="tanh"), "x", x=act)
case("silu", lambda x: F.silu(x), "x", x=act)
case("sigmoid", lambda x: torch.sigmoid(x), "x", x=act)
case("tanh", lambda x: torch.tanh(x), "x", x=act)
case("hardswish", lambda x: F.hardswish(x), "x", x=act)
case("hardsigmoid", lambda x: F.hardsigmoid(x), "x", x=act)


def batch_norm(name, x, training, momentum, eps, affine=True):
    c = x.shape[1]
    inputs = dict(x=x, running_mean=torch.randn(c), running_var=torch.rand(c) + 0.5)
    if affine:
        inputs.update(weight=torch.randn(c), bias=torch.randn(c))
    grads = ["x", "weight", "bias"] if affine else ["x"]
    stats = {}

    def op(x, running_mean, running_var, weight=None, bias=None):
        stats["mean"], stats["var"] = running_mean.clone(), running_var.clone()
        y = F.batch_norm(x, stats["mean"], stats["var"], weight, bias, training, momentum, eps)
        return y

    case(name, op, grads, **inputs)
    tensors[f"{name}.running_mean_out"] = stats["mean"]
    tensors[f"{name}.running_var_out"] = stats["var"]


batch_norm("bn_train4", torch.randn(4, 3, 5, 5) * 2 + 1, True, 0.1, 1e-5)
batch_norm("bn_train2", torch.randn(8, 6) * 0.5 - 2, True, 0.3, 1e-3)
batch_norm("bn_train3_plain", torch.randn(4, 3, 7), True, 0.1, 1e-5, affine=False)
batch_norm("bn_eval4", torch.randn(2, 3, 4, 4), False, 0.1, 1e-5)

case("ln_last", lambda x, weight, bias: F.layer_norm(x, [5], weight, bias, 1e-5), ["x", "weight", "bias"],
     x=torch.randn(3, 4, 5) * 3 + 1, weight=torch.randn(5), bias=torch.randn(5))
case("ln_two", lambda x: F.layer_norm(x, [4, 5], eps=1e-5), ["x"], x=torch.randn(3, 4, 5))

case("softmax_d1", lambda x: F.softmax(x, dim=1), "x", x=torch.randn(3, 4, 5) * 3)
case("softmax_d0", lambda x: F.softmax(x, dim=0), "x", x=torch.randn(4, 5) * 3)
case("log_softmax_dlast", lambda x: F.log_softmax(x, dim=-1), "x", x=torch.randn(3, 4, 5) * 3)
case("log_softmax_d0", lambda x: F.log_softmax(x, dim=0), "x", x=torch.randn(4, 5) * 3)

logits, target = torch.randn(6, 5) * 2, torch.tensor([0, 4, 2, 2, 1, 3])
for reduction in ["mean", "sum", "none"]:
    case(f"ce_{reduction}", lambda logits, target: F.cross_entropy(logits, target, reduction=reduction), ["logits"],
         logits=logits, target=target)
    case(f"ce_smooth_{reduction}",
         lambda logits, target: F.cross_entropy(logits, target, reduction=reduction, label_smoothing=0.2), ["logits"],
         logits=logits, target=target)


write(sys.argv[1] if len(sys.argv) > 1 else "tests/golden/pointwise_ops.safetensors", tensors,
      {"generator": "tests/golden/make_pointwise_ops.py", "torch": torch.__version__})
