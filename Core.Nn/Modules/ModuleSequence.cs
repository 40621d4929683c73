using System.Collections;

namespace Hybrid.Core.Nn.Modules;

/// <summary>Children kept in order and reachable by position or name: what <see cref="Sequential"/> and
/// <see cref="ModuleList"/> share. Appended children are named by their position ("0", "1", ...), as in PyTorch.</summary>
public abstract class ModuleSequence : Module, IEnumerable<Module>
{
    readonly List<Module> items = [];

    /// <summary>Appends <paramref name="module"/> under the name of its position (PyTorch's <c>append</c>).</summary>
    public ModuleSequence Append(Module module) => Add(items.Count.ToString(System.Globalization.CultureInfo.InvariantCulture), module);

    /// <summary>Appends <paramref name="module"/> under <paramref name="name"/> (PyTorch's <c>add_module</c>; state keys
    /// become <c>name.weight</c>...).</summary>
    public ModuleSequence Add(string name, Module module)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(module);
        RegisterModule(name, module);
        items.Add(module);
        return this;
    }

    /// <summary>The number of children.</summary>
    public int Count => items.Count;

    /// <summary>The child at <paramref name="index"/>; negative indices count from the end, as in Python.</summary>
    public Module this[int index]
    {
        get
        {
            int i = index < 0 ? index + items.Count : index;
            if (i < 0 || i >= items.Count)
                throw new ArgumentOutOfRangeException(nameof(index), index, $"{TypeName} has {items.Count} modules");
            return items[i];
        }
    }

    /// <summary>The child registered as <paramref name="name"/>.</summary>
    public Module this[string name] =>
        NamedChildren().FirstOrDefault(c => c.Name == name).Module
        ?? throw new ArgumentException($"{TypeName} has no module named '{name}' (it has {string.Join(", ", NamedChildren().Select(c => c.Name))})", nameof(name));

    public IEnumerator<Module> GetEnumerator() => items.GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}
