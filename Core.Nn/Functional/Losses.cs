namespace Hybrid.Core.Nn;

public static partial class Functional
{
    /// <summary>F.cross_entropy: logits (N, C), int64 targets (N) in [0, C); label smoothing as in PyTorch 1.10+.</summary>
    /// <remarks>With smoothing e the target distribution is (1 - e) one-hot + e / C, so the loss of a sample is
    /// -(1 - e) logp[target] - e/C sum_c logp[c], and its gradient with respect to the logits softmax - that distribution.
    /// Mean divides by N. The gradient flows to the logits only.</remarks>
    public static Tensor CrossEntropy(Tensor logits, Tensor target, Reduction reduction = Reduction.Mean, double labelSmoothing = 0)
    {
        const string op = "CrossEntropy";
        ArgumentNullException.ThrowIfNull(logits);
        ArgumentNullException.ThrowIfNull(target);
        OpChecks.Floating(op, "logits", logits);
        if (logits.Dim != 2)
            throw new ArgumentException($"{op}: logits must have shape (N, C), not {ShapeOps.Format(logits.ShapeRef)}");
        int n = logits.Size(0), classes = logits.Size(1);
        if (target.Dtype != ScalarType.Int64 || target.Dim != 1 || target.Size(0) != n)
            throw new ArgumentException(
                $"{op}: target must be int64 of shape [{n}] for logits {ShapeOps.Format(logits.ShapeRef)}, not {target.Dtype} {ShapeOps.Format(target.ShapeRef)}");
        var labels = target.I64;
        for (int i = 0; i < n; i++)
            if ((ulong)labels[i] >= (ulong)classes)
                throw new ArgumentException($"{op}: target {labels[i]} at index {i} is out of range [0, {classes}) for logits {ShapeOps.Format(logits.ShapeRef)}");
        if (!(labelSmoothing >= 0 && labelSmoothing <= 1))
            throw new ArgumentException($"{op}: label_smoothing must lie in [0, 1], not {labelSmoothing}");

        var (output, backward) = logits.IsSingle() ? Run<float>() : Run<double>();
        Trace.Record(op, output, [logits, target], ("reduction", reduction.ToString().ToLowerInvariant()), ("label_smoothing", labelSmoothing));
        return Autograd.Record(output, op, backward, logits);

        (Tensor, Func<Tensor, Tensor?[]>) Run<T>() where T : unmanaged, IFloatingPointIeee754<T>
        {
            var kernel = SoftmaxKernel<T>.Along(logits.ShapeRef, 1);
            var logp = kernel.Forward(logits.Data<T>(), log: true);
            double onTarget = 1 - labelSmoothing, spread = labelSmoothing / classes;
            var losses = new T[n];
            for (int i = 0; i < n; i++)
            {
                var row = logp.AsSpan(i * classes, classes);
                double loss = -onTarget * double.CreateTruncating(row[(int)labels[i]]);
                if (spread != 0) loss -= spread * Moments.Sum<T>(row);
                losses[i] = T.CreateTruncating(loss);
            }
            Tensor result = reduction == Reduction.None
                ? TensorAccess.Own(losses, [n], logits.Device)
                : TensorAccess.Own([T.CreateTruncating(Moments.Sum<T>(losses) / (reduction == Reduction.Mean ? n : 1))], [], logits.Device);
            return (result, g =>
            {
                var gs = g.Data<T>();
                var grad = TensorAccess.Fresh<T>(logp.Length);
                TensorPrimitives.Exp(logp, grad);
                for (int i = 0; i < n; i++)
                {
                    var row = grad.AsSpan(i * classes, classes);
                    T scale = reduction switch
                    {
                        Reduction.None => gs[i],
                        Reduction.Sum => gs[0],
                        _ => gs[0] / T.CreateTruncating(n),
                    };
                    TensorPrimitives.Subtract(row, T.CreateTruncating(spread), row);
                    row[(int)labels[i]] -= T.CreateTruncating(onTarget);
                    TensorPrimitives.Multiply(row, scale, row);
                }
                return [TensorAccess.Own(grad, logits.ShapeRef, logits.Device)];
            }
            );
        }
    }

    /// <summary>F.dropout: in training, zeroes each element with probability p and scales the rest by 1/(1-p); identity
    /// otherwise. The mask comes from <paramref name="generator"/>.</summary>
    /// <remarks>One uniform draw per element in row-major order (kept when the draw is at least p), so a generator with
    /// the same seed gives the same mask for float32 and float64. The result is always a new tensor.</remarks>
    public static Tensor Dropout(Tensor input, double p, bool training, Generator generator)
    {
        const string op = "Dropout";
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(generator);
        OpChecks.Floating(op, "input", input);
        if (!(p >= 0 && p <= 1)) throw new ArgumentException($"{op}: p must lie in [0, 1], not {p}");
        Tensor output;
        Func<Tensor, Tensor?[]> backward;
        if (!training || p == 0)
        {
            output = AffineKernel(input, 1, 0);
            backward = g => [g];
        }
        else
        {
            var mask = input.IsSingle() ? DropoutMask<float>(input, p, generator) : DropoutMask<double>(input, p, generator);
            output = Broadcasting.Binary<MulOp>(input, mask, input.ShapeRef);
            backward = g => [Broadcasting.Binary<MulOp>(g, mask, input.ShapeRef)];
        }
        Trace.Record(op, output, [input], ("p", p), ("training", training));
        return Autograd.Record(output, op, backward, input);
    }

    /// <summary>0 where an element is dropped, 1/(1-p) where it is kept.</summary>
    static Tensor DropoutMask<T>(Tensor input, double p, Generator generator) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var mask = GC.AllocateUninitializedArray<T>(input.Numel);
        generator.FillKept<T>(mask, p, T.CreateTruncating(1 / (1 - p)));
        return TensorAccess.Own(mask, input.ShapeRef, input.Device);
    }
}
