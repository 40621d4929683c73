namespace Hybrid.Core.Nn;

public static partial class Functional
{
    /// <summary>exp(x) / sum exp(x) along <paramref name="dim"/>, computed with the max subtracted.</summary>
    public static Tensor Softmax(Tensor input, int dim) => SoftmaxOp("Softmax", input, dim, log: false);

    /// <summary>x - logsumexp(x) along <paramref name="dim"/>.</summary>
    public static Tensor LogSoftmax(Tensor input, int dim) => SoftmaxOp("LogSoftmax", input, dim, log: true);

    static Tensor SoftmaxOp(string op, Tensor input, int dim, bool log)
    {
        ArgumentNullException.ThrowIfNull(input);
        OpChecks.Floating(op, "input", input);
        int rank = Math.Max(1, input.Dim);
        if (dim < -rank || dim >= rank)
            throw new ArgumentException($"{op}: dim {dim} is out of range for input {ShapeOps.Format(input.ShapeRef)}");
        int axis = dim < 0 ? dim + rank : dim;
        var output = input.IsSingle() ? Run<float>() : Run<double>();
        Trace.Record(op, output, [input], ("dim", axis));
        return Autograd.Record(output, op, g => [input.IsSingle() ? Back<float>(g) : Back<double>(g)], input);

        Tensor Run<T>() where T : unmanaged, IFloatingPointIeee754<T> =>
            TensorAccess.Own(SoftmaxKernel<T>.Along(input.ShapeRef, axis).Forward(input.Data<T>(), log), input.ShapeRef, input.Device);

        Tensor Back<T>(Tensor g) where T : unmanaged, IFloatingPointIeee754<T> =>
            TensorAccess.Own(SoftmaxKernel<T>.Along(input.ShapeRef, axis).Backward(output.Data<T>(), g.Data<T>(), log), input.ShapeRef, input.Device);
    }
}
