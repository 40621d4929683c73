namespace Hybrid.Core.Nn.Optim;

/// <summary>Gradient clipping in place (<c>torch.nn.utils.clip_grad_norm_</c> and <c>clip_grad_value_</c>); parameters
/// without a gradient are ignored.</summary>
public static class GradClip
{
    /// <summary>Scales all gradients together so that their joint <paramref name="normType"/>-norm (the norm of the
    /// per-tensor norms; <see cref="double.PositiveInfinity"/> for the largest magnitude) is at most
    /// <paramref name="maxNorm"/>: each gradient is multiplied by min(1, maxNorm / (total + 1e-6)). Returns the total norm
    /// before clipping (0 when no parameter has a gradient). With <paramref name="errorIfNonfinite"/>, a NaN or infinite
    /// total throws before anything is changed.</summary>
    public static double ClipGradNorm(IEnumerable<Tensor> parameters, double maxNorm, double normType = 2,
        bool errorIfNonfinite = false)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        if (!double.IsFinite(maxNorm) || maxNorm < 0)
            throw new ArgumentException($"ClipGradNorm: maxNorm must be finite and >= 0, not {maxNorm}", nameof(maxNorm));
        if (double.IsNaN(normType) || normType <= 0)
            throw new ArgumentException($"ClipGradNorm: normType must be > 0 or infinity, not {normType}", nameof(normType));
        var grads = Gradients(parameters);
        if (grads.Count == 0)
            return 0;

        double total;
        if (double.IsPositiveInfinity(normType))
        {
            // Math.Max, unlike LINQ's Max, lets a NaN through, as PyTorch's max does.
            total = 0;
            foreach (var g in grads)
                total = Math.Max(total, g.Storage is float[] f ? MaxMagnitude<float>(f) : MaxMagnitude<double>((double[])g.Storage));
        }
        else
        {
            // The per-tensor norms are accumulated in double whatever the gradients' dtype; PyTorch reduces float32
            // gradients in float32, so totals agree to float32 rounding.
            double sum = 0;
            foreach (var g in grads)
            {
                double norm = g.Storage is float[] f ? Norm<float>(f, normType) : Norm<double>((double[])g.Storage, normType);
                sum += Math.Pow(norm, normType);
            }
            total = Math.Pow(sum, 1 / normType);
        }
        if (errorIfNonfinite && !double.IsFinite(total))
            throw new InvalidOperationException(
                $"ClipGradNorm: the total norm of order {normType} of the gradients is {total}; they cannot be clipped");

        double coefficient = Math.Min(maxNorm / (total + 1e-6), 1.0);
        // PyTorch multiplies even when the coefficient is 1, so NaN and infinite gradients spread identically.
        foreach (var g in grads)
            switch (g.Storage)
            {
                case float[] f: TensorPrimitives.Multiply(f, (float)coefficient, f); break;
                case double[] d: TensorPrimitives.Multiply(d, coefficient, d); break;
            }
        return total;
    }

    /// <summary>Clamps every gradient element to [-<paramref name="clipValue"/>, <paramref name="clipValue"/>]; NaN stays NaN.</summary>
    public static void ClipGradValue(IEnumerable<Tensor> parameters, double clipValue)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        if (double.IsNaN(clipValue) || clipValue < 0)
            throw new ArgumentException($"ClipGradValue: clipValue must be >= 0, not {clipValue}", nameof(clipValue));
        foreach (var g in Gradients(parameters))
            switch (g.Storage)
            {
                case float[] f: Clamp(f, (float)clipValue); break;
                case double[] d: Clamp(d, clipValue); break;
            }
    }

    static List<Tensor> Gradients(IEnumerable<Tensor> parameters)
    {
        var grads = new List<Tensor>();
        foreach (var p in parameters)
        {
            if (p is null)
                throw new ArgumentException("gradient clipping: the parameter list holds a null tensor", nameof(parameters));
            if (p.Grad is { } g)
                grads.Add(g);
        }
        return grads;
    }

    static double MaxMagnitude<T>(T[] values) where T : unmanaged, IFloatingPointIeee754<T> =>
        values.Length == 0 ? 0 : double.CreateTruncating(T.Abs(TensorPrimitives.MaxMagnitude<T>(values)));

    // Sums of squares run in SIMD over blocks short enough that float32 accumulation stays exact to ~1e-7, then add in double.
    const int Block = 4096;

    // The p-norm of one tensor: L2 through SIMD sums of squares, other orders through |x|^p in double.
    static double Norm<T>(T[] values, double p) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (p == 2)
        {
            double squares = 0;
            for (int start = 0; start < values.Length; start += Block)
                squares += double.CreateTruncating(TensorPrimitives.SumOfSquares<T>(values.AsSpan(start, Math.Min(Block, values.Length - start))));
            return Math.Sqrt(squares);
        }
        double sum = 0;
        foreach (var v in values)
            sum += Math.Pow(Math.Abs(double.CreateTruncating(v)), p);
        return Math.Pow(sum, 1 / p);
    }

    static void Clamp<T>(T[] values, T limit) where T : unmanaged, IFloatingPointIeee754<T>
    {
        TensorPrimitives.Min(values, limit, values);
        TensorPrimitives.Max(values, -limit, values);
    }
}
