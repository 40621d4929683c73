namespace Hybrid.Core.Nn;

/// <summary>The one error a user can cause and fix: a file or folder that cannot be used (missing, truncated,
/// malformed, hostile, or not holding what was asked for), a model that does not fit its data, a bad argument value, a
/// catalog that cannot be written. Every reader and module of Hybrid raises this type for such problems, and a
/// command prints its message as it is: one line, <c>"{subject}: {problem}"</c>. Anything else that escapes is a bug
/// and keeps its stack trace.</summary>
public sealed class InputException : Exception
{
    /// <summary>Creates an exception whose message is <c>"{subject}: {problem}"</c>, where subject names the file,
    /// folder, model or argument that is at fault.</summary>
    public InputException(string subject, string problem, Exception? inner = null)
        : base($"{subject}: {problem}", inner)
    {
        Subject = subject;
        Problem = problem;
    }

    /// <summary>The file, folder, model or argument at fault, as the caller named it.</summary>
    public string Subject { get; }

    /// <summary>The problem alone, without the subject.</summary>
    public string Problem { get; }
}
