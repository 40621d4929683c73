namespace Hybrid.Core.Nn.Io;

/// <summary>
/// A safetensors file that cannot be used: missing, truncated, malformed, or not holding what the caller
/// asked for. The message starts with the file's path and names the one problem found.
/// </summary>
public sealed class SafetensorsException : FileFormatException
{
    /// <summary>Creates an exception whose message is <c>"{path}: {problem}"</c>.</summary>
    public SafetensorsException(string path, string problem, Exception? inner = null) : base(path, problem, inner) { }
}
