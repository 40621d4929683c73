namespace Hybrid.Core.Nn.Modules;

/// <summary>PyTorch's <c>nn.Sequential</c>: runs its children in order, each on the previous one's output. Built from
/// modules (named "0", "1", ...) or from named entries (PyTorch's <c>OrderedDict</c> form); an empty one is the identity.</summary>
public class Sequential : ModuleSequence
{
    public Sequential() { }

    /// <summary>Children named by position.</summary>
    public Sequential(params Module[] modules)
    {
        ArgumentNullException.ThrowIfNull(modules);
        foreach (var module in modules) Append(module);
    }

    /// <summary>Children with the given names, in order.</summary>
    public Sequential(params (string Name, Module Module)[] modules)
    {
        ArgumentNullException.ThrowIfNull(modules);
        foreach (var (name, module) in modules) Add(name, module);
    }

    public override Tensor Forward(Tensor input)
    {
        var x = input;
        foreach (var module in this) x = module.Call(x);
        return x;
    }
}
