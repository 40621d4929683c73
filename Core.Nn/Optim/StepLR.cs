namespace Hybrid.Core.Nn.Optim;

/// <summary>Decays each group's lr by <c>gamma</c> every <c>stepSize</c> epochs (<c>torch.optim.lr_scheduler.StepLR</c>):
/// lr = base_lr * gamma^(epoch / stepSize), integer division. Attaching to the optimiser sets the epoch-0 learning rates.</summary>
public sealed class StepLR(Optimizer optimizer, int stepSize, double gamma = 0.1, int lastEpoch = -1)
    : LRScheduler(optimizer, lastEpoch)
{
    /// <summary>Epochs between decays.</summary>
    public int StepSize { get; } = Positive(stepSize, nameof(StepLR));

    /// <summary>The factor applied at each decay.</summary>
    public double Gamma { get; } = FiniteNonNegative(gamma, nameof(StepLR));

    protected override double LrAt(int epoch, double baseLr) => baseLr * Math.Pow(Gamma, epoch / StepSize);
}
