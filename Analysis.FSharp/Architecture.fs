/// The abstract architecture: one small set of types for what a model is made of, whatever it was read from (an ONNX
/// graph, our own modules traced on a dummy input, a checkpoint's tensor names, a PeaTMOSS trace line). Nodes carry a
/// normalised layer type from one vocabulary across sources, the original op or module type, attributes, parameter
/// shapes, the output shape when known and the module path; edges make a DAG; the module hierarchy has nesting depths.
module Hybrid.Analysis.Architecture


/// An attribute value as the sources give it.
type AttributeValue =
    | Int of int64
    | Float of float
    | Text of string
    | Ints of int64[]

type Node =
    {
        /// Index in Architecture.Nodes.
        Id: int
        /// The node's own name: the ONNX node name, the module path plus op for traces, the tensor prefix for checkpoints.
        Name: string
        /// One vocabulary across sources: "Conv2d", "Linear", "BatchNorm2d", "LayerNorm", "ReLU", "GELU", "MaxPool2d",
        /// "Add", "MatMul", "Softmax", ... (see LayerTypes).
        LayerType: string
        /// The op or module type as the source names it ("Conv", "Conv2d", "Gemm", "linear", ...).
        Original: string
        Attributes: Map<string, AttributeValue>
        /// Parameter name ("weight", "bias", "running_mean", ...) and shape.
        Parameters: (string * int64[]) list
        OutputShape: int64[] option
        /// Dotted module path ("layer1.0.conv1"); for ONNX the node-name scope; "" when unknown.
        ModulePath: string
    }

    /// Elements of the learnable parameters: BatchNorm's running statistics and batch counter are state, not
    /// parameters, as in PyTorch's parameter count.
    member n.ParameterCount =
        n.Parameters
        |> List.filter (fun (name, _) ->
            name <> "running_mean" && name <> "running_var" && name <> "num_batches_tracked")
        |> List.sumBy (fun (_, s) -> Array.fold (*) 1L s)

/// One module of the hierarchy: dotted path, type name, nesting depth (number of dots; the root "" has depth -1 and is
/// not listed), whether it is a leaf.
type ModuleEntry = { Path: string; Type: string; Depth: int; Leaf: bool }

/// Labels a model declares (config.json for Hugging Face folders, the trace line for PeaTMOSS, the zoo name).
type Labels = { ModelType: string option; Architectures: string list; Task: string option }

module Labels =
    let empty = { ModelType = None; Architectures = []; Task = None }

type Architecture =
    {
        /// A short name for reports: the zoo name, the file name, the repository name.
        Name: string
        /// "onnx", "safetensors", "pytorch", "hugging face", "trace", "zoo".
        Format: string
        Labels: Labels
        Nodes: Node[]
        /// (from, to) node ids; the graph is a DAG.
        Edges: (int * int)[]
        Hierarchy: ModuleEntry list
        /// Nodes removed because no output can be reached from them (or no source reaches them), by name.
        Pruned: string list
        /// Op or module type -> count among all nodes of the source, pruned or not.
        OriginalOps: Map<string, int>
    }

    /// Layer types in topological order (the sequence n-grams and deduplication read).
    member a.LayerSequence = a.Nodes |> Array.map _.LayerType

    member a.ParameterCount = a.Nodes |> Array.sumBy _.ParameterCount

    member a.MaxDepth = if a.Hierarchy.IsEmpty then 0 else a.Hierarchy |> List.map _.Depth |> List.max
