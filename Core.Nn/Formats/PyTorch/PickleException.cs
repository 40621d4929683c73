namespace Hybrid.Core.Nn.Formats.PyTorch;

/// <summary>
/// Malformed pickle content, found by <see cref="PickleReader"/> or the allowlisted callables; the loader
/// turns it into a <see cref="InputException"/> naming the file.
/// </summary>
internal sealed class PickleException(string problem) : Exception(problem);
