namespace Hybrid.Core.Gpu.Cpu;

/// <summary>Squared Mahalanobis distances ‖y - c‖² of the matrix-form mixture passes, with y = x U the product of full
/// or tied and c = μ U, eight doubles a step (Vector512; where AVX-512 is missing, .NET runs it as pairs of 256-bit
/// operations). Several rows and components go at once: one accumulator per row and component keeps independent chains
/// of fused multiply-adds in flight (one would wait on each one's latency), and one reduction serves four components.</summary>
internal static unsafe class MixtureNorms
{
    const int W = 8;

    /// <summary>Σₑ (y - c)² of two rows y0, y1 against four components' centres (centre + c·d), into [n0] and [n1].
    /// One accumulator per row and component keeps eight independent chains of fused multiply-adds in flight, and each
    /// centre vector loaded serves both rows.</summary>
    public static void Norms2x4(double* y0, double* y1, double* centre, int d, out Vector256<double> n0,
        out Vector256<double> n1)
    {
        // Unrolled register tile: the JIT keeps named Vector512 locals in registers but spills any array of them.
        Vector512<double> a0 = default, a1 = default, a2 = default, a3 = default,
            b0 = default, b1 = default, b2 = default, b3 = default;
        int e = 0;
        for (; e <= d - W; e += W)
        {
            var u = Vector512.Load(y0 + e);
            var v = Vector512.Load(y1 + e);
            var c = Vector512.Load(centre + e);
            a0 = Square(u - c, a0);
            b0 = Square(v - c, b0);
            c = Vector512.Load(centre + d + e);
            a1 = Square(u - c, a1);
            b1 = Square(v - c, b1);
            c = Vector512.Load(centre + 2 * d + e);
            a2 = Square(u - c, a2);
            b2 = Square(v - c, b2);
            c = Vector512.Load(centre + 3 * d + e);
            a3 = Square(u - c, a3);
            b3 = Square(v - c, b3);
        }
        n0 = Sum4(a0, a1, a2, a3);
        n1 = Sum4(b0, b1, b2, b3);
        for (int j = 0; j < 4 && e < d; j++)
        {
            n0 = n0.WithElement(j, n0.GetElement(j) + Tail(y0, centre + j * d, e, d));
            n1 = n1.WithElement(j, n1.GetElement(j) + Tail(y1, centre + j * d, e, d));
        }
    }

    /// <summary>Σₑ (y - c)² of four components whose rows differ (full: component j reads the product at y + j·d).</summary>
    public static Vector256<double> Norms4(double* y, double* centre, int d)
    {
        // Unrolled by component: four independent FMA chains in registers, one per component, as named locals.
        Vector512<double> a0 = default, a1 = default, a2 = default, a3 = default;
        int e = 0;
        for (; e <= d - W; e += W)
        {
            a0 = Square(Vector512.Load(y + e) - Vector512.Load(centre + e), a0);
            a1 = Square(Vector512.Load(y + d + e) - Vector512.Load(centre + d + e), a1);
            a2 = Square(Vector512.Load(y + 2 * d + e) - Vector512.Load(centre + 2 * d + e), a2);
            a3 = Square(Vector512.Load(y + 3 * d + e) - Vector512.Load(centre + 3 * d + e), a3);
        }
        var sums = Sum4(a0, a1, a2, a3);
        for (int j = 0; j < 4 && e < d; j++)
            sums = sums.WithElement(j, sums.GetElement(j) + Tail(y + j * d, centre + j * d, e, d));
        return sums;
    }

    /// <summary>Σₑ (y - c)² for one row and one component.</summary>
    public static double SquaredNorm(double* y, double* centre, int d)
    {
        Vector512<double> a0 = default, a1 = default;
        int e = 0;
        for (; e <= d - W; e += W)
        {
            var t = Vector512.Load(y + e) - Vector512.Load(centre + e);
            if ((e & W) == 0) a0 = Square(t, a0);
            else a1 = Square(t, a1);
        }
        return Vector512.Sum(a0 + a1) + Tail(y, centre, e, d);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector512<double> Square(Vector512<double> t, Vector512<double> sum) => Vector512.FusedMultiplyAdd(t, t, sum);

    // The columns past the last whole vector.
    static double Tail(double* y, double* centre, int from, int d)
    {
        double sum = 0.0;
        for (int e = from; e < d; e++) sum += (y[e] - centre[e]) * (y[e] - centre[e]);
        return sum;
    }

    /// <summary>[Σ a0, Σ a1, Σ a2, Σ a3].</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<double> Sum4(Vector512<double> a0, Vector512<double> a1, Vector512<double> a2, Vector512<double> a3)
    {
        // Halves first: four 256-bit vectors of the same sums, then one horizontal reduction serves all four.
        Vector256<double> b0 = a0.GetLower() + a0.GetUpper(), b1 = a1.GetLower() + a1.GetUpper(),
            b2 = a2.GetLower() + a2.GetUpper(), b3 = a3.GetLower() + a3.GetUpper();
        if (Avx.IsSupported)
        {
            var h01 = Avx.HorizontalAdd(b0, b1); // b0₀+b0₁, b1₀+b1₁, b0₂+b0₃, b1₂+b1₃
            var h23 = Avx.HorizontalAdd(b2, b3);
            return Avx.Permute2x128(h01, h23, 0x20) + Avx.Permute2x128(h01, h23, 0x31);
        }
        return Vector256.Create(Vector256.Sum(b0), Vector256.Sum(b1), Vector256.Sum(b2), Vector256.Sum(b3));
    }
}
