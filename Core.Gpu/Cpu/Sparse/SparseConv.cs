namespace Hybrid.Core.Gpu.Cpu;

/// <summary>Direct convolution from CSR weights, vectorised across images: a chunk of up to 32 images is restaged as
/// (channel, padded row, padded column, image), so one tap at one output pixel is a multiply-add of contiguous vectors over the
/// images. Every stride, dilation and padding then reduces to the same tap offsets, each tap costs one broadcast for up to
/// four vectors of work, and the work is proportional to the surviving taps. Tasks are output rows of a few output channels
/// (<see cref="OutputRows"/>, whose taps run in <see cref="SparseTaps"/>). This form serves layers of 32 or more input
/// channels at batches of 32 or more, and small planes (4 x 4 and below) from 8 images; from 16 to 31 images it stages 16
/// image lanes (one 512-bit vector per cell) and serves strided layers and layers of 32 or more input channels; the rest,
/// and very large images, use <see cref="SparsePlanes"/>.</summary>
internal static unsafe class SparseConv
{
    const int Lanes = 8, Cell16 = 2 * Lanes, MaxImages = 4 * Lanes;
    /// <summary>Floats the staged chunk may take (32 MB); beyond that the per-plane form is used.</summary>
    const long StageBudget = 8 << 20;
    /// <summary>Floats of staged input one output row may read per channel block (256 KB, a quarter of a core's L2).</summary>
    const int RowBudget = 64 << 10;
    /// <summary>Output pixels per row tile, and floats of cells a task keeps for its group of output channels (32 KB, L1).</summary>
    const int TileWidth = 64, TileFloats = 8 << 10, MaxGroup = 16, MinTasks = 64;
    /// <summary>Floats of an output plane (on the phase width) below which the lane form is used from 8 images, and input
    /// channels from which it is used on planes of any size once 32 images fill its lanes.</summary>
    const int MinPlane = 64, MinLaneChannels = 32;

    public static void Forward(in Conv2dShape s, int[] rowStart, int[] columns, float[] values, float[] x, float[]? bias, float[] y)
    {
        int ph = s.Height + 2 * s.PadH, pw = s.Width + 2 * s.PadW;
        // The image-lane form pays where a chunk fills all 32 lanes and many input channels share each output row, or where
        // output planes are too small to fill vectors on their own; elsewhere the plane form reads far less. Measured with
        // 10% kept: at batch 16 the plane form ran 2.5x-3.3x faster on ResNet-20's and VGG-16's 8x8 to 32x32 layers; at
        // batch 64 the lane form ran 3x-4x faster than dense on VGG-16's 64- to 512-channel layers, the plane form about 1x.
        int cell = Cells(s);
        bool lanes = s.Batch >= MaxImages && s.InChannelsPerGroup >= MinLaneChannels
            || s.Batch >= Lanes && SparsePlanes.PlaneLength(s) < MinPlane || cell == Cell16 && LaneForm16(s);
        if (!lanes || (long)s.InChannels * ph * pw * cell > StageBudget)
        {
            SparsePlanes.Forward(s, rowStart, columns, values, x, bias, y);
            return;
        }
        var shape = s;
        int[] offsets = TapOffsets(s, columns, rowStart[^1], cell);
        int blocks = ChannelBlocks(s, pw, cell), tileWidth = Math.Min(TileWidth, s.OutWidth);
        // Channels share a tile only when their taps are split into blocks; a few dozen tasks per core keep both cores busy to the end.
        int group = blocks == 1 ? 1 : Math.Clamp(Math.Min(TileFloats / (tileWidth * cell), s.OutHeight * s.OutChannels / MinTasks), 1, MaxGroup);
        int groups = (s.OutChannels + group - 1) / group;
        int[] runs = TapRuns(s, rowStart, columns, blocks);
        float[] staged = ArrayPool<float>.Shared.Rent(s.InChannels * ph * pw * cell + Cell16);
        try
        {
            fixed (float* pRented = staged, px = x, py = y, pv = values)
            fixed (int* pOff = offsets, pRuns = runs)
            {
                // Cells start on cache lines, so a 16-lane cell is one aligned load.
                float* pStaged = Simd.CacheLineAligned(pRented);
                var (aStaged, ax, ay, av, aOff, aRuns) = ((nint)pStaged, (nint)px, (nint)py, (nint)pv, (nint)pOff, (nint)pRuns);
                for (int n0 = 0; n0 < s.Batch; n0 += cell)
                {
                    int count = Math.Min(cell, s.Batch - n0), first = n0;
                    Ranges.Items(s.InChannels, c => Stage(shape, (float*)ax, first, count, c, (float*)aStaged, ph, pw, cell));
                    // Row-major items: neighbours (one thread takes a run of them) share the same few input rows in cache.
                    Ranges.Items(s.OutHeight * groups, item =>
                    {
                        int row = item / groups, o0 = item % groups * group;
                        var rows = new OutputRows((float*)aStaged, (int*)aOff, (float*)av, (int*)aRuns, blocks, (float*)ay, first, count, pw, cell);
                        rows.Compute(shape, bias, row, o0, Math.Min(group, shape.OutChannels - o0), tileWidth);
                    });
                }
            }
        }
        finally { ArrayPool<float>.Shared.Return(staged); }
    }

