namespace Hybrid.Core.Nn.Optim;

/// <summary>Decays each group's lr by <c>gamma</c> every <c>stepSize</c> epochs (<c>torch.optim.lr_scheduler.StepLR</c>):
/// lr = base_lr * gamma^(epoch / stepSize), integer division.</summary>
public sealed class StepLR : LRScheduler
{
    /// <summary>Attaches to <paramref name="optimizer"/> and sets the epoch-0 learning rates.</summary>
    public StepLR(Optimizer optimizer, int stepSize, double gamma = 0.1, int lastEpoch = -1) : base(optimizer, lastEpoch)
    {
        if (stepSize <= 0)
            throw new ArgumentException($"StepLR: stepSize must be > 0, not {stepSize}", nameof(stepSize));
        if (!double.IsFinite(gamma) || gamma < 0)
            throw new ArgumentException($"StepLR: gamma must be finite and >= 0, not {gamma}", nameof(gamma));
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

/// <summary>Cosine annealing without restarts (<c>torch.optim.lr_scheduler.CosineAnnealingLR</c>, SGDR's schedule) in
/// PyTorch's closed form: lr = eta_min + (base_lr - eta_min) (1 + cos(pi epoch / tMax)) / 2. Past <c>tMax</c> the cosine
/// continues, rising again, as in PyTorch.</summary>
public sealed class CosineAnnealingLR : LRScheduler
{
    /// <summary>Attaches to <paramref name="optimizer"/> and sets the epoch-0 learning rates.</summary>
    public CosineAnnealingLR(Optimizer optimizer, int tMax, double etaMin = 0, int lastEpoch = -1) : base(optimizer, lastEpoch)
    {
        if (tMax <= 0)
            throw new ArgumentException($"CosineAnnealingLR: tMax must be > 0, not {tMax}", nameof(tMax));
        if (!double.IsFinite(etaMin) || etaMin < 0)
            throw new ArgumentException($"CosineAnnealingLR: etaMin must be finite and >= 0, not {etaMin}", nameof(etaMin));
        TMax = tMax;
        EtaMin = etaMin;
        InitialStep();
    }

    /// <summary>Epochs of the half cosine period, from base lr down to <see cref="EtaMin"/>.</summary>
    public int TMax { get; }

    /// <summary>The learning rate at epoch <see cref="TMax"/>.</summary>
    public double EtaMin { get; }

    protected override double LrAt(int epoch, double baseLr) =>
        EtaMin + (baseLr - EtaMin) * (1 + Math.Cos(Math.PI * epoch / TMax)) / 2;
}
