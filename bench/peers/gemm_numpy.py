"""NumPy peer of `hybrid bench gemm`: square float32 C = A B, one case "sgemm N" per size.
NumPy's matmul runs the system BLAS (OpenBLAS on Debian) on all cores, writing into a preallocated C as we do."""


from bench_timing import emit, fail, measure, parse_arguments

try:
    import numpy as np
except ImportError:
    fail("python3-numpy is not installed (apt-get install -y python3-numpy)")


def main() -> None:
    args = parse_arguments(__doc__, sizes=[int])
    rng = np.random.default_rng(args.seed)
    cases = []
    for n in args.sizes:
        a = rng.standard_normal((n, n), dtype=np.float32)
        b = rng.standard_normal((n, n), dtype=np.float32)
        c = np.empty((n, n), dtype=np.float32)
        cases.append((f"sgemm {n}", measure(lambda: np.matmul(a, b, out=c), args)))
    emit(cases)


if __name__ == "__main__":
    main()
