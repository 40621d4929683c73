/// `hybrid bench resnet --memory`: what the autograd graph of one CIFAR ResNet-20 training forward keeps alive for the
/// backward, by the op that produced each array (`ActivationCensus`), against what the backward reads, and against the
/// tensors PyTorch's graph saves for the same forward (peers/resnet_torch.py --memory).
module Hybrid.Bench.ResnetMemory

open System
open System.Text.Json
open Spectre.Console
open Hybrid.Core.Gpu
open Hybrid.Core.Nn
open Hybrid.Core.Nn.Zoo

/// One producing op's arrays alive at the end of the forward, and how many of their bytes the backward reads.
type Row = { Op: string; Arrays: int; Bytes: int64; Needed: int64; Reader: string }

/// Our census and PyTorch's saved tensors (per node type: arrays, bytes), or the note saying why there are none.
type Census = { Batch: int; Ours: Row list; Torch: Result<(string * int * int64) list, string> }

/// Who reads the output of each op of ResNet-20 in the backward, and whether that reader needs its values: the minimum a
/// graph must keep is the input of every convolution, batch norm and linear layer, and a ReLU's output (its mask).
let private readers =
    Map
        [ "Conv2d", (true, "batch norm input")
          "BatchNormRelu", (true, "conv input, ReLU mask")
          "AddRelu", (true, "conv or pooling input, ReLU mask")
          "AdaptiveAvgPool2d", (true, "linear input")
          "Flatten", (true, "linear input")
          "BatchNorm", (false, "read only by the residual add")
          "Add", (false, "read only by a ReLU")
          "Slice", (false, "shortcut copy, backward needs shapes")
          "Pad", (false, "shortcut copy, backward needs shapes")
          "Linear", (false, "logits, the loss keeps its softmax")
          "CrossEntropy", (false, "the loss") ]

/// Our census after one untimed step (so that the storage pool is in its steady state).
let private ours (device: Device) (batch: int) =
    let model = Zoo.Create("cifar-resnet20", seed = int64 Data.seed)
    model.To device |> ignore
    use _ = model.Train()
    let generator = Generator(int64 Data.seed)
    let x = generator.Normal(0.0, 1.0, ScalarType.Float32, batch, 3, 32, 32).To device
    let y = Tensor.From(Array.init batch (fun i -> int64 (i % 10)), [| batch |], device)
    (Functional.CrossEntropy(model.Call x, y)).Backward()
    use census = ActivationCensus.Start()
    let loss = Functional.CrossEntropy(model.Call x, y)
    let alive = census.Alive()
    GC.KeepAlive loss
    [ for r in alive ->
          let needed, reader = readers |> Map.tryFind r.Op |> Option.defaultValue (true, "not classified")
          { Op = r.Op; Arrays = r.Arrays; Bytes = r.Bytes; Needed = (if needed then r.Bytes else 0L); Reader = reader } ]

/// PyTorch's saved tensors per node type, from the peer's {"saved": [{"op", "arrays", "bytes"}]} or {"error"}.
let private torch (batch: int) =
    Peers.runForOutput ResnetBench.peer [ "--memory"; "--train-batch"; string batch; "--seed"; string Data.seed ]
    |> Result.bind (fun stdout ->
        use json = JsonDocument.Parse stdout
        match json.RootElement.TryGetProperty "saved" with
        | true, rows ->
            Ok
                [ for r in rows.EnumerateArray() ->
                      string (r.GetProperty "op"),
                      r.GetProperty("arrays").GetInt32(),
                      r.GetProperty("bytes").GetInt64() ]
        | _ -> Error $"""peer skipped: {json.RootElement.GetProperty "error"}""")

/// Takes the census of one training forward at batch on device, ours and PyTorch's.
let run (device: Device) (batch: int) =
    Report.progress "resnet" $"census of one training forward at batch {batch} on {device.Name}"
    let rows = ours device batch
    Report.progress "resnet" "census of the PyTorch peer"
    { Batch = batch; Ours = rows; Torch = torch batch }

let private mb (bytes: int64) = $"%.1f{float bytes / 1e6}"

/// The census as two tables (ours with what the backward reads, PyTorch's) and a line comparing the totals.
let print (c: Census) =
    let table = Table()
    table.Title <- TableTitle $"autograd graph of one ResNet-20 training forward, batch {c.Batch}: arrays alive (ours)"
    for name, right in [ "produced by", false; "arrays", true; "MB", true; "MB backward reads", true; "read by", false ] do
        table.AddColumn(if right then TableColumn(name).RightAligned() else TableColumn name) |> ignore
    let cells (values: string list) = values |> List.map (fun v -> Text v :> Rendering.IRenderable)
    for r in c.Ours do
        table.AddRow(cells [ r.Op; string r.Arrays; mb r.Bytes; mb r.Needed; r.Reader ]) |> ignore
    let total = c.Ours |> List.sumBy _.Bytes
    let needed = c.Ours |> List.sumBy _.Needed
    table.AddRow(cells [ "total"; string (c.Ours |> List.sumBy _.Arrays); mb total; mb needed; "" ]) |> ignore
    AnsiConsole.Write table
    match c.Torch with
    | Ok rows ->
        let peerTable = Table()
        peerTable.Title <- TableTitle "PyTorch: tensors its graph saves (parameters and running statistics left out)"
        peerTable.AddColumn "saved by" |> ignore
        peerTable.AddColumn(TableColumn("arrays").RightAligned()) |> ignore
        peerTable.AddColumn(TableColumn("MB").RightAligned()) |> ignore
        for op, arrays, bytes in rows do
            peerTable.AddRow(cells [ op; string arrays; mb bytes ]) |> ignore
        let peerTotal = rows |> List.sumBy (fun (_, _, b) -> b)
        peerTable.AddRow(cells [ "total"; string (rows |> List.sumBy (fun (_, a, _) -> a)); mb peerTotal ]) |> ignore
        AnsiConsole.Write peerTable
        printfn
            $"ours {mb total} MB alive ({mb needed} MB read by the backward), PyTorch {mb peerTotal} MB saved (its figure includes the {mb (int64 c.Batch * 3L * 32L * 32L * 4L)} MB input batch, which ours leaves to the caller)"
    | Error note -> printfn $"ours {mb total} MB alive ({mb needed} MB read by the backward); {note}"
