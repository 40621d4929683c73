using static Hybrid.Core.Nn.Optim.OptionNames;

namespace Hybrid.Core.Nn.Optim;

/// <summary>Adam (Kingma and Ba 2015) with bias correction, optional AMSGrad and L2 weight decay added to the gradient,
/// in PyTorch's order (<c>torch.optim.Adam</c>): g = g + wd p; m = b1 m + (1 - b1) g; v = b2 v + (1 - b2) g^2;
/// p = p - lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps), with v replaced by its running maximum under AMSGrad.</summary>
/// <remarks>Group options: <c>lr</c>, <c>beta1</c>, <c>beta2</c> (PyTorch's <c>betas</c> pair), <c>eps</c>,
/// <c>weight_decay</c>, <c>amsgrad</c> (0 or 1). State: <c>step</c>, <c>exp_avg</c>, <c>exp_avg_sq</c>, and
/// <c>max_exp_avg_sq</c> under AMSGrad.</remarks>
public class Adam : Optimizer
{
    const string ExpAvg = "exp_avg", ExpAvgSq = "exp_avg_sq", MaxExpAvgSq = "max_exp_avg_sq";

    readonly bool decoupled;

    /// <summary>Adam over one group of <paramref name="parameters"/>.</summary>
    public Adam(IEnumerable<Tensor> parameters, double lr = 1e-3, double beta1 = 0.9, double beta2 = 0.999,
        double eps = 1e-8, double weightDecay = 0, bool amsgrad = false)
        : this(OneGroup(parameters), lr, beta1, beta2, eps, weightDecay, amsgrad) { }

    /// <summary>Adam over parameter groups; the arguments are the defaults for options a group does not set.</summary>
    public Adam(IEnumerable<ParamGroup> groups, double lr = 1e-3, double beta1 = 0.9, double beta2 = 0.999,
        double eps = 1e-8, double weightDecay = 0, bool amsgrad = false)
        : this(groups, lr, beta1, beta2, eps, weightDecay, amsgrad, decoupled: false) { }

    private protected Adam(IEnumerable<ParamGroup> groups, double lr, double beta1, double beta2, double eps,
        double weightDecay, bool amsgrad, bool decoupled)
        : base(groups, DefaultsOf((Lr, lr), (Beta1, beta1), (Beta2, beta2), (Eps, eps), (WeightDecay, weightDecay),
            (Amsgrad, amsgrad ? 1 : 0))) =>
        this.decoupled = decoupled;

    private protected override void Validate(ParamGroup group)
    {
        Require(group, Lr, v => v >= 0, ">= 0");
        Require(group, Eps, v => v >= 0, ">= 0");
        Require(group, Beta1, v => v is >= 0 and < 1, "in [0, 1)");
        Require(group, Beta2, v => v is >= 0 and < 1, "in [0, 1)");
        Require(group, WeightDecay, v => v >= 0, ">= 0");
        RequireFlag(group, Amsgrad);
    }

