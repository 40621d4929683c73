namespace Hybrid.Core.Nn.Formats.Onnx.Reader;

/// <summary>One dimension of a declared shape: a fixed size or a symbolic name such as <c>batch_size</c>.</summary>
/// <param name="Value">The size, or null when the dimension is symbolic or unknown.</param>
/// <param name="Param">The symbolic name, or null when the dimension has a fixed size or is unknown.</param>
public readonly record struct OnnxDim(long? Value, string? Param)
{
    /// <summary>True when the dimension is named rather than fixed.</summary>
    public bool IsSymbolic => Param is not null;

    /// <inheritdoc/>
    public override string ToString() => Value?.ToString() ?? Param ?? "?";
}

/// <summary>A graph input, output or intermediate value with its declared type.</summary>
/// <param name="Name">The value's name.</param>
/// <param name="ElementType">The declared element type; <see cref="OnnxDataType.Undefined"/> when the file gives none or the value is not a tensor.</param>
/// <param name="Shape">The declared dimensions, or null when the file declares no shape (unknown rank).</param>
public sealed record OnnxValueInfo(string Name, OnnxDataType ElementType, IReadOnlyList<OnnxDim>? Shape)
{
    /// <inheritdoc/>
    public override string ToString() =>
        $"{Name}: {ElementType}" + (Shape is null ? "" : $"[{string.Join(", ", Shape)}]");
}
