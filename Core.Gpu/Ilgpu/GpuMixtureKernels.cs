using Hybrid.Core.Gpu.Maths;
using ILGPU;
using ILGPU.Runtime;
using static Hybrid.Core.Gpu.Ilgpu.GpuMixtureData;

namespace Hybrid.Core.Gpu.Ilgpu;

/// <summary><see cref="IMixtureKernels"/> on one ILGPU accelerator: the data stay on the device for the whole fit, each
/// pass uploads the small parameters, runs the E-step (log-densities, log-sum-exp, responsibilities kept on the device)
/// and the M-step reductions, and downloads only the statistics. Every reduction adds in an order fixed by the shape
/// alone, so a pass repeated gives bit-identical statistics. Obtain it per device with
/// <c>device.KernelSet(g => new GpuMixtureKernels(g))</c>: the constructor compiles the kernels.</summary>
internal sealed class GpuMixtureKernels : IMixtureKernels
{
    readonly GpuDevice device;
    readonly Action<KernelConfig, ArrayView<double>, ArrayView<double>, ArrayView<double>, ArrayView<double>, ArrayView<double>,
        EStepParams> logDensityFull, logDensityDiag;
    readonly Action<Index1D, ArrayView<double>, ArrayView<double>, int, int> responsibilities;
    readonly Action<KernelConfig, ArrayView<double>, ArrayView<double>, ArrayView<double>, ArrayView<double>, MomentParams>
        crossMoments, diagonalMoments;
    readonly Action<KernelConfig, ArrayView<double>, ArrayView<double>, MomentParams> sliceLogLikelihood;
    readonly Action<Index1D, ArrayView<double>, ArrayView<double>, MomentParams> sumSlices;

    public GpuMixtureKernels(GpuDevice device)
    {
        this.device = device;
        var a = device.Accelerator;
        logDensityFull = a.LoadStreamKernel<ArrayView<double>, ArrayView<double>, ArrayView<double>, ArrayView<double>,
            ArrayView<double>, EStepParams>(MixtureEStepKernels.LogDensityFull);
        logDensityDiag = a.LoadStreamKernel<ArrayView<double>, ArrayView<double>, ArrayView<double>, ArrayView<double>,
            ArrayView<double>, EStepParams>(MixtureEStepKernels.LogDensityDiag);
        responsibilities = a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<double>, ArrayView<double>, int, int>(
            MixtureEStepKernels.Responsibilities);
        crossMoments = a.LoadStreamKernel<ArrayView<double>, ArrayView<double>, ArrayView<double>, ArrayView<double>,
            MomentParams>(MixtureMomentKernels.CrossMoments);
        diagonalMoments = a.LoadStreamKernel<ArrayView<double>, ArrayView<double>, ArrayView<double>, ArrayView<double>,
            MomentParams>(MixtureMomentKernels.DiagonalMoments);
        sliceLogLikelihood = a.LoadStreamKernel<ArrayView<double>, ArrayView<double>, MomentParams>(
            MixtureMomentKernels.SliceLogLikelihood);
        sumSlices = a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<double>, ArrayView<double>, MomentParams>(
            MixtureMomentKernels.SumSlices);
    }

    public IMixtureData Load(double[] data, int n, int d)
    {
        _ = device.Accelerator;
        return new GpuMixtureData(device, data, n, d);
    }

    /// <summary>The data's device buffers, with the accelerator made current on this thread.</summary>
    GpuMixtureData Resident(IMixtureData data)
    {
        _ = device.Accelerator;
        return (GpuMixtureData)data;
    }

    public void Pass(IMixtureData data, MixtureParameters parameters, MixtureStatistics statistics)
    {
        var g = Resident(data);
        statistics.Clear();
        int n = g.Samples, k = parameters.Components;
        if (n == 0 || k == 0) return;
        var values = LogDensities(g, parameters);
        var logLikelihoods = g.Buffer(Slot.LogLikelihoods, n);
        responsibilities(n, values.View, logLikelihoods.View, n, k);
        Reduce(g, values, g.Buffer(Slot.Shifts, k * g.Dimensions), statistics, logLikelihoods);
    }

    public void Accumulate(IMixtureData data, double[] responsibilities, double[] shifts, MixtureStatistics statistics)
    {
        var g = Resident(data);
        statistics.Clear();
        int n = g.Samples, k = statistics.Components;
        if (n == 0 || k == 0) return;
        var values = g.Upload(Slot.Values, Transpose(responsibilities, n, k));
        var shifted = g.Upload(Slot.Shifts, shifts.AsSpan(0, k * g.Dimensions));
        Reduce(g, values, shifted, statistics, logLikelihoods: null);
    }

    public double[] WeightedLogProb(IMixtureData data, MixtureParameters parameters)
    {
        var g = Resident(data);
        int n = g.Samples, k = parameters.Components;
        if (n == 0 || k == 0) return [];
        var componentMajor = new double[n * k];
        LogDensities(g, parameters).CopyTo(componentMajor);
        return Transpose(componentMajor, k, n);
    }

