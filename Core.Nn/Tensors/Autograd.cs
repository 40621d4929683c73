namespace Hybrid.Core.Nn;

/// <summary>One recorded op of the autograd graph: where its inputs came from and the function that turns the gradient of
/// its output into the gradients of those inputs (null where an input needs none).</summary>
/// <remarks>The node holds no input's values: an input is an <see cref="Edge"/> to the node that produced it, or to the
/// leaf itself. What a backward reads (a convolution's input, a batch norm's input, a ReLU's output) its closure
/// captures, so every other intermediate of the forward (a batch norm's output that only an addition read, a slice) is
/// free as soon as the forward has moved past it, as in PyTorch, where only saved tensors outlive the forward.</remarks>
internal sealed class Node
{
    public Node(string name, Tensor[] inputs, Func<Tensor, Tensor?[]> backward)
    {
        Name = name;
        Inputs = Array.ConvertAll(inputs, Edge.To);
        this.backward = backward;
    }

    public string Name { get; }
    public Edge[] Inputs { get; }
    readonly Func<Tensor, Tensor?[]> backward;

    /// <summary>Storage that no reader outside this graph holds and no backward reads after this node's: handed to the
    /// pool once this node's backward has run (see <see cref="Autograd.FreeAfterBackward"/>).</summary>
    Array[]? owned;
    bool spent;

    /// <summary>The gradients of the inputs from the gradient of the output; then frees the owned storage, after which
    /// this node cannot run again (PyTorch frees saved tensors the same way unless told to retain the graph).</summary>
    public Tensor?[] Backward(Tensor gradient)
    {
        if (spent)
            throw new InvalidOperationException(
                $"backward: {Name} ran its backward already and its saved activations went back to the storage pool; run the forward again");
        var grads = backward(gradient);
        if (owned is { } arrays)
        {
            spent = true;
            owned = null;
            foreach (var array in arrays) StoragePool.Return(array);
        }
        return grads;
    }

    public void Own(Array[] arrays) => owned = owned is null ? arrays : [.. owned, .. arrays];
}

/// <summary>An input of a recorded op as the backward pass sees it: the node that computed it, or the leaf that requires
/// grad (where the gradient accumulates), and the shape and dtype its gradient must have. Target is null for an input
/// that required no grad when the op ran.</summary>
internal sealed record Edge(object? Target, int[] Shape, ScalarType Dtype)
{
    public static Edge To(Tensor input) =>
        new(input.GradFn ?? (input.RequiresGrad ? input : (object?)null), input.ShapeRef, input.Dtype);
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

    /// <summary>Hands the storage of <paramref name="dead"/> to the storage pool once the backward of the op that produced
    /// <paramref name="last"/> has run, for a module that proves it: the tensors are its own intermediates, which no hook,
    /// trace or caller saw, and that op's backward is the last of the graph to read them. A second backward through that
    /// op then throws instead of reading reused memory. Does nothing when <paramref name="last"/> is not in a graph.</summary>
    internal static void FreeAfterBackward(Tensor last, params Tensor[] dead)
    {
        if (last.GradFn is not { } node || Trace.IsActive) return;
        var arrays = new List<Array>();
        foreach (var t in dead)
            if (!arrays.Contains(t.Storage, ReferenceEqualityComparer.Instance)) arrays.Add(t.Storage);
        node.Own([.. arrays]);
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
        // Gradients wait under their target: a node for a computed tensor, the tensor itself for a leaf.
        object rootTarget = root.GradFn ?? (object)root;
        var pending = new Dictionary<object, Tensor>(ReferenceEqualityComparer.Instance) { [rootTarget] = gradient };
        dead.Hold(gradient);
        foreach (var target in TopologicalOrder(rootTarget))
        {
            if (!pending.Remove(target, out var grad)) continue;
            if (target is Tensor leaf)
            {
                // A gradient this pass rented and nothing else holds becomes the leaf's first gradient as it is: the
                // copy AccumulateGrad would make (a whole weight's worth, on every training step) is not needed.
                if (leaf.Grad is null && grad.Numel == grad.Storage.Length && dead.Exclusive(grad))
                {
                    leaf.Grad = grad;
                    dead.GiveAway(grad);
                }
                else
                {
                    leaf.AccumulateGrad(grad);
                    dead.Release(grad);
                }
                continue;
            }
            var node = (Node)target;
            var inputGrads = node.Backward(grad);
            for (int i = 0; i < node.Inputs.Length; i++)
            {
                var input = node.Inputs[i];
                if (!Receives(input) || inputGrads[i] is not { } g) continue;
                CheckGradient(input.Shape, input.Dtype, g, node.Name);
                dead.Hold(g);
                if (pending.TryGetValue(input.Target!, out var sum) && dead.Exclusive(sum) && !ReferenceEquals(sum.Storage, g.Storage))
                {
                    // The pending sum is an array this pass rented and nothing else holds: add into it, no new array.
                    Tensor.AddInto(sum, g);
                    dead.Release(g);
                    g = sum;
                }
                else if (sum is not null)
                {
                    var total = Tensor.AddSame(sum, g);
                    dead.Hold(total);
                    dead.Release(sum);
                    dead.Release(g);
                    g = total;
                }
                pending[input.Target!] = g;
            }
            dead.Release(grad);
        }
    }

