namespace Hybrid.Core.Gpu;

/// <summary>Checks made once at the public edge; messages name the operation and the shapes involved.</summary>
internal static class Validate
{
    public static void Range(int offset, int count, int length, string what)
    {
        if (offset < 0 || count < 0 || (long)offset + count > length)
            throw new ArgumentException($"{what}: elements [{offset}, {(long)offset + count}) outside an array of length {length}");
    }

    public static void Positive(int value, string name, object shape)
    {
        if (value <= 0) throw new ArgumentException($"{shape}: {name} must be positive, got {value}");
    }

    public static void NonNegative(int value, string name, object shape)
    {
        if (value < 0) throw new ArgumentException($"{shape}: {name} must not be negative, got {value}");
    }

    /// <summary>Each named value is positive, checked in order.</summary>
    public static void Positive(object shape, params ReadOnlySpan<(string Name, int Value)> values)
    {
        foreach (var (name, value) in values) Positive(value, name, shape);
    }

    /// <summary>Each named value is zero or more, checked in order.</summary>
    public static void NonNegative(object shape, params ReadOnlySpan<(string Name, int Value)> values)
    {
        foreach (var (name, value) in values) NonNegative(value, name, shape);
    }

    /// <summary>A sliding window's geometry (convolution, pooling): kernel, stride and dilation positive, padding not negative.</summary>
    public static void Window(int kernelH, int kernelW, int strideH, int strideW, int padH, int padW, int dilationH, int dilationW,
        object shape)
    {
        Positive(kernelH, "kernel height", shape);
        Positive(kernelW, "kernel width", shape);
        Positive(strideH, "stride", shape);
        Positive(strideW, "stride", shape);
        NonNegative(padH, "padding", shape);
        NonNegative(padW, "padding", shape);
        Positive(dilationH, "dilation", shape);
        Positive(dilationW, "dilation", shape);
    }

    /// <summary>The array exists, lives on <paramref name="device"/> and has exactly <paramref name="expected"/> elements.</summary>
    public static void Array<T>(DeviceArray<T>? array, string name, long expected, Device device, object shape) where T : unmanaged
    {
        if (array is null) throw new ArgumentException($"{shape}: {name} is required");
        Optional(array, name, expected, device, shape);
    }

    /// <summary>Like <see cref="Array{T}"/> but a null array passes.</summary>
    public static void Optional<T>(DeviceArray<T>? array, string name, long expected, Device device, object shape) where T : unmanaged
    {
        if (array is null) return;
        if (!ReferenceEquals(array.Device, device))
            throw new ArgumentException($"{shape}: {name} is on {array.Device.Name}, expected {device.Name}");
        if (array.Length != expected)
            throw new ArgumentException($"{shape}: {name} has {array.Length} elements, expected {expected}");
    }

    /// <summary>A host array of exactly <paramref name="expected"/> elements; null passes unless <paramref name="required"/>.</summary>
    public static void Host<T>(T[]? array, string name, long expected, object shape, bool required = true)
    {
        if (array is null)
        {
            if (required) throw new ArgumentException($"{shape}: {name} is required");
            return;
        }
        if (array.Length != expected)
            throw new ArgumentException($"{shape}: {name} has {array.Length} elements, expected {expected}");
    }

    /// <summary>A matrix stored row-major with leading dimension ld holds rows x cols: ld >= max(1, cols) and the array covers the last row.</summary>
    public static void Matrix(DeviceArray<float>? array, string name, int rows, int cols, int ld, Device device, object shape)
    {
        if (array is null) throw new ArgumentException($"{shape}: {name} is required");
        if (!ReferenceEquals(array.Device, device))
            throw new ArgumentException($"{shape}: {name} is on {array.Device.Name}, expected {device.Name}");
        if (ld < Math.Max(1, cols))
            throw new ArgumentException($"{shape}: leading dimension of {name} is {ld}, must be at least max(1, {cols})");
        long needed = rows == 0 || cols == 0 ? 0 : (long)(rows - 1) * ld + cols;
        if (array.Length < needed)
            throw new ArgumentException($"{shape}: {name} ({rows}x{cols}, ld {ld}) needs {needed} elements, has {array.Length}");
    }
}