    /// <summary>Uploads the parameters (the means into the Shifts slot) and fills the Values slot with the k x n
    /// weighted log-densities.</summary>
    GpuArray<double> LogDensities(GpuMixtureData g, MixtureParameters p)
    {
        int n = g.Samples, d = g.Dimensions, k = p.Components;
        bool dense = p.Type is CovarianceType.Full or CovarianceType.Tied;
        var constants = new double[2 * k];
        for (int j = 0; j < k; j++)
        {
            constants[j] = Math.Log(p.Weights[j]);
            constants[k + j] = GmmLinearAlgebra.LogDetPrecisionCholesky(p.Type, p.PrecisionsCholesky, j, d);
        }
        var means = g.Upload(Slot.Shifts, p.Means.AsSpan(0, k * d));
        var factors = g.Upload(Slot.Factors, p.Type == CovarianceType.Spherical ? ExpandSpherical(p.PrecisionsCholesky, k, d)
            : p.PrecisionsCholesky.AsSpan(0, GmmShapes.CovarianceLength(p.Type, k, d)));
        var constantsOnDevice = g.Upload(Slot.Constants, constants);
        var values = g.Buffer(Slot.Values, n * k);
        int stride = p.Type switch { CovarianceType.Full => d * d, CovarianceType.Tied => 0, _ => d };
        var shape = new EStepParams(n, d, k, stride, d * GmmLinearAlgebra.Log2Pi);
        (dense ? logDensityFull : logDensityDiag)(MixtureEStepKernels.LogDensityConfig(n, k),
            g.X.View, means.View, factors.View, constantsOnDevice.View, values.View, shape);
        return values;
    }

    /// <summary>The statistics of the k x n responsibilities in <paramref name="values"/> about <paramref name="shifts"/>,
    /// plus the summed log-likelihood when <paramref name="logLikelihoods"/> holds the per-sample ones.</summary>
    void Reduce(GpuMixtureData g, GpuArray<double> values, GpuArray<double> shifts, MixtureStatistics statistics,
        GpuArray<double>? logLikelihoods)
    {
        int k = statistics.Components, d = g.Dimensions;
        var m = MomentParams.For(statistics.Type, g.Samples, d, k);
        var partial = g.Buffer(Slot.Partial, m.Slices * m.Block);
        var totals = g.Buffer(Slot.Totals, m.Block);
        bool dense = statistics.Type is CovarianceType.Full or CovarianceType.Tied;
        if (dense) crossMoments(MixtureMomentKernels.CrossMomentsConfig(m), g.X.View, values.View, shifts.View, partial.View, m);
        else diagonalMoments(MixtureMomentKernels.DiagonalMomentsConfig(m), g.X.View, values.View, shifts.View, partial.View, m);
        if (logLikelihoods is not null)
            sliceLogLikelihood(MixtureMomentKernels.LogLikelihoodConfig(m), logLikelihoods.View, partial.View, m);
        sumSlices(m.Block, partial.View, totals.View, m);

        var host = new double[m.Block];
        totals.CopyTo(host);
        host.AsSpan(0, k).CopyTo(statistics.Counts);
        host.AsSpan(m.SumsAt, k * d).CopyTo(statistics.Sums);
        if (statistics.Type == CovarianceType.Tied)
        {
            // The kernel keeps one matrix per component; tied's statistics hold their sum, in component order.
            Array.Clear(statistics.Scatter);
            for (int j = 0; j < k; j++)
                for (int e = 0; e < d * d; e++) statistics.Scatter[e] += host[m.ScatterAt + j * d * d + e];
        }
        else if (statistics.Type == CovarianceType.Spherical)
        {
            // The diagonal kernel keeps one value per feature; spherical's statistics hold their sum, in feature order.
            for (int j = 0; j < k; j++)
            {
                double sum = 0.0;
                for (int a = 0; a < d; a++) sum += host[m.ScatterAt + j * d + a];
                statistics.Scatter[j] = sum;
            }
        }
        else host.AsSpan(m.ScatterAt, statistics.Scatter.Length).CopyTo(statistics.Scatter);
        // Without per-sample log-likelihoods the slot holds stale partial sums; the interface leaves it 0.
        statistics.LogLikelihood = logLikelihoods is null ? 0.0 : host[m.LogLikAt];
    }

    /// <summary>The spherical factor uⱼ repeated over the d features, so one diagonal kernel serves diag and spherical.</summary>
    static double[] ExpandSpherical(double[] factors, int k, int d)
    {
        var expanded = new double[k * d];
        for (int j = 0; j < k; j++) expanded.AsSpan(j * d, d).Fill(factors[j]);
        return expanded;
    }

    /// <summary>The cols x rows transpose of a rows x cols row-major matrix.</summary>
    static double[] Transpose(double[] matrix, int rows, int cols)
    {
        var result = new double[rows * cols];
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < cols; c++) result[c * rows + r] = matrix[r * cols + c];
        return result;
    }
}
