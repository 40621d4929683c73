/// The one layer-type vocabulary every source maps onto: ONNX op types ("Conv", "Gemm"), PyTorch module types
/// ("Conv2d", "ReLU"), the op names our own trace records (Core.Nn Functional methods: "Conv2d", "Relu", "BatchNorm",
/// "Cat") and PeaTMOSS trace tokens ("linear", "geluactivation", "layernorm"). Names outside the vocabulary keep their
/// original spelling, title-cased ("masked_fill" -> "MaskedFill"), so nothing is lost and nothing is guessed.
module Hybrid.Analysis.LayerTypes

open System
open Hybrid.Analysis.Architecture

/// Families whose PyTorch name carries the number of spatial dimensions ("Conv" + "2d").
let private spatialFamilies =
    dict
        [ "conv", "Conv"
          "maskedconv", "Conv"
          "convtranspose", "ConvTranspose"
          "maxpool", "MaxPool"
          "averagepool", "AvgPool"
          "avgpool", "AvgPool"
          "globalaveragepool", "AdaptiveAvgPool"
          "adaptiveavgpool", "AdaptiveAvgPool"
          "globalmaxpool", "AdaptiveMaxPool"
          "adaptivemaxpool", "AdaptiveMaxPool"
          "batchnorm", "BatchNorm"
          "batchnormalization", "BatchNorm"
          "instancenorm", "InstanceNorm"
          "instancenormalization", "InstanceNorm" ]

/// Lower-case spelling -> normalised name, for the names that are not spatial families.
let private aliases =
    let groups =
        [ "Linear", [ "linear"; "gemm"; "maskedlinear"; "linear4bit"; "linear8bitlt" ]
          "MatMul", [ "matmul"; "bmm" ]
          "ReLU", [ "relu" ]
          "ReLU6", [ "relu6" ]
          "LeakyReLU", [ "leakyrelu" ]
          "PReLU", [ "prelu" ]
          "ELU", [ "elu" ]
          "SELU", [ "selu" ]
          "GELU",
          [ "gelu"
            "geluactivation"
            "newgeluactivation"
            "fastgeluactivation"
            "quickgeluactivation"
            "gelupytorchtanh" ]
          "SiLU", [ "silu"; "swish" ]
          "Sigmoid", [ "sigmoid" ]
          "Tanh", [ "tanh" ]
          "Hardswish", [ "hardswish" ]
          "Hardsigmoid", [ "hardsigmoid" ]
          "Softmax", [ "softmax" ]
          "LogSoftmax", [ "logsoftmax" ]
          "LayerNorm", [ "layernorm"; "layernormalization" ]
          "GroupNorm", [ "groupnorm"; "groupnormalization" ]
          "RMSNorm", [ "rmsnorm"; "rmsnormalization" ]
          "Embedding", [ "embedding" ]
          "Dropout", [ "dropout"; "stabledropout" ]
          "DropPath", [ "droppath" ]
          "Add", [ "add" ]
          "Sub", [ "sub" ]
          "Mul", [ "mul" ]
          "Div", [ "div" ]
          "Concat", [ "concat"; "cat" ]
          "Flatten", [ "flatten" ]
          "Reshape", [ "reshape"; "view" ]
          "Transpose", [ "transpose" ]
          "Permute", [ "permute" ]
          "Pad", [ "pad"; "zeropad2d"; "constantpad1d"; "constantpad2d" ]
          "Identity", [ "identity" ] ]
    dict
        [ for name, spellings in groups do
              for s in spellings -> s, name ]

/// Families recognised by suffix: the many model-specific subclasses in Hugging Face traces
/// ("debertalayernorm", "llamarmsnorm", "beitdroppath", "bartscaledwordembedding").
let private suffixes =
    [ "geluactivation", "GELU"
      "droppath", "DropPath"
      "rmsnorm", "RMSNorm"
      "scaledwordembedding", "Embedding"
      "learnedpositionalembedding", "Embedding"
      "layernorm", "LayerNorm" ]

/// T5's "layer norm" neither centres nor has a bias: it is an RMS norm under another name.
let private rmsNormedLayerNorms = set [ "t5layernorm"; "mt5layernorm"; "longt5layernorm" ]

/// "masked_fill" -> "MaskedFill", "Conv" -> "Conv": each underscore-separated piece gets a capital first letter.
let titleCase (name: string) =
    name.Split('_', StringSplitOptions.RemoveEmptyEntries)
    |> Array.map (fun piece -> string (Char.ToUpperInvariant piece[0]) + piece.Substring 1)
    |> String.concat ""
    |> fun s -> if s = "" then name else s

/// The normalised layer type of a source's op or module type. spatialRank (1, 2 or 3: the kernel's or the input's
/// spatial dimensions) picks Conv1d/Conv2d/Conv3d and the like; without it a spelling that names the rank
/// ("Conv2d", "batchnorm2d") keeps it and one that does not ("Conv", "BatchNormalization") counts as 2-D, the only
/// rank the image models of the corpus use.
let normalise (original: string) (spatialRank: int option) =
    let lower = original.ToLowerInvariant()
    let stem, namedRank =
        if lower.Length > 2 && lower.EndsWith "d" && Char.IsDigit lower[lower.Length - 2] then
            lower.Substring(0, lower.Length - 2), Some(int lower[lower.Length - 2] - int '0')
        else
            lower, None
    match spatialFamilies.TryGetValue stem with
    | true, family ->
        let rank = namedRank |> Option.orElse spatialRank |> Option.defaultValue 2
        $"{family}{rank}d"
    | _ ->
        match aliases.TryGetValue lower with
        | true, name -> name
        | _ when rmsNormedLayerNorms.Contains lower -> "RMSNorm"
        | _ ->
            match suffixes |> List.tryFind (fun (suffix, _) -> lower.EndsWith suffix) with
            | Some(_, name) -> name
            | None -> titleCase original

/// The PyTorch-named sizes a layer's weight shape implies (what a module's constructor would have been given):
/// in/out channels and kernel size of convolutions (weight out x in/groups x k...), in/out features of Linear,
/// num_features of batch norms, num_embeddings/embedding_dim of Embedding. Empty for other layers or shapes.
let weightAttributes (layerType: string) (groups: int64) (weight: int64[] option) : (string * AttributeValue) list =
    match weight with
    | Some w when layerType.StartsWith "Conv" && not (layerType.StartsWith "ConvTranspose") && w.Length >= 3 ->
        [ "in_channels", Int(w[1] * groups); "out_channels", Int w[0]; "kernel_size", Ints w[2..] ]
    | Some w when layerType = "Linear" && w.Length = 2 -> [ "in_features", Int w[1]; "out_features", Int w[0] ]
    | Some w when layerType.StartsWith "BatchNorm" && w.Length = 1 -> [ "num_features", Int w[0] ]
    | Some w when layerType = "Embedding" && w.Length = 2 -> [ "num_embeddings", Int w[0]; "embedding_dim", Int w[1] ]
    | _ -> []
