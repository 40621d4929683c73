/// The abstract architecture of a live TorchSharp module, as for every other source of the catalog: its named modules
/// give the hierarchy and the layers' parameters, and forward hooks on the leaf modules, run once on an input, give the
/// layers in call order with their output shapes and the edges between them.
module Hybrid.TorchInterop.Structure

open System
open System.Collections.Generic
open TorchSharp
open Hybrid.Analysis
open Hybrid.Analysis.Architecture
open Hybrid.TorchInterop.Tensors

type private Call =
    { Path: string; Type: string; Input: TorchTensor; Output: TorchTensor; Parameters: (string * int64[]) list }

let private isLeaf (m: torch.nn.Module) = Seq.isEmpty (m.named_children ())

/// PyTorch's class name of a module: the mirrored one's for the zoo's composites and masked layers, else TorchSharp's
/// class, which is named as PyTorch's (Conv2d, BatchNorm2d, ReLU, ...).
let typeName (m: torch.nn.Module) =
    match m with
    | :? Modules.Composite as c -> c.TypeName
    | :? MaskedLayers.MaskedLayer as l -> l.TypeName
    | _ -> m.GetType().Name

/// Every module with its dotted path, depth first in registration order as PyTorch's `named_modules` lists them
/// (TorchSharp's lists a module's children before their descendants).
let namedModules (model: torch.nn.Module) =
    let rec walk (prefix: string) (m: torch.nn.Module) =
        [ yield prefix, m
          for struct (name, child) in m.named_children () do
              yield! walk (if prefix = "" then name else $"{prefix}.{name}") child ]

    walk "" model

/// Traces `model` in evaluation mode, without autograd, on `input`. An edge joins two leaf calls when the second reads
/// the very tensor the first returned; a call that reads a tensor no leaf returned (made by a functional op between
/// modules, such as an addition of a residual block, which hooks cannot see) follows the call before it, or is a
/// source when it reads the model's input.
let ofModule (name: string) (labels: Labels) (model: TorchModule) (input: TorchTensor) : Architecture =
    let calls = ResizeArray<Call>()
    let modules = namedModules model

    let hooks =
        [ for path, m in modules do
              match m with
              | :? TorchModule as leaf when path <> "" && isLeaf leaf ->
                  // What the layer's op reads, as Core.Nn's trace records it: parameters and the running statistics.
                  let parameters =
                      [ for struct (n, p) in leaf.named_parameters false -> n, p.shape ]
                      @ [ for struct (n, b) in leaf.named_buffers false do
                              if n <> "num_batches_tracked" then
                                  n, b.shape ]

                  leaf.register_forward_hook (fun _ x y ->
                      calls.Add { Path = path; Type = typeName leaf; Input = x; Output = y; Parameters = parameters }
                      null)
              | _ -> () ]

    let output =
        use _ = torch.no_grad ()
        model.eval ()
        model.call input

    for h in hooks do
        h.remove ()

    let producer = Dictionary<TorchTensor, int>(HashIdentity.Reference)
    let edges = ResizeArray<int * int>()
    let sources = ResizeArray<int>()
    let names = Dictionary<string, int>()

    let nodes =
        [| for i, c in Seq.indexed calls ->
               match producer.TryGetValue c.Input with
               | true, p -> edges.Add((p, i))
               | _ when obj.ReferenceEquals(c.Input, input) || i = 0 -> sources.Add i
               | _ -> edges.Add((i - 1, i))

               producer.[c.Output] <- i
               let rank = if c.Input.dim () >= 3L then Some(int (c.Input.dim ()) - 2) else None
               let layerType = LayerTypes.normalise c.Type rank
               let weight = c.Parameters |> List.tryPick (fun (p, s) -> if p = "weight" then Some s else None)
               // A convolution's groups: its input channels over the weight's second dimension.
               let groups =
                   match weight with
                   | Some w when layerType.StartsWith "Conv" && w.Length >= 3 && c.Input.dim () >= 2L ->
                       c.Input.shape.[1] / w.[1]
                   | _ -> 1L

               let seen =
                   match names.TryGetValue c.Path with
                   | true, k -> k
                   | _ -> 0

               names.[c.Path] <- seen + 1

               { Id = i
                 Name = (if seen = 0 then c.Path else $"{c.Path}_{seen}")
                 LayerType = layerType
                 Original = c.Type
                 Attributes = Map.ofList (LayerTypes.weightAttributes layerType groups weight)
                 Parameters = c.Parameters
                 OutputShape = Some c.Output.shape
                 ModulePath = c.Path } |]

    let sinks =
        match producer.TryGetValue output with
        | true, p -> [ p ]
        | _ -> if nodes.Length > 0 then [ nodes.Length - 1 ] else []

    let hierarchy =
        [ for path, m in modules do
              if path <> "" then
                  { Path = path; Type = typeName m; Depth = Graphs.depth path; Leaf = isLeaf m } ]

    Graphs.traced
        name
        "torchsharp"
        labels
        hierarchy
        (calls |> Seq.countBy _.Type |> Map.ofSeq)
        { Nodes = nodes; Edges = edges.ToArray(); Sources = List.ofSeq sources; Sinks = sinks }

/// The SHA-256 of a module's state (keys, shapes and element bytes in key order): the content hash the catalog keys a
/// live module by, as it keys a file by its bytes.
let contentHash (model: TorchModule) =
    use sha =
        System.Security.Cryptography.IncrementalHash.CreateHash(System.Security.Cryptography.HashAlgorithmName.SHA256)

    for kv in model.state_dict () |> Seq.sortBy _.Key do
        sha.AppendData(System.Text.Encoding.UTF8.GetBytes(kv.Key + string (Seq.toList kv.Value.shape)))
        use c = kv.Value.detach().cpu().contiguous()
        sha.AppendData(c.bytes)

    Convert.ToHexString(sha.GetHashAndReset()).ToLowerInvariant()

/// Traces a live module (`ofModule`) and stores its architecture in the catalog, under the source `torchsharp:NAME`
/// and its state's content hash; returns the catalog's model id.
let addToCatalog (catalog: ICatalog) (name: string) (labels: Labels) (model: TorchModule) (input: TorchTensor) =
    let architecture = ofModule name labels model input
    Catalog.insert catalog { Path = $"torchsharp:{name}"; Hash = contentHash model } labels.Task architecture
