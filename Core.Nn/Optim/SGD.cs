using static Hybrid.Core.Nn.Optim.OptionNames;

namespace Hybrid.Core.Nn.Optim;

/// <summary>Stochastic gradient descent with momentum, dampening, Nesterov momentum and L2 weight decay, in PyTorch's
/// order (<c>torch.optim.SGD</c>): d = g + wd p; b = d on the first step, else b = momentum b + (1 - dampening) d;
/// d = d + momentum b (Nesterov) or d = b; p = p - lr d.</summary>
/// <remarks>Group options: <c>lr</c>, <c>momentum</c>, <c>dampening</c>, <c>weight_decay</c>, <c>nesterov</c> (0 or 1).
/// State: <c>momentum_buffer</c> when momentum is non-zero.</remarks>
public sealed class SGD : Optimizer
{
    const string MomentumBuffer = "momentum_buffer";

    /// <summary>SGD over one group of <paramref name="parameters"/>.</summary>
    public SGD(IEnumerable<Tensor> parameters, double lr, double momentum = 0, double dampening = 0,
        double weightDecay = 0, bool nesterov = false)
        : this(OneGroup(parameters), lr, momentum, dampening, weightDecay, nesterov) { }

    /// <summary>SGD over parameter groups; the arguments are the defaults for options a group does not set.</summary>
    public SGD(IEnumerable<ParamGroup> groups, double lr, double momentum = 0, double dampening = 0,
        double weightDecay = 0, bool nesterov = false)
        : base(groups, DefaultsOf((Lr, lr), (Momentum, momentum), (Dampening, dampening), (WeightDecay, weightDecay),
            (Nesterov, nesterov ? 1 : 0)))
    { }

    private protected override void Validate(ParamGroup group)
    {
        Require(group, Lr, v => v >= 0, ">= 0");
        Require(group, Momentum, v => v >= 0, ">= 0");
        Require(group, WeightDecay, v => v >= 0, ">= 0");
        RequireFlag(group, Nesterov);
        if (group.Flag(Nesterov) && (group[Momentum] <= 0 || group[Dampening] != 0))
            throw new ArgumentException(
                $"SGD: Nesterov momentum requires momentum > 0 and dampening = 0, not momentum {group[Momentum]}, dampening {group[Dampening]}",
                nameof(group));
    }

    private protected override void Update<T>(ParamGroup group, Tensor parameter, T[] param, T[] grad, ParameterState state)
    {
        double weightDecay = group[WeightDecay], momentum = group[Momentum];
        bool nesterov = group.Flag(Nesterov);
        T wd = Scalar<T>(weightDecay), m = Scalar<T>(momentum), keep = Scalar<T>(1 - group[Dampening]), step = Scalar<T>(-group.Lr);
        T[]? buffer = null;
        bool first = false;
        if (momentum != 0)
            buffer = state.Buffer<T>(MomentumBuffer, parameter, out first);

        Chunks.For(param.Length, (start, count) =>
        {
            var p = param.AsSpan(start, count);
            var scratch = Chunks.Rent<T>();
            try
            {
                Span<T> s = scratch.AsSpan(0, count);
                ReadOnlySpan<T> d = grad.AsSpan(start, count);
                if (weightDecay != 0)
                {
                    TensorPrimitives.FusedMultiplyAdd(p, wd, d, s);
                    d = s;
                }
                if (buffer is not null)
                {
                    var b = buffer.AsSpan(start, count);
                    if (first)
                        d.CopyTo(b);
                    else
                    {
                        TensorPrimitives.Multiply(b, m, b);
                        TensorPrimitives.FusedMultiplyAdd(d, keep, b, b);
                    }
                    if (nesterov)
                    {
                        TensorPrimitives.FusedMultiplyAdd(b, m, d, s);
                        d = s;
                    }
                    else
                        d = b;
                }
                TensorPrimitives.FusedMultiplyAdd(d, step, p, p);
            }
            finally
            {
                Chunks.Return(scratch);
            }
        });
    }
}
