namespace Hybrid.Core.Nn.Onnx;

/// <summary>
/// An ONNX file that cannot be read: missing, truncated, not a protobuf model, or holding a tensor
/// whose declared shape and stored data disagree. The message starts with the file's path and names
/// the one problem found.
/// </summary>
public sealed class OnnxException : Exception
{
    /// <summary>Creates an exception whose message is <c>"{path}: {problem}"</c>.</summary>
    public OnnxException(string path, string problem, Exception? inner = null)
        : base($"{path}: {problem}", inner)
    {
        Path = path;
        Problem = problem;
    }

    /// <summary>The file the problem was found in, as the caller named it.</summary>
    public string Path { get; }

    /// <summary>The problem alone, without the path.</summary>
    public string Problem { get; }
}
