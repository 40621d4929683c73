namespace Hybrid.Core.Nn.Zoo;

/// <summary>The CIFAR ResNets of He et al. (2016) with option-A shortcuts, exactly as akamaster/pytorch_resnet_cifar10
/// (<c>resnet.py</c>) builds them, so its published checkpoints load 1:1: <c>conv1</c>, <c>bn1</c>, <c>layer1</c>..
/// <c>layer3</c> of <see cref="CifarBasicBlock"/> (16, 32, 64 planes; strides 1, 2, 2), <c>linear</c> (64 -> classes).
/// Depth 6n + 2 gives n blocks per stage (20, 32, 44, 56, 110, 1202).</summary>
public sealed class CifarResNet : Module
{
    /// <summary>ResNet-<paramref name="depth"/> for <paramref name="numClasses"/> classes on images of
    /// <paramref name="inChannels"/> channels (3 for CIFAR, 1 for Fashion-MNIST), initialised as akamaster's
    /// <c>_weights_init</c> (Kaiming-normal convolution and linear weights) from <paramref name="generator"/>.</summary>
    public CifarResNet(int depth, int numClasses = 10, int inChannels = 3, Generator? generator = null)
    {
        if (depth < 8 || (depth - 2) % 6 != 0)
            throw new ArgumentException($"a CIFAR ResNet has depth 6n + 2 (20, 32, 44, 56, 110), not {depth}", nameof(depth));
        Shapes.Positive(numClasses, "numClasses", nameof(numClasses));
        Shapes.Positive(inChannels, "inChannels", nameof(inChannels));
        var g = generator ?? Init.Default;
        int blocks = (depth - 2) / 6;
        Depth = depth;
        conv1 = RegisterModule("conv1", new Conv2d(inChannels, 16, 3, stride: 1, padding: 1, bias: false, generator: g));
        bn1 = RegisterModule("bn1", new BatchNorm2d(16));
        layers = new Sequential[3];
        int inPlanes = 16;
        int[] planes = [16, 32, 64];
        for (int stage = 0; stage < 3; stage++)
        {
            var layer = new Sequential();
            for (int b = 0; b < blocks; b++)
            {
                layer.Append(new CifarBasicBlock(inPlanes, planes[stage], b == 0 && stage > 0 ? 2 : 1, g));
                inPlanes = planes[stage];
            }
            layers[stage] = RegisterModule($"layer{stage + 1}", layer);
        }
        linear = RegisterModule("linear", new Linear(64, numClasses, generator: g));
        WeightInit.KaimingFanIn(this, g);
    }

    readonly Conv2d conv1;
    readonly BatchNorm2d bn1;
    readonly Sequential[] layers;
    readonly Linear linear;

    /// <summary>The network depth (number of weighted layers).</summary>
    public int Depth { get; }

    /// <summary>True when nothing but the next module can hold the values these modules produced or read: no autograd
    /// graph, no trace, no forward hook (a hook may keep its output, as activation capture does).</summary>
    internal static bool MayRecycle(params ReadOnlySpan<Module> modules) => !Autograd.IsEnabled && Unobserved(modules);

    /// <summary>True when no trace and no forward hook of these modules can hold what they produce or read; the autograd
    /// graph may still hold it (see <see cref="MayRecycle"/>).</summary>
    internal static bool Unobserved(params ReadOnlySpan<Module> modules)
    {
        if (Trace.IsActive) return false;
        foreach (var m in modules)
            if (m.HasForwardHooks) return false;
        return true;
    }

    /// <summary>Hands <paramref name="dead"/>'s storage back to <see cref="StoragePool"/> when <see cref="MayRecycle"/>
    /// holds for the modules that saw it and it is not the storage of <paramref name="next"/>, the value computed from it
    /// (a batch norm folded into a sparse convolution passes its input through).</summary>
    internal static void Recycle(Tensor dead, Tensor next, params ReadOnlySpan<Module> seenBy)
    {
        if (MayRecycle(seenBy) && !ReferenceEquals(dead.Storage, next.Storage)) StoragePool.Return(dead);
    }

