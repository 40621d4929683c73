namespace Hybrid.Core.Nn.Optim;

/// <summary>Cosine annealing without restarts (<c>torch.optim.lr_scheduler.CosineAnnealingLR</c>, SGDR's schedule) in
/// PyTorch's closed form: lr = eta_min + (base_lr - eta_min) (1 + cos(pi epoch / tMax)) / 2. Past <c>tMax</c> the cosine
/// continues, rising again, as in PyTorch. Attaching to the optimiser sets the epoch-0 learning rates.</summary>
public sealed class CosineAnnealingLR(Optimizer optimizer, int tMax, double etaMin = 0, int lastEpoch = -1)
    : LRScheduler(optimizer, lastEpoch)
{
    /// <summary>Epochs of the half cosine period, from base lr down to <see cref="EtaMin"/>.</summary>
    public int TMax { get; } = Positive(tMax, nameof(CosineAnnealingLR));

    /// <summary>The learning rate at epoch <see cref="TMax"/>.</summary>
    public double EtaMin { get; } = FiniteNonNegative(etaMin, nameof(CosineAnnealingLR));

    protected override double LrAt(int epoch, double baseLr) =>
        EtaMin + (baseLr - EtaMin) * (1 + Math.Cos(Math.PI * epoch / TMax)) / 2;
}
