namespace Hybrid.Core.Nn.Optim;

/// <summary>What an optimiser keeps for one parameter between steps (PyTorch's <c>optimizer.state[p]</c>): buffers of the
/// parameter's shape and dtype such as <c>momentum_buffer</c>, <c>exp_avg</c>, <c>exp_avg_sq</c>, and the step count
/// <c>step</c> as an int64 scalar.</summary>
public sealed class ParameterState
{
    internal const string StepKey = "step";

    readonly OrderedDictionary<string, Tensor> tensors = new(StringComparer.Ordinal);

    internal ParameterState() { }

    /// <summary>The state tensors by PyTorch's names, in the order they were created (the optimiser's own, not copies).</summary>
    public IReadOnlyDictionary<string, Tensor> Tensors => tensors;

    /// <summary>The number of steps taken so far (0 when the optimiser keeps no count).</summary>
    public long Step => tensors.TryGetValue(StepKey, out var step) ? step.I64[0] : 0;

    internal long IncrementStep()
    {
        if (!tensors.TryGetValue(StepKey, out var step))
            tensors[StepKey] = step = Tensor.Zeros(ScalarType.Int64, null);
        return ++step.I64[0];
    }

    /// <summary>The storage of buffer <paramref name="name"/>, created zero-filled with <paramref name="parameter"/>'s
    /// shape, dtype and device when absent (<paramref name="created"/> says which).</summary>
    internal T[] Buffer<T>(string name, Tensor parameter, out bool created) where T : unmanaged
    {
        created = !tensors.TryGetValue(name, out var buffer);
        if (created)
            tensors[name] = buffer = parameter.ZerosLike();
        return (T[])buffer!.Storage;
    }

    internal T[] Buffer<T>(string name, Tensor parameter) where T : unmanaged => Buffer<T>(name, parameter, out _);

    internal void Set(string name, Tensor value) => tensors[name] = value;
}
