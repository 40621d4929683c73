using System.Runtime.InteropServices;

namespace Hybrid.Core.Gpu.Cpu;

/// <summary>Host memory for the stored rows of a Cpu search index: native, 2 MiB-aligned and, on Linux, advised to use
/// transparent huge pages. A search streams gigabytes of rows per query; with 4 KiB pages (what the GC heap gets when the
/// system's THP mode is "madvise", as on Debian) every 4 KiB costs a TLB miss, far dearer under virtualisation, and
/// streaming then runs at a fraction of memory bandwidth (measured: 5 GB/s against NumPy's 38 GB/s on the same 2 GB, since
/// NumPy advises its large arrays the same way). Each row starts on a 64-byte line: rows are <see cref="Stride"/> floats
/// apart, the dimension rounded up to a whole vector of 16 floats, and the padding holds zeros, so the scan kernels read
/// whole aligned vectors with no remainder loop and the padding adds nothing to a dot product (5,050-float CKA
/// encodings take 5,056).</summary>
internal sealed unsafe class SearchStorage : DeviceArray<float>
{
    const nuint HugePage = 2 << 20;
    const int MadvHugePage = 14; // MADV_HUGEPAGE, <linux/mman.h>

    /// <summary>Floats per vector of the scan kernels (one 64-byte line).</summary>
    public const int Lane = 16;

    float* data;

    /// <summary>Room for <paramref name="rows"/> rows of <paramref name="dimension"/> floats, padding zeroed; the
    /// <see cref="DeviceArray{T}.Length"/> seen from outside is rows x dimension, as if the rows were packed.</summary>
    public SearchStorage(Device device, int rows, int dimension) : base(device, rows * dimension)
    {
        Rows = rows;
        Dimension = dimension;
        Stride = StrideOf(dimension);
        data = (float*)AllocateHuge(Math.Max((nuint)rows * (nuint)Stride * sizeof(float), 1));
        for (long r = 0; r < rows; r++) new Span<float>(data + r * Stride + dimension, Stride - dimension).Clear();
    }

    ~SearchStorage() => Free();

    /// <summary><paramref name="bytes"/> of native memory on 2 MiB-aligned, huge-page-advised pages (free with
    /// <see cref="NativeMemory.AlignedFree"/>).</summary>
    public static void* AllocateHuge(nuint bytes)
    {
        void* memory = NativeMemory.AlignedAlloc(bytes, HugePage);
        // Advice before the first touch, so the pages are huge from the first fault; it is only advice, so a refusal
        // (another kernel, THP disabled) leaves ordinary pages and correct results.
        if (OperatingSystem.IsLinux() && bytes >= HugePage) _ = Madvise(memory, bytes, MadvHugePage);
        return memory;
    }

    /// <summary>The integer copy of the rows that <see cref="SearchPrefilter"/> scans, once <see cref="Quantise"/> has
    /// built it (after the rows were copied in).</summary>
    public QuantisedRows? Quantised { get; private set; }

    /// <summary>Builds <see cref="Quantised"/> from the rows as they are now.</summary>
    public void Quantise()
    {
        Quantised?.Dispose();
        Quantised = QuantisedRows.Of(this);
    }

    public int Rows { get; }
    public int Dimension { get; }

    /// <summary>Floats from one row to the next.</summary>
    public int Stride { get; }

    /// <summary>The first element of the first row.</summary>
    public float* Pointer => data;

    /// <summary>The dimension rounded up to whole vectors.</summary>
    public static int StrideOf(int dimension) => (dimension + Lane - 1) / Lane * Lane;

    /// <summary>The storage of a search store (callers know the array came from <see cref="SearchStorage"/>).</summary>
    public static SearchStorage Of(DeviceArray<float> array) => (SearchStorage)array;

    public override void Fill(float value)
    {
        for (long r = 0; r < Rows; r++) new Span<float>(data + r * Stride, Dimension).Fill(value);
    }

    // Offsets and lengths count packed elements; each piece is the part of one row they cover.
    protected override void CopyFromCore(ReadOnlySpan<float> source, int offset)
    {
        for (int done = 0; done < source.Length;)
        {
            int row = (offset + done) / Dimension, column = (offset + done) % Dimension;
            int n = Math.Min(Dimension - column, source.Length - done);
            source.Slice(done, n).CopyTo(new Span<float>(data + (long)row * Stride + column, n));
            done += n;
        }
    }

    protected override void CopyToCore(Span<float> destination, int offset)
    {
        for (int done = 0; done < destination.Length;)
        {
            int row = (offset + done) / Dimension, column = (offset + done) % Dimension;
            int n = Math.Min(Dimension - column, destination.Length - done);
            new ReadOnlySpan<float>(data + (long)row * Stride + column, n).CopyTo(destination.Slice(done, n));
            done += n;
        }
    }

    public override void Dispose()
    {
        Free();
        base.Dispose();
    }

    void Free()
    {
        Quantised?.Dispose();
        if (data == null) return;
        NativeMemory.AlignedFree(data);
        data = null;
    }

    [DllImport("libc", EntryPoint = "madvise")]
    static extern int Madvise(void* address, nuint length, int advice);
}
