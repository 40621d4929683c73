namespace Hybrid.Core.Gpu.Cpu;

/// <summary>Squared Mahalanobis distances ‖y‖² of the mixture passes, with y = (x - μ) U in the form each covariance type
/// computes it (<see cref="ITerm"/>), four doubles a step. Several rows and components go at once: one accumulator per
/// row and component keeps independent chains of fused multiply-adds in flight (one would wait on each one's latency),
/// each loaded factor serves two rows, and one reduction serves four components.</summary>
internal static unsafe class MixtureNorms
{
    const int W = 4;

    /// <summary>The term y whose squares sum to a squared Mahalanobis distance, four doubles at a time.</summary>
    public interface ITerm
    {
        /// <summary>True when the vector factor is the same for every column (it is then read once per component).</summary>
        static abstract bool Uniform { get; }
        /// <summary>The factor of four columns, read from a component's factor row at those columns.</summary>
        static abstract Vector256<double> Factor(double* factor);
        /// <summary>The factor of column e alone.</summary>
        static abstract double Factor(double* factor, int e);
        static abstract Vector256<double> Of(Vector256<double> x, Vector256<double> factor, Vector256<double> centre);
        static abstract double Of(double x, double factor, double centre);
    }

    /// <summary>Full and tied: x is already the product x U, so y = x U - μ U.</summary>
    public readonly struct Projected : ITerm
    {
        public static bool Uniform => true;
        public static Vector256<double> Factor(double* factor) => default;
        public static double Factor(double* factor, int e) => 0.0;
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<double> Of(Vector256<double> x, Vector256<double> factor, Vector256<double> centre) => x - centre;
        public static double Of(double x, double factor, double centre) => x - centre;
    }

    /// <summary>Diag: y = x u - μ u with u the diagonal factor, one fused multiply-add (the data are centred, so x u
    /// and μ u stay comparable to their difference).</summary>
    public readonly struct Scaled : ITerm
    {
        public static bool Uniform => false;
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<double> Factor(double* factor) => Vector256.Load(factor);
        public static double Factor(double* factor, int e) => factor[e];
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<double> Of(Vector256<double> x, Vector256<double> factor, Vector256<double> centre) =>
            Vector256.FusedMultiplyAdd(x, factor, -centre);
        public static double Of(double x, double factor, double centre) => Math.FusedMultiplyAdd(x, factor, -centre);
    }

    /// <summary>Spherical: as <see cref="Scaled"/> with one factor per component.</summary>
    public readonly struct Spherical : ITerm
    {
        public static bool Uniform => true;
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<double> Factor(double* factor) => Vector256.Create(*factor);
        public static double Factor(double* factor, int e) => *factor;
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<double> Of(Vector256<double> x, Vector256<double> factor, Vector256<double> centre) =>
            Vector256.FusedMultiplyAdd(x, factor, -centre);
        public static double Of(double x, double factor, double centre) => Math.FusedMultiplyAdd(x, factor, -centre);
    }

    /// <summary>Σₑ y² of two rows x0, x1 against four components (factor + c·d, centre + c·d), into [n0] and [n1].
    /// One accumulator per row and component keeps eight independent chains of fused multiply-adds in flight, and each
    /// factor and centre vector loaded serves both rows.</summary>
    public static void Norms2x4<T>(double* x0, double* x1, double* factor, double* centre, int d,
        out Vector256<double> n0, out Vector256<double> n1) where T : ITerm
    {
        Vector256<double> a0 = default, a1 = default, a2 = default, a3 = default,
            b0 = default, b1 = default, b2 = default, b3 = default;
        Vector256<double> f0 = T.Factor(factor), f1 = T.Factor(factor + d), f2 = T.Factor(factor + 2 * d),
            f3 = T.Factor(factor + 3 * d);
        int e = 0;
        for (; e <= d - W; e += W)
        {
            if (!T.Uniform)
            {
                f0 = T.Factor(factor + e);
                f1 = T.Factor(factor + d + e);
                f2 = T.Factor(factor + 2 * d + e);
                f3 = T.Factor(factor + 3 * d + e);
            }
            var u = Vector256.Load(x0 + e);
            var v = Vector256.Load(x1 + e);
            var c = Vector256.Load(centre + e);
            var y = T.Of(u, f0, c);
            a0 = Vector256.FusedMultiplyAdd(y, y, a0);
            y = T.Of(v, f0, c);
            b0 = Vector256.FusedMultiplyAdd(y, y, b0);
            c = Vector256.Load(centre + d + e);
            y = T.Of(u, f1, c);
            a1 = Vector256.FusedMultiplyAdd(y, y, a1);
            y = T.Of(v, f1, c);
            b1 = Vector256.FusedMultiplyAdd(y, y, b1);
            c = Vector256.Load(centre + 2 * d + e);
            y = T.Of(u, f2, c);
            a2 = Vector256.FusedMultiplyAdd(y, y, a2);
            y = T.Of(v, f2, c);
            b2 = Vector256.FusedMultiplyAdd(y, y, b2);
            c = Vector256.Load(centre + 3 * d + e);
            y = T.Of(u, f3, c);
            a3 = Vector256.FusedMultiplyAdd(y, y, a3);
            y = T.Of(v, f3, c);
            b3 = Vector256.FusedMultiplyAdd(y, y, b3);
        }
        n0 = Sum4(a0, a1, a2, a3);
        n1 = Sum4(b0, b1, b2, b3);
        if (e < d)
        {
            n0 += Tail4<T>(x0, factor, centre, d, e);
            n1 += Tail4<T>(x1, factor, centre, d, e);
        }
    }

