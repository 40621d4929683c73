namespace Hybrid.Core.Nn.Data;

/// <summary>A dataset file or folder that cannot be used: missing, truncated, malformed, or not holding what the caller
/// asked for. The message starts with the path and names the one problem found.</summary>
public sealed class DatasetException : FileFormatException
{
    /// <summary>Creates an exception whose message is <c>"{path}: {problem}"</c>.</summary>
    public DatasetException(string path, string problem, Exception? inner = null) : base(path, problem, inner) { }
}
