"""NumPy peer of `hybrid bench cka`'s search cases: exact top-k inner-product search, float32, scores = Q E^T on the
system BLAS then argpartition and a sort of the k best per query. The stored rows and the queries come from the same
integer hash as the benchmark's (entries h / 2^24 - 0.5, with h the top 24 bits of SplitMix64's output for the
flat index t), so both search identical data without a 2 GB file; the hit rows are written to topk_numpy_B.i64."""

import os

from bench_timing import emit, fail, measure, parse_arguments

try:
    import numpy as np
except ImportError:
    fail("python3-numpy is not installed (apt-get install -y python3-numpy)")

GOLDEN = np.uint64(0x9E3779B97F4A7C15)
MIX1 = np.uint64(0xBF58476D1CE4E5B9)
MIX2 = np.uint64(0x94D049BB133111EB)


def splitmix_top24(t):
    with np.errstate(over="ignore"):
        z = t * GOLDEN
        z ^= z >> np.uint64(30)
        z *= MIX1
        z ^= z >> np.uint64(27)
        z *= MIX2
        z ^= z >> np.uint64(31)
    return z >> np.uint64(40)


def generate(start, count, dimension):
    out = np.empty((count, dimension), dtype=np.float32)
    rows = max(1, (1 << 24) // dimension)
    for r in range(0, count, rows):
        t = np.arange(start + r * dimension, start + min(count, r + rows) * dimension, dtype=np.uint64)
        h = splitmix_top24(t)
        out[r:r + rows] = (h.astype(np.float32) / np.float32(1 << 24) - np.float32(0.5)).reshape(-1, dimension)
    return out


def main() -> None:
    args = parse_arguments(__doc__, dir=str, count=int, dimension=int, k=int, batches=[int])
    stored = generate(0, args.count, args.dimension)
    cases = []
    for b in args.batches:
        queries = generate(args.count * args.dimension, b, args.dimension)
        result = {}

        def search():
            scores = queries @ stored.T
            best = np.argpartition(-scores, args.k - 1, axis=1)[:, :args.k]
            order = np.argsort(-np.take_along_axis(scores, best, axis=1), axis=1, kind="stable")
            result["rows"] = np.take_along_axis(best, order, axis=1)

        cases.append((f"top-{args.k} batch {b}", measure(search, args)))
        result["rows"].astype("<i8").tofile(os.path.join(args.dir, f"topk_numpy_{b}.i64"))
    emit(cases)


if __name__ == "__main__":
    main()
