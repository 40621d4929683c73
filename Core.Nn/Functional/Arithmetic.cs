using Hybrid.Core.Gpu;

namespace Hybrid.Core.Nn;

public static partial class Functional
{
    /// <summary>a + b with NumPy broadcasting (same dtype).</summary>
    public static Tensor Add(Tensor a, Tensor b)
    {
        var shape = OpChecks.Broadcast("Add", a, b);
        var output = Broadcasting.Binary<AddOp>(a, b, shape);
        Trace.Record("Add", output, [a, b]);
        // The shapes only: an addition's backward reads neither operand.
        var (aShape, bShape) = (a.ShapeRef, b.ShapeRef);
        return Autograd.Record(output, "Add", g => [Broadcasting.SumToShape(g, aShape), Broadcasting.SumToShape(g, bShape)], a, b);
    }

    /// <summary>a - b with broadcasting.</summary>
    public static Tensor Sub(Tensor a, Tensor b)
    {
        var shape = OpChecks.Broadcast("Sub", a, b);
        var output = Broadcasting.Binary<SubOp>(a, b, shape);
        Trace.Record("Sub", output, [a, b]);
        return Autograd.Record(output, "Sub", g =>
            [a.RequiresGrad ? Broadcasting.SumToShape(g, a.ShapeRef) : null,
             b.RequiresGrad ? Broadcasting.SumToShape(AffineKernel(g, -1, 0), b.ShapeRef) : null], a, b);
    }

    /// <summary>a * b with broadcasting.</summary>
    public static Tensor Mul(Tensor a, Tensor b)
    {
        var shape = OpChecks.Broadcast("Mul", a, b);
        var output = Broadcasting.Binary<MulOp>(a, b, shape);
        Trace.Record("Mul", output, [a, b]);
        return Autograd.Record(output, "Mul", g =>
            [a.RequiresGrad ? Broadcasting.SumToShape(Broadcasting.Binary<MulOp>(g, b, shape), a.ShapeRef) : null,
             b.RequiresGrad ? Broadcasting.SumToShape(Broadcasting.Binary<MulOp>(g, a, shape), b.ShapeRef) : null], a, b);
    }

    /// <summary>a / b with broadcasting.</summary>
    public static Tensor Div(Tensor a, Tensor b)
    {
        var shape = OpChecks.Broadcast("Div", a, b);
        var output = Broadcasting.Binary<DivOp>(a, b, shape);
        Trace.Record("Div", output, [a, b]);
        return Autograd.Record(output, "Div", g =>
        {
            var gOverB = Broadcasting.Binary<DivOp>(g, b, shape);
            // d(a/b)/db = -(a/b)/b, so the output saved by the forward pass replaces a second division by b.
            return [a.RequiresGrad ? Broadcasting.SumToShape(gOverB, a.ShapeRef) : null,
                    b.RequiresGrad ? Broadcasting.SumToShape(AffineKernel(Broadcasting.Binary<MulOp>(gOverB, output, shape), -1, 0), b.ShapeRef) : null];
        }, a, b);
    }

    /// <summary>a * scale + shift with scalars.</summary>
    public static Tensor Affine(Tensor a, double scale, double shift = 0)
    {
        OpChecks.Floating("Affine", "a", a);
        var output = AffineKernel(a, scale, shift);
        Trace.Record("Affine", output, [a], ("scale", scale), ("shift", shift));
        return Autograd.Record(output, "Affine", g => [AffineKernel(g, scale, 0)], a);
    }

    /// <summary>The sum of every element (rank 0).</summary>
    public static Tensor Sum(Tensor input)
    {
        OpChecks.Floating("Sum", "input", input);
        return Sum(input, AllDims(input.Dim), false);
    }

    /// <summary>Sums over <paramref name="dims"/> (negative values count from the end; an empty list means every
    /// dimension, as in PyTorch).</summary>
    public static Tensor Sum(Tensor input, int[] dims, bool keepDim = false)
    {
        var (kept, reduced) = ReducedShapes("Sum", input, dims, keepDim);
        var output = Broadcasting.Reduce(input, kept);
        output = TensorAccess.View(output, reduced);
        Trace.Record("Sum", output, [input], ("dims", Axes(dims, input.Dim)), ("keepdim", keepDim));
        return Autograd.Record(output, "Sum", g => [Broadcasting.Expand(TensorAccess.View(g, kept), input.ShapeRef)], input);
    }

