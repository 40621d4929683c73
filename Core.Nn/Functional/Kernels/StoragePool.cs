namespace Hybrid.Core.Nn;

/// <summary>Float32 storage handed back by code that has proven a tensor dead, and handed out again for op outputs of the
/// same length, which overwrite every element (<see cref="TensorAccess.Fresh{T}"/>). Large-object-heap arrays that are
/// freed only by full collections, and whose pages the GC returns to the OS, otherwise cost a page fault per 4 KB on every
/// forward of a convolutional network. Nothing is pooled unless returned: a caller may return a tensor only when no
/// reference to it or its storage can remain (no autograd graph, no trace, no hook, no view of its storage).</summary>
internal static class StoragePool
{
    /// <summary>Smaller arrays live in the young generation, where the GC recycles them cheaply already.</summary>
    const int MinLength = 85_000 / sizeof(float);

    /// <summary>Arrays kept per length: a residual block cycles through about three under no-grad; a training step of
    /// ResNet-20 keeps 14 of its first stage's size alive for the backward, which rents a few more for gradients while
    /// they are still held and then hands them all back for the next forward. With 16 a step dropped the excess to
    /// the GC and page-faulted fresh arrays in again (a tenth of a mask-training epoch's samples were the kernel
    /// clearing pages).</summary>
    const int PerLength = 32;

    /// <summary>The most floats held in all (1 GB), so an unusual pattern of lengths cannot hoard memory.</summary>
    const long MaxHeld = 1L << 28;

    static readonly Dictionary<int, Stack<float[]>> free = [];
    static readonly object gate = new();
    static long held;

    /// <summary>Where this thread records the pooled-size arrays it rents while a backward pass runs (see
    /// <see cref="Track"/>); null otherwise.</summary>
    [ThreadStatic] static HashSet<Array>? rentedHere;

    /// <summary>Records every pooled-size array this thread rents into <paramref name="rented"/> until the scope is
    /// disposed: storage known to be created inside the scope, which no caller outside it can hold.</summary>
    public static IDisposable Track(HashSet<Array> rented)
    {
        var outer = rentedHere;
        rentedHere = rented;
        return Autograd.ScopeOf(() => rentedHere = outer);
    }

    /// <summary>A float array of <paramref name="length"/> with arbitrary contents: a returned one when there is one.</summary>
    public static float[] Rent(int length)
    {
        if (length < MinLength) return GC.AllocateUninitializedArray<float>(length);
        float[]? array = null;
        lock (gate)
            if (free.TryGetValue(length, out var stack) && stack.TryPop(out array))
                held -= length;
        array ??= GC.AllocateUninitializedArray<float>(length);
        rentedHere?.Add(array);
        return array;
    }

    /// <summary>Whether <paramref name="array"/> lies in the pool, free to be rented again.</summary>
    public static bool Holds(Array array)
    {
        if (array is not float[] floats) return false;
        lock (gate) return free.TryGetValue(floats.Length, out var stack) && stack.Contains(floats);
    }

    /// <summary>Takes back <paramref name="dead"/>'s storage for reuse. The caller guarantees that nothing will read or
    /// write <paramref name="dead"/> or its storage again.</summary>
    public static void Return(Tensor dead) => Return(dead.Storage);

    /// <summary>Takes back <paramref name="dead"/> for reuse, on the same guarantee as <see cref="Return(Tensor)"/>.</summary>
    public static void Return(Array dead)
    {
        if (dead is not float[] array || array.Length < MinLength) return;
        lock (gate)
        {
            if (!free.TryGetValue(array.Length, out var stack)) free[array.Length] = stack = new Stack<float[]>();
            // Returned twice, an array would be rented twice: the second return is ignored.
            if (stack.Count >= PerLength || held + array.Length > MaxHeld || stack.Contains(array)) return;
            stack.Push(array);
            held += array.Length;
        }
    }
}