    private protected override void Update<T>(ParamGroup group, Tensor parameter, T[] param, T[] grad, ParameterState state)
    {
        double lr = group.Lr, beta1 = group[Beta1], beta2 = group[Beta2], weightDecay = group[WeightDecay];
        bool amsgrad = group.Flag(Amsgrad);
        var expAvg = state.Buffer<T>(ExpAvg, parameter);
        var expAvgSq = state.Buffer<T>(ExpAvgSq, parameter);
        var maxExpAvgSq = amsgrad ? state.Buffer<T>(MaxExpAvgSq, parameter) : null;
        long step = state.IncrementStep();

        // The scalars are computed in double and rounded once, as PyTorch's Python-float arithmetic does.
        double biasCorrection1 = 1 - Math.Pow(beta1, step), biasCorrection2 = 1 - Math.Pow(beta2, step);
        T b1 = Scalar<T>(beta1), keep1 = Scalar<T>(1 - beta1), b2 = Scalar<T>(beta2), keep2 = Scalar<T>(1 - beta2);
        T wd = Scalar<T>(weightDecay), decay = Scalar<T>(1 - lr * weightDecay), eps = Scalar<T>(group[Eps]);
        T correction2Sqrt = Scalar<T>(Math.Sqrt(biasCorrection2)), negStepSize = Scalar<T>(-(lr / biasCorrection1));
        bool coupledDecay = !decoupled && weightDecay != 0, decoupledDecay = decoupled && weightDecay != 0;
        if (param is float[] p32 && grad is float[] g32 && maxExpAvgSq is null && weightDecay == 0)
        {
            float[] m32 = (float[])(object)expAvg, v32 = (float[])(object)expAvgSq;
            float fb1 = (float)(object)b1, fk1 = (float)(object)keep1, fb2 = (float)(object)b2, fk2 = (float)(object)keep2;
            float fc2 = (float)(object)correction2Sqrt, feps = (float)(object)eps, fstep = (float)(object)negStepSize;
            Chunks.For(param.Length, (start, count) =>
                AdamKernel.Step(p32, g32, m32, v32, start, count, fb1, fk1, fb2, fk2, fc2, feps, fstep));
            return;
        }

        Chunks.For(param.Length, (start, count) =>
        {
            var p = param.AsSpan(start, count);
            var m = expAvg.AsSpan(start, count);
            var v = expAvgSq.AsSpan(start, count);
            T[] scratch1 = Chunks.Rent<T>(), scratch2 = Chunks.Rent<T>();
            try
            {
                Span<T> s1 = scratch1.AsSpan(0, count), s2 = scratch2.AsSpan(0, count);
                if (decoupledDecay)
                    TensorPrimitives.Multiply(p, decay, p);
                ReadOnlySpan<T> g = grad.AsSpan(start, count);
                if (coupledDecay)
                {
                    TensorPrimitives.FusedMultiplyAdd(p, wd, g, s1);
                    g = s1;
                }
                TensorPrimitives.Multiply(m, b1, m);
                TensorPrimitives.FusedMultiplyAdd(g, keep1, m, m);
                TensorPrimitives.Multiply(v, b2, v);
                TensorPrimitives.Multiply(g, keep2, s2);
                TensorPrimitives.MultiplyAdd(s2, g, v, v);
                ReadOnlySpan<T> second = v;
                if (maxExpAvgSq is not null)
                {
                    var max = maxExpAvgSq.AsSpan(start, count);
                    TensorPrimitives.Max(max, v, max);
                    second = max;
                }
                TensorPrimitives.Sqrt(second, s2);
                TensorPrimitives.Divide(s2, correction2Sqrt, s2);
                TensorPrimitives.Add(s2, eps, s2);
                // addcdiv: p + (value * m) / denom, multiplying before dividing as PyTorch's kernel does.
                TensorPrimitives.Multiply(m, negStepSize, s1);
                TensorPrimitives.Divide(s1, s2, s1);
                TensorPrimitives.Add(p, s1, p);
            }
            finally
            {
                Chunks.Return(scratch1);
                Chunks.Return(scratch2);
            }
        });
    }
}

/// <summary>AdamW (Loshchilov and Hutter 2019): Adam with weight decay decoupled from the gradient, as
/// <c>torch.optim.AdamW</c>: p = p (1 - lr wd) before the Adam step, which then sees the raw gradient.</summary>
public sealed class AdamW : Adam
{
    /// <summary>AdamW over one group of <paramref name="parameters"/> (PyTorch's default decay 0.01).</summary>
    public AdamW(IEnumerable<Tensor> parameters, double lr = 1e-3, double beta1 = 0.9, double beta2 = 0.999,
        double eps = 1e-8, double weightDecay = 1e-2, bool amsgrad = false)
        : this(OneGroup(parameters), lr, beta1, beta2, eps, weightDecay, amsgrad) { }

    /// <summary>AdamW over parameter groups; the arguments are the defaults for options a group does not set.</summary>
    public AdamW(IEnumerable<ParamGroup> groups, double lr = 1e-3, double beta1 = 0.9, double beta2 = 0.999,
        double eps = 1e-8, double weightDecay = 1e-2, bool amsgrad = false)
        : base(groups, lr, beta1, beta2, eps, weightDecay, amsgrad, decoupled: true) { }
}
