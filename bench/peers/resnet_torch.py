"""PyTorch (CPU) peer of `hybrid bench resnet`: CIFAR ResNet-20 with option-A shortcuts (He et al. 2016, the layout of
akamaster/pytorch_resnet_cifar10), written out here so the peer needs nothing but Debian's python3-torch. Two cases:
  "resnet20 inference batch B"  eval-mode forward of B random 3x32x32 images under no_grad;
  "resnet20 train step batch B" one SGD step (momentum 0.9, Nesterov, weight decay 5e-4): forward in training mode,
                                cross-entropy, backward, optimiser step.
The value of each case is the mean of the logits of the timed forward (a check that both sides ran the same
network is not possible with independent random weights, so it is reported only for information).
With --memory it times nothing: it runs one training forward at --train-batch and prints what the autograd graph saves
for the backward, {"saved": [{"op", "arrays", "bytes"}]}: every tensor a node of the graph holds as a saved tensor
(its `_saved_*` attributes), parameters and running statistics left out, each storage counted once, under the first
node that holds it in a walk from the loss."""

import argparse
import json

from bench_timing import emit, fail, measure, parse_torch_arguments

try:
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
except ImportError:
    fail("python3-torch is not installed (apt-get install -y python3-torch)")


class Shortcut(nn.Module):
    """Option A: subsample by 2 and zero-pad the new channels, no parameters."""

    def __init__(self, planes):
        super().__init__()
        self.pad = planes // 4

    def forward(self, x):
        return F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, self.pad, self.pad), "constant", 0)


class BasicBlock(nn.Module):
    def __init__(self, cin, planes, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.shortcut = Shortcut(planes) if stride != 1 or cin != planes else nn.Sequential()

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class ResNet(nn.Module):
    def __init__(self, blocks_per_stage, classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        stages, cin = [], 16
        for planes, stride in ((16, 1), (32, 2), (64, 2)):
            layers = []
            for i in range(blocks_per_stage):
                layers.append(BasicBlock(cin, planes, stride if i == 0 else 1))
                cin = planes
            stages.append(nn.Sequential(*layers))
        self.layer1, self.layer2, self.layer3 = stages
        self.linear = nn.Linear(64, classes)

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.layer3(self.layer2(self.layer1(out)))
        out = F.avg_pool2d(out, out.size()[3]).view(out.size(0), -1)
        return self.linear(out)


def saved_tensors(model, batch):
    """Per node type, the storages the graph of one training forward of batch random images saves, and their bytes."""
    model.train()
    loss = F.cross_entropy(model(torch.randn(batch, 3, 32, 32)), torch.randint(0, 10, (batch,)))
    state = {t.data_ptr() for t in list(model.parameters()) + list(model.buffers())}
    seen, rows, nodes, visited = set(), {}, [loss.grad_fn], set()
    while nodes:
        node = nodes.pop(0)
        if node is None or node in visited:
            continue
        visited.add(node)
        for name in dir(node):
            if not name.startswith("_saved_"):
                continue
            value = getattr(node, name)
            for t in value if isinstance(value, (list, tuple)) else [value]:
                if not isinstance(t, torch.Tensor) or t.data_ptr() in state or t.data_ptr() in seen or t.numel() == 0:
                    continue
                seen.add(t.data_ptr())
                arrays, size = rows.get(type(node).__name__, (0, 0))
                rows[type(node).__name__] = (arrays + 1, size + t.storage().nbytes())
        nodes.extend(n for n, _ in node.next_functions)
    return [{"op": op, "arrays": a, "bytes": b} for op, (a, b) in sorted(rows.items(), key=lambda r: -r[1][1])]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--inference-batch", type=int, default=256)
    parser.add_argument("--train-batch", type=int, default=64)
    parser.add_argument("--memory", action="store_true", help="print the saved tensors of one training forward instead")
    args = parse_torch_arguments(parser, torch)

    model = ResNet(3)
    if args.memory:
        print(json.dumps({"saved": saved_tensors(model, args.train_batch)}))
        return
    x = torch.randn(args.inference_batch, 3, 32, 32)
    model.eval()
    logits = {}

    def infer():
        with torch.no_grad():
            logits["eval"] = model(x)

    inference = measure(infer, args)

    model.train()
    optimiser = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, nesterov=True, weight_decay=5e-4)
    xt = torch.randn(args.train_batch, 3, 32, 32)
    yt = torch.randint(0, 10, (args.train_batch,))

    def step():
        optimiser.zero_grad()
        out = model(xt)
        loss = F.cross_entropy(out, yt)
        loss.backward()
        optimiser.step()
        logits["train"] = out.detach()

    training = measure(step, args)
    emit([
        (f"resnet20 inference batch {args.inference_batch}", inference, float(logits["eval"].mean())),
        (f"resnet20 train step batch {args.train_batch}", training, float(logits["train"].mean())),
    ])


if __name__ == "__main__":
    main()
