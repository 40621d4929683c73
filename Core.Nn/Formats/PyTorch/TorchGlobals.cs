namespace Hybrid.Core.Nn.Formats.PyTorch;

/// <summary>
/// The allowlist of Python globals a PyTorch checkpoint may name, and what each one builds. A global
/// outside this list is refused before anything is called, so no pickle can reach <c>os.system</c>,
/// <c>builtins.eval</c> or any other code.
/// </summary>
internal static class TorchGlobals
{
    static readonly Dictionary<string, DType> StorageTypes = new(StringComparer.Ordinal)
    {
        ["FloatStorage"] = DType.F32,
        ["DoubleStorage"] = DType.F64,
        ["HalfStorage"] = DType.F16,
        ["BFloat16Storage"] = DType.BF16,
        ["LongStorage"] = DType.I64,
        ["IntStorage"] = DType.I32,
        ["ByteStorage"] = DType.U8,
        ["BoolStorage"] = DType.Bool,
    };

    static readonly Dictionary<string, object> Allowed = Build();

    static Dictionary<string, object> Build()
    {
        var allowed = new Dictionary<string, object>(StringComparer.Ordinal)
        {
            ["collections.OrderedDict"] = new PickleCallable("collections.OrderedDict", OrderedDict),
            ["torch._utils._rebuild_tensor"] = new PickleCallable("torch._utils._rebuild_tensor", RebuildTensor),
            ["torch._utils._rebuild_tensor_v2"] = new PickleCallable("torch._utils._rebuild_tensor_v2", RebuildTensor),
            ["torch._utils._rebuild_parameter"] = new PickleCallable("torch._utils._rebuild_parameter", RebuildParameter),
            ["torch._utils._rebuild_parameter_with_state"] =
                new PickleCallable("torch._utils._rebuild_parameter_with_state", RebuildParameter),
        };
        foreach (var (name, dtype) in StorageTypes)
            allowed["torch." + name] = new StorageType("torch." + name, dtype);
        return allowed;
    }

    /// <summary>
    /// The value of global <paramref name="module"/>.<paramref name="name"/>, or a
    /// <see cref="PickleException"/> naming it when it is not allowlisted.
    /// </summary>
    public static object Resolve(string module, string name)
    {
        var qualified = module + "." + name;
        return Allowed.TryGetValue(qualified, out var value)
            ? value
            : throw new PickleException(
                $"refused the Python global '{qualified}': it is not on the allowlist of globals a PyTorch state dict needs, and calling it could run code from the file");
    }

    /// <summary>
    /// The storage a persistent id <c>('storage', type, key, location, size[, view_metadata])</c> names;
    /// the zip format's tuples have five items, the legacy format's six.
    /// </summary>
    public static StorageRef PersistentLoad(object? pid)
    {
        var items = PickleReader.Expect<PickleTuple>(pid, "persistent id").Items;
        if (items.Length is not (5 or 6) || items[0] is not "storage")
            throw new PickleException($"persistent id is {PickleReader.Describe(pid)}, expected ('storage', type, key, location, size[, view])");
        var type = PickleReader.Expect<StorageType>(items[1], "storage type");
        var key = PickleReader.Expect<string>(items[2], "storage key");
        var location = PickleReader.Expect<string>(items[3], "storage location");
        var size = NonNegative(items[4], "storage size");
        if (items.Length == 5 || items[5] is null)
            return new StorageRef(key, type.DType, location, size, 0, null);
        // Legacy views: (view_key, offset, view_size) into the root storage `key`.
        var view = PickleReader.Expect<PickleTuple>(items[5], "storage view").Items;
        if (view.Length != 3)
            throw new PickleException("storage view metadata must be (key, offset, size)");
        return new StorageRef(key, type.DType, location, size, NonNegative(view[1], "view offset"), NonNegative(view[2], "view size"));
    }

    // OrderedDict() with no arguments: the items follow as SETITEMS.
    static object OrderedDict(object?[] args) =>
        args.Length == 0 ? new PickleDict() : throw new PickleException($"OrderedDict called with {args.Length} arguments");

    // _rebuild_tensor(storage, offset, size, stride) and
    // _rebuild_tensor_v2(storage, offset, size, stride, requires_grad, backward_hooks[, metadata]).
    static object RebuildTensor(object?[] args)
    {
        if (args.Length < 4)
            throw new PickleException($"_rebuild_tensor called with {args.Length} arguments, needs at least 4");
        var storage = PickleReader.Expect<StorageRef>(args[0], "tensor storage");
        var offset = NonNegative(args[1], "storage offset");
        var shape = Dims(args[2], "size");
        var strides = Dims(args[3], "stride");
        if (shape.Length != strides.Length)
            throw new PickleException($"tensor size has {shape.Length} dimensions but stride has {strides.Length}");
        return new TensorRef(storage, offset, shape, strides);
    }

    // _rebuild_parameter(data, requires_grad, backward_hooks[, state]): a Parameter is its tensor here.
    static object RebuildParameter(object?[] args) =>
        args.Length >= 1 && args[0] is TensorRef tensor
            ? tensor
            : throw new PickleException("_rebuild_parameter needs a tensor as its first argument");

    static long[] Dims(object? value, string what)
    {
        var items = PickleReader.Expect<PickleTuple>(value, what).Items;
        var dims = new long[items.Length];
        for (int i = 0; i < items.Length; i++)
            dims[i] = NonNegative(items[i], what);
        return dims;
    }

    static long NonNegative(object? value, string what) =>
        value is long n && n >= 0 ? n : throw new PickleException($"{what} is {PickleReader.Describe(value)}, expected a non-negative integer");
}
