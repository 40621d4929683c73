namespace Hybrid.Core.Nn;

/// <summary>The worst disagreement <see cref="GradCheck.Run"/> found between autograd and finite differences.</summary>
public sealed record GradCheckResult(bool Passed, double MaxAbsError, string Worst);

/// <summary>Gradient checking by central finite differences (PyTorch's <c>torch.autograd.gradcheck</c>): for a random
/// projection v of the output, the autograd gradient of sum(v * f(x)) is compared, element by element, with
/// (L(x + eps) - L(x - eps)) / (2 eps). Run it in float64 on the reference device.</summary>
public static class GradCheck
{
    /// <summary>Checks every input that requires grad; an element passes when |autograd - numeric| &lt;= atol + rtol |numeric|.
    /// <paramref name="f"/> must be deterministic (reseed any generator inside it).</summary>
    public static GradCheckResult Run(Func<Tensor[], Tensor> f, Tensor[] inputs, double eps = 1e-6, double atol = 1e-6,
        double rtol = 1e-4, long seed = 1)
    {
        foreach (var x in inputs)
            if (x.RequiresGrad && x.Dtype != ScalarType.Float64)
                throw new ArgumentException("gradient checks need float64 inputs: float32 differences are too coarse");
        foreach (var x in inputs) x.Grad = null;

        var output = f(inputs);
        var projection = new Generator(seed).Normal(0, 1, ScalarType.Float64, output.Shape).To(output.Device);
        if (!output.RequiresGrad)
            throw new ArgumentException($"the output ({output}) does not depend on any input that requires grad");
        output.Backward(projection);

        double worst = 0;
        string worstAt = "none";
        bool passed = true;
        var v = projection.F64;
        using var _ = Autograd.NoGrad();
        for (int i = 0; i < inputs.Length; i++)
        {
            var x = inputs[i];
            if (!x.RequiresGrad) continue;
            var analytic = x.Grad?.F64 ?? new double[x.Numel];
            var data = x.F64;
            for (int j = 0; j < data.Length; j++)
            {
                double saved = data[j];
                data[j] = saved + eps;
                double plus = Dot(f(inputs).F64, v);
                data[j] = saved - eps;
                double minus = Dot(f(inputs).F64, v);
                data[j] = saved;
                double numeric = (plus - minus) / (2 * eps);
                double error = Math.Abs(analytic[j] - numeric);
                bool ok = error <= atol + rtol * Math.Abs(numeric);
                // Report the first failing element, or while all pass, the largest error.
                if ((!ok && passed) || (passed && error > worst))
                    worstAt = $"input {i} element {j}: autograd {analytic[j]:R}, numeric {numeric:R}";
                passed &= ok;
                worst = Math.Max(worst, error);
            }
        }
        return new GradCheckResult(passed, worst, worstAt);
    }

    static double Dot(double[] a, double[] b)
    {
        double sum = 0;
        for (int i = 0; i < a.Length; i++) sum += a[i] * b[i];
        return sum;
    }
}
