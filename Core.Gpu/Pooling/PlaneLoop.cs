namespace Hybrid.Core.Gpu.Pooling;

/// <summary>Runs a pooling body once per plane through the one splitter, <see cref="Ranges.ByWork(int, long, Action{int, int})"/>:
/// planes are independent, so each piece of planes runs on one thread.</summary>
internal static class PlaneLoop
{
    public static void Run(int planes, long workPerPlane, Action<int> body) =>
        Ranges.ByWork(planes, workPerPlane, (start, count) =>
        {
            for (int p = start; p < start + count; p++) body(p);
        });
}
