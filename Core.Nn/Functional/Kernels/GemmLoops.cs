using System.Numerics;
using Hybrid.Core.Gpu;

namespace Hybrid.Core.Nn;

/// <summary>Matrix products in plain generic loops (the float64 path): row-major matrices at offsets into larger arrays,
/// so batched products need no copies.</summary>
internal static class GemmLoops
{
    /// <summary>C (M x N at <paramref name="cOffset"/>) += op(A) op(B), where op(A) is M x K and op(B) is K x N; A is
    /// stored K x M when <paramref name="transA"/>, B is stored N x K when <paramref name="transB"/>.</summary>
    public static void Accumulate<T>(bool transA, bool transB, int m, int n, int k, T[] a, int aOffset, T[] b, int bOffset,
        T[] c, int cOffset) where T : unmanaged, INumber<T>
    {
        for (int i = 0; i < m; i++)
        {
            int row = cOffset + i * n;
            for (int p = 0; p < k; p++)
            {
                var aip = transA ? a[aOffset + p * m + i] : a[aOffset + i * k + p];
                if (transB)
                    for (int j = 0; j < n; j++) c[row + j] += aip * b[bOffset + j * k + p];
                else
                {
                    int bRow = bOffset + p * n;
                    for (int j = 0; j < n; j++) c[row + j] += aip * b[bRow + j];
                }
            }
        }
    }
}

/// <summary>y = x W^T + b in plain loops: the float64 path of Linear.</summary>
internal sealed class LinearLoops(LinearShape s) : IPlainLayer
{
    public void Forward<T>(T[] x, T[] weight, T[]? bias, T[] y) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (bias is not null)
            for (int n = 0; n < s.Batch; n++) bias.CopyTo(y, n * s.OutFeatures);
        GemmLoops.Accumulate(false, true, s.Batch, s.OutFeatures, s.InFeatures, x, 0, weight, 0, y, 0);
    }

    public void Backward<T>(T[] x, T[] weight, T[] gradOut, T[]? gradInput, T[]? gradWeight, T[]? gradBias)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (gradInput is not null)
            GemmLoops.Accumulate(false, false, s.Batch, s.InFeatures, s.OutFeatures, gradOut, 0, weight, 0, gradInput, 0);
        if (gradWeight is not null)
            GemmLoops.Accumulate(true, false, s.OutFeatures, s.InFeatures, s.Batch, gradOut, 0, x, 0, gradWeight, 0);
        if (gradBias is not null)
            for (int n = 0; n < s.Batch; n++)
            for (int o = 0; o < s.OutFeatures; o++) gradBias[o] += gradOut[n * s.OutFeatures + o];
    }
}
