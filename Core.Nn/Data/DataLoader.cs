namespace Hybrid.Core.Nn.Data;

/// <summary>Cuts a <see cref="LabelledImages"/> into batches, epoch by epoch: a seeded permutation per epoch (the same
/// seed and epoch always give the same order; different epochs give different orders), optional random crop with zero
/// padding and horizontal flip, then per-channel normalisation. Batch preparation runs on
/// <see cref="DataLoaderOptions.Threads"/> threads and one batch ahead of the consumer, and is deterministic: every
/// image draws its augmentation from its own stream, keyed by (seed, epoch, position in the epoch).</summary>
public sealed class DataLoader
{
    readonly LabelledImages data;
    readonly DataLoaderOptions options;
    readonly float[] scale, shift;
    (int Epoch, int[] Order)? cached;

    /// <summary>A loader over <paramref name="data"/>; <paramref name="options"/> is validated here.</summary>
    public DataLoader(LabelledImages data, DataLoaderOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(data);
        options ??= new DataLoaderOptions();
        if (options.BatchSize < 1)
            throw new ArgumentException($"BatchSize is {options.BatchSize}; it must be at least 1", nameof(options));
        if (options.Threads < 1)
            throw new ArgumentException($"Threads is {options.Threads}; it must be at least 1", nameof(options));
        if (options.CropPadding < 0 || options.CropPadding > Math.Max(data.Height, data.Width))
            throw new ArgumentException(
                $"CropPadding is {options.CropPadding}; it must be in 0..{Math.Max(data.Height, data.Width)} for {data.Height} x {data.Width} images",
                nameof(options));
        if (options.Mean is { } m && m.Length != data.Channels)
            throw new ArgumentException($"Mean has {m.Length} entries for {data.Channels} channels", nameof(options));
        if (options.Std is { } s && s.Length != data.Channels)
            throw new ArgumentException($"Std has {s.Length} entries for {data.Channels} channels", nameof(options));
        foreach (float v in options.Std ?? [])
            if (!(v > 0 && float.IsFinite(v)))
                throw new ArgumentException($"Std holds {v}; every entry must be finite and positive", nameof(options));
        if (data.Images.Length != (long)data.Count * data.ImageSize || data.Labels.Length != data.Count)
            throw new ArgumentException(
                $"{data.Images.Length} pixels and {data.Labels.Length} labels for {data.Count} images of {data.Channels} x {data.Height} x {data.Width}",
                nameof(data));
        this.data = data;
        this.options = options;
        // Normalisation as one multiply-add per pixel: (v - mean) / std = v * (1 / std) - mean / std.
        scale = new float[data.Channels];
        shift = new float[data.Channels];
        for (int c = 0; c < data.Channels; c++)
        {
            float std = options.Std?[c] ?? 1f, mean = options.Mean?[c] ?? 0f;
            scale[c] = 1f / std;
            shift[c] = -mean / std;
        }
    }

    /// <summary>Batches per epoch.</summary>
    public int BatchCount => options.DropLast
        ? data.Count / options.BatchSize
        : (data.Count + options.BatchSize - 1) / options.BatchSize;

    /// <summary>The order in which epoch <paramref name="epoch"/> visits the dataset: a seeded Fisher-Yates permutation
    /// of 0 .. Count - 1, or the identity when shuffling is off.</summary>
    public int[] Order(int epoch)
    {
        if (epoch < 0) throw new ArgumentException($"epoch is {epoch}; it must be non-negative", nameof(epoch));
        var order = new int[data.Count];
        for (int i = 0; i < order.Length; i++) order[i] = i;
        if (options.Shuffle)
        {
            var random = SplitMix64.For(options.Seed, epoch, 0);
            for (int i = order.Length - 1; i > 0; i--)
            {
                int j = random.NextInt(i + 1);
                (order[i], order[j]) = (order[j], order[i]);
            }
        }
        return order;
    }

