namespace Hybrid.Core.Nn;

public static partial class Functional
{
    /// <summary>a + b with NumPy broadcasting (same dtype).</summary>
    public static Tensor Add(Tensor a, Tensor b) => throw new NotImplementedException("Add");

    /// <summary>a - b with broadcasting.</summary>
    public static Tensor Sub(Tensor a, Tensor b) => throw new NotImplementedException("Sub");

    /// <summary>a * b with broadcasting.</summary>
    public static Tensor Mul(Tensor a, Tensor b) => throw new NotImplementedException("Mul");

    /// <summary>a / b with broadcasting.</summary>
    public static Tensor Div(Tensor a, Tensor b) => throw new NotImplementedException("Div");

    /// <summary>a * scale + shift with scalars.</summary>
    public static Tensor Affine(Tensor a, double scale, double shift = 0) => throw new NotImplementedException("Affine");

    /// <summary>The sum of every element (rank 0).</summary>
    public static Tensor Sum(Tensor input) => throw new NotImplementedException("Sum");

    /// <summary>Sums over <paramref name="dims"/>.</summary>
    public static Tensor Sum(Tensor input, int[] dims, bool keepDim = false) => throw new NotImplementedException("Sum");

    /// <summary>The mean of every element (rank 0).</summary>
    public static Tensor Mean(Tensor input) => throw new NotImplementedException("Mean");

    /// <summary>Means over <paramref name="dims"/>.</summary>
    public static Tensor Mean(Tensor input, int[] dims, bool keepDim = false) => throw new NotImplementedException("Mean");
}

public sealed partial class Tensor
{
    public static Tensor operator +(Tensor a, Tensor b) => Functional.Add(a, b);
    public static Tensor operator -(Tensor a, Tensor b) => Functional.Sub(a, b);
    public static Tensor operator *(Tensor a, Tensor b) => Functional.Mul(a, b);
    public static Tensor operator /(Tensor a, Tensor b) => Functional.Div(a, b);
    public static Tensor operator +(Tensor a, double b) => Functional.Affine(a, 1, b);
    public static Tensor operator -(Tensor a, double b) => Functional.Affine(a, 1, -b);
    public static Tensor operator *(Tensor a, double b) => Functional.Affine(a, b);
    public static Tensor operator *(double a, Tensor b) => Functional.Affine(b, a);
    public static Tensor operator -(Tensor a) => Functional.Affine(a, -1);
}
