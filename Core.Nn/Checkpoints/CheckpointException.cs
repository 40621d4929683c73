namespace Hybrid.Core.Nn.Io;

/// <summary>
/// A PyTorch checkpoint that cannot be loaded: missing, truncated, malformed, not a state dict, or asking
/// for a Python global outside the allowlist. The message starts with the file's path and names the one
/// problem found (for a refused global, its <c>module.name</c>, e.g. <c>posix.system</c>).
/// </summary>
public sealed class CheckpointException : FileFormatException
{
    /// <summary>Creates an exception whose message is <c>"{path}: {problem}"</c>.</summary>
    public CheckpointException(string path, string problem, Exception? inner = null) : base(path, problem, inner) { }
}