    /// <summary>Σₑ y² of four components whose rows differ (full: component c reads the product at y + c·d).</summary>
    public static Vector256<double> Norms4(double* y, double* centre, int d)
    {
        // Unrolled by component: four independent FMA chains in registers, one per component, as named locals.
        Vector256<double> a0 = default, a1 = default, a2 = default, a3 = default;
        int e = 0;
        for (; e <= d - W; e += W)
        {
            var t0 = Vector256.Load(y + e) - Vector256.Load(centre + e);
            var t1 = Vector256.Load(y + d + e) - Vector256.Load(centre + d + e);
            var t2 = Vector256.Load(y + 2 * d + e) - Vector256.Load(centre + 2 * d + e);
            var t3 = Vector256.Load(y + 3 * d + e) - Vector256.Load(centre + 3 * d + e);
            a0 = Vector256.FusedMultiplyAdd(t0, t0, a0);
            a1 = Vector256.FusedMultiplyAdd(t1, t1, a1);
            a2 = Vector256.FusedMultiplyAdd(t2, t2, a2);
            a3 = Vector256.FusedMultiplyAdd(t3, t3, a3);
        }
        var sums = Sum4(a0, a1, a2, a3);
        if (e < d)
            for (int c = 0; c < 4; c++)
            {
                double t = 0.0;
                for (int f = e; f < d; f++) t += (y[c * d + f] - centre[c * d + f]) * (y[c * d + f] - centre[c * d + f]);
                sums = sums.WithElement(c, sums.GetElement(c) + t);
            }
        return sums;
    }

    // The columns past the last whole vector, for four components of one row.
    static Vector256<double> Tail4<T>(double* x, double* factor, double* centre, int d, int from) where T : ITerm
    {
        var result = Vector256<double>.Zero;
        for (int c = 0; c < 4; c++) result = result.WithElement(c, SquaredNormTail<T>(x, factor + c * d, centre + c * d, from, d));
        return result;
    }

    static double SquaredNormTail<T>(double* x, double* factor, double* centre, int from, int d) where T : ITerm
    {
        double sum = 0.0;
        for (int e = from; e < d; e++)
        {
            double y = T.Of(x[e], T.Factor(factor, e), centre[e]);
            sum += y * y;
        }
        return sum;
    }

    /// <summary>Σₑ y² for one row and one component.</summary>
    public static double SquaredNorm<T>(double* x, double* factor, double* centre, int d) where T : ITerm
    {
        Vector256<double> a0 = default, a1 = default;
        var f = T.Factor(factor);
        int e = 0;
        for (; e <= d - W; e += W)
        {
            if (!T.Uniform) f = T.Factor(factor + e);
            var y = T.Of(Vector256.Load(x + e), f, Vector256.Load(centre + e));
            if ((e & W) == 0) a0 = Vector256.FusedMultiplyAdd(y, y, a0);
            else a1 = Vector256.FusedMultiplyAdd(y, y, a1);
        }
        return Vector256.Sum(a0 + a1) + SquaredNormTail<T>(x, factor, centre, e, d);
    }

    /// <summary>[Σ a0, Σ a1, Σ a2, Σ a3].</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<double> Sum4(Vector256<double> a0, Vector256<double> a1, Vector256<double> a2, Vector256<double> a3)
    {
        if (Avx.IsSupported)
        {
            var h01 = Avx.HorizontalAdd(a0, a1); // a0₀+a0₁, a1₀+a1₁, a0₂+a0₃, a1₂+a1₃
            var h23 = Avx.HorizontalAdd(a2, a3);
            return Avx.Permute2x128(h01, h23, 0x20) + Avx.Permute2x128(h01, h23, 0x31);
        }
        return Vector256.Create(Vector256.Sum(a0), Vector256.Sum(a1), Vector256.Sum(a2), Vector256.Sum(a3));
    }
}
