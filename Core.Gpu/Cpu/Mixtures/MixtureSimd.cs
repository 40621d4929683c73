namespace Hybrid.Core.Gpu.Cpu;

/// <summary>The moment and normalisation loops of the mixture passes, four doubles a step with a scalar tail. Rows are
/// d long (tens of values), too short to amortise a library call; the moment loops instead keep four vectors of sums in
/// registers while they run down the rows of a block.</summary>
internal static unsafe class MixtureSimd
{
    const int W = 4;

    /// <summary>For one component, over <paramref name="rows"/> rows x (stride d) with responsibilities r (stride k):
    /// with c = x - s, sums += Σ r c and scatter += Σ r c² (element-wise). Columns go four vectors at a time with the
    /// sums held in registers across the rows; a zero responsibility adds exactly zero, so no row is skipped.</summary>
    public static void AddMoments(double* x, int rows, int d, double* r, int k, double* shift, double* sums, double* scatter)
    {
        int e = 0;
        for (; e <= d - 4 * W; e += 4 * W)
        {
            // Unrolled by four vectors: the sums stay in registers across the rows only as named locals.
            Vector256<double> m0 = Vector256.Load(sums + e), m1 = Vector256.Load(sums + e + W),
                m2 = Vector256.Load(sums + e + 2 * W), m3 = Vector256.Load(sums + e + 3 * W);
            Vector256<double> q0 = Vector256.Load(scatter + e), q1 = Vector256.Load(scatter + e + W),
                q2 = Vector256.Load(scatter + e + 2 * W), q3 = Vector256.Load(scatter + e + 3 * W);
            Vector256<double> h0 = Vector256.Load(shift + e), h1 = Vector256.Load(shift + e + W),
                h2 = Vector256.Load(shift + e + 2 * W), h3 = Vector256.Load(shift + e + 3 * W);
            for (int i = 0; i < rows; i++)
            {
                var rv = Vector256.Create(r[i * k]);
                double* row = x + i * d + e;
                var c0 = Vector256.Load(row) - h0;
                var c1 = Vector256.Load(row + W) - h1;
                var c2 = Vector256.Load(row + 2 * W) - h2;
                var c3 = Vector256.Load(row + 3 * W) - h3;
                var t0 = rv * c0;
                var t1 = rv * c1;
                var t2 = rv * c2;
                var t3 = rv * c3;
                m0 += t0;
                m1 += t1;
                m2 += t2;
                m3 += t3;
                q0 = Vector256.FusedMultiplyAdd(t0, c0, q0);
                q1 = Vector256.FusedMultiplyAdd(t1, c1, q1);
                q2 = Vector256.FusedMultiplyAdd(t2, c2, q2);
                q3 = Vector256.FusedMultiplyAdd(t3, c3, q3);
            }
            m0.Store(sums + e); m1.Store(sums + e + W); m2.Store(sums + e + 2 * W); m3.Store(sums + e + 3 * W);
            q0.Store(scatter + e); q1.Store(scatter + e + W); q2.Store(scatter + e + 2 * W); q3.Store(scatter + e + 3 * W);
        }
        for (; e <= d - W; e += W)
        {
            Vector256<double> m = Vector256.Load(sums + e), q = Vector256.Load(scatter + e), h = Vector256.Load(shift + e);
            for (int i = 0; i < rows; i++)
            {
                var c = Vector256.Load(x + i * d + e) - h;
                var t = Vector256.Create(r[i * k]) * c;
                m += t;
                q = Vector256.FusedMultiplyAdd(t, c, q);
            }
            m.Store(sums + e);
            q.Store(scatter + e);
        }
        for (; e < d; e++)
            for (int i = 0; i < rows; i++)
            {
                double c = x[i * d + e] - shift[e], t = r[i * k] * c;
                sums[e] += t;
                scatter[e] += t * c;
            }
    }

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
            Vector256<double> m0 = Vector256.Load(sums + e), m1 = Vector256.Load(sums + e + W),
                m2 = Vector256.Load(sums + e + 2 * W), m3 = Vector256.Load(sums + e + 3 * W);
            Vector256<double> h0 = Vector256.Load(shift + e), h1 = Vector256.Load(shift + e + W),
                h2 = Vector256.Load(shift + e + 2 * W), h3 = Vector256.Load(shift + e + 3 * W);
            for (int n = 0; n < count; n++)
            {
                int i = used[n];
                double* row = x + i * d + e, target = weighted + n * stride + e;
                var rv = Vector256.Create(r[i * k]);
                var root = Vector256.Create(roots[i * k]);
                var c0 = Vector256.Load(row) - h0;
                var c1 = Vector256.Load(row + W) - h1;
                var c2 = Vector256.Load(row + 2 * W) - h2;
                var c3 = Vector256.Load(row + 3 * W) - h3;
                m0 = Vector256.FusedMultiplyAdd(rv, c0, m0);
                m1 = Vector256.FusedMultiplyAdd(rv, c1, m1);
                m2 = Vector256.FusedMultiplyAdd(rv, c2, m2);
                m3 = Vector256.FusedMultiplyAdd(rv, c3, m3);
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

    /// <summary>destination = √source over <paramref name="count"/> values.</summary>
    public static void SquareRoots(double* source, double* destination, int count)
    {
        int e = 0;
        for (; e <= count - W; e += W) Vector256.Sqrt(Vector256.Load(source + e)).Store(destination + e);
        for (; e < count; e++) destination[e] = Math.Sqrt(source[e]);
    }

    // Below this, exp underflows (to subnormals, then zero): such terms are set to exactly 0, which also keeps
    // Vector256.Exp on its vector path (it redoes a whole vector in scalar code when any lane is out of range).
    const double ExpFloor = -708.0;

    /// <summary>Turns each of <paramref name="rows"/> rows of k weighted log-densities into responsibilities
    /// exp(v - max) / Σ exp(v - max), in place, and returns the sum over rows, in row order, of the log normalisers
    /// max + log Σ exp(v - max) (the block's log-likelihood). The logarithms go four rows at a time.</summary>
    public static double Normalise(double* values, int rows, int k)
    {
        var floor = Vector256.Create(ExpFloor);
        int vectors = k & ~(W - 1);
        int padded = (rows + W - 1) & ~(W - 1);
        double* maxima = stackalloc double[padded];
        double* sums = stackalloc double[padded];
        for (int i = 0; i < rows; i++)
        {
            double* v = values + (long)i * k;
            var maxLanes = Vector256.Create(double.NegativeInfinity);
            for (int e = 0; e < vectors; e += W) maxLanes = Vector256.Max(maxLanes, Vector256.Load(v + e));
            double max = Math.Max(Math.Max(maxLanes[0], maxLanes[1]), Math.Max(maxLanes[2], maxLanes[3]));
            for (int e = vectors; e < k; e++) max = Math.Max(max, v[e]);

            var maxv = Vector256.Create(max);
            var lanes = Vector256<double>.Zero;
            for (int e = 0; e < vectors; e += W)
            {
                var shifted = Vector256.Load(v + e) - maxv;
                var exp = Vector256.ConditionalSelect(Vector256.LessThan(shifted, floor), Vector256<double>.Zero,
                    Vector256.Exp(Vector256.Max(shifted, floor)));
                exp.Store(v + e);
                lanes += exp;
            }
            double sum = Vector256.Sum(lanes);
            for (int e = vectors; e < k; e++) sum += v[e] = v[e] - max < ExpFloor ? 0.0 : Math.Exp(v[e] - max);
            maxima[i] = max;
            sums[i] = sum;

            double inverse = 1.0 / sum;
            var inversev = Vector256.Create(inverse);
            for (int e = 0; e < vectors; e += W) (Vector256.Load(v + e) * inversev).Store(v + e);
            for (int e = vectors; e < k; e++) v[e] *= inverse;
        }
        for (int i = rows; i < padded; i++) (maxima[i], sums[i]) = (0.0, 1.0);
        double total = 0.0;
        for (int i = 0; i < padded; i += W)
        {
            var norms = Vector256.Load(maxima + i) + Vector256.Log(Vector256.Load(sums + i));
            for (int lane = 0; lane < W && i + lane < rows; lane++) total += norms.GetElement(lane);
        }
        return total;
    }
}
