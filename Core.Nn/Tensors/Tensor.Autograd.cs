namespace Hybrid.Core.Nn;

// Tensor's autograd state; the graph and the backward pass are in Autograd.
public sealed partial class Tensor
{
    bool requiresGrad;

    /// <summary>Whether gradients flow to this tensor. Only leaves (tensors no recorded op produced) can be switched;
    /// only floating-point tensors can require grad.</summary>
    public bool RequiresGrad
    {
        get => requiresGrad;
        set
        {
            if (value && !IsFloatingPoint) throw new InvalidOperationException("only floating-point tensors can require gradients");
            if (GradFn is not null)
                throw new InvalidOperationException("RequiresGrad can only be changed on leaf tensors; use Detach()");
            requiresGrad = value;
        }
    }

    /// <summary>The accumulated gradient of a leaf after <see cref="Backward"/>; null until then. Set to null to zero it.</summary>
    public Tensor? Grad { get; set; }

    internal Node? GradFn { get; private set; }

    /// <summary>The name of the op that produced this tensor ("Conv2d", "Add", ...); null for leaves.</summary>
    public string? GradFnName => GradFn?.Name;

    /// <summary>True for tensors no recorded op produced (inputs, parameters).</summary>
    public bool IsLeaf => GradFn is null;

    /// <summary>Runs the backward pass from this tensor (see <see cref="Autograd.Backward"/>).</summary>
    public void Backward(Tensor? gradient = null) => Autograd.Backward(this, gradient);

    /// <summary>A leaf sharing this tensor's storage, cut from the graph.</summary>
    public Tensor Detach() => new(storage, shape, Device);

    internal void SetGradFn(Node node)
    {
        GradFn = node;
        requiresGrad = true;
    }

    internal void AccumulateGrad(Tensor grad) =>
        // A backward function may hand the same tensor to several inputs, so a leaf keeps its own copy.
        Grad = Grad is null ? grad.Clone() : AddSame(Grad, grad);
}
