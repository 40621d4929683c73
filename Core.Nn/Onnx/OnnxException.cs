namespace Hybrid.Core.Nn.Onnx;

/// <summary>
/// An ONNX file that cannot be read: missing, truncated, not a protobuf model, or holding a tensor
/// whose declared shape and stored data disagree. The message starts with the file's path and names
/// the one problem found.
/// </summary>
public sealed class OnnxException : FileFormatException
{
    /// <summary>Creates an exception whose message is <c>"{path}: {problem}"</c>.</summary>
    public OnnxException(string path, string problem, Exception? inner = null) : base(path, problem, inner) { }
}