    /// <summary>Whether a gradient flows along <paramref name="edge"/>: to a node, or to a leaf that still requires grad
    /// (a leaf may have been switched off since the forward).</summary>
    static bool Receives(Edge edge) => edge.Target is Node || edge.Target is Tensor { RequiresGrad: true };

    /// <summary>Hands the storage of spent gradients back to <see cref="StoragePool"/> during a backward pass, so a
    /// training step reuses a few gradient-sized arrays instead of allocating (and page-faulting) one per op.</summary>
    /// <remarks>A gradient's storage is reused only when an op of this pass rented it (never the caller's gradient or a
    /// tensor that a backward function returned from elsewhere) and no pending gradient still shares it: backward
    /// functions may pass a gradient through to several inputs, or as a view. A leaf keeps a copy
    /// (<see cref="Tensor.AccumulateGrad"/>) unless the gradient is exclusive (<see cref="GiveAway"/>). An open trace may
    /// hold any tensor, so nothing is reused then.</remarks>
    sealed class DeadGradients
    {
        public readonly HashSet<Array> Rented = new(ReferenceEqualityComparer.Instance);
        readonly Dictionary<Array, int> holders = new(ReferenceEqualityComparer.Instance);

        public void Hold(Tensor gradient) =>
            holders[gradient.Storage] = holders.TryGetValue(gradient.Storage, out int n) ? n + 1 : 1;

        /// <summary>True when <paramref name="gradient"/>'s storage was rented by an op of this pass and only one pending
        /// gradient holds it, so it may be written in place.</summary>
        public bool Exclusive(Tensor gradient) =>
            !Trace.IsActive && Rented.Contains(gradient.Storage) && holders.GetValueOrDefault(gradient.Storage) == 1;

        /// <summary>Forgets an exclusive gradient handed to a leaf: its storage is the leaf's now, never the pool's.</summary>
        public void GiveAway(Tensor gradient)
        {
            holders.Remove(gradient.Storage);
            Rented.Remove(gradient.Storage);
        }

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

    /// <summary>Every node and leaf that reaches <paramref name="root"/> along edges that carry gradients, each after
    /// every node computed from it.</summary>
    static List<object> TopologicalOrder(object root)
    {
        var postOrder = new List<object>();
        var visited = new HashSet<object>(ReferenceEqualityComparer.Instance) { root };
        // An explicit stack: graphs of deep networks (DenseNet, 100+ layer ResNets) would overflow a recursive walk.
        var stack = new Stack<(object Target, int Next)>();
        stack.Push((root, 0));
        while (stack.Count > 0)
        {
            var (target, next) = stack.Pop();
            var inputs = (target as Node)?.Inputs ?? [];
            if (next < inputs.Length)
            {
                stack.Push((target, next + 1));
                var input = inputs[next];
                if (Receives(input) && visited.Add(input.Target!)) stack.Push((input.Target!, 0));
            }
            else postOrder.Add(target);
        }
        postOrder.Reverse();
        return postOrder;
    }

    static void CheckGradient(Tensor target, Tensor grad, string op) => CheckGradient(target.ShapeRef, target.Dtype, grad, op);

    static void CheckGradient(int[] shape, ScalarType dtype, Tensor grad, string op)
    {
        if (!ShapeOps.Equal(shape, grad.ShapeRef) || dtype != grad.Dtype)
            throw new InvalidOperationException(
                $"{op}: gradient {ShapeOps.Format(grad.ShapeRef)} {grad.Dtype} does not match its tensor {ShapeOps.Format(shape)} {dtype}");
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