    /// <summary>Image lanes per cell: one 512-bit vector for 16 to 31 images, so batch 16 fills every lane.</summary>
    static int Cells(in Conv2dShape s) => Vector512.IsHardwareAccelerated && s.Batch is >= Cell16 and < MaxImages ? Cell16 : MaxImages;

    /// <summary>Whether 16 to 31 images take the 16-lane form. Measured at batch 16 on one core (CPU time, 10% to 27% kept):
    /// 1.4x-2x faster than the plane form on ResNet-20's 16-32 stride 2, 32-32 16x16, 32-64 stride 2 and 64-64 8x8 layers
    /// and on VGG-16's 128-128 16x16 and 256-256 8x8 layers, but 1.5x-2x slower on 16-16 32x32, where a 16-channel row of
    /// taps is too short to pay for restaging the whole input twice.</summary>
    static bool LaneForm16(in Conv2dShape s) => s.InChannelsPerGroup >= MinLaneChannels || s.StrideH * s.StrideW > 1;

    /// <summary>How many blocks the input channels of a group are split into, so that the input rows one output row reads from
    /// a block (each KH-extent rows of every channel in it) fit in <see cref="RowBudget"/>. Deep layers on small planes read
    /// about a megabyte per output row otherwise, which no longer stays in L2 from one output channel to the next.</summary>
    static int ChannelBlocks(in Conv2dShape s, int pw, int cell)
    {
        int perChannel = ((s.KernelH - 1) * s.DilationH + 1) * pw * cell;
        int channels = Math.Max(1, RowBudget / perChannel);
        return Math.Max(1, (s.InChannelsPerGroup + channels - 1) / channels);
    }

    /// <summary>For output channel o and block k, its taps on the block's input channels are [runs[o (B + 1) + k],
    /// runs[o (B + 1) + k + 1]): CSR columns ascend, and the input channel is column / (KH * KW).</summary>
    static int[] TapRuns(in Conv2dShape s, int[] rowStart, int[] columns, int blocks)
    {
        int perBlock = (s.InChannelsPerGroup + blocks - 1) / blocks, taps = s.KernelH * s.KernelW;
        var runs = new int[s.OutChannels * (blocks + 1)];
        for (int o = 0; o < s.OutChannels; o++)
        {
            int t = rowStart[o];
            for (int k = 0; k < blocks; k++)
            {
                runs[o * (blocks + 1) + k] = t;
                while (t < rowStart[o + 1] && columns[t] / taps < (k + 1) * perBlock) t++;
            }
            runs[o * (blocks + 1) + blocks] = rowStart[o + 1];
        }
        return runs;
    }

    /// <summary>For each stored tap (column c * KH * KW + kh * KW + kw of its row), its offset in the padded input of the group,
    /// in units of <paramref name="scale"/> floats per padded pixel: ((c * PH + kh * dh) * PW + kw * dw) * scale.</summary>
    internal static int[] TapOffsets(in Conv2dShape s, int[] columns, int count, int scale)
    {
        int ph = s.Height + 2 * s.PadH, pw = s.Width + 2 * s.PadW, taps = s.KernelH * s.KernelW;
        var offsets = new int[count];
        for (int t = 0; t < count; t++)
        {
            int col = columns[t], c = col / taps, kh = col % taps / s.KernelW, kw = col % s.KernelW;
            offsets[t] = ((c * ph + kh * s.DilationH) * pw + kw * s.DilationW) * scale;
        }
        return offsets;
    }

    /// <summary>Writes channel <paramref name="c"/> of images [first, first + count) into the staged layout, zero in the
    /// padding and in the lanes past <paramref name="count"/>. Only the padding is cleared when every lane is used, which saves a
    /// full pass of stores over the plane.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Stage(in Conv2dShape s, float* x, int first, int count, int c, float* staged, int ph, int pw, int cell)
    {
        float* plane = staged + (long)c * ph * pw * cell;
        int right = pw - s.PadW - s.Width;
        if (count < cell) Simd.Zero(plane, ph * pw * cell);
        else
        {
            Simd.Zero(plane, s.PadH * pw * cell);
            Simd.Zero(plane + (s.PadH + s.Height) * pw * cell, (ph - s.PadH - s.Height) * pw * cell);
        }
        int size = s.Height * s.Width, whole = count & ~(Lanes - 1);
        long imageStride = (long)s.InChannels * size;
        for (int r = 0; r < s.Height; r++)
        {
            float* dstRow = plane + ((r + s.PadH) * pw + s.PadW) * cell;
            float* srcRow = x + ((long)first * s.InChannels + c) * size + r * s.Width;
            if (count == cell)
            {
                Simd.Zero(dstRow - s.PadW * cell, s.PadW * cell);
                Simd.Zero(dstRow + s.Width * cell, right * cell);
            }
            // Eight images by eight columns at a time become eight columns by eight image lanes. Images outermost: their rows
            // lie a whole image apart, which maps them all to one cache set, so only eight of them are read at a time.
            int wholeColumns = s.Width & ~(Lanes - 1);
            for (int i = 0; i < whole; i += Lanes)
                for (int col = 0; col < wholeColumns; col += Lanes)
                    Simd.Transpose8x8(srcRow + i * imageStride + col, imageStride, dstRow + col * cell + i, cell);
            for (int i = 0; i < count; i++)
                for (int j = i < whole ? wholeColumns : 0; j < s.Width; j++) dstRow[j * cell + i] = srcRow[i * imageStride + j];
        }
    }
}
