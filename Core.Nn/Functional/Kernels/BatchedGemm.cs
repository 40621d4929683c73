using Hybrid.Core.Gpu;

namespace Hybrid.Core.Nn;

/// <summary>Stacks of matrix products, C[cIndex[i]] += op(A[aIndex[i]]) op(B[bIndex[i]]), on zero-filled C: float32
/// through Core.Gpu's Blas.Sgemm on the operands' device, float64 through Core.Gpu's <see cref="Blas.Accumulate{T}"/>. Matrices are
/// contiguous M x K (K x M when transposed) blocks of the storage arrays.</summary>
internal static class BatchedGemm
{
    public static void Run(Device device, bool transA, bool transB, int m, int n, int k,
        Array a, int[] aIndex, Array b, int[] bIndex, Array c, int[] cIndex)
    {
        if (m == 0 || n == 0) return;
        switch (a, b, c)
        {
            case (double[] a64, double[] b64, double[] c64):
                for (int i = 0; i < cIndex.Length; i++)
                    Blas.Accumulate(transA, transB, m, n, k, a64, aIndex[i] * m * k, b64, bIndex[i] * k * n, c64, cIndex[i] * m * n);
                break;
            case (float[] a32, float[] b32, float[] c32):
                Float32(device, transA, transB, m, n, k, a32, aIndex, b32, bIndex, c32, cIndex);
                break;
            default:
                throw new ArgumentException("matrix products need float32 or float64 operands of one dtype");
        }
    }

    static void Float32(Device device, bool transA, bool transB, int m, int n, int k,
        float[] a, int[] aIndex, float[] b, int[] bIndex, float[] c, int[] cIndex)
    {
        var (ta, tb) = (transA ? Transpose.Yes : Transpose.No, transB ? Transpose.Yes : Transpose.No);
        using var staging = new Float32Staging(device);
        int count = cIndex.Length;
        if (count == 0) return;
        if (count == 1 && aIndex[0] == 0 && bIndex[0] == 0 && cIndex[0] == 0)
            Blas.Sgemm(ta, tb, m, n, k, 1f, staging.In(a), staging.In(b), 0f, staging.Out(c));
        // A stack of row blocks times one shared B is one tall product (Linear over leading dimensions, and its dA).
        else if (!transA && IsIdentity(aIndex) && IsIdentity(cIndex) && IsZero(bIndex))
            Blas.Sgemm(ta, tb, m * count, n, k, 1f, staging.In(a), staging.In(b), 0f, staging.Out(c));
        // Sum over the stack of A_i^T B_i is one product with the stack as the reduction dimension (dB of the case above).
        else if (transA && !transB && IsIdentity(aIndex) && IsIdentity(bIndex) && IsZero(cIndex))
            Blas.Sgemm(ta, tb, m, n, k * count, 1f, staging.In(a), staging.In(b), 0f, staging.Out(c));
        else
        {
            // Core.Gpu's GEMM takes whole arrays, so each pair of matrices passes through scratch arrays of the device.
            int sizeA = m * k, sizeB = k * n, sizeC = m * n;
            var (sa, sb, sc) = (staging.Scratch(sizeA), staging.Scratch(sizeB), staging.Scratch(sizeC));
            var product = new float[sizeC];
            for (int i = 0; i < count; i++)
            {
                sa.CopyFrom(a.AsSpan(aIndex[i] * sizeA, sizeA));
                sb.CopyFrom(b.AsSpan(bIndex[i] * sizeB, sizeB));
                Blas.Sgemm(ta, tb, m, n, k, 1f, sa, sb, 0f, sc);
                sc.CopyTo(product);
                var target = c.AsSpan(cIndex[i] * sizeC, sizeC);
                TensorPrimitives.Add(target, product, target);
            }
        }
        staging.Download();
    }

    static bool IsIdentity(int[] index)
    {
        for (int i = 0; i < index.Length; i++)
            if (index[i] != i) return false;
        return true;
    }

    static bool IsZero(int[] index) => Array.TrueForAll(index, i => i == 0);
}
