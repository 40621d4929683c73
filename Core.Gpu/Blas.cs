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
}
