using Hybrid.Core.Gpu.Cpu;

namespace Hybrid.Core.Gpu;

/// <summary>Which GEMM engine the Cpu backend runs, and the caller's choice of it. OpenBLAS when its library loaded, else a
/// blocked managed GEMM; the library reports this here and prints nothing, so the application decides how to tell its user.</summary>
public static class CpuGemm
{
    /// <summary>True when OpenBLAS (libopenblas0-pthread) was found and loaded.</summary>
    public static bool OpenBlasAvailable => OpenBlas.Available;

    /// <summary>Routes every GEMM to the managed implementation even when OpenBLAS is present (tests and benchmarks compare
    /// the two); false by default.</summary>
    public static bool ManagedForced
    {
        get => Sgemm.ForceManaged;
        set => Sgemm.ForceManaged = value;
    }

    /// <summary>True when GEMMs run on OpenBLAS: it loaded and the managed GEMM is not forced.</summary>
    public static bool UsesOpenBlas => Sgemm.UsesOpenBlas;

    /// <summary>The engine in use and why: "OpenBLAS", "managed GEMM: forced" or "managed GEMM: OpenBLAS not found".</summary>
    public static string Engine =>
        UsesOpenBlas ? "OpenBLAS" : OpenBlasAvailable ? "managed GEMM: forced" : "managed GEMM: OpenBLAS not found";
}
