using System.Runtime.InteropServices;

namespace Hybrid.Core.Gpu.Cpu;

/// <summary>One block of aligned native memory owned by an object of the Cpu search (its integer rows, a tile of integer
/// queries) and freed exactly once, by <see cref="Dispose"/> or, if the owner is dropped, by the finalizer.</summary>
internal abstract unsafe class NativeOwner : IDisposable
{
    void* memory;

    /// <summary>Takes ownership of <paramref name="memory"/>, from <see cref="NativeMemory.AlignedAlloc"/>.</summary>
    protected NativeOwner(void* memory) => this.memory = memory;

    ~NativeOwner() => Free();

    /// <summary>The owned block (null once disposed).</summary>
    protected void* Memory => memory;

    public void Dispose()
    {
        Free();
        GC.SuppressFinalize(this);
    }

    void Free()
    {
        if (memory == null) return;
        NativeMemory.AlignedFree(memory);
        memory = null;
    }
}
