"""PyTorch (CPU) peer of `hybrid bench reengineer`: one mask-training epoch of SeaM's re-engineering of a CIFAR
ResNet-20 on a binary target problem, as SeaM's code does it: every Conv2d and Linear masked (scores start at 1; the
forward multiplies the weight by 1[score > 0]; the backward passes the gradient through the binarisation clipped to
[-1, 1]), original weights and BatchNorm frozen (BatchNorm in eval mode), the head ReLU -> Linear(10, 2), loss
cross-entropy + alpha * weight ratio, Adam over the masks (lr_mask) and the head (lr_head), batch 64.
Case "reengineer resnet20 mask epoch N images": one pass over N random 3x32x32 images with alternating labels. The
value is the weight ratio after the timed epochs (for information: both sides start from their own random weights)."""

import argparse

from bench_timing import emit, fail, measure, parse_torch_arguments

try:
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
    from resnet_torch import ResNet
except ImportError:
    fail("python3-torch is not installed (apt-get install -y python3-torch)")


class Binarize(torch.autograd.Function):
    """1[score > 0] forward; the gradient clipped to [-1, 1] backward (SeaM's straight-through estimator)."""

    @staticmethod
    def forward(ctx, scores):
        return (scores > 0).float()

    @staticmethod
    def backward(ctx, grad):
        return F.hardtanh(grad)


class MaskedConv2d(nn.Conv2d):
    def forward(self, x):
        return self._conv_forward(x, self.weight * Binarize.apply(self.weight_mask), None)


class MaskedLinear(nn.Linear):
    def forward(self, x):
        return F.linear(x, self.weight * Binarize.apply(self.weight_mask), self.bias * Binarize.apply(self.bias_mask))


def masked(module):
    """The masked twin of a Conv2d or Linear, sharing its (frozen) weights."""
    if isinstance(module, nn.Conv2d):
        twin = MaskedConv2d(module.in_channels, module.out_channels, module.kernel_size, module.stride,
                            module.padding, module.dilation, module.groups, bias=False)
    else:
        twin = MaskedLinear(module.in_features, module.out_features)
        twin.bias = module.bias
        twin.bias_mask = nn.Parameter(torch.ones_like(module.bias))
    twin.weight = module.weight
    twin.weight_mask = nn.Parameter(torch.ones_like(module.weight))
    return twin


def mask_model(model):
    for name, module in list(model.named_modules()):
        for child_name, child in list(module.named_children()):
            if type(child) in (nn.Conv2d, nn.Linear):
                setattr(module, child_name, masked(child))
    return model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=1182)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--lr-mask", type=float, default=0.05)
    parser.add_argument("--lr-head", type=float, default=0.1)
    parser.add_argument("--alpha", type=float, default=1.0)
    args = parse_torch_arguments(parser, torch)

    model = mask_model(ResNet(3))
    for name, p in model.named_parameters():
        p.requires_grad = name.endswith("_mask")
    masks = [p for name, p in model.named_parameters() if name.endswith("_mask")]
    total = sum(m.numel() for m in masks)
    head = nn.Sequential(nn.ReLU(), nn.Linear(10, 2))
    optimiser = torch.optim.Adam([{"params": masks, "lr": args.lr_mask},
                                  {"params": head.parameters(), "lr": args.lr_head}])
    x = torch.randn(args.images, 3, 32, 32)
    y = torch.arange(args.images) % 2
    model.eval()  # BatchNorm frozen; nothing else in ResNet-20 depends on the mode

    def epoch():
        for start in range(0, args.images, args.batch):
            xb, yb = x[start:start + args.batch], y[start:start + args.batch]
            optimiser.zero_grad()
            out = head(model(xb))
            ratio = sum(Binarize.apply(m).sum() for m in masks) / total
            loss = F.cross_entropy(out, yb) + args.alpha * ratio
            loss.backward()
            optimiser.step()

    seconds = measure(epoch, args)
    ratio = float(sum((m > 0).sum() for m in masks)) / total
    emit([(f"reengineer resnet20 mask epoch {args.images} images", seconds, ratio)])


if __name__ == "__main__":
    main()
