using Hybrid.Core.Gpu;

namespace Hybrid.Core.Nn;

/// <summary>Element types of a <see cref="Tensor"/>: float32 for models, float64 for gradient checks and references,
/// int64 for labels and indices (DESIGN.md, "Tensors").</summary>
public enum ScalarType { Float32, Float64, Int64 }

/// <summary>An n-dimensional array on a Core.Gpu <see cref="Gpu.Device"/>, with reverse-mode autograd.</summary>
/// <remarks>
/// Storage is one contiguous row-major host array (float[], double[] or long[]) of exactly <see cref="Numel"/> elements;
/// every op returns a new contiguous tensor, so views (transpose, slicing) copy. The device picks the kernels that
/// GEMM-class ops run on: Reference loops, the Cpu backend (OpenBLAS + SIMD), or ILGPU, which on the gpu device stages
/// operands through device memory for each call. Element-wise ops run on the host for every device.
/// </remarks>
public sealed partial class Tensor
{
    readonly Array storage;
    readonly int[] shape;

    internal Tensor(Array storage, int[] shape, Device device)
    {
        this.storage = storage;
        this.shape = shape;
        Device = device;
        Dtype = storage switch
        {
            float[] => ScalarType.Float32,
            double[] => ScalarType.Float64,
            long[] => ScalarType.Int64,
            _ => throw new ArgumentException($"tensor storage must be float[], double[] or long[], not {storage.GetType().Name}"),
        };
        if (ShapeOps.Numel(shape) != storage.Length)
            throw new ArgumentException($"shape {ShapeOps.Format(shape)} holds {ShapeOps.Numel(shape)} elements, the data {storage.Length}");
    }

    /// <summary>Where the tensor's GEMM-class ops run.</summary>
    public Device Device { get; }

    public ScalarType Dtype { get; }

    /// <summary>The sizes of the dimensions (a copy).</summary>
    public int[] Shape => (int[])shape.Clone();

    /// <summary>Number of dimensions.</summary>
    public int Dim => shape.Length;

    /// <summary>Number of elements.</summary>
    public int Numel => storage.Length;

    /// <summary>The size of dimension <paramref name="dim"/>; negative values count from the end, as in PyTorch.</summary>
    public int Size(int dim) => shape[ShapeOps.Axis(dim, shape.Length)];

    public bool IsFloatingPoint => Dtype != ScalarType.Int64;

    internal int[] ShapeRef => shape;
    internal Array Storage => storage;
    internal float[] F32 => storage as float[] ?? throw DtypeMismatch(ScalarType.Float32);
    internal double[] F64 => storage as double[] ?? throw DtypeMismatch(ScalarType.Float64);
    internal long[] I64 => storage as long[] ?? throw DtypeMismatch(ScalarType.Int64);

    /// <summary>The elements in row-major order, writable in place (PyTorch's <c>tensor.data</c>: writes are not recorded
    /// by autograd). <typeparamref name="T"/> must be the tensor's element type.</summary>
    public Span<T> Span<T>() where T : unmanaged =>
        storage is T[] data ? data : throw DtypeMismatch(ScalarTypes.Of<T>());

    /// <summary>A copy of the elements in row-major order.</summary>
    public T[] ToArray<T>() where T : unmanaged => Span<T>().ToArray();

    /// <summary>The single element of a one-element tensor, converted to double.</summary>
    public double Item() => Numel == 1
        ? storage switch { float[] f => f[0], double[] d => d[0], long[] l => l[0], _ => throw new InvalidOperationException() }
        : throw new InvalidOperationException($"Item() needs a one-element tensor, not shape {ShapeOps.Format(shape)}");

    /// <summary>The elements converted to float64 (any dtype).</summary>
    public double[] ToDoubleArray() => storage switch
    {
        float[] f => Array.ConvertAll(f, v => (double)v),
        double[] d => (double[])d.Clone(),
        long[] l => Array.ConvertAll(l, v => (double)v),
        _ => throw new InvalidOperationException(),
    };

    InvalidOperationException DtypeMismatch(ScalarType wanted) =>
        new($"this tensor holds {Dtype}, not {wanted} (shape {ShapeOps.Format(shape)})");

    public override string ToString() =>
        $"tensor({ShapeOps.Format(shape)}, {Dtype}, {Device.Kind}{(RequiresGrad ? ", requires_grad" : "")}{(GradFn is { } f ? $", grad_fn={f.Name}" : "")})";
}

/// <summary>The CLR element type of each <see cref="ScalarType"/>.</summary>
public static class ScalarTypes
{
    /// <summary>The scalar type stored as <typeparamref name="T"/> (float, double or long).</summary>
    public static ScalarType Of<T>() where T : unmanaged =>
        typeof(T) == typeof(float) ? ScalarType.Float32
        : typeof(T) == typeof(double) ? ScalarType.Float64
        : typeof(T) == typeof(long) ? ScalarType.Int64
        : throw new ArgumentException($"tensors hold float, double or long, not {typeof(T).Name}");

    /// <summary>A zero-filled storage array of <paramref name="length"/> elements.</summary>
    internal static Array Allocate(ScalarType dtype, int length) => dtype switch
    {
        ScalarType.Float32 => new float[length],
        ScalarType.Float64 => new double[length],
        _ => new long[length],
    };
}
