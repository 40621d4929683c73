namespace Hybrid.Core.Nn.Zoo;

/// <summary>timm's <c>MlpMixer</c> (<c>timm/models/mlp_mixer.py</c>; Tolstikhin et al. 2021) with its module paths, so
/// timm's checkpoints load 1:1: <c>stem</c> = <see cref="PatchEmbed"/> (a Conv2d with kernel = stride = patch, its output
/// flattened to tokens), <c>blocks</c> = a Sequential of <see cref="MixerBlock"/>, <c>norm</c> = LayerNorm(eps 1e-6),
/// <c>head_drop</c> = Dropout(0), <c>head</c> = Linear(dim, classes) on the mean over tokens. Hidden widths are timm's
/// <c>mlp_ratio</c> (0.5, 4.0) times dim: the token MLP mixes along the patches, the channel MLP along dim. Initialisation
/// as timm's <c>_init_weights</c>; every weighted layer is a plain <see cref="Linear"/> or <see cref="Conv2d"/>, so code
/// that walks <see cref="Module.NamedModules"/> for them (masking, extraction) sees them all.</summary>
public sealed class MlpMixer : Module
{
    readonly PatchEmbed stem;
    readonly Sequential blocks;
    readonly LayerNorm norm;
    readonly Dropout headDrop;
    readonly Linear head;

    /// <summary>timm's <c>mixer_b16_224</c>: 224x224 images, 16x16 patches (196 tokens), dim 768, 12 blocks, token MLP 384,
    /// channel MLP 3072; 59,880,472 parameters at 1000 classes.</summary>
    public static MlpMixer B16(int numClasses = 1000, int inChannels = 3, Generator? generator = null) =>
        new(numClasses, 224, 16, 768, 12, inChannels, generator);

    /// <summary>A CIFAR-sized mixer that trains in minutes on two cores: 32x32 images in 4x4 patches give 64 tokens of 48
    /// values (8x8 patches would leave only 16 tokens, 2x2 would make 256 and quadruple the token MLP's work); dim 128 and
    /// 4 blocks (token MLP 64, channel MLP 512) make about 0.57M parameters and 38M multiply-adds per image, close to
    /// CIFAR ResNet-20's 0.27M and 41M, so an epoch costs about what ResNet-20's does.</summary>
    public static MlpMixer Cifar(int numClasses = 10, int inChannels = 3, Generator? generator = null) =>
        new(numClasses, 32, 4, 128, 4, inChannels, generator);

    /// <summary>A mixer for square images of <paramref name="imageSize"/> cut into patches of <paramref name="patchSize"/>
    /// (which must divide it), <paramref name="numBlocks"/> blocks of width <paramref name="embedDim"/>.</summary>
    public MlpMixer(int numClasses, int imageSize, int patchSize, int embedDim, int numBlocks, int inChannels = 3,
        Generator? generator = null)
    {
        Shapes.Positive(numClasses, "numClasses", nameof(numClasses));
        Shapes.Positive(numBlocks, "numBlocks", nameof(numBlocks));
        Shapes.Positive(embedDim, "embedDim", nameof(embedDim));
        if (patchSize <= 0 || imageSize <= 0 || imageSize % patchSize != 0)
            throw new ArgumentException($"MlpMixer: the patch size {patchSize} must divide the image size {imageSize}", nameof(patchSize));
        var g = generator ?? Init.Default;
        stem = RegisterModule("stem", new PatchEmbed(imageSize, patchSize, inChannels, embedDim, g));
        blocks = RegisterModule("blocks", new Sequential());
        for (int i = 0; i < numBlocks; i++) blocks.Append(new MixerBlock(embedDim, stem.NumPatches, g));
        norm = RegisterModule("norm", new LayerNorm(embedDim, eps: 1e-6));
        headDrop = RegisterModule("head_drop", new Dropout(0, generator: new Generator((long)g.NextBits())));
        head = RegisterModule("head", new Linear(embedDim, numClasses, generator: g));
        WeightInit.Mixer(this, g);
    }

    /// <summary>The side of the square images the mixer takes (its token MLPs have one weight per patch).</summary>
    public int ImageSize => stem.ImageSize;

    public override Tensor Forward(Tensor input)
    {
        var tokens = norm.Call(blocks.Call(stem.Call(input)));
        return head.Call(headDrop.Call(Functional.Mean(tokens, [1])));
    }
}

