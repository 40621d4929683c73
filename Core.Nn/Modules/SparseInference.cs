namespace Hybrid.Core.Nn.Modules;

/// <summary>What <see cref="SparseInference.Enable"/> did: layers on the sparse kernels, layers left dense (they keep
/// more than the density limit, or the dense kernel was faster by the measured rule), and batch norms folded into sparse
/// layers.</summary>
public sealed record SparseInferencePlan(int SparseLayers, int DenseLayers, int FoldedNorms);

/// <summary>Sparse inference of a whole model: every <see cref="MaskableLayer"/> on its compressed weights where that
/// measured faster, and every evaluation-mode batch norm that reads only a sparse layer's output folded into that layer,
/// as inference runtimes (ONNX Runtime among them) fold them into the preceding convolution.</summary>
public static class SparseInference
{
    /// <summary>Largest deviation of the folded model's output from the unfolded one, relative to the output's largest
    /// magnitude, that still counts as the same function: folding rescales float32 weights, which moves the output by
    /// about 1e-6 relative per layer; a fold that was not valid (the layer's output read elsewhere) moves it by the
    /// size of the values themselves.</summary>
    const double FoldTolerance = 1e-3;

    /// <summary>Turns sparse inference on (see <see cref="MaskableLayer.UseSparse"/>) and folds the batch norms. Without
    /// <paramref name="maxDensity"/>, by the measured rule: every layer keeping at most
    /// <see cref="MaskableLayer.SparseCeiling"/> is timed both ways on the input it sees when the model runs
    /// <paramref name="probe"/> (so pass a probe of the batch size that will run) and keeps the faster kernel
    /// (<see cref="MaskableLayer.ChooseKernel"/>; each layer's <see cref="MaskableLayer.Choice"/> says what was measured).
    /// With it, the flat rule: sparse wherever a layer keeps at most that share, untimed. Which norm reads which
    /// layer's output is found by running <paramref name="probe"/> once with forward hooks: a norm called once on the
    /// output of a sparse layer called once, which no other module reads. A use of that output outside any module
    /// cannot be seen by hooks, so the folded model is checked against the unfolded one on the same probe, and the
    /// folds are undone if they differ.</summary>
    public static SparseInferencePlan Enable(Module model, Tensor probe, double? maxDensity = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(probe);
        var layers = model.NamedModules().Select(m => m.Module).OfType<MaskableLayer>().ToList();
        double limit = maxDensity ?? MaskableLayer.SparseCeiling;
        foreach (var layer in layers) layer.UseSparse(true, limit);
        if (maxDensity is null)
        {
            var inputs = LayerInputs(model, layers, probe);
            foreach (var layer in layers)
                if (inputs.TryGetValue(layer, out var input)) layer.ChooseKernel(input);
                else layer.UseSparse(false);
        }
        var pairs = FoldablePairs(model, probe);
        if (pairs.Count > 0)
        {
            var unfolded = Outputs(model, probe);
            foreach (var (layer, norm) in pairs) Fold(layer, norm);
            if (!Same(unfolded, Outputs(model, probe)))
            {
                foreach (var (layer, _) in pairs) Fold(layer, null);
                pairs.Clear();
            }
        }
        int sparse = layers.Count(l => l.IsSparse);
        return new SparseInferencePlan(sparse, layers.Count - sparse, pairs.Count);
    }

    /// <summary>Recompresses a sparse layer with (or without) the norm folded in, keeping what its measured choice said.</summary>
    static void Fold(MaskableLayer layer, BatchNorm? norm)
    {
        var choice = layer.Choice;
        layer.UseSparse(true, 1.0, norm);
        layer.Choice = choice;
    }

    /// <summary>The input each layer receives on one forward of the probe (its first call's, for a layer called more
    /// than once), copied: a model may recycle its activation buffers.</summary>
    static Dictionary<MaskableLayer, Tensor> LayerInputs(Module model, List<MaskableLayer> layers, Tensor probe)
    {
        var inputs = new Dictionary<MaskableLayer, Tensor>(ReferenceEqualityComparer.Instance);
        var hooks = layers
            .Select(layer => layer.RegisterForwardHook((_, input, _) =>
            {
                if (!inputs.ContainsKey(layer)) inputs[layer] = input.Clone();
            }))
            .ToList();
        try
        {
            Outputs(model, probe);
        }
        finally
        {
            foreach (var hook in hooks) hook.Dispose();
        }
        return inputs;
    }

    /// <summary>Every layer back on its dense weights, every fold undone.</summary>
    public static void Disable(Module model)
    {
        ArgumentNullException.ThrowIfNull(model);
        foreach (var layer in model.NamedModules().Select(m => m.Module).OfType<MaskableLayer>()) layer.UseSparse(false);
    }

    /// <summary>The (sparse layer, batch norm) pairs seen on one hooked forward of the probe.</summary>
    static List<(MaskableLayer Layer, BatchNorm Norm)> FoldablePairs(Module model, Tensor probe)
    {
        var calls = new Dictionary<Module, int>(ReferenceEqualityComparer.Instance);
        var producer = new Dictionary<Tensor, MaskableLayer>(ReferenceEqualityComparer.Instance);
        var readers = new Dictionary<Tensor, List<Module>>(ReferenceEqualityComparer.Instance);
        var hooks = model.NamedModules()
            .Select(m => m.Module.RegisterForwardHook((module, input, output) =>
            {
                calls[module] = calls.GetValueOrDefault(module) + 1;
                if (!readers.TryGetValue(input, out var list)) readers[input] = list = [];
                list.Add(module);
                if (module is MaskableLayer { IsSparse: true } layer) producer[output] = layer;
            }))
            .ToList();
        try
        {
            Outputs(model, probe);
        }
        finally
        {
            foreach (var hook in hooks) hook.Dispose();
        }
        var pairs = new List<(MaskableLayer, BatchNorm)>();
        foreach (var (output, layer) in producer)
        {
            // Containers (a Sequential, a block) receive their first child's input too, so only leaf readers count.
            var leafReaders = readers.GetValueOrDefault(output)?.Where(m => !m.NamedChildren().Any()).ToList() ?? [];
            if (leafReaders is [BatchNorm norm] && calls[layer] == 1 && calls[norm] == 1 && norm.RunningMean is not null
                && norm.RunningVar is not null && norm.NumFeatures == layer.Weight.ShapeRef[0])
                pairs.Add((layer, norm));
        }
        return pairs;
    }

    static float[] Outputs(Module model, Tensor probe)
    {
        using var eval = model.Eval();
        using var noGrad = Autograd.NoGrad();
        return model.Call(probe).Span<float>().ToArray();
    }

    static bool Same(float[] expected, float[] actual)
    {
        double scale = 0, worst = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            scale = Math.Max(scale, Math.Abs(expected[i]));
            worst = Math.Max(worst, Math.Abs(expected[i] - actual[i]));
        }
        return worst <= FoldTolerance * scale;
    }
}
