namespace Hybrid.Core.Gpu.Cpu;

/// <summary>The vector loops of the mixture passes around their products: the weighted rows of the full and tied scatter,
/// the responsibilities' column sums, and the normalisation of log-densities into responsibilities; eight doubles a step
/// (Vector512; where AVX-512 is missing, .NET runs it as pairs of 256-bit operations) with a scalar tail. Rows are d
/// long (tens of values), too short to amortise a library call; the weighting loop instead keeps four vectors of sums
/// in registers while it runs down the rows of a block.</summary>
internal static unsafe class MixtureSimd
{
    const int W = 8;

    /// <summary>For one component, over the <paramref name="count"/> rows listed in <paramref name="used"/> (x with stride
    /// d, responsibilities r and their roots with stride k): with c = x - s, sums += Σ r c, and row n of
    /// <paramref name="weighted"/> (stride <paramref name="stride"/>, zero beyond column d) = √r c, the rows whose Gram
    /// matrix is the scatter. Columns go four vectors at a time with the sums held in registers across the rows.</summary>
    public static void WeightRows(double* x, int d, int* used, int count, double* r, double* roots, int k, double* shift,
        double* sums, double* weighted, int stride)
    {
        int e = 0;
        for (; e <= d - 4 * W; e += 4 * W)
        {
            // Unrolled by four vectors: the sums stay in registers across the rows only as named locals.
            Vector512<double> m0 = Vector512.Load(sums + e), m1 = Vector512.Load(sums + e + W),
                m2 = Vector512.Load(sums + e + 2 * W), m3 = Vector512.Load(sums + e + 3 * W);
            Vector512<double> h0 = Vector512.Load(shift + e), h1 = Vector512.Load(shift + e + W),
                h2 = Vector512.Load(shift + e + 2 * W), h3 = Vector512.Load(shift + e + 3 * W);
            for (int n = 0; n < count; n++)
            {
                int i = used[n];
                double* row = x + i * d + e, target = weighted + n * stride + e;
                var rv = Vector512.Create(r[i * k]);
                var root = Vector512.Create(roots[i * k]);
                var c0 = Vector512.Load(row) - h0;
                var c1 = Vector512.Load(row + W) - h1;
                var c2 = Vector512.Load(row + 2 * W) - h2;
                var c3 = Vector512.Load(row + 3 * W) - h3;
                m0 = Vector512.FusedMultiplyAdd(rv, c0, m0);
                m1 = Vector512.FusedMultiplyAdd(rv, c1, m1);
                m2 = Vector512.FusedMultiplyAdd(rv, c2, m2);
                m3 = Vector512.FusedMultiplyAdd(rv, c3, m3);
                (root * c0).Store(target);
                (root * c1).Store(target + W);
                (root * c2).Store(target + 2 * W);
                (root * c3).Store(target + 3 * W);
            }
            m0.Store(sums + e); m1.Store(sums + e + W); m2.Store(sums + e + 2 * W); m3.Store(sums + e + 3 * W);
        }
        for (; e < stride; e++)
            for (int n = 0; n < count; n++)
            {
                int i = used[n];
                if (e >= d)
                {
                    weighted[n * stride + e] = 0.0;
                    continue;
                }
                double c = x[i * d + e] - shift[e];
                sums[e] += r[i * k] * c;
                weighted[n * stride + e] = roots[i * k] * c;
            }
    }

    /// <summary>The row <paramref name="factor"/> x (d values) into <paramref name="target"/>, zero from column d to
    /// <paramref name="stride"/>.</summary>
    public static void ScaledRow(double* x, int d, double factor, double* target, int stride)
    {
        var f = Vector512.Create(factor);
        int e = 0;
        for (; e <= d - W; e += W) (Vector512.Load(x + e) * f).Store(target + e);
        for (; e < d; e++) target[e] = factor * x[e];
        for (; e < stride; e++) target[e] = 0.0;
    }

    /// <summary>destination = √source over <paramref name="count"/> values.</summary>
    public static void SquareRoots(double* source, double* destination, int count)
    {
        int e = 0;
        for (; e <= count - W; e += W) Vector512.Sqrt(Vector512.Load(source + e)).Store(destination + e);
        for (; e < count; e++) destination[e] = Math.Sqrt(source[e]);
    }

    // Below this, exp underflows (to subnormals, then zero): such terms are set to exactly 0, which also keeps the
    // exponent of 2ⁿ in Exp below normal.
    const double ExpFloor = -708.0;

