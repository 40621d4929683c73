"""NumPy peer of `hybrid bench cka`: the layer-by-layer linear CKA matrix between two models, the straightforward
float64 way: each layer's centred Gram matrix once (X X^T after converting X to float64), then every pair.
Layers are raw little-endian float32 files a{i}.f32 / b{j}.f32 of shape n x features written by the benchmark; the
matrix is written to cka_numpy.f64 so that the benchmark can compare it with ours."""

import os

from bench_timing import emit, fail, measure, parse_arguments

try:
    import numpy as np
except ImportError:
    fail("python3-numpy is not installed (apt-get install -y python3-numpy)")


def centred_gram(x):
    x = x.astype(np.float64)
    k = x @ x.T
    return k - k.mean(axis=0, keepdims=True) - k.mean(axis=1, keepdims=True) + k.mean()


def main() -> None:
    args = parse_arguments(__doc__, dir=str, n=int, features_a=[int], features_b=[int], case=str)

    def load(prefix, features):
        return [np.fromfile(os.path.join(args.dir, f"{prefix}{i}.f32"), dtype="<f4").reshape(args.n, p)
                for i, p in enumerate(features)]

    a, b = load("a", args.features_a), load("b", args.features_b)
    result = {}

    def matrix():
        ka = [centred_gram(x) for x in a]
        kb = [centred_gram(y) for y in b]
        norms_a = [np.sqrt(np.sum(k * k)) for k in ka]
        norms_b = [np.sqrt(np.sum(l * l)) for l in kb]
        m = np.empty((len(a), len(b)))
        for i, k in enumerate(ka):
            for j, l in enumerate(kb):
                m[i, j] = np.sum(k * l) / (norms_a[i] * norms_b[j])
        result["matrix"] = m

    seconds = measure(matrix, args)
    result["matrix"].astype("<f8").tofile(os.path.join(args.dir, "cka_numpy.f64"))
    emit([(args.case, seconds)])


if __name__ == "__main__":
    main()
