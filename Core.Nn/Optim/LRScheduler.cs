using System.Runtime.CompilerServices;

namespace Hybrid.Core.Nn.Optim;

/// <summary>The base of learning-rate schedules (PyTorch's <c>torch.optim.lr_scheduler.LRScheduler</c>): each
/// <see cref="Step"/> advances <see cref="LastEpoch"/> and sets every group's <c>lr</c> to the schedule's value there.</summary>
/// <remarks>
/// Schedules here are closed forms of the epoch and each group's base lr (PyTorch's <c>_get_closed_form_lr</c>), so a run
/// resumed from <see cref="StateDict"/> computes exactly the learning rates of the uninterrupted run. PyTorch's own
/// <c>step()</c> updates recursively from the current lr; the two agree to rounding (about 1e-16 relative).
/// As in PyTorch, constructing a schedule with <c>lastEpoch = -1</c> records each group's lr as <c>initial_lr</c>
/// and takes the first step, to epoch 0; call <see cref="Step"/> once per epoch after the optimiser's steps.
/// That first step is taken by this constructor (PyTorch's <c>_initial_step</c>), so a derived schedule sets its
/// parameters in property initializers, which C# runs before the base constructor: <see cref="LrAt"/> sees them, and an
/// invalid parameter is refused before the optimiser is touched.
/// </remarks>
public abstract class LRScheduler
{
    const string LastEpochKey = "last_epoch", BaseLrsKey = "base_lrs", LastLrKey = "last_lr";

    double[] baseLrs;
    double[] lastLr = [];

    /// <summary>Attaches to <paramref name="optimizer"/> and takes the first step; <paramref name="lastEpoch"/> other than -1
    /// continues a schedule whose groups already carry <c>initial_lr</c>.</summary>
    protected LRScheduler(Optimizer optimizer, int lastEpoch = -1)
    {
        ArgumentNullException.ThrowIfNull(optimizer);
        Require(lastEpoch >= -1, GetType().Name, nameof(lastEpoch), ">= -1", lastEpoch);
        Optimizer = optimizer;
        foreach (var group in optimizer.ParamGroups)
        {
            if (lastEpoch == -1)
                group.SetDefault(OptionNames.InitialLr, group.Lr);
            else if (!group.Has(OptionNames.InitialLr))
                throw new ArgumentException(
                    $"{GetType().Name}: resuming at epoch {lastEpoch} needs 'initial_lr' in every parameter group", nameof(optimizer));
        }
        baseLrs = optimizer.ParamGroups.Select(g => g[OptionNames.InitialLr]).ToArray();
        LastEpoch = lastEpoch;
        Step();
    }

    /// <summary>The optimiser whose learning rates this schedule sets.</summary>
    public Optimizer Optimizer { get; }

    /// <summary>The epoch of the last <see cref="Step"/> (0 right after construction).</summary>
    public int LastEpoch { get; private set; }

    /// <summary>Each group's learning rate at epoch 0 (<c>initial_lr</c>).</summary>
    public IReadOnlyList<double> BaseLrs => baseLrs;

    /// <summary>The learning rates the last <see cref="Step"/> set (PyTorch's <c>get_last_lr()</c>).</summary>
    public IReadOnlyList<double> LastLr => lastLr;

    /// <summary>The learning rate of a group whose base lr is <paramref name="baseLr"/> at <paramref name="epoch"/>.</summary>
    protected abstract double LrAt(int epoch, double baseLr);

    /// <summary><paramref name="value"/>, unless it is not positive: then the schedule's one-line argument error.</summary>
    protected static int Positive(int value, string schedule, [CallerArgumentExpression(nameof(value))] string parameter = "")
    {
        Require(value > 0, schedule, parameter, "> 0", value);
        return value;
    }

    /// <summary><paramref name="value"/>, unless it is negative or not finite: then the schedule's one-line argument error.</summary>
    protected static double FiniteNonNegative(double value, string schedule,
        [CallerArgumentExpression(nameof(value))] string parameter = "")
    {
        Require(double.IsFinite(value) && value >= 0, schedule, parameter, "finite and >= 0", value);
        return value;
    }

    /// <summary>Throws the one-line argument error "{schedule}: {parameter} must be {rule}, not {value}" unless
    /// <paramref name="valid"/>.</summary>
    static void Require(bool valid, string schedule, string parameter, string rule, object value)
    {
        if (!valid)
            throw new ArgumentException($"{schedule}: {parameter} must be {rule}, not {value}", parameter);
    }

    /// <summary>Advances one epoch and sets every group's lr.</summary>
    public void Step()
    {
        if (baseLrs.Length != Optimizer.ParamGroups.Count)
            throw new InvalidOperationException(
                $"{GetType().Name}: the optimiser has {Optimizer.ParamGroups.Count} parameter groups, the schedule was made for {baseLrs.Length}");
        LastEpoch++;
        lastLr = baseLrs.Select(b => LrAt(LastEpoch, b)).ToArray();
        for (int g = 0; g < lastLr.Length; g++)
            Optimizer.ParamGroups[g].Lr = lastLr[g];
    }

    /// <summary>The schedule's position as tensors: <c>last_epoch</c> (int64 scalar), <c>base_lrs</c> and <c>last_lr</c>
    /// (float64, one per group).</summary>
    public IReadOnlyDictionary<string, Tensor> StateDict() => new OrderedDictionary<string, Tensor>(StringComparer.Ordinal)
    {
        [LastEpochKey] = Tensor.Scalar(LastEpoch, ScalarType.Int64),
        [BaseLrsKey] = Tensor.From(baseLrs, [baseLrs.Length]),
        [LastLrKey] = Tensor.From(lastLr, [lastLr.Length]),
    };

    /// <summary>Restores the position saved by <see cref="StateDict"/>. As in PyTorch, the optimiser's learning rates
    /// are not touched: they come back with the optimiser's own state dict.</summary>
    public void LoadStateDict(IReadOnlyDictionary<string, Tensor> saved)
    {
        ArgumentNullException.ThrowIfNull(saved);
        var unexpected = saved.Keys.Where(k => k is not (LastEpochKey or BaseLrsKey or LastLrKey)).ToList();
        if (unexpected.Count > 0)
            throw new ArgumentException($"{GetType().Name}: unexpected state entries {string.Join(", ", unexpected)}", nameof(saved));
        var epoch = Entry(saved, LastEpochKey);
        var bases = Entry(saved, BaseLrsKey).ToDoubleArray();
        var last = saved.TryGetValue(LastLrKey, out var l) ? l.ToDoubleArray() : [];
        if (epoch.Numel != 1 || epoch.Item() < -1 || epoch.Item() > int.MaxValue)
            throw new ArgumentException($"{GetType().Name}: last_epoch must be one integer >= -1", nameof(saved));
        if (bases.Length != Optimizer.ParamGroups.Count || (last.Length != 0 && last.Length != bases.Length))
            throw new ArgumentException(
                $"{GetType().Name}: the state holds {bases.Length} base lrs and {last.Length} last lrs, the optimiser has {Optimizer.ParamGroups.Count} groups",
                nameof(saved));
        LastEpoch = (int)epoch.Item();
        baseLrs = bases;
        lastLr = last;
    }

    Tensor Entry(IReadOnlyDictionary<string, Tensor> saved, string key) =>
        saved.TryGetValue(key, out var t) ? t : throw new ArgumentException($"{GetType().Name}: the state has no '{key}'", "saved");
}
