namespace Hybrid.Core.Nn.Optim;

/// <summary>Decays each group's lr by <c>gamma</c> every <c>stepSize</c> epochs (<c>torch.optim.lr_scheduler.StepLR</c>):
/// lr = base_lr * gamma^(epoch / stepSize), integer division.</summary>
public sealed class StepLR : LRScheduler
{
    /// <summary>Attaches to <paramref name="optimizer"/> and sets the epoch-0 learning rates.</summary>
    public StepLR(Optimizer optimizer, int stepSize, double gamma = 0.1, int lastEpoch = -1) : base(optimizer, lastEpoch)
    {
        Require(stepSize > 0, nameof(stepSize), "> 0", stepSize);
        Require(double.IsFinite(gamma) && gamma >= 0, nameof(gamma), "finite and >= 0", gamma);
        StepSize = stepSize;
        Gamma = gamma;
        InitialStep();
    }

    /// <summary>Epochs between decays.</summary>
    public int StepSize { get; }

    /// <summary>The factor applied at each decay.</summary>
    public double Gamma { get; }

    protected override double LrAt(int epoch, double baseLr) => baseLr * Math.Pow(Gamma, epoch / StepSize);
}
