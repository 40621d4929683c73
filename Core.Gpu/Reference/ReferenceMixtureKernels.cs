namespace Hybrid.Core.Gpu.Reference;

/// <summary>The specification of the mixture passes: plain float64 loops over samples, components and features, in the
/// textbook order. The Cpu and Gpu backends are tested against it.</summary>
internal sealed class ReferenceMixtureKernels : IMixtureKernels
{
    public static readonly ReferenceMixtureKernels Instance = new();

    ReferenceMixtureKernels() { }

    sealed record HostData(double[] Values, int Samples, int Dimensions) : IMixtureData
    {
        public void Dispose() { }
    }

    public IMixtureData Load(double[] data, int n, int d) => new HostData(data, n, d);

    public double[] WeightedLogProb(IMixtureData data, MixtureParameters p)
    {
        var host = (HostData)data;
        return GmmLinearAlgebra.WeightedLogProb(host.Values, host.Samples, host.Dimensions, p.Components, p.Type,
            p.Weights, p.Means, p.PrecisionsCholesky);
    }

    public void Pass(IMixtureData data, MixtureParameters p, MixtureStatistics statistics)
    {
        var host = (HostData)data;
        int n = host.Samples, k = p.Components;
        double[] weighted = WeightedLogProb(data, p);
        var responsibilities = new double[n * k];
        double total = 0.0;
        for (int i = 0; i < n; i++)
        {
            double norm = GmmLinearAlgebra.LogSumExp(weighted, i * k, k);
            total += norm;
            for (int j = 0; j < k; j++) responsibilities[i * k + j] = Math.Exp(weighted[i * k + j] - norm);
        }
        Accumulate(data, responsibilities, p.Means, statistics);
        statistics.LogLikelihood = total;
    }

    public void Accumulate(IMixtureData data, double[] responsibilities, double[] shifts, MixtureStatistics statistics)
    {
        var host = (HostData)data;
        double[] x = host.Values;
        int n = host.Samples, d = host.Dimensions, k = statistics.Components;
        bool fullMatrix = statistics.Type is CovarianceType.Full or CovarianceType.Tied;
        statistics.Clear();
        var centred = new double[d];
        for (int j = 0; j < k; j++)
        for (int i = 0; i < n; i++)
        {
            double r = responsibilities[i * k + j];
            statistics.Counts[j] += r;
            for (int a = 0; a < d; a++) centred[a] = x[i * d + a] - shifts[j * d + a];
            for (int a = 0; a < d; a++)
            {
                statistics.Sums[j * d + a] += r * centred[a];
                if (!fullMatrix)
                {
                    statistics.Scatter[j * d + a] += r * centred[a] * centred[a];
                    continue;
                }
                for (int b = 0; b < d; b++) statistics.Scatter[(j * d + a) * d + b] += r * centred[a] * centred[b];
            }
        }
    }
}
