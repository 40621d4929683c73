using Hybrid.Core.Gpu.Maths;

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
        return WeightedLogProb(host.Values, host.Samples, host.Dimensions, p.Components, p.Type,
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
        int matrix = statistics.Type == CovarianceType.Tied ? 0 : d * d;
        bool spherical = statistics.Type == CovarianceType.Spherical;
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
                        statistics.Scatter[spherical ? j : j * d + a] += r * centred[a] * centred[a];
                        continue;
                    }
                    for (int b = 0; b < d; b++) statistics.Scatter[j * matrix + a * d + b] += r * centred[a] * centred[b];
                }
            }
    }

    /// <summary>The n x k matrix log wⱼ + log N(xᵢ | μⱼ, Σⱼ), where with U Uᵀ = Σ⁻¹
    /// log N = -½ (d log 2π + ‖(x - μ) U‖²) + log det U, and log det U is the sum of the logs of U's diagonal.</summary>
    static double[] WeightedLogProb(double[] data, int n, int d, int k, CovarianceType type,
        double[] weights, double[] means, double[] precisionCholesky)
    {
        var logDet = new double[k];
        for (int j = 0; j < k; j++) logDet[j] = GmmLinearAlgebra.LogDetPrecisionCholesky(type, precisionCholesky, j, d);

        var result = new double[n * k];
        var centered = new double[d];
        for (int i = 0; i < n; i++)
            for (int j = 0; j < k; j++)
            {
                for (int c = 0; c < d; c++) centered[c] = data[i * d + c] - means[j * d + c];
                double squaredNorm = SquaredNormTimesFactor(type, centered, precisionCholesky, j, d);
                result[i * k + j] = Math.Log(weights[j]) - 0.5 * (d * GmmLinearAlgebra.Log2Pi + squaredNorm) + logDet[j];
            }
        return result;
    }

    // ‖v U‖² for the factor U of one component: (v U)ⱼ = Σᵢ vᵢ Uᵢⱼ for full and tied; v scaled elementwise otherwise.
    static double SquaredNormTimesFactor(CovarianceType type, double[] v, double[] u, int component, int d)
    {
        double sum = 0.0;
        if (type is CovarianceType.Full or CovarianceType.Tied)
        {
            int offset = type == CovarianceType.Full ? component * d * d : 0;
            for (int col = 0; col < d; col++)
            {
                double y = 0.0;
                for (int row = 0; row < d; row++) y += v[row] * u[offset + row * d + col];
                sum += y * y;
            }
            return sum;
        }
        for (int c = 0; c < d; c++)
        {
            double y = v[c] * (type == CovarianceType.Diag ? u[component * d + c] : u[component]);
            sum += y * y;
        }
        return sum;
    }
}
