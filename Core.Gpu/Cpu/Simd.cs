namespace Hybrid.Core.Gpu.Cpu;

/// <summary>The element-wise loops the kernels share, 8 floats a step with a scalar tail. Most rows they see are a few dozen
/// floats (an image row, one plane), too short to amortise a general library call, so these inline into the caller.</summary>
internal static unsafe class Simd
{
    const int W = 8;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Zero(float* destination, int count)
    {
        int i = 0;
        for (; i <= count - W; i += W) Vector256<float>.Zero.Store(destination + i);
        for (; i < count; i++) destination[i] = 0f;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Copy(float* destination, float* source, int count)
    {
        int i = 0;
        for (; i <= count - W; i += W) Vector256.Load(source + i).Store(destination + i);
        // The rows of 4x4 planes (VGG's last blocks) are one 128-bit vector each.
        if (i <= count - 4)
        {
            Vector128.Load(source + i).Store(destination + i);
            i += 4;
        }
        for (; i < count; i++) destination[i] = source[i];
    }

    /// <summary>destination[i] += source[i].</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Add(float* destination, float* source, int count)
    {
        int i = 0;
        for (; i <= count - W; i += W) (Vector256.Load(destination + i) + Vector256.Load(source + i)).Store(destination + i);
        if (i <= count - 4)
        {
            (Vector128.Load(destination + i) + Vector128.Load(source + i)).Store(destination + i);
            i += 4;
        }
        for (; i < count; i++) destination[i] += source[i];
    }

    /// <summary>destination[i] = source[i] + value.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void AddScalar(float* destination, float* source, float value, int count)
    {
        var v = Vector256.Create(value);
        int i = 0;
        for (; i <= count - W; i += W) (Vector256.Load(source + i) + v).Store(destination + i);
        for (; i < count; i++) destination[i] = source[i] + value;
    }

    /// <summary>destination[i] *= factor.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Scale(float* destination, float factor, int count)
    {
        var f = Vector256.Create(factor);
        int i = 0;
        for (; i <= count - W; i += W) (Vector256.Load(destination + i) * f).Store(destination + i);
        for (; i < count; i++) destination[i] *= factor;
    }

    /// <summary>The sum of source[0..count), accumulated in eight lanes (also the more accurate order for long rows).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Sum(float* source, int count)
    {
        var lanes = Vector256<float>.Zero;
        int i = 0;
        for (; i <= count - W; i += W) lanes += Vector256.Load(source + i);
        float sum = Vector256.Sum(lanes);
        for (; i < count; i++) sum += source[i];
        return sum;
    }

    /// <summary>The first address at or after <paramref name="p"/> on a 64-byte cache line (a buffer given 16 floats of room
    /// holds an aligned one), so that each 512-bit vector of it is one aligned load.</summary>
    public static float* CacheLineAligned(float* p) => (float*)(((nint)p + 63) & ~(nint)63);

    /// <summary>Writes the transpose of the 8 x 8 block at <paramref name="source"/> (rows <paramref name="sourceStride"/> floats
    /// apart) to <paramref name="destination"/> (rows <paramref name="destinationStride"/> apart): the classic unpack, shuffle,
    /// permute sequence, so a layout change costs two vector passes instead of 64 scalar moves.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Transpose8x8(float* source, long sourceStride, float* destination, long destinationStride)
    {
        if (!Avx.IsSupported)
        {
            TransposeElements(source, sourceStride, destination, destinationStride);
            return;
        }
        // Unrolled register block: the rows and each stage's eight results stay in registers only as named locals.
        var r0 = Avx.LoadVector256(source);
        var r1 = Avx.LoadVector256(source + sourceStride);
        var r2 = Avx.LoadVector256(source + 2 * sourceStride);
        var r3 = Avx.LoadVector256(source + 3 * sourceStride);
        var r4 = Avx.LoadVector256(source + 4 * sourceStride);
        var r5 = Avx.LoadVector256(source + 5 * sourceStride);
        var r6 = Avx.LoadVector256(source + 6 * sourceStride);
        var r7 = Avx.LoadVector256(source + 7 * sourceStride);
        Vector256<float> t0 = Avx.UnpackLow(r0, r1), t1 = Avx.UnpackHigh(r0, r1), t2 = Avx.UnpackLow(r2, r3), t3 = Avx.UnpackHigh(r2, r3);
        Vector256<float> t4 = Avx.UnpackLow(r4, r5), t5 = Avx.UnpackHigh(r4, r5), t6 = Avx.UnpackLow(r6, r7), t7 = Avx.UnpackHigh(r6, r7);
        Vector256<float> s0 = Avx.Shuffle(t0, t2, 0x44), s1 = Avx.Shuffle(t0, t2, 0xEE), s2 = Avx.Shuffle(t1, t3, 0x44), s3 = Avx.Shuffle(t1, t3, 0xEE);
        Vector256<float> s4 = Avx.Shuffle(t4, t6, 0x44), s5 = Avx.Shuffle(t4, t6, 0xEE), s6 = Avx.Shuffle(t5, t7, 0x44), s7 = Avx.Shuffle(t5, t7, 0xEE);
        Avx.Store(destination, Avx.Permute2x128(s0, s4, 0x20));
        Avx.Store(destination + destinationStride, Avx.Permute2x128(s1, s5, 0x20));
        Avx.Store(destination + 2 * destinationStride, Avx.Permute2x128(s2, s6, 0x20));
        Avx.Store(destination + 3 * destinationStride, Avx.Permute2x128(s3, s7, 0x20));
        Avx.Store(destination + 4 * destinationStride, Avx.Permute2x128(s0, s4, 0x31));
        Avx.Store(destination + 5 * destinationStride, Avx.Permute2x128(s1, s5, 0x31));
        Avx.Store(destination + 6 * destinationStride, Avx.Permute2x128(s2, s6, 0x31));
        Avx.Store(destination + 7 * destinationStride, Avx.Permute2x128(s3, s7, 0x31));
    }

    static readonly Vector512<long> PairsLow = Vector512.Create(0L, 1, 8, 9, 4, 5, 12, 13),
        PairsHigh = Vector512.Create(2L, 3, 10, 11, 6, 7, 14, 15),
        HalvesLow = Vector512.Create(0L, 1, 2, 3, 8, 9, 10, 11),
        HalvesHigh = Vector512.Create(4L, 5, 6, 7, 12, 13, 14, 15);

    /// <summary>The float64 form of <see cref="Transpose8x8(float*, long, float*, long)"/> with AVX-512: interleave pairs
    /// of rows, then pairs of pairs, then halves (24 shuffles); element by element where AVX-512 is missing.</summary>
    public static void Transpose8x8(double* source, long sourceStride, double* destination, long destinationStride)
    {
        if (!Avx512F.IsSupported)
        {
            TransposeElements(source, sourceStride, destination, destinationStride);
            return;
        }
        // Unrolled register block: the rows and each stage's eight results stay in registers only as named locals.
        var r0 = Vector512.Load(source);
        var r1 = Vector512.Load(source + sourceStride);
        var r2 = Vector512.Load(source + 2 * sourceStride);
        var r3 = Vector512.Load(source + 3 * sourceStride);
        var r4 = Vector512.Load(source + 4 * sourceStride);
        var r5 = Vector512.Load(source + 5 * sourceStride);
        var r6 = Vector512.Load(source + 6 * sourceStride);
        var r7 = Vector512.Load(source + 7 * sourceStride);
        Vector512<double> t0 = Avx512F.UnpackLow(r0, r1), t1 = Avx512F.UnpackHigh(r0, r1),
            t2 = Avx512F.UnpackLow(r2, r3), t3 = Avx512F.UnpackHigh(r2, r3),
            t4 = Avx512F.UnpackLow(r4, r5), t5 = Avx512F.UnpackHigh(r4, r5),
            t6 = Avx512F.UnpackLow(r6, r7), t7 = Avx512F.UnpackHigh(r6, r7);
        Vector512<double> u0 = Avx512F.PermuteVar8x64x2(t0, PairsLow, t2), u2 = Avx512F.PermuteVar8x64x2(t0, PairsHigh, t2),
            u1 = Avx512F.PermuteVar8x64x2(t1, PairsLow, t3), u3 = Avx512F.PermuteVar8x64x2(t1, PairsHigh, t3),
            u4 = Avx512F.PermuteVar8x64x2(t4, PairsLow, t6), u6 = Avx512F.PermuteVar8x64x2(t4, PairsHigh, t6),
            u5 = Avx512F.PermuteVar8x64x2(t5, PairsLow, t7), u7 = Avx512F.PermuteVar8x64x2(t5, PairsHigh, t7);
        Avx512F.PermuteVar8x64x2(u0, HalvesLow, u4).Store(destination);
        Avx512F.PermuteVar8x64x2(u1, HalvesLow, u5).Store(destination + destinationStride);
        Avx512F.PermuteVar8x64x2(u2, HalvesLow, u6).Store(destination + 2 * destinationStride);
        Avx512F.PermuteVar8x64x2(u3, HalvesLow, u7).Store(destination + 3 * destinationStride);
        Avx512F.PermuteVar8x64x2(u0, HalvesHigh, u4).Store(destination + 4 * destinationStride);
        Avx512F.PermuteVar8x64x2(u1, HalvesHigh, u5).Store(destination + 5 * destinationStride);
        Avx512F.PermuteVar8x64x2(u2, HalvesHigh, u6).Store(destination + 6 * destinationStride);
        Avx512F.PermuteVar8x64x2(u3, HalvesHigh, u7).Store(destination + 7 * destinationStride);
    }

    /// <summary>The 8 x 8 transpose element by element, for processors without the vector instructions.</summary>
    static void TransposeElements<T>(T* source, long sourceStride, T* destination, long destinationStride) where T : unmanaged
    {
        for (int r = 0; r < W; r++)
            for (int c = 0; c < W; c++) destination[c * destinationStride + r] = source[r * sourceStride + c];
    }

    /// <summary>destination[i] = source[2 i]: the even elements, as a stride-2 convolution reads its input. Two loads, a shuffle
    /// and a cross-lane permute per 8 outputs. The last vector pair also reads source[2 count - 1], one past the last even
    /// element, so the caller leaves a float of slack after the source: on 8-wide CIFAR rows, stopping short of it instead left
    /// every row to the scalar loop.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void CopyEven(float* destination, float* source, int count)
    {
        int i = 0;
        if (Avx2.IsSupported)
            for (; i <= count - W; i += W)
            {
                var even = Avx.Shuffle(Avx.LoadVector256(source + 2 * i), Avx.LoadVector256(source + 2 * i + W), 0x88);
                Avx.Store(destination + i, Avx2.Permute4x64(even.AsDouble(), 0xD8).AsSingle());
            }
        for (; i < count; i++) destination[i] = source[2 * i];
    }

    /// <summary>destination[2 i] += source[i]: the adjoint of <see cref="CopyEven"/>, leaving the odd elements as they are
    /// (the vector loop rewrites them unchanged, up to destination[2 count - 1], which needs the same slack).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void AddEven(float* destination, float* source, int count)
    {
        int i = 0;
        if (Avx.IsSupported)
            for (; i <= count - W; i += W)
            {
                var v = Avx.LoadVector256(source + i);
                Vector256<float> low = Avx.UnpackLow(v, Vector256<float>.Zero), high = Avx.UnpackHigh(v, Vector256<float>.Zero);
                float* d = destination + 2 * i;
                Avx.Store(d, Avx.Add(Avx.LoadVector256(d), Avx.Permute2x128(low, high, 0x20)));
                Avx.Store(d + W, Avx.Add(Avx.LoadVector256(d + W), Avx.Permute2x128(low, high, 0x31)));
            }
        for (; i < count; i++) destination[2 * i] += source[i];
    }
}
