using System.Globalization;

namespace Hybrid.Core.Nn.Optim;

public abstract partial class Optimizer
{
    const string StatePrefix = "state.";
    const string GroupPrefix = "param_groups.";
    const string ParamsKey = "params";

    /// <summary>The optimiser's state as one flat map of tensors (copies), laid out like PyTorch's
    /// <c>optimizer.state_dict()</c>: <c>state.{i}.{name}</c> for the state of the i-th parameter counted across the groups
    /// in order (<c>momentum_buffer</c>, <c>exp_avg</c>, <c>step</c> as int64, ...), then <c>param_groups.{g}.{option}</c>
    /// as float64 scalars and <c>param_groups.{g}.params</c> as the int64 indices of the group's parameters. It can be
    /// saved with <see cref="Formats.StateDicts"/> and given to <see cref="LoadStateDict"/> to resume.</summary>
    public IReadOnlyDictionary<string, Tensor> StateDict()
    {
        var result = new OrderedDictionary<string, Tensor>(StringComparer.Ordinal);
        int index = 0;
        foreach (var group in groups)
            foreach (var p in group.Params)
            {
                if (state.TryGetValue(p, out var s))
                    foreach (var (name, tensor) in s.Tensors)
                        result[$"{StatePrefix}{index}.{name}"] = Copy(tensor);
                index++;
            }
        index = 0;
        for (int g = 0; g < groups.Count; g++)
        {
            foreach (var (name, value) in groups[g].Options)
                result[$"{GroupPrefix}{g}.{name}"] = Tensor.Scalar(value, ScalarType.Float64);
            var ids = Enumerable.Range(index, groups[g].Params.Count).Select(i => (long)i).ToArray();
            result[$"{GroupPrefix}{g}.{ParamsKey}"] = Tensor.Wrap(ids, [ids.Length]);
            index += ids.Length;
        }
        return result;
    }

    /// <summary>Restores a <see cref="StateDict"/> into an optimiser over the same parameter groups (same number of groups
    /// and of parameters per group; parameters are matched by position, as in PyTorch). Group options are replaced by the
    /// saved ones; state buffers are copied and converted to each parameter's dtype. Nothing changes unless every entry
    /// fits.</summary>
    public void LoadStateDict(IReadOnlyDictionary<string, Tensor> saved)
    {
        ArgumentNullException.ThrowIfNull(saved);
        var parameters = groups.SelectMany(g => g.Params).ToList();
        var savedOptions = groups.Select(_ => new OrderedDictionary<string, double>(StringComparer.Ordinal)).ToList();
        var savedCounts = new int?[groups.Count];
        var newState = new Dictionary<Tensor, ParameterState>(ReferenceEqualityComparer.Instance);

        foreach (var (key, tensor) in saved)
        {
            if (key.StartsWith(StatePrefix, StringComparison.Ordinal) && Split(key[StatePrefix.Length..]) is (int i, string name))
            {
                if (i >= parameters.Count)
                    throw Bad(key, $"names parameter {i}, but the optimiser has {parameters.Count}");
                var p = parameters[i];
                if (!newState.TryGetValue(p, out var s))
                    newState[p] = s = new ParameterState();
                s.Set(name, StateTensor(key, name, tensor, p));
            }
            else if (key.StartsWith(GroupPrefix, StringComparison.Ordinal) && Split(key[GroupPrefix.Length..]) is (int g, string option))
            {
                if (g >= groups.Count)
                    throw Bad(key, $"names parameter group {g}, but the optimiser has {groups.Count}");
                if (option == ParamsKey)
                    savedCounts[g] = tensor.Numel;
                else if (tensor.Numel != 1)
                    throw Bad(key, $"an option must be a one-element tensor, not {ShapeOps.Format(tensor.ShapeRef)}");
                else
                    savedOptions[g][option] = tensor.Item();
            }
            else
                throw Bad(key, "is neither state.{i}.{name} nor param_groups.{g}.{option}");
        }

        var replacements = new List<ParamGroup>();
        for (int g = 0; g < groups.Count; g++)
        {
            if (savedCounts[g] is not { } count)
                throw new ArgumentException(
                    $"{GetType().Name}: the state has no {GroupPrefix}{g}.{ParamsKey}: it was saved from {savedCounts.Count(c => c is not null)} groups, the optimiser has {groups.Count}", nameof(saved));
            if (count != groups[g].Params.Count)
                throw new ArgumentException(
                    $"{GetType().Name}: parameter group {g} was saved with {count} parameters, the optimiser's has {groups[g].Params.Count}", nameof(saved));
            var replacement = new ParamGroup(groups[g].Params, savedOptions[g]);
            CompleteOptions(replacement);
            replacements.Add(replacement);
        }

        for (int g = 0; g < groups.Count; g++)
            groups[g].ReplaceOptions(replacements[g].Options);
        state.Clear();
        foreach (var (p, s) in newState)
            state[p] = s;
    }

    static (int Index, string Name)? Split(string rest)
    {
        int dot = rest.IndexOf('.');
        return dot > 0 && dot < rest.Length - 1
               && int.TryParse(rest.AsSpan(0, dot), NumberStyles.None, CultureInfo.InvariantCulture, out var index)
            ? (index, rest[(dot + 1)..])
            : null;
    }

    Tensor StateTensor(string key, string name, Tensor tensor, Tensor parameter)
    {
        if (name == ParameterState.StepKey)
            return tensor.Numel == 1
                ? Tensor.Scalar(tensor.Item(), ScalarType.Int64)
                : throw Bad(key, $"a step count must be a one-element tensor, not {ShapeOps.Format(tensor.ShapeRef)}");
        if (!tensor.IsFloatingPoint || !ShapeOps.Equal(tensor.ShapeRef, parameter.ShapeRef))
            throw Bad(key, $"holds {ShapeOps.Format(tensor.ShapeRef)} {tensor.Dtype}, its parameter is {ShapeOps.Format(parameter.ShapeRef)} {parameter.Dtype}");
        return parameter.ZerosLike().CopyFrom(tensor);
    }

    ArgumentException Bad(string key, string problem) => new($"{GetType().Name}: state entry '{key}' {problem}", "saved");

    static Tensor Copy(Tensor t) => Tensor.Zeros(t.Dtype, t.Device, t.ShapeRef).CopyFrom(t);
}