    /// <summary>PyTorch's <c>type(model).__name__</c> for akamaster's class.</summary>
    public override string TypeName => "ResNet";

    public override Tensor Forward(Tensor input)
    {
        var c = conv1.Call(input);
        var x = bn1.CallRelu(c);
        Recycle(c, x, conv1, bn1);
        // While training, only bn1's backward reads c.
        if (Unobserved(conv1, bn1) && !ReferenceEquals(c.Storage, x.Storage)) Autograd.FreeAfterBackward(x, c);
        // While training with nothing watching inside the model, each stage's output (bn1's, then each block's) is read
        // in the backward by the next block's first convolution and its own op's backward (the ReLU mask), which runs
        // after every op computed from it: then it is dead, and the next forward rents its storage from the pool
        // instead of page-faulting a fresh array in.
        bool graphPrivate = Autograd.IsEnabled && !Trace.IsActive && !HasForwardHooksWithin;
        if (graphPrivate && !ReferenceEquals(c.Storage, x.Storage)) Autograd.FreeAfterBackward(x, x);
        Module producer = bn1;
        foreach (var layer in layers)
        {
            if (graphPrivate)
            {
                foreach (var (_, block) in layer.NamedChildren())
                {
                    var next = block.Call(x);
                    if (!ReferenceEquals(next.Storage, x.Storage)) Autograd.FreeAfterBackward(next, next);
                    x = next;
                }
                continue;
            }
            if (!MayRecycle(layer))
            {
                x = layer.Call(x);
                producer = layer;
                continue;
            }
            // Block by block, so that each block's output goes back to the pool once the next block has read it: a
            // forward then reuses a handful of arrays instead of allocating (and page-faulting) one per block.
            foreach (var (_, block) in layer.NamedChildren())
            {
                var next = block.Call(x);
                if (!block.HasForwardHooksWithin) Recycle(x, next, producer);
                (x, producer) = (next, block);
            }
        }
        // akamaster pools with F.avg_pool2d(out, out.size()[3]): for the square maps of CIFAR and Fashion-MNIST that is
        // the global average, which this form also exports as ONNX's GlobalAveragePool.
        x = Functional.AdaptiveAvgPool2d(x, 1);
        return linear.Call(Functional.Flatten(x, 1));
    }
}

/// <summary>akamaster's <c>BasicBlock</c>: two 3x3 convolutions with batch norm, and a shortcut that is an empty
/// <see cref="Sequential"/> (identity) or, when the shape changes, an <see cref="OptionAShortcut"/>.</summary>
public sealed class CifarBasicBlock : Module
{
    readonly Conv2d conv1, conv2;
    readonly BatchNorm2d bn1, bn2;
    readonly Module shortcut;

    public CifarBasicBlock(int inPlanes, int planes, int stride, Generator generator)
    {
        conv1 = RegisterModule("conv1", new Conv2d(inPlanes, planes, 3, stride: stride, padding: 1, bias: false, generator: generator));
        bn1 = RegisterModule("bn1", new BatchNorm2d(planes));
        conv2 = RegisterModule("conv2", new Conv2d(planes, planes, 3, stride: 1, padding: 1, bias: false, generator: generator));
        bn2 = RegisterModule("bn2", new BatchNorm2d(planes));
        shortcut = RegisterModule("shortcut", stride != 1 || inPlanes != planes ? new OptionAShortcut(planes / 4) : (Module)new Sequential());
    }

    public override string TypeName => "BasicBlock";

