namespace Hybrid.Core.Gpu.Cpu;

/// <summary>The input gradient of a stride-2 convolution without col2im. Input pixels of one phase (ih % 2, iw % 2) = (a, b)
/// receive dY only through the kernel rows kh = a + padH (mod 2) and columns kw = b + padW (mod 2), and input row 2u + a
/// meets output row u + (a + padH - kh) / 2: each phase is a stride-1 convolution of dY with that sub-kernel, which
/// <see cref="NarrowGemm.Multiply"/> reads straight off one padded copy of dY (<see cref="Direct"/>). All four phases share the
/// copy; each uses the subset of its taps that its sub-kernel needs, so the work is the convolution's and nothing more. The
/// phase planes are then interleaved into the input gradient, two rows at a time.</summary>
internal sealed unsafe class PhaseGradient
{
    readonly Direct plane;
    readonly int channels, phaseHeight, phaseWidth;
    /// <summary>Per phase: its depth (taps) and, for each, the weight's (kh, kw) and the tap in <see cref="plane"/>'s numbering.</summary>
    readonly (int Kh, int Kw, int Tap)[][] phases = new (int, int, int)[4][];

    PhaseGradient(in Conv2dShape s)
    {
        channels = s.InChannels;
        phaseHeight = s.Height / 2;
        phaseWidth = s.Width / 2;
        var (padH, kernelH) = Axis(s.Height, s.OutHeight, s.PadH, s.KernelH);
        var (padW, kernelW) = Axis(s.Width, s.OutWidth, s.PadW, s.KernelW);
        plane = new Direct(s.OutChannels, s.OutHeight, s.OutWidth, padH, padW, 1, 1, 1, 1, kernelH, kernelW, phaseWidth);
        for (int a = 0; a < 2; a++)
            for (int b = 0; b < 2; b++)
            {
                var taps = new List<(int, int, int)>();
                for (int o = 0; o < s.OutChannels; o++)
                    for (int kh = (a + s.PadH) & 1; kh < s.KernelH; kh += 2)
                        for (int kw = (b + s.PadW) & 1; kw < s.KernelW; kw += 2)
                            taps.Add((kh, kw, (o * kernelH + Offset(a, s.PadH, kh) + padH) * kernelW + Offset(b, s.PadW, kw) + padW));
                phases[a * 2 + b] = taps.ToArray();
            }
    }

    /// <summary>Whether the phases are stride-1 convolutions the narrow kernels take: stride 2 without dilation, even planes whose
    /// phases are whole strips of whole-vector rows, and sub-kernel weights that stay in L2. (Phases of 8-pixel rows, read
    /// through cropped copies, measured slower than col2im: four GEMMs of two strips each, over three copies of dY.)</summary>
    public static bool Applies(in Conv2dShape s) =>
        s.StrideH == 2 && s.StrideW == 2 && s.DilationH == 1 && s.DilationW == 1 && s.Height % 2 == 0 && s.Width % 32 == 0
        && s.Height / 2 * (s.Width / 2) % NarrowGemm.Strip == 0
        && NarrowGemm.Fits(s.InChannels, s.OutChannels * ((s.KernelH + 1) / 2) * ((s.KernelW + 1) / 2));

    public static PhaseGradient Create(in Conv2dShape s) => new(s);

    /// <summary>Output row met by input row 2u + a through kernel row kh, less u.</summary>
    static int Offset(int a, int pad, int kh) => (a + pad - kh) >> 1;

    /// <summary>Padding of dY along one axis so every phase's reads land in the copy, and the kernel extent those reads span.</summary>
    static (int Pad, int Kernel) Axis(int size, int outSize, int pad, int kernel)
    {
        int low = int.MaxValue, high = int.MinValue;
        for (int a = 0; a < 2; a++)
            for (int k = (a + pad) & 1; k < kernel; k += 2)
            {
                low = Math.Min(low, Offset(a, pad, k));
                high = Math.Max(high, Offset(a, pad, k));
            }
        int padding = Math.Max(0, Math.Max(-low, size / 2 - 1 + high - (outSize - 1)));
        return (padding, high + padding + 1);
    }

    /// <summary>Floats of one image's dY copy followed by its four phase planes.</summary>
    public int ScratchLength => plane.Length + 4 * channels * phaseHeight * phaseWidth;

    public int PackedLength => phases.Sum(p => NarrowGemm.PackedLength(channels, p.Length));

    /// <summary>Packs each phase's A[c, t] = W[o, c, kh, kw] for its taps t = (o, kh, kw), one phase after another.</summary>
    public void Pack(in Conv2dShape s, float* w, float* packed)
    {
        foreach (var taps in phases)
        {
            float[] rows = ArrayPool<float>.Shared.Rent(channels * taps.Length);
            fixed (float* a = rows)
            {
                int perOut = taps.Length / s.OutChannels;
                for (int c = 0; c < channels; c++)
                    for (int t = 0; t < taps.Length; t++)
                        a[(long)c * taps.Length + t] = w[((long)(t / perOut) * channels + c) * s.KernelH * s.KernelW + taps[t].Kh * s.KernelW + taps[t].Kw];
                NarrowGemm.Pack(channels, taps.Length, a, taps.Length, 1, packed);
            }
            ArrayPool<float>.Shared.Return(rows);
            packed += NarrowGemm.PackedLength(channels, taps.Length);
        }
    }

    /// <summary>Overwrites one image's input gradient <paramref name="gx"/> from its dY <paramref name="gradOut"/>.</summary>
    public void Run(float* gradOut, float* packed, float* scratch, float* gx)
    {
        int n = phaseHeight * phaseWidth, width = 2 * phaseWidth;
        float* copy = plane.Fill(gradOut, scratch), outs = scratch + plane.Length;
        int* all = stackalloc int[plane.Depth], picked = stackalloc int[phases.Max(p => p.Length)];
        plane.Taps(all);
        for (int phase = 0; phase < 4; phase++)
        {
            var taps = phases[phase];
            for (int t = 0; t < taps.Length; t++) picked[t] = all[taps[t].Tap];
            NarrowGemm.Multiply(channels, n, taps.Length, packed, copy, picked, plane.RowLength, plane.Pitch, outs + (long)phase * channels * n, n,
                null, accumulate: false);
            packed += NarrowGemm.PackedLength(channels, taps.Length);
        }
        for (int c = 0; c < channels; c++)
            for (int a = 0; a < 2; a++)
                for (int u = 0; u < phaseHeight; u++)
                {
                    float* even = outs + ((long)(2 * a) * channels + c) * n + u * phaseWidth, odd = even + (long)channels * n;
                    Interleave(gx + (long)c * 2 * phaseHeight * width + (2 * u + a) * width, even, odd, phaseWidth);
                }
    }

    /// <summary>destination[2 i] = even[i], destination[2 i + 1] = odd[i], for count a multiple of 8 (AVX, which AVX-512 implies).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Interleave(float* destination, float* even, float* odd, int count)
    {
        for (int i = 0; i < count; i += 8)
        {
            Vector256<float> e = Vector256.Load(even + i), o = Vector256.Load(odd + i);
            Vector256<float> low = Avx.UnpackLow(e, o), high = Avx.UnpackHigh(e, o);
            Avx.Permute2x128(low, high, 0x20).Store(destination + 2 * i);
            Avx.Permute2x128(low, high, 0x31).Store(destination + 2 * i + 8);
        }
    }
}
