namespace Hybrid.Core.Nn;

/// <summary>The validation every public op runs once at its edge (STYLE.md item 2): messages name the op, the argument
/// and the shapes, so a user's mistake reads as one sentence.</summary>
internal static class OpChecks
{
    /// <summary>Throws unless <paramref name="t"/> holds float32 or float64.</summary>
    public static void Floating(string op, string name, Tensor t)
    {
        if (!t.IsFloatingPoint)
            throw new ArgumentException($"{op}: {name} must be float32 or float64, not {t.Dtype} (shape {ShapeOps.Format(t.ShapeRef)})");
    }

    /// <summary>Throws unless <paramref name="other"/> is floating point with <paramref name="first"/>'s dtype.</summary>
    public static void SameDtype(string op, string firstName, Tensor first, string otherName, Tensor other)
    {
        if (other.Dtype != first.Dtype)
            throw new ArgumentException(
                $"{op}: {firstName} is {first.Dtype} {ShapeOps.Format(first.ShapeRef)} but {otherName} is {other.Dtype} {ShapeOps.Format(other.ShapeRef)}; convert one with To()");
    }

    /// <summary>The broadcast shape of two operands, or an exception naming the op and both shapes.</summary>
    public static int[] Broadcast(string op, Tensor a, Tensor b)
    {
        Floating(op, "a", a);
        SameDtype(op, "a", a, "b", b);
        try
        {
            return ShapeOps.Broadcast(a.ShapeRef, b.ShapeRef);
        }
        catch (ArgumentException)
        {
            throw new ArgumentException($"{op}: shapes {ShapeOps.Format(a.ShapeRef)} and {ShapeOps.Format(b.ShapeRef)} cannot be broadcast together");
        }
    }

    /// <summary>Throws unless an optional per-feature tensor is absent or has exactly <paramref name="shape"/> and the
    /// input's dtype.</summary>
    public static void Optional(string op, string name, Tensor? t, Tensor input, ReadOnlySpan<int> shape)
    {
        if (t is null) return;
        SameDtype(op, "input", input, name, t);
        if (!ShapeOps.Equal(t.ShapeRef, shape))
            throw new ArgumentException(
                $"{op}: {name} has shape {ShapeOps.Format(t.ShapeRef)}, expected {ShapeOps.Format(shape)} for input {ShapeOps.Format(input.ShapeRef)}");
    }
}
