using Hybrid.Core.Gpu.Reference;

namespace Hybrid.Core.Gpu;

/// <summary>GEMM-class entry points, validated once here and run by the device of the operands.</summary>
public static class Blas
{
    /// <summary>C = alpha * op(A) * op(B) + beta * C (row-major). With beta = 0, C is only written, never read.</summary>
    public static void Sgemm(GemmShape g, DeviceArray<float> a, DeviceArray<float> b, DeviceArray<float> c)
    {
        Validate.NonNegative(g.M, "M", g);
        Validate.NonNegative(g.N, "N", g);
        Validate.NonNegative(g.K, "K", g);
        var device = c.Device;
        var (ar, ac) = g.AStored;
        var (br, bc) = g.BStored;
        Validate.Matrix(a, "A", ar, ac, g.Lda, device, g);
        Validate.Matrix(b, "B", br, bc, g.Ldb, device, g);
        Validate.Matrix(c, "C", g.M, g.N, g.Ldc, device, g);
        if (g.M == 0 || g.N == 0) return;
        device.Kernels.Gemm(g, a, b, c);
    }

    /// <summary>C = alpha * op(A) * op(B) + beta * C with tight leading dimensions.</summary>
    public static void Sgemm(Transpose ta, Transpose tb, int m, int n, int k, float alpha, DeviceArray<float> a, DeviceArray<float> b,
        float beta, DeviceArray<float> c) =>
        Sgemm(GemmShape.Dense(ta, tb, m, n, k, alpha, beta), a, b, c);

    /// <summary>C += op(A) op(B) on host arrays of float32 or float64 in the plain loops of the specification (Core.Nn's
    /// float64 matrix products): op(A) is M x K (A stored K x M when <paramref name="transA"/>), op(B) is K x N (B stored
    /// N x K when <paramref name="transB"/>), each a dense row-major block at its offset, so a stack of matrices needs no
    /// copies. Each element of C adds its K products to its old value in order.</summary>
    public static void Accumulate<T>(bool transA, bool transB, int m, int n, int k, T[] a, int aOffset, T[] b, int bOffset,
        T[] c, int cOffset) where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        ArgumentNullException.ThrowIfNull(c);
        var shape = $"accumulate({m}x{n}x{k})";
        Validate.NonNegative(m, "M", shape);
        Validate.NonNegative(n, "N", shape);
        Validate.NonNegative(k, "K", shape);
        Validate.Range(aOffset, m * k, a.Length, shape + ": A");
        Validate.Range(bOffset, k * n, b.Length, shape + ": B");
        Validate.Range(cOffset, m * n, c.Length, shape + ": C");
        ReferenceLoops.GemmAccumulate(transA, transB, m, n, k, a, aOffset, transA ? m : k, b, bOffset, transB ? k : n, c, cOffset, n);
    }
}
