namespace Hybrid.Core.Nn.Modules;

/// <summary>PyTorch's <c>nn.ModuleList</c>: children held in order (state keys <c>0.weight</c>, <c>1.weight</c>...) for a
/// parent whose own forward decides how to run them; it has no forward itself.</summary>
public sealed class ModuleList : ModuleSequence
{
    public ModuleList(params Module[] modules)
    {
        ArgumentNullException.ThrowIfNull(modules);
        foreach (var module in modules) Append(module);
    }

    /// <summary>Always throws: a module list is a container, not a layer.</summary>
    public override Tensor Forward(Tensor input) =>
        throw new InvalidOperationException("ModuleList has no forward: its parent runs the modules it holds");
}
