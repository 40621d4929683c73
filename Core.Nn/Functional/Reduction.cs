namespace Hybrid.Core.Nn;

/// <summary>How a loss combines its per-sample values.</summary>
public enum Reduction { Mean, Sum, None }