    /// <summary>The mean of every element (rank 0).</summary>
    public static Tensor Mean(Tensor input)
    {
        OpChecks.Floating("Mean", "input", input);
        return Mean(input, AllDims(input.Dim), false);
    }

    /// <summary>Means over <paramref name="dims"/> (an empty list means every dimension).</summary>
    public static Tensor Mean(Tensor input, int[] dims, bool keepDim = false)
    {
        var (kept, reduced) = ReducedShapes("Mean", input, dims, keepDim);
        double inverse = (double)Math.Max(1, ShapeOps.Numel(kept)) / input.Numel;
        var output = AffineKernel(Broadcasting.Reduce(input, kept), inverse, 0);
        output = TensorAccess.View(output, reduced);
        Trace.Record("Mean", output, [input], ("dims", Axes(dims, input.Dim)), ("keepdim", keepDim));
        return Autograd.Record(output, "Mean", g =>
            [AffineKernel(Broadcasting.Expand(TensorAccess.View(g, kept), input.ShapeRef), inverse, 0)], input);
    }

    /// <summary>x * scale + shift into new storage, unrecorded: the kernel behind Affine and several backward passes.</summary>
    internal static Tensor AffineKernel(Tensor x, double scale, double shift)
    {
        return x.IsSingle() ? Run<float>() : Run<double>();

        Tensor Run<T>() where T : unmanaged, IFloatingPointIeee754<T>
        {
            T[] xs = x.Data<T>(), d = TensorAccess.Fresh<T>(xs.Length);
            T s = T.CreateTruncating(scale), b = T.CreateTruncating(shift);
            Ranges.ByWork(d.Length, (start, n) => SimdMap.Affine<T>(xs.AsSpan(start, n), s, b, d.AsSpan(start, n)));
            return TensorAccess.Own(d, x.ShapeRef, x.Device);
        }
    }

    static int[] AllDims(int rank) => Enumerable.Range(0, rank).ToArray();

    static int[] Axes(int[] dims, int rank) => dims.Length == 0 ? AllDims(rank) : dims.Select(d => ShapeOps.Axis(d, rank)).ToArray();

    /// <summary>The input's shape with the reduced dimensions set to 1, and the output shape (those dimensions dropped
    /// unless <paramref name="keepDim"/>).</summary>
    static (int[] Kept, int[] Output) ReducedShapes(string op, Tensor input, int[] dims, bool keepDim)
    {
        OpChecks.Floating(op, "input", input);
        ArgumentNullException.ThrowIfNull(dims);
        var reduce = new bool[input.Dim];
        foreach (var d in dims)
        {
            if (d < -input.Dim || d >= input.Dim)
                throw new ArgumentException($"{op}: dimension {d} is out of range for input {ShapeOps.Format(input.ShapeRef)}");
            int axis = ShapeOps.Axis(d, input.Dim);
            if (reduce[axis]) throw new ArgumentException($"{op}: dimension {d} appears twice in [{string.Join(", ", dims)}]");
            reduce[axis] = true;
        }
        if (dims.Length == 0) Array.Fill(reduce, true);
        var kept = input.Shape;
        var output = new List<int>();
        for (int i = 0; i < kept.Length; i++)
        {
            if (reduce[i]) kept[i] = 1;
            if (!reduce[i] || keepDim) output.Add(kept[i]);
        }
        return (kept, output.ToArray());
    }
}

public sealed partial class Tensor
{
    public static Tensor operator +(Tensor a, Tensor b) => Functional.Add(a, b);
    public static Tensor operator -(Tensor a, Tensor b) => Functional.Sub(a, b);
    public static Tensor operator *(Tensor a, Tensor b) => Functional.Mul(a, b);
    public static Tensor operator /(Tensor a, Tensor b) => Functional.Div(a, b);
    public static Tensor operator +(Tensor a, double b) => Functional.Affine(a, 1, b);
    public static Tensor operator +(double a, Tensor b) => Functional.Affine(b, 1, a);
    public static Tensor operator -(Tensor a, double b) => Functional.Affine(a, 1, -b);
    public static Tensor operator -(double a, Tensor b) => Functional.Affine(b, -1, a);
    public static Tensor operator *(Tensor a, double b) => Functional.Affine(a, b);
    public static Tensor operator *(double a, Tensor b) => Functional.Affine(b, a);
    public static Tensor operator /(Tensor a, double b) => Functional.Affine(a, 1 / b);
    public static Tensor operator -(Tensor a) => Functional.Affine(a, -1);
}
