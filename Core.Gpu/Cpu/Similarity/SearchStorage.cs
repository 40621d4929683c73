using System.Runtime.InteropServices;

namespace Hybrid.Core.Gpu.Cpu;

/// <summary>Host memory for the stored rows of a Cpu search index: native, 2 MiB-aligned and, on Linux, advised to use
/// transparent huge pages. A search streams gigabytes of rows per query; with 4 KiB pages (what the GC heap gets when the
/// system's THP mode is "madvise", as on Debian) every 4 KiB costs a TLB miss, far dearer under virtualisation, and
/// streaming then runs at a fraction of memory bandwidth (measured: 5 GB/s against NumPy's 38 GB/s on the same 2 GB, since
/// NumPy advises its large arrays the same way).</summary>
internal sealed unsafe class SearchStorage : DeviceArray<float>
{
    const nuint HugePage = 2 << 20;
    const int MadvHugePage = 14; // MADV_HUGEPAGE, <linux/mman.h>

    readonly nuint bytes;
    float* data;

    public SearchStorage(Device device, int length) : base(device, length)
    {
        bytes = Math.Max((nuint)length * sizeof(float), 1);
        data = (float*)NativeMemory.AlignedAlloc(bytes, HugePage);
        // Advice before the first touch, so the pages are huge from the first fault; it is only advice, so a refusal
        // (another kernel, THP disabled) leaves ordinary pages and correct results.
        if (OperatingSystem.IsLinux() && bytes >= HugePage) _ = Madvise(data, bytes, MadvHugePage);
    }

    ~SearchStorage() => Free();

    /// <summary>The first element.</summary>
    public float* Pointer => data;

    /// <summary>The elements of a search store (callers know the array came from <see cref="SearchStorage"/>).</summary>
    public static float* Of(DeviceArray<float> array) => ((SearchStorage)array).data;

    public override void Fill(float value) => new Span<float>(data, Length).Fill(value);
    protected override void CopyFromCore(ReadOnlySpan<float> source, int offset) => source.CopyTo(new Span<float>(data + offset, source.Length));
    protected override void CopyToCore(Span<float> destination, int offset) => new ReadOnlySpan<float>(data + offset, destination.Length).CopyTo(destination);

    public override void Dispose()
    {
        Free();
        base.Dispose();
    }

    void Free()
    {
        if (data == null) return;
        NativeMemory.AlignedFree(data);
        data = null;
    }

    [DllImport("libc", EntryPoint = "madvise")]
    static extern int Madvise(void* address, nuint length, int advice);
}
