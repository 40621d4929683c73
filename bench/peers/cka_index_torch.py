"""PyTorch + NumPy peer of `hybrid bench cka-index`'s indexing case: load a CIFAR ResNet state dict (a PyTorch zip file
written by the benchmark, so both sides run the same weights), register a forward hook on every module but the root,
run the probe inputs once (eval mode, no_grad) and turn each hooked output into its CKA encoding: K = X X^T in float64,
HKH, the upper triangle with off-diagonals scaled by sqrt(2), divided by its norm. A module whose output is its input
(an empty Sequential shortcut) is skipped, as Hybrid skips it. The encodings, in hook order, are written to
cka_index_torch.f32 for the benchmark to compare with its own."""

import os

import numpy as np

from bench_timing import emit, fail, measure, parse_arguments

try:
    import torch
except ImportError:
    fail("python3-torch is not installed (apt-get install -y python3-torch)")

from resnet_torch import ResNet


def encoding(output, n, upper, scale):
    x = output.reshape(n, -1).double()
    k = (x @ x.T).numpy()
    hkh = k - k.mean(axis=0, keepdims=True) - k.mean(axis=1, keepdims=True) + k.mean()
    packed = hkh[upper] * scale
    return packed / np.linalg.norm(packed)


def main() -> None:
    args = parse_arguments(__doc__, dir=str, model=str, depth=int, inputs=str, n=int, case=str)
    torch.set_num_threads(os.cpu_count())
    images = torch.from_numpy(np.fromfile(args.inputs, dtype="<f4").reshape(args.n, 3, 32, 32))
    upper = np.triu_indices(args.n)
    scale = np.where(upper[0] == upper[1], 1.0, np.sqrt(2.0))
    result = {}

    def index():
        model = ResNet((args.depth - 2) // 6)
        model.load_state_dict(torch.load(args.model, map_location="cpu"))
        model.eval()
        encodings = []

        def hook(_module, inputs, output):
            if output is not inputs[0]:
                encodings.append(encoding(output, args.n, upper, scale))

        handles = [m.register_forward_hook(hook) for name, m in model.named_modules() if name]
        with torch.no_grad():
            model(images)
        for h in handles:
            h.remove()
        result["encodings"] = encodings

    seconds = measure(index, args)
    np.concatenate(result["encodings"]).astype("<f4").tofile(os.path.join(args.dir, "cka_index_torch.f32"))
    emit([(args.case, seconds, float(len(result["encodings"])))])


if __name__ == "__main__":
    main()
