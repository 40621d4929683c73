namespace Hybrid.Core.Gpu;

/// <summary>The geometry of a masked layer (<see cref="LinearShape"/>, <see cref="Conv2dShape"/>): the lengths its arrays
/// must have, and what <see cref="MaskedLayer{TShape}"/> needs to check and run it. The members beyond the lengths are
/// internal, so only this library's shapes implement it.</summary>
public interface ILayerShape
{
    int InputLength { get; }

    int WeightLength { get; }

    /// <summary>The length of the bias: the output features or channels.</summary>
    internal int BiasLength { get; }

    int OutputLength { get; }

    /// <summary>Throws, naming the shape, unless the geometry itself is valid.</summary>
    internal void Check();

    /// <summary>The specification's forward loops on host arrays (<see cref="Reference.ReferenceLoops"/>), overwriting y.</summary>
    internal void ReferenceForward<T>(T[] x, T[] weight, T[]? bias, T[] y) where T : unmanaged, IFloatingPointIeee754<T>;

    /// <summary>The specification's gradients on host arrays, overwriting each non-null output.</summary>
    internal void ReferenceBackward<T>(T[] x, T[] weight, T[] gradOut, T[]? gradInput, T[]? gradWeight, T[]? gradBias)
        where T : unmanaged, IFloatingPointIeee754<T>;
}
