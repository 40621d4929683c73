namespace Hybrid.Core.Nn.Optim;

/// <summary>Cosine annealing without restarts (<c>torch.optim.lr_scheduler.CosineAnnealingLR</c>, SGDR's schedule) in
/// PyTorch's closed form: lr = eta_min + (base_lr - eta_min) (1 + cos(pi epoch / tMax)) / 2. Past <c>tMax</c> the cosine
/// continues, rising again, as in PyTorch.</summary>
public sealed class CosineAnnealingLR : LRScheduler
{
    /// <summary>Attaches to <paramref name="optimizer"/> and sets the epoch-0 learning rates.</summary>
    public CosineAnnealingLR(Optimizer optimizer, int tMax, double etaMin = 0, int lastEpoch = -1) : base(optimizer, lastEpoch)
    {
        Require(tMax > 0, nameof(tMax), "> 0", tMax);
        Require(double.IsFinite(etaMin) && etaMin >= 0, nameof(etaMin), "finite and >= 0", etaMin);
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
