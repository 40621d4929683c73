namespace Hybrid.Core.Nn.Formats.Onnx.Export;

/// <summary>Typed reads of a <see cref="TracedOp"/>'s attributes. Names match ignoring case and underscores
/// (<c>ceilMode</c> = <c>ceil_mode</c>), and each read lists the spellings it accepts, so the exporter does not depend on
/// one op author's choice; sizes may be recorded as <see cref="Size2"/>, an int, or int/long arrays.</summary>
internal static class TraceAttributes
{
    static object? Find(TracedOp op, string[] names)
    {
        foreach (var (key, value) in op.Attributes)
        {
            string k = key.Replace("_", "");
            if (names.Any(n => string.Equals(k, n.Replace("_", ""), StringComparison.OrdinalIgnoreCase))) return value;
        }
        return null;
    }

    static InvalidOperationException Missing(TracedOp op, string[] names) =>
        new($"cannot export {op.Op} in module '{op.ModulePath}': the trace records no '{names[0]}' attribute (it has {string.Join(", ", op.Attributes.Keys)})");

    /// <summary>A (height, width) pair, or <paramref name="fallback"/> when absent (null: required).</summary>
    public static int[] Pair(TracedOp op, int[]? fallback, params string[] names) => Find(op, names) switch
    {
        null => fallback ?? throw Missing(op, names),
        Size2 s => [s.H, s.W],
        int v => [v, v],
        long v => [(int)v, (int)v],
        int[] { Length: 1 } a => [a[0], a[0]],
        int[] { Length: 2 } a => a,
        long[] { Length: 1 } a => [(int)a[0], (int)a[0]],
        long[] { Length: 2 } a => [(int)a[0], (int)a[1]],
        ValueTuple<int, int> t => [t.Item1, t.Item2],
        var other => throw new InvalidOperationException($"cannot export {op.Op}: attribute '{names[0]}' is a {other.GetType().Name}"),
    };

    public static int[] Ints(TracedOp op, params string[] names) => Find(op, names) switch
    {
        null => throw Missing(op, names),
        int v => [v],
        int[] a => a,
        long[] a => a.Select(v => (int)v).ToArray(),
        IEnumerable<int> e => e.ToArray(),
        var other => throw new InvalidOperationException($"cannot export {op.Op}: attribute '{names[0]}' is a {other.GetType().Name}"),
    };

    public static long Int(TracedOp op, long? fallback, params string[] names) => Find(op, names) switch
    {
        null => fallback ?? throw Missing(op, names),
        var v => Convert.ToInt64(v),
    };

    public static double Double(TracedOp op, double? fallback, params string[] names) => Find(op, names) switch
    {
        null => fallback ?? throw Missing(op, names),
        var v => Convert.ToDouble(v),
    };

    public static bool Bool(TracedOp op, bool fallback, params string[] names) => Find(op, names) switch
    {
        null => fallback,
        bool b => b,
        var v => Convert.ToInt64(v) != 0,
    };
}