    public override Tensor Forward(Tensor input)
    {
        // Fused where nothing observes the values in between (BatchNorm.CallRelu, Functional.AddRelu): the results,
        // gradients, hooks and traces are those of the separate ops.
        var c1 = conv1.Call(input);
        var x = bn1.CallRelu(c1);
        Recycle(c1, x);
        bool c1Dead = RecycleFrozen(c1, x, bn1);
        var c2 = conv2.Call(x);
        Recycle(x, c2);
        var y = bn2.Call(c2);
        Recycle(c2, y);
        bool c2Dead = RecycleFrozen(c2, y, bn2);
        var output = Functional.AddRelu(y, shortcut.Call(input));
        // bn2's output is dead even while the graph records: neither a batch norm's backward nor AddRelu's reads it
        // (Functional.BatchNorm keeps its input, AddRelu its output), so training reuses its storage too. A norm folded
        // into a sparse conv2 (no-grad only) passes c2 through as y: then c2 is dead here too, unless a hook holds it.
        bool yIsC2 = ReferenceEquals(y.Storage, c2.Storage);
        if (CifarResNet.Unobserved(bn2) && (!yIsC2 || CifarResNet.MayRecycle(conv2)) && !ReferenceEquals(y.Storage, output.Storage))
            StoragePool.Return(y);
        // c1, x and c2 are read by the backward of bn2, conv2 and bn1 only, and bn1's runs last: then they are dead, and
        // the next forward reuses their storage instead of page-faulting in fresh arrays.
        // (Those already handed back by RecycleFrozen are left out: their storage may serve a later value by now.)
        Tensor[] held = [.. c1Dead ? [] : new[] { c1 }, x, .. c2Dead ? [] : new[] { c2 }];
        if (CifarResNet.Unobserved(conv1, bn1, conv2, bn2) && Private(input, held) && Private(output, held))
            Autograd.FreeAfterBackward(x, held);
        return output;
    }

    /// <summary>Under autograd, hands a convolution's output back to the pool as soon as a frozen evaluation-mode norm
    /// (SeaM's mask training) has read it, since that norm's backward does not (the convolution's reads its input, not its
    /// output); returns whether it did. Under no-grad <see cref="Recycle"/> has done it already.</summary>
    bool RecycleFrozen(Tensor dead, Tensor next, BatchNorm norm)
    {
        if (!Autograd.IsEnabled || norm.ReadsInputInBackward || !CifarResNet.Unobserved(conv1, bn1, conv2, bn2)
            || ReferenceEquals(dead.Storage, next.Storage))
            return false;
        StoragePool.Return(dead);
        return true;
    }

    /// <summary>True when <paramref name="outside"/> shares storage with none of <paramref name="intermediates"/> (a batch
    /// norm folded into a sparse layer passes its input through).</summary>
    static bool Private(Tensor outside, params ReadOnlySpan<Tensor> intermediates)
    {
        foreach (var t in intermediates)
            if (ReferenceEquals(t.Storage, outside.Storage)) return false;
        return true;
    }

    /// <summary>Hands an intermediate back to the pool (<see cref="CifarResNet.Recycle"/>) when no layer of this block
    /// that saw it has a forward hook.</summary>
    void Recycle(Tensor dead, Tensor next) => CifarResNet.Recycle(dead, next, conv1, bn1, conv2, bn2);
}

/// <summary>The option-A shortcut (akamaster's <c>LambdaLayer</c>): every second row and column,
/// <c>x[:, :, ::2, ::2]</c>, then <see cref="PadChannels"/> zero channels on each side, so a stage that halves the map
/// and doubles the planes adds no parameters.</summary>
public sealed class OptionAShortcut(int padChannels) : Module
{
    /// <summary>Zero channels added before and after the input's channels.</summary>
    public int PadChannels { get; } = padChannels >= 0 ? padChannels
        : throw new ArgumentException($"the shortcut pads a non-negative number of channels, not {padChannels}", nameof(padChannels));

    public override string TypeName => "LambdaLayer";

    public override Tensor Forward(Tensor input)
    {
        var x = Functional.Slice(input, 2, 0, int.MaxValue, 2);
        x = Functional.Slice(x, 3, 0, int.MaxValue, 2);
        return Functional.Pad(x, [0, 0, 0, 0, PadChannels, PadChannels]);
    }
}
