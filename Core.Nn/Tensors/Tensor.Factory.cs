using Hybrid.Core.Gpu;

namespace Hybrid.Core.Nn;

public sealed partial class Tensor
{
    /// <summary>A tensor over a copy of <paramref name="data"/> with the given shape (the element type follows the array).</summary>
    public static Tensor From<T>(T[] data, int[] shape, Device? device = null) where T : unmanaged =>
        new((T[])data.Clone(), (int[])shape.Clone(), device ?? Gpu.Device.Cpu);

    /// <summary>A tensor that takes <paramref name="data"/> as its storage, without copying.</summary>
    public static Tensor Wrap<T>(T[] data, int[] shape, Device? device = null) where T : unmanaged =>
        new(data, (int[])shape.Clone(), device ?? Gpu.Device.Cpu);

    /// <summary>A zero-filled tensor.</summary>
    public static Tensor Zeros(ScalarType dtype, Device? device, params int[] shape) =>
        new(ScalarTypes.Allocate(dtype, ShapeOps.Numel(shape)), (int[])shape.Clone(), device ?? Gpu.Device.Cpu);

    /// <summary>A float32 zero-filled tensor on the cpu device.</summary>
    public static Tensor Zeros(params int[] shape) => Zeros(ScalarType.Float32, null, shape);

    /// <summary>A tensor with every element equal to <paramref name="value"/>.</summary>
    public static Tensor Full(double value, ScalarType dtype, Device? device, params int[] shape)
    {
        var t = Zeros(dtype, device, shape);
        t.Fill(value);
        return t;
    }

    /// <summary>A tensor of ones.</summary>
    public static Tensor Ones(ScalarType dtype, Device? device, params int[] shape) => Full(1, dtype, device, shape);

    /// <summary>A one-element tensor of rank 0.</summary>
    public static Tensor Scalar(double value, ScalarType dtype = ScalarType.Float32, Device? device = null) => Full(value, dtype, device);

    /// <summary>A zero-filled tensor with this tensor's shape, dtype and device.</summary>
    public Tensor ZerosLike() => Zeros(Dtype, Device, shape);

    /// <summary>Sets every element to <paramref name="value"/> (in place, not recorded).</summary>
    public Tensor Fill(double value)
    {
        switch (storage)
        {
            case float[] f: Array.Fill(f, (float)value); break;
            case double[] d: Array.Fill(d, value); break;
            case long[] l: Array.Fill(l, (long)value); break;
        }
        return this;
    }

    /// <summary>Copies <paramref name="source"/>'s elements into this tensor in place (PyTorch's <c>copy_</c> under no_grad):
    /// shapes must hold the same number of elements; dtypes are converted.</summary>
    public Tensor CopyFrom(Tensor source)
    {
        if (source.Numel != Numel)
            throw new ArgumentException($"copy: source {ShapeOps.Format(source.shape)} and target {ShapeOps.Format(shape)} differ in size");
        switch (storage, source.storage)
        {
            case (float[] t, float[] s): s.CopyTo(t, 0); break;
            case (double[] t, double[] s): s.CopyTo(t, 0); break;
            case (long[] t, long[] s): s.CopyTo(t, 0); break;
            default:
                var values = source.ToDoubleArray();
                switch (storage)
                {
                    case float[] f: for (int i = 0; i < f.Length; i++) f[i] = (float)values[i]; break;
                    case double[] d: values.CopyTo(d, 0); break;
                    case long[] l: for (int i = 0; i < l.Length; i++) l[i] = (long)values[i]; break;
                }
                break;
        }
        return this;
    }

    /// <summary>A copy with its own storage; the gradient flows through it.</summary>
    public Tensor Clone()
    {
        var copy = new Tensor((Array)storage.Clone(), shape, Device);
        return Autograd.Record(copy, "Clone", g => [g], this);
    }

    /// <summary>The tensor converted to <paramref name="dtype"/> (itself when it already has it); float conversions
    /// pass the gradient back converted.</summary>
    public Tensor To(ScalarType dtype)
    {
        if (dtype == Dtype) return this;
        var result = Zeros(dtype, Device, shape).CopyFrom(this);
        return IsFloatingPoint && result.IsFloatingPoint
            ? Autograd.Record(result, "Cast", g => [g.To(Dtype)], this)
            : result;
    }

    /// <summary>The same values on <paramref name="device"/> (storage is host memory, so this shares it); gradients flow.</summary>
    public Tensor To(Device device)
    {
        if (device == Device) return this;
        var moved = new Tensor(storage, shape, device);
        var from = Device;
        return Autograd.Record(moved, "ToDevice", g => [new Tensor(g.storage, g.shape, from)], this);
    }

    /// <summary>a += b for equal shapes and dtypes, unrecorded: the accumulation step of the backward pass into a gradient
    /// that only the pass holds (the same sums as <see cref="AddSame"/>, without a new array).</summary>
    internal static void AddInto(Tensor a, Tensor b)
    {
        switch (a.storage)
        {
            case float[] r: System.Numerics.Tensors.TensorPrimitives.Add(r, b.F32, r); break;
            case double[] r: System.Numerics.Tensors.TensorPrimitives.Add(r, b.F64, r); break;
            default: throw new InvalidOperationException("gradients are floating point");
        }
    }

    /// <summary>a + b for equal shapes and dtypes, unrecorded: the accumulation step of the backward pass.</summary>
    internal static Tensor AddSame(Tensor a, Tensor b)
    {
        // Every element is overwritten, so float32 may take recycled storage (the backward pass returns dead gradients).
        var result = a.storage is float[]? new Tensor(TensorAccess.Fresh<float>(a.storage.Length), a.shape, a.Device) : a.ZerosLike();
        switch (result.storage)
        {
            case float[] r: System.Numerics.Tensors.TensorPrimitives.Add(a.F32, b.F32, r); break;
            case double[] r: System.Numerics.Tensors.TensorPrimitives.Add(a.F64, b.F64, r); break;
            default: throw new InvalidOperationException("gradients are floating point");
        }
        return result;
    }
}