    /// <summary>The batches of epoch <paramref name="epoch"/> in order, the next one prepared while the caller works on
    /// the current one.</summary>
    public IEnumerable<Batch> Epoch(int epoch)
    {
        int[] order = Order(epoch);
        int count = BatchCount;
        if (count == 0) yield break;
        var next = Task.Run(() => Prepare(order, epoch, 0));
        for (int b = 0; b < count; b++)
        {
            var current = next.GetAwaiter().GetResult();
            if (b + 1 < count)
            {
                int following = b + 1;
                next = Task.Run(() => Prepare(order, epoch, following));
            }
            yield return current;
        }
    }

    /// <summary>Batch <paramref name="index"/> of epoch <paramref name="epoch"/> alone (the same one that
    /// <see cref="Epoch"/> yields), e.g. to resume part-way through an epoch.</summary>
    public Batch BatchAt(int epoch, int index)
    {
        if (index < 0 || index >= BatchCount)
            throw new ArgumentException($"batch {index} of an epoch of {BatchCount} batches", nameof(index));
        if (cached is not { } c || c.Epoch != epoch) cached = (epoch, Order(epoch));
        return Prepare(cached.Value.Order, epoch, index);
    }

    Batch Prepare(int[] order, int epoch, int index)
    {
        int start = index * options.BatchSize;
        int count = Math.Min(options.BatchSize, data.Count - start);
        int size = data.ImageSize;
        var images = new float[(long)count * size];
        var labels = new long[count];
        var indices = order.AsSpan(start, count).ToArray();
        for (int i = 0; i < count; i++) labels[i] = data.Labels[indices[i]];
        // Threads pay off only for enough pixels; below that, Parallel.For's overhead dominates.
        if (options.Threads == 1 || (long)count * size < 1 << 16)
            for (int i = 0; i < count; i++) Augment(epoch, start + i, indices[i], images, i);
        else
            Parallel.For(0, count, new ParallelOptions { MaxDegreeOfParallelism = options.Threads },
                i => Augment(epoch, start + i, indices[i], images, i));
        return new Batch(images, labels, indices, count, data.Channels, data.Height, data.Width);
    }

    /// <summary>Writes image <paramref name="source"/>, cropped, flipped and normalised, to slot
    /// <paramref name="slot"/> of <paramref name="target"/>; the random draws come from the stream of
    /// <paramref name="position"/> in the epoch, so the result is the same on any thread.</summary>
    void Augment(int epoch, int position, int source, float[] target, int slot)
    {
        int h = data.Height, w = data.Width, pad = options.CropPadding;
        int dy = 0, dx = 0;
        bool flip = false;
        if (pad > 0 || options.HorizontalFlip)
        {
            var random = SplitMix64.For(options.Seed, epoch, position + 1L);
            if (pad > 0)
            {
                dy = random.NextInt(2 * pad + 1) - pad;
                dx = random.NextInt(2 * pad + 1) - pad;
            }
            flip = options.HorizontalFlip && (random.Next() >> 63) != 0;
        }
        int size = data.ImageSize;
        for (int c = 0; c < data.Channels; c++)
        {
            var from = data.Images.AsSpan(source * size + c * h * w, h * w);
            var to = target.AsSpan(slot * size + c * h * w, h * w);
            float a = scale[c], b = shift[c];
            // Output (y, x) reads the padded image at (y + dy, x' + dx), x' = x or w - 1 - x when flipped (crop then
            // flip, as torchvision's usual transform order); outside the original it is the zero padding.
            for (int y = 0; y < h; y++)
            {
                int sy = y + dy;
                var row = to.Slice(y * w, w);
                if (sy < 0 || sy >= h)
                {
                    row.Fill(b);
                    continue;
                }
                var input = from.Slice(sy * w, w);
                for (int x = 0; x < w; x++)
                {
                    int sx = (flip ? w - 1 - x : x) + dx;
                    row[x] = (uint)sx < (uint)w ? input[sx] * a + b : b;
                }
            }
        }
    }
}
