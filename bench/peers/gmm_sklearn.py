"""scikit-learn peer of `hybrid bench gmm`: GaussianMixture.fit from the same given weights, means and precisions
on the same data (raw little-endian float64 files written by the benchmark), one case "TYPE" per covariance type.
Each case reports the fit's seconds and its lower bound (the "value" the benchmark compares with ours).
scikit-learn's matrix products run on OpenBLAS with all cores; its element-wise NumPy steps run on one."""

import os

from bench_timing import emit, fail, measure, parse_arguments

try:
    import numpy as np
    from sklearn.mixture import GaussianMixture
except ImportError:
    fail("python3-sklearn is not installed (apt-get install -y python3-sklearn)")


def load(directory, name, shape):
    return np.fromfile(os.path.join(directory, name), dtype="<f8").reshape(shape)


def main() -> None:
    args = parse_arguments(__doc__, dir=str, n=int, d=int, k=int, iterations=int, types=[str])
    n, d, k = args.n, args.d, args.k
    data = load(args.dir, "data.f64", (n, d))
    weights = load(args.dir, "weights.f64", (k,))
    means = load(args.dir, "means.f64", (k, d))
    shapes = {"full": (k, d, d), "tied": (d, d), "diag": (k, d), "spherical": (k,)}
    cases = []
    for kind in args.types:
        precisions = load(args.dir, f"precisions_{kind}.f64", shapes[kind])
        result = {}

        def fit():
            model = GaussianMixture(k, covariance_type=kind, tol=0.0, max_iter=args.iterations,
                                    weights_init=weights, means_init=means, precisions_init=precisions)
            model.fit(data)
            result["lower_bound"] = float(model.lower_bound_)

        seconds = measure(fit, args)
        cases.append((kind, seconds, result["lower_bound"]))
    emit(cases)


if __name__ == "__main__":
    main()