/// <summary>timm's <c>PatchEmbed</c> (flatten on, no norm): <c>proj</c> = Conv2d(in, dim, kernel = stride = patch),
/// <c>norm</c> = Identity; (N, C, H, W) becomes (N, patches, dim). Like timm's <c>strict_img_size</c>, only the image size
/// it was built for is accepted.</summary>
public sealed class PatchEmbed : Module
{
    readonly Conv2d proj;
    readonly Identity norm;

    public PatchEmbed(int imageSize, int patchSize, int inChannels, int embedDim, Generator generator)
    {
        Shapes.Positive(inChannels, "inChannels", nameof(inChannels));
        ImageSize = imageSize;
        NumPatches = imageSize / patchSize * (imageSize / patchSize);
        proj = RegisterModule("proj", new Conv2d(inChannels, embedDim, patchSize, stride: patchSize, generator: generator));
        norm = RegisterModule("norm", new Identity());
    }

    public int ImageSize { get; }
    public int NumPatches { get; }

    public override Tensor Forward(Tensor input)
    {
        if (input.Dim != 4 || input.Size(1) != proj.InChannels || input.Size(2) != ImageSize || input.Size(3) != ImageSize)
            throw new ArgumentException(
                $"PatchEmbed: input {ShapeOps.Format(input.ShapeRef)} must be (N, {proj.InChannels}, {ImageSize}, {ImageSize}): the mixer takes only the image size it was built for");
        var x = Functional.Flatten(proj.Call(input), 2);
        return norm.Call(Functional.Transpose(x, 1, 2));
    }
}

/// <summary>timm's <c>MixerBlock</c>: x + mlp_tokens(norm1(x)^T)^T, then x + mlp_channels(norm2(x)), on (N, tokens, dim);
/// layer norms with eps 1e-6, <c>drop_path</c> the Identity (no stochastic depth).</summary>
public sealed class MixerBlock : Module
{
    readonly LayerNorm norm1, norm2;
    readonly Mlp mlpTokens, mlpChannels;
    readonly Identity dropPath;

    public MixerBlock(int dim, int tokens, Generator generator)
    {
        norm1 = RegisterModule("norm1", new LayerNorm(dim, eps: 1e-6));
        mlpTokens = RegisterModule("mlp_tokens", new Mlp(tokens, (int)(0.5 * dim), generator));
        dropPath = RegisterModule("drop_path", new Identity());
        norm2 = RegisterModule("norm2", new LayerNorm(dim, eps: 1e-6));
        mlpChannels = RegisterModule("mlp_channels", new Mlp(dim, 4 * dim, generator));
    }

    public override Tensor Forward(Tensor input)
    {
        var mixed = Functional.Transpose(mlpTokens.Call(Functional.Transpose(norm1.Call(input), 1, 2)), 1, 2);
        var x = Functional.Add(input, dropPath.Call(mixed));
        return Functional.Add(x, dropPath.Call(mlpChannels.Call(norm2.Call(x))));
    }
}

/// <summary>timm's <c>Mlp</c> (<c>timm/layers/mlp.py</c>) as the mixer uses it: fc1, act = GELU (exact, erf), drop1 =
/// Dropout(0), norm = Identity, fc2 back to the input width, drop2 = Dropout(0).</summary>
public sealed class Mlp : Module
{
    readonly Linear fc1, fc2;
    readonly GELU act;
    readonly Dropout drop1, drop2;
    readonly Identity norm;

    public Mlp(int features, int hidden, Generator generator)
    {
        fc1 = RegisterModule("fc1", new Linear(features, hidden, generator: generator));
        act = RegisterModule("act", new GELU());
        drop1 = RegisterModule("drop1", new Dropout(0, generator: new Generator((long)generator.NextBits())));
        norm = RegisterModule("norm", new Identity());
        fc2 = RegisterModule("fc2", new Linear(hidden, features, generator: generator));
        drop2 = RegisterModule("drop2", new Dropout(0, generator: new Generator((long)generator.NextBits())));
    }

    public override Tensor Forward(Tensor input) =>
        drop2.Call(fc2.Call(norm.Call(drop1.Call(act.Call(fc1.Call(input))))));
}
