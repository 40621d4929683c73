namespace Hybrid.Core.Nn;

/// <summary>One recorded op of the autograd graph: the tensors it read and the function that turns the gradient of its
/// output into the gradients of those inputs (null where an input needs none).</summary>
internal sealed class Node(string name, Tensor[] inputs, Func<Tensor, Tensor?[]> backward)
{
    public string Name { get; } = name;
    public Tensor[] Inputs { get; } = inputs;
    public Func<Tensor, Tensor?[]> Backward { get; } = backward;
}

/// <summary>Reverse-mode automatic differentiation: recording switches and the backward pass.</summary>
/// <remarks>The switch is per thread, like PyTorch's grad mode: a data-loader thread never records.</remarks>
public static class Autograd
{
    [ThreadStatic] static int disabledDepth;

    /// <summary>True when ops record the graph (outside every <see cref="NoGrad"/> scope).</summary>
    public static bool IsEnabled => disabledDepth == 0;

    /// <summary>A scope in which ops record nothing (PyTorch's <c>torch.no_grad()</c>); disposing it restores recording.</summary>
    public static IDisposable NoGrad()
    {
        disabledDepth++;
        return new Scope(() => disabledDepth--);
    }

    /// <summary>Links <paramref name="output"/> into the graph when recording is on and some input requires grad;
    /// returns <paramref name="output"/>. <paramref name="backward"/> gets dL/d(output) and returns one gradient per input,
    /// each of the input's shape (or null); it runs with recording off.</summary>
    public static Tensor Record(Tensor output, string name, Func<Tensor, Tensor?[]> backward, params Tensor[] inputs)
    {
        if (!IsEnabled || !output.IsFloatingPoint) return output;
        foreach (var input in inputs)
            if (input.RequiresGrad)
            {
                output.SetGradFn(new Node(name, inputs, backward));
                ActivationCensus.Produced(output, name);
                break;
            }
        return output;
    }

    /// <summary>Accumulates d(root)/d(leaf) into the <see cref="Tensor.Grad"/> of every leaf that requires grad.
    /// <paramref name="gradient"/> defaults to 1 for a one-element root.</summary>
    public static void Backward(Tensor root, Tensor? gradient = null)
    {
        if (!root.RequiresGrad)
            throw new InvalidOperationException("backward: the tensor does not require grad and has no grad_fn");
        if (gradient is null)
        {
            if (root.Numel != 1)
                throw new InvalidOperationException($"backward: a gradient can be implied only for one-element outputs, not shape {ShapeOps.Format(root.ShapeRef)}");
            gradient = Tensor.Ones(root.Dtype, root.Device, root.Shape);
        }
        CheckGradient(root, gradient, "backward");

        using var _ = NoGrad();
        var dead = new DeadGradients();
        using var tracking = StoragePool.Track(dead.Rented);
        var pending = new Dictionary<Tensor, Tensor>(ReferenceEqualityComparer.Instance) { [root] = gradient };
        dead.Hold(gradient);
        foreach (var tensor in TopologicalOrder(root))
        {
            if (!pending.Remove(tensor, out var grad)) continue;
            if (tensor.GradFn is not { } node)
            {
                tensor.AccumulateGrad(grad);
                dead.Release(grad);
                continue;
            }
            var inputGrads = node.Backward(grad);
            for (int i = 0; i < node.Inputs.Length; i++)
            {
                var input = node.Inputs[i];
                if (!input.RequiresGrad || inputGrads[i] is not { } g) continue;
                CheckGradient(input, g, node.Name);
                dead.Hold(g);
                if (pending.TryGetValue(input, out var sum))
                {
                    var total = Tensor.AddSame(sum, g);
                    dead.Hold(total);
                    dead.Release(sum);
                    dead.Release(g);
                    g = total;
                }
                pending[input] = g;
            }
            dead.Release(grad);
        }
    }

    /// <summary>Hands the storage of spent gradients back to <see cref="StoragePool"/> during a backward pass, so a
    /// training step reuses a few gradient-sized arrays instead of allocating (and page-faulting) one per op.</summary>
    /// <remarks>A gradient's storage is reused only when an op of this pass rented it (never the caller's gradient or a
    /// tensor that a backward function returned from elsewhere) and no pending gradient still shares it: backward
    /// functions may pass a gradient through to several inputs, or as a view. Leaves keep copies
    /// (<see cref="Tensor.AccumulateGrad"/>). An open trace may hold any tensor, so nothing is reused then.</remarks>
    sealed class DeadGradients
    {
        public readonly HashSet<Array> Rented = new(ReferenceEqualityComparer.Instance);
        readonly Dictionary<Array, int> holders = new(ReferenceEqualityComparer.Instance);

        public void Hold(Tensor gradient) =>
            holders[gradient.Storage] = holders.TryGetValue(gradient.Storage, out int n) ? n + 1 : 1;

        public void Release(Tensor gradient)
        {
            var storage = gradient.Storage;
            int n = holders[storage] - 1;
            if (n > 0)
            {
                holders[storage] = n;
                return;
            }
            holders.Remove(storage);
            if (Rented.Remove(storage) && !Trace.IsActive) StoragePool.Return(gradient);
        }
    }

    /// <summary>Every tensor that requires grad and reaches <paramref name="root"/>, each after all tensors computed from it.</summary>
    static List<Tensor> TopologicalOrder(Tensor root)
    {
        var postOrder = new List<Tensor>();
        var visited = new HashSet<Tensor>(ReferenceEqualityComparer.Instance) { root };
        // An explicit stack: graphs of deep networks (DenseNet, 100+ layer ResNets) would overflow a recursive walk.
        var stack = new Stack<(Tensor Tensor, int Next)>();
        stack.Push((root, 0));
        while (stack.Count > 0)
        {
            var (tensor, next) = stack.Pop();
            var inputs = tensor.GradFn?.Inputs ?? [];
            if (next < inputs.Length)
            {
                stack.Push((tensor, next + 1));
                var input = inputs[next];
                if (input.RequiresGrad && visited.Add(input)) stack.Push((input, 0));
            }
            else postOrder.Add(tensor);
        }
        postOrder.Reverse();
        return postOrder;
    }

    static void CheckGradient(Tensor target, Tensor grad, string op)
    {
        if (!ShapeOps.Equal(target.ShapeRef, grad.ShapeRef) || target.Dtype != grad.Dtype)
            throw new InvalidOperationException(
                $"{op}: gradient {ShapeOps.Format(grad.ShapeRef)} {grad.Dtype} does not match its tensor {ShapeOps.Format(target.ShapeRef)} {target.Dtype}");
    }

    sealed class Scope(Action restore) : IDisposable
    {
        bool disposed;

        public void Dispose()
        {
            if (disposed) return;
            disposed = true;
            restore();
        }
    }

    /// <summary>A disposable that runs <paramref name="restore"/> once (the scoped-mode pattern of STYLE.md item 5).</summary>
    internal static IDisposable ScopeOf(Action restore) => new Scope(restore);
}
