/// The file extensions of model files, defined once for every reader, walker and message of Analysis.
module Hybrid.Analysis.ModelFiles

/// PyTorch checkpoints (zip or legacy torch.save), read through the allowlisted unpickler.
let checkpointExtensions = [ ".pt"; ".pth"; ".th"; ".bin"; ".ckpt"; ".tar" ]

/// Weight files: safetensors and PyTorch checkpoints.
let weightExtensions = set (".safetensors" :: checkpointExtensions)

/// The checkpoint extensions as a message lists them: "(.pt .pth .th .bin .ckpt .tar)".
let checkpointList = "(" + String.concat " " checkpointExtensions + ")"

/// Extensions that name many formats besides models, so a folder walk does not take such files for models (a
/// Hugging Face `pytorch_model*.bin` still counts); named on its own, a file with one is read all the same.
let private ambiguous = set [ ".bin"; ".tar" ]

/// Files that are models wherever a folder walk finds them: graphs, traces and the unambiguous weight files.
let walkedExtensions = Set.union (set [ ".onnx"; ".jsonl" ]) (Set.difference weightExtensions ambiguous)
