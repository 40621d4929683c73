using System.Text;

namespace Hybrid.Core.Nn.Formats.PyTorch;

/// <summary>
/// A pickle virtual machine that builds data and never runs code: every global goes through
/// <c>resolveGlobal</c>, which returns an allowlisted value or throws, so REDUCE, NEWOBJ and BUILD can only
/// reach the callables the caller handed out. It reads protocols 0-5 as far as <c>torch.save</c> writes
/// them (the binary opcodes, plus the text GLOBAL/INT/GET/PUT); any other opcode is refused by name.
/// </summary>
/// <remarks>
/// Every length is checked against the bytes that remain before anything is allocated, memo indices are
/// looked up in a dictionary (a hostile LONG_BINPUT cannot make us allocate 2^32 slots), and the machine is
/// a single forward pass with no recursion, so a malformed pickle ends in one <see cref="PickleException"/>.
/// </remarks>
internal sealed class PickleReader(
    ReadOnlyMemory<byte> data,
    Func<string, string, object> resolveGlobal,
    Func<object?, object?> persistentLoad)
{
    readonly List<object?> stack = [];
    readonly Stack<int> marks = new();
    readonly Dictionary<long, object?> memo = [];
    int position;

    /// <summary>The offset just past the last STOP read; legacy files hold several pickles back to back.</summary>
    public int Position => position;

    /// <summary>Reads one pickle from <see cref="Position"/> to its STOP and returns the object it builds.</summary>
    public object? Load()
    {
        stack.Clear();
        marks.Clear();
        memo.Clear();
        while (true)
        {
            int at = position;
            byte op = Byte();
            if (op == (byte)'.')
            {
                if (stack.Count != 1 || marks.Count != 0)
                    throw new PickleException($"STOP at byte {at} with {stack.Count} values and {marks.Count} marks on the stack");
                return Pop();
            }
            Step(op, at);
        }
    }

    void Step(byte op, int at)
    {
        switch (op)
        {
            case 0x80: Byte(); break;                                     // PROTO: any version we can parse is fine
            case 0x95: Bytes(8); break;                                   // FRAME: a read-ahead hint only
            case (byte)'(': marks.Push(stack.Count); break;              // MARK
            case (byte)'0': Pop(); break;                                 // POP
            case (byte)'1': PopMark(); break;                             // POP_MARK
            case (byte)'2': Push(Peek()); break;                          // DUP
            case (byte)'N': Push(null); break;
            case 0x88: Push(true); break;
            case 0x89: Push(false); break;
            case (byte)'K': Push((long)Byte()); break;                    // BININT1
            case (byte)'M': Push((long)BinaryPrimitives.ReadUInt16LittleEndian(Bytes(2))); break;
            case (byte)'J': Push((long)BinaryPrimitives.ReadInt32LittleEndian(Bytes(4))); break;
            case (byte)'I': Push(TextInteger(Line())); break;             // INT (protocol 0, also 01/00 for bools)
            case 0x8a: Push(Long(Byte())); break;                         // LONG1
            case 0x8b: Push(Long(Length(4))); break;                      // LONG4
            case (byte)'G': Push(BinaryPrimitives.ReadDoubleBigEndian(Bytes(8))); break;
            case (byte)'X': Push(Utf8(Length(4))); break;                 // BINUNICODE
            case 0x8c: Push(Utf8(Byte())); break;                         // SHORT_BINUNICODE
            case 0x8d: Push(Utf8(Length(8))); break;                      // BINUNICODE8
            case (byte)'T': Push(Utf8(Length(4))); break;                 // BINSTRING (Python 2 str)
            case (byte)'U': Push(Utf8(Byte())); break;                    // SHORT_BINSTRING
            case (byte)'B': Push(Bytes(Length(4)).ToArray()); break;      // BINBYTES
            case (byte)'C': Push(Bytes(Byte()).ToArray()); break;         // SHORT_BINBYTES
            case 0x8e or 0x96: Push(Bytes(Length(8)).ToArray()); break;   // BINBYTES8, BYTEARRAY8
            case (byte)')': Push(new PickleTuple([])); break;
            case 0x85: Push(new PickleTuple(PopMany(1))); break;
            case 0x86: Push(new PickleTuple(PopMany(2))); break;
            case 0x87: Push(new PickleTuple(PopMany(3))); break;
            case (byte)'t': Push(new PickleTuple(PopMark())); break;
            case (byte)']': Push(new List<object?>()); break;
            case (byte)'l': Push(new List<object?>(PopMark())); break;
            case (byte)'a': Expect<List<object?>>(Peek(1), "APPEND target").Add(Pop()); break;
            case (byte)'e': AppendMany(); break;
            case (byte)'}': Push(new PickleDict()); break;
            case (byte)'d': Push(SetItems(new PickleDict(), PopMark())); break;
            case (byte)'s': SetItems(Expect<PickleDict>(Peek(2), "SETITEM target"), PopMany(2)); break;
            case (byte)'u':
                {
                    var items = PopMark();
                    SetItems(Expect<PickleDict>(Peek(), "SETITEMS target"), items);
                    break;
                }
            case (byte)'q': memo[Byte()] = Peek(); break;                 // BINPUT
            case (byte)'r': memo[BinaryPrimitives.ReadUInt32LittleEndian(Bytes(4))] = Peek(); break;
            case 0x94: memo[memo.Count] = Peek(); break;                  // MEMOIZE
            case (byte)'p': memo[TextIndex(Line())] = Peek(); break;      // PUT
            case (byte)'h': Push(Memo(Byte())); break;                    // BINGET
            case (byte)'j': Push(Memo(BinaryPrimitives.ReadUInt32LittleEndian(Bytes(4)))); break;
            case (byte)'g': Push(Memo(TextIndex(Line()))); break;         // GET
            case (byte)'c':                                               // GLOBAL
                {
                    string module = Line(), name = Line();
                    Push(resolveGlobal(module, name));
                    break;
                }
            case 0x93:                                                    // STACK_GLOBAL
                {
                    var name = Expect<string>(Pop(), "STACK_GLOBAL name");
                    var module = Expect<string>(Pop(), "STACK_GLOBAL module");
                    Push(resolveGlobal(module, name));
                    break;
                }
            case (byte)'R' or 0x81:                                       // REDUCE, NEWOBJ
                {
                    var args = Expect<PickleTuple>(Pop(), "call arguments");
                    var callable = Expect<PickleCallable>(Pop(), "callable");
                    Push(callable.Apply(args.Items));
                    break;
                }
            case (byte)'b': Build(Pop(), Peek()); break;
            case (byte)'Q': Push(persistentLoad(Pop())); break;           // BINPERSID
            default:
                throw new PickleException($"unsupported pickle opcode 0x{op:x2} at byte {at}");
        }
    }

    void AppendMany()
    {
        var items = PopMark();
        Expect<List<object?>>(Peek(), "APPENDS target").AddRange(items);
    }

    static PickleDict SetItems(PickleDict dict, object?[] items)
    {
        if (items.Length % 2 != 0)
            throw new PickleException($"SETITEMS with an odd number ({items.Length}) of keys and values");
        for (int i = 0; i < items.Length; i += 2)
            dict.Set(items[i] ?? throw new PickleException("a dict key is None"), items[i + 1]);
        return dict;
    }

    // BUILD sets an object's state. Only dicts carry state in a state_dict (an OrderedDict's _metadata), and
    // we keep it without interpreting it; state for anything else would mean calling __setstate__, refused.
    static void Build(object? state, object? target)
    {
        if (target is PickleDict dict)
            dict.State = state;
        else
            throw new PickleException($"BUILD on {Describe(target)} is not supported");
    }

    object? Memo(long index) =>
        memo.TryGetValue(index, out var value) ? value : throw new PickleException($"memo has no entry {index}");

    void Push(object? value) => stack.Add(value);

    object? Peek(int depth = 0) =>
        stack.Count - depth > (marks.Count > 0 ? marks.Peek() : 0)
            ? stack[stack.Count - 1 - depth]
            : throw new PickleException("stack underflow");

    object? Pop()
    {
        var value = Peek();
        stack.RemoveAt(stack.Count - 1);
        return value;
    }

    object?[] PopMany(int count)
    {
        int floor = marks.Count > 0 ? marks.Peek() : 0;
        if (stack.Count - count < floor)
            throw new PickleException("stack underflow");
        var items = stack.GetRange(stack.Count - count, count).ToArray();
        stack.RemoveRange(stack.Count - count, count);
        return items;
    }

    object?[] PopMark()
    {
        if (marks.Count == 0)
            throw new PickleException("an opcode needs a MARK but none is set");
        int mark = marks.Pop();
        var items = stack.GetRange(mark, stack.Count - mark).ToArray();
        stack.RemoveRange(mark, stack.Count - mark);
        return items;
    }

    byte Byte() => Bytes(1)[0];

    ReadOnlySpan<byte> Bytes(long count)
    {
        if (count < 0 || count > data.Length - position)
            throw new PickleException($"truncated: needs {count} bytes at byte {position}, {data.Length - position} remain");
        var span = data.Span.Slice(position, (int)count);
        position += (int)count;
        return span;
    }

    /// <summary>A 4- or 8-byte little-endian length, checked against the remaining bytes before use.</summary>
    long Length(int width)
    {
        var bytes = Bytes(width);
        ulong length = width == 4 ? BinaryPrimitives.ReadUInt32LittleEndian(bytes) : BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        if (length > (ulong)(data.Length - position))
            throw new PickleException($"length {length} at byte {position - width} runs past the end ({data.Length - position} bytes remain)");
        return (long)length;
    }

    string Utf8(long count) => Encoding.UTF8.GetString(Bytes(count));

    object Long(long count)
    {
        var value = new BigInteger(Bytes(count), isUnsigned: false, isBigEndian: false);
        return value >= long.MinValue && value <= long.MaxValue ? (long)value : value;
    }

    string Line()
    {
        int end = data.Span[position..].IndexOf((byte)'\n');
        if (end < 0)
            throw new PickleException($"truncated: no end of line after byte {position}");
        var text = Encoding.UTF8.GetString(Bytes(end));
        position++;
        return text;
    }

    static object TextInteger(string text) => text switch
    {
        "01" => true,
        "00" => false,
        _ => long.TryParse(text, out var value) ? value : throw new PickleException($"INT '{Clip(text)}' is not an integer"),
    };

    static long TextIndex(string text) =>
        long.TryParse(text, out var value) ? value : throw new PickleException($"memo index '{Clip(text)}' is not an integer");

    static string Clip(string text) => text.Length <= 40 ? text : text[..40] + "...";

    /// <summary>Casts a pickled value, or throws naming what was expected and what was found.</summary>
    internal static T Expect<T>(object? value, string what) =>
        value is T typed ? typed : throw new PickleException($"{what} is {Describe(value)}, expected {typeof(T).Name}");

    /// <summary>A short, bounded description of a pickled value for error messages.</summary>
    internal static string Describe(object? value) => value switch
    {
        null => "None",
        string s => $"the string '{Clip(s)}'",
        long or bool or double or BigInteger => $"the number {value}",
        _ => value.ToString() ?? value.GetType().Name,
    };
}
