using System.Runtime.InteropServices;

namespace Hybrid.Core.Gpu.Cpu;

/// <summary>The few OpenBLAS entry points the Cpu backend calls, bound at run time with <see cref="NativeLibrary"/> so that a
/// machine without the library still loads this assembly (and falls back to the managed GEMM).</summary>
internal static unsafe class OpenBlas
{
    // CBLAS enumerations (cblas.h).
    const int RowMajor = 101, NoTrans = 111, Trans = 112, Upper = 121;

    static readonly string[] Candidates = ["libopenblas.so.0", "libopenblas.so", "libopenblas"];

    static readonly nint Handle = Load(out LibraryPath);

    /// <summary>The file name that loaded, or null when none did.</summary>
    public static readonly string? LibraryPath;

    public static bool Available => Handle != 0;

    static readonly delegate* unmanaged<int, int, int, int, int, int, float, float*, int, float*, int, float, float*, int, void> sgemm =
        (delegate* unmanaged<int, int, int, int, int, int, float, float*, int, float*, int, float, float*, int, void>)Export("cblas_sgemm");
    static readonly delegate* unmanaged<int, int, int, int, int, int, double, double*, int, double*, int, double, double*, int, void> dgemm =
        (delegate* unmanaged<int, int, int, int, int, int, double, double*, int, double*, int, double, double*, int, void>)Export("cblas_dgemm");
    static readonly delegate* unmanaged<int, int, int, int, int, float, float*, int, float, float*, int, void> ssyrk =
        (delegate* unmanaged<int, int, int, int, int, float, float*, int, float, float*, int, void>)Export("cblas_ssyrk");
    static readonly delegate* unmanaged<int, int, int, int, int, double, double*, int, double, double*, int, void> dsyrk =
        (delegate* unmanaged<int, int, int, int, int, double, double*, int, double, double*, int, void>)Export("cblas_dsyrk");

    static nint Load(out string? path)
    {
        foreach (var name in Candidates)
            if (NativeLibrary.TryLoad(name, out var handle))
            {
                path = name;
                return handle;
            }
        path = null;
        return 0;
    }

    /// <summary>The address of <paramref name="name"/>, or 0 when the library is absent; a library without the symbol is an error
    /// worth naming, since it means an unexpected build of OpenBLAS.</summary>
    static nint Export(string name)
    {
        if (Handle == 0) return 0;
        if (NativeLibrary.TryGetExport(Handle, name, out var address)) return address;
        throw new EntryPointNotFoundException($"OpenBLAS ({LibraryPath}) has no export '{name}'");
    }

    static void Require(void* function, string name)
    {
        if (function == null) throw new DllNotFoundException($"{name}: OpenBLAS (libopenblas0-pthread) is not loaded");
    }

    static int Op(Transpose t) => t == Transpose.No ? NoTrans : Trans;

    /// <summary>Row-major C = alpha op(A) op(B) + beta C.</summary>
    public static void Sgemm(Transpose ta, Transpose tb, int m, int n, int k, float alpha, float* a, int lda, float* b, int ldb,
        float beta, float* c, int ldc)
    {
        Require(sgemm, "cblas_sgemm");
        sgemm(RowMajor, Op(ta), Op(tb), m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    }

    /// <summary>Row-major C = alpha op(A) op(B) + beta C in double precision.</summary>
    public static void Dgemm(Transpose ta, Transpose tb, int m, int n, int k, double alpha, double* a, int lda, double* b, int ldb,
        double beta, double* c, int ldc)
    {
        Require(dgemm, "cblas_dgemm");
        dgemm(RowMajor, Op(ta), Op(tb), m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    }

    /// <summary>Upper triangle of row-major C = alpha op(A) op(A)^T + beta C, with op(A) n x k.</summary>
    public static void Ssyrk(Transpose trans, int n, int k, float alpha, float* a, int lda, float beta, float* c, int ldc)
    {
        Require(ssyrk, "cblas_ssyrk");
        ssyrk(RowMajor, Upper, Op(trans), n, k, alpha, a, lda, beta, c, ldc);
    }

    /// <summary>Upper triangle of row-major C = alpha op(A) op(A)^T + beta C in double precision.</summary>
    public static void Dsyrk(Transpose trans, int n, int k, double alpha, double* a, int lda, double beta, double* c, int ldc)
    {
        Require(dsyrk, "cblas_dsyrk");
        dsyrk(RowMajor, Upper, Op(trans), n, k, alpha, a, lda, beta, c, ldc);
    }

    /// <summary>Sets the threads OpenBLAS may start for one call (no-op when absent or when the build cannot change it).</summary>
    public static void SetThreads(int threads)
    {
        if (Handle != 0 && NativeLibrary.TryGetExport(Handle, "openblas_set_num_threads", out var f))
            ((delegate* unmanaged<int, void>)f)(threads);
    }
}
