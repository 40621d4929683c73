namespace Hybrid.Core.Nn;

/// <summary>A file (or folder) that cannot be used: missing, truncated, malformed, hostile, or not holding what the
/// caller asked for. The message is <c>"{path}: {problem}"</c>, one line, so that a command can print it as it is.
/// Each reader throws its own subclass; callers that only report the problem catch this base.</summary>
public abstract class FileFormatException : Exception
{
    /// <summary>Creates an exception whose message is <c>"{path}: {problem}"</c>.</summary>
    protected FileFormatException(string path, string problem, Exception? inner)
        : base($"{path}: {problem}", inner)
    {
        Path = path;
        Problem = problem;
    }

    /// <summary>The file or folder the problem was found in, as the caller named it.</summary>
    public string Path { get; }

    /// <summary>The problem alone, without the path.</summary>
    public string Problem { get; }
}
