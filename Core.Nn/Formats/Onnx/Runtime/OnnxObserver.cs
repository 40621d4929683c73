using Hybrid.Core.Nn.Formats.Onnx.Reader;

namespace Hybrid.Core.Nn.Formats.Onnx.Runtime;

/// <summary>
/// Called by <see cref="OnnxSession.Run(IReadOnlyDictionary{string, Tensor}, OnnxObserver?)"/> after each step with the
/// node, the values it read (null for an omitted optional input) and the values it produced, in the node's output order
/// (an unnamed, unused output may be among them). The tensors are the session's own and may be released as soon as the
/// call returns: read or copy them here, never change them.
/// </summary>
public delegate void OnnxObserver(OnnxNode node, IReadOnlyList<Tensor?> inputs, IReadOnlyList<Tensor> outputs);