    // exp(v) for ExpFloor <= v <= 0 (any other lane is overwritten by the caller): v = n ln 2 + r with |r| <= ½ ln 2
    // (ln 2 in two parts, so r is exact to the last bits), eʳ by its Taylor series to r¹³ (the remainder is below
    // 1e-17 relative), times 2ⁿ built in the exponent bits. Half of Vector512.Exp's time or less, which handles every
    // input; as close to Math.Exp as it (4.3e-16 relative at worst over 65,536 points in [-708, 0]).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector512<double> Exp(Vector512<double> v)
    {
        var n = Vector512.Round(v * Vector512.Create(1.4426950408889634));
        var r = Vector512.FusedMultiplyAdd(n, Vector512.Create(-6.93147180369123816490e-01), v);
        r = Vector512.FusedMultiplyAdd(n, Vector512.Create(-1.90821492927058770002e-10), r);
        // Estrin's scheme: pairs of terms, then pairs of pairs, so that the chain of dependent operations is short.
        var r2 = r * r;
        var r4 = r2 * r2;
        var p01 = r + Vector512<double>.One;
        var p23 = Vector512.FusedMultiplyAdd(r, Vector512.Create(1.0 / 6.0), Vector512.Create(0.5));
        var p45 = Vector512.FusedMultiplyAdd(r, Vector512.Create(1.0 / 120.0), Vector512.Create(1.0 / 24.0));
        var p67 = Vector512.FusedMultiplyAdd(r, Vector512.Create(1.0 / 5040.0), Vector512.Create(1.0 / 720.0));
        var p89 = Vector512.FusedMultiplyAdd(r, Vector512.Create(1.0 / 362880.0), Vector512.Create(1.0 / 40320.0));
        var p1011 = Vector512.FusedMultiplyAdd(r, Vector512.Create(1.0 / 39916800.0), Vector512.Create(1.0 / 3628800.0));
        var p1213 = Vector512.FusedMultiplyAdd(r, Vector512.Create(1.0 / 6227020800.0), Vector512.Create(1.0 / 479001600.0));
        var low = Vector512.FusedMultiplyAdd(r4, Vector512.FusedMultiplyAdd(r2, p67, p45),
            Vector512.FusedMultiplyAdd(r2, p23, p01));
        var high = Vector512.FusedMultiplyAdd(r4, p1213, Vector512.FusedMultiplyAdd(r2, p1011, p89));
        var p = Vector512.FusedMultiplyAdd(r4 * r4, high, low);
        var scale = Vector512.ShiftLeft(Vector512.ConvertToInt64(n) + Vector512.Create(1023L), 52).AsDouble();
        return p * scale;
    }

    /// <summary>Turns each of <paramref name="rows"/> rows of k weighted log-densities into responsibilities
    /// exp(v - max) / Σ exp(v - max), in place, and returns <paramref name="total"/> plus the log normalisers
    /// max + log Σ exp(v - max), added in row order (the block's log-likelihood, carried on over slices of whole
    /// groups of eight rows). A row goes eight values a step, then four, then one; the logarithms go eight rows at a
    /// time.</summary>
    public static double Normalise(double* values, int rows, int k, double total)
    {
        int padded = (rows + W - 1) & ~(W - 1);
        double* maxima = stackalloc double[padded];
        double* sums = stackalloc double[padded];
        for (int i = 0; i < rows; i++)
        {
            double* v = values + (long)i * k;
            double max = RowMax(v, k);
            double sum = ExpRow(v, k, max);
            maxima[i] = max;
            sums[i] = sum;
            Scale(v, k, 1.0 / sum);
        }
        for (int i = rows; i < padded; i++) (maxima[i], sums[i]) = (0.0, 1.0);
        for (int i = 0; i < padded; i += W)
        {
            var norms = Vector512.Load(maxima + i) + Vector512.Log(Vector512.Load(sums + i));
            for (int lane = 0; lane < W && i + lane < rows; lane++) total += norms.GetElement(lane);
        }
        return total;
    }

    static double RowMax(double* v, int k)
    {
        var lanes = Vector256.Create(double.NegativeInfinity);
        int e = 0;
        for (; e <= k - W; e += W)
        {
            var m = Vector512.Load(v + e);
            lanes = Vector256.Max(lanes, Vector256.Max(m.GetLower(), m.GetUpper()));
        }
        if (e <= k - 4)
        {
            lanes = Vector256.Max(lanes, Vector256.Load(v + e));
            e += 4;
        }
        double max = Math.Max(Math.Max(lanes[0], lanes[1]), Math.Max(lanes[2], lanes[3]));
        for (; e < k; e++) max = Math.Max(max, v[e]);
        return max;
    }

    // v = exp(v - max) in place (exactly 0 below the floor); returns the row's sum.
    static double ExpRow(double* v, int k, double max)
    {
        var floor = Vector512.Create(ExpFloor);
        var maxv = Vector512.Create(max);
        var lanes = Vector512<double>.Zero;
        int e = 0;
        for (; e <= k - W; e += W)
        {
            var shifted = Vector512.Load(v + e) - maxv;
            var exp = Vector512.ConditionalSelect(Vector512.LessThan(shifted, floor), Vector512<double>.Zero,
                Exp(Vector512.Max(shifted, floor)));
            exp.Store(v + e);
            lanes += exp;
        }
        double sum = Vector512.Sum(lanes);
        if (e <= k - 4)
        {
            var shifted = Vector256.Load(v + e) - maxv.GetLower();
            var exp = Vector256.ConditionalSelect(Vector256.LessThan(shifted, floor.GetLower()), Vector256<double>.Zero,
                Exp(Vector512.Create(Vector256.Max(shifted, floor.GetLower()), Vector256<double>.Zero)).GetLower());
            exp.Store(v + e);
            sum += Vector256.Sum(exp);
            e += 4;
        }
        for (; e < k; e++) sum += v[e] = v[e] - max < ExpFloor ? 0.0 : Math.Exp(v[e] - max);
        return sum;
    }

    static void Scale(double* v, int k, double factor)
    {
        var f = Vector512.Create(factor);
        int e = 0;
        for (; e <= k - W; e += W) (Vector512.Load(v + e) * f).Store(v + e);
        if (e <= k - 4)
        {
            (Vector256.Load(v + e) * f.GetLower()).Store(v + e);
            e += 4;
        }
        for (; e < k; e++) v[e] *= factor;
    }

    /// <summary>sums[j] += Σᵢ r[i k + j] over <paramref name="rows"/> rows of k, row by row in row order.</summary>
    public static void AddColumns(double* r, int rows, int k, double* sums)
    {
        for (int i = 0; i < rows; i++)
        {
            double* row = r + (long)i * k;
            int e = 0;
            for (; e <= k - W; e += W) (Vector512.Load(sums + e) + Vector512.Load(row + e)).Store(sums + e);
            for (; e < k; e++) sums[e] += row[e];
        }
    }
}
