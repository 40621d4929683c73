/// `hybrid bench extract`: architecture extraction throughput, in files per second, for ONNX graphs (the torchvision
/// corpus) and for safetensors headers (synthetic files with the headers of real state dicts). No other tool extracts
/// these architectures, so there is no peer; the goal is at least 1,000 safetensors headers per second on 2 cores.
module Hybrid.Bench.ExtractBench

open System
open System.IO
open System.Text.Json
open System.Threading.Tasks
open Hybrid.Analysis
open Hybrid.Core.Nn.Formats
open Hybrid.Core.Nn.Formats.Safetensors

type Options =
    {
        /// Synthetic safetensors files to generate and read.
        Files: int
        Policy: Timing.Policy
        /// A PostgreSQL catalog: also time the first CatalogFiles files into SQLite and through its work queue.
        Db: string option
    }

/// Files the catalog cases store: enough for steady rates, few enough for a run of a minute or two.
let catalogFiles = 2_000

let defaults = { Files = 10_000; Policy = Timing.standard; Db = None }
let quick = { Files = 1_000; Policy = Timing.quick; Db = None }

/// Names and shapes of torchvision's ResNet-50 state dict (parameters and BatchNorm buffers), from our zoo model.
let private resnet50 () =
    let model = Hybrid.Core.Nn.Zoo.Zoo.Create "resnet50"
    [ for name, t in model.StateDict() ->
          name, (if name.EndsWith "num_batches_tracked" then DType.I64 else DType.F32), Array.map int64 t.Shape ]

/// Names and shapes of Hugging Face's bert-base-uncased state dict (BertModel), in float16.
let private bertBase () =
    let h, ff = 768L, 3072L
    let dense (prefix: string) (outputs: int64) (inputs: int64) =
        [ prefix + ".weight", DType.F16, [| outputs; inputs |]; prefix + ".bias", DType.F16, [| outputs |] ]
    let norm (prefix: string) = [ prefix + ".weight", DType.F16, [| h |]; prefix + ".bias", DType.F16, [| h |] ]
    [ "embeddings.word_embeddings.weight", DType.F16, [| 30522L; h |]
      "embeddings.position_embeddings.weight", DType.F16, [| 512L; h |]
      "embeddings.token_type_embeddings.weight", DType.F16, [| 2L; h |]
      yield! norm "embeddings.LayerNorm"
      for i in 0..11 do
          let layer = $"encoder.layer.{i}"
          for part in [ "query"; "key"; "value" ] do
              yield! dense $"{layer}.attention.self.{part}" h h
          yield! dense $"{layer}.attention.output.dense" h h
          yield! norm $"{layer}.attention.output.LayerNorm"
          yield! dense $"{layer}.intermediate.dense" ff h
          yield! dense $"{layer}.output.dense" h ff
          yield! norm $"{layer}.output.LayerNorm"
      yield! dense "pooler.dense" h h ]
    |> List.map (fun (n, d, s) -> "bert." + n, d, s)

/// A safetensors file with this header and no data written: the file is extended to its full length, which leaves
/// the data a hole on file systems with sparse files, so 10,000 real-sized models fit on any disk.
let private writeSparse (path: string) (copy: int) (tensors: (string * DType * int64[]) list) =
    let buffer = Buffers.ArrayBufferWriter<byte>()
    let mutable offset = 0L
    (use w = new Utf8JsonWriter(buffer)
     w.WriteStartObject()
     w.WriteStartObject "__metadata__"
     w.WriteString("format", "pt")
     w.WriteString("copy", string copy)
     w.WriteEndObject()
     for name, dtype, shape in tensors do
         let bytes = Array.fold (*) 1L shape * int64 (dtype.ElementSize())
         w.WriteStartObject name
         w.WriteString("dtype", dtype.HeaderName())
         w.WriteStartArray "shape"
         for d in shape do
             w.WriteNumberValue d
         w.WriteEndArray()
         w.WriteStartArray "data_offsets"
         w.WriteNumberValue offset
         w.WriteNumberValue(offset + bytes)
         w.WriteEndArray()
         w.WriteEndObject()
         offset <- offset + bytes
     w.WriteEndObject())
    let header = buffer.WrittenSpan.ToArray()
    let padded = (header.Length + 7) / 8 * 8
    use f = File.Create path
    let prefix = BitConverter.GetBytes(int64 padded)
    f.Write(prefix, 0, prefix.Length)
    f.Write(header, 0, header.Length)
    f.Write(Array.create (padded - header.Length) (byte ' '), 0, padded - header.Length)
    f.SetLength(8L + int64 padded + offset)

/// Seconds for one pass of work over files, spread over every core.
let private pass (files: string[]) (work: string -> unit) () =
    Parallel.ForEach(files, ParallelOptions(MaxDegreeOfParallelism = Environment.ProcessorCount), work) |> ignore

let private noPeer = "no peer: no other tool extracts architectures from these formats"

let private case (name: string) (files: int) (unit: string) (seconds: float) (goal: string) : Report.Case =
    { Case = name
      OursS = seconds
      Peer = "none"
      PeerS = None
      Note = Some $"{name}: %.0f{float files / seconds} {unit}/s{goal}; {noPeer}" }

let private onnxCases (policy: Timing.Policy) (corpus: string[]) =
    if corpus.Length = 0 then
        []
    else
        Report.progress "extract" $"{corpus.Length} torchvision ONNX graphs"
        let extract = Timing.measure policy (pass corpus (Extract.fromPath >> ignore))
        let dir = Directory.CreateTempSubdirectory("hybrid-bench-catalog-").FullName
        let mutable round = 0
        let catalogued =
            try
                Timing.measure policy (fun () ->
                    round <- round + 1
                    use catalog = Catalog.openOrCreate (Path.Combine(dir, $"round{round}.db"))
                    Extraction.run catalog None false (List.ofArray corpus) ignore |> ignore)
            finally
                Directory.Delete(dir, true)
        [ case $"onnx graphs: Extract.fromPath over {corpus.Length} files" corpus.Length "files" extract ""
          case
              $"onnx graphs: hybrid extract into a new catalog, {corpus.Length} files"
              corpus.Length
              "files"
              catalogued
              "" ]

/// Writes count synthetic safetensors files into dir, alternately with the headers of ResNet-50 and BERT-base and each
/// with its own copy number in the metadata (so no two share a content hash), and returns their paths.
let writeSynthetic (dir: string) (count: int) =
    let layouts = [| resnet50 (); bertBase () |]
    Report.progress
        "extract"
        $"writing {count} safetensors files (ResNet-50: {layouts[0].Length} tensors, BERT-base: {layouts[1].Length}) to {dir}"
    let files = Array.init count (fun i -> Path.Combine(dir, $"model{i:D5}.safetensors"))
    Parallel.For(0, files.Length, fun i -> writeSparse files[i] i layouts[i % 2]) |> ignore
    files

let private safetensorsCases (options: Options) =
    let dir = Directory.CreateTempSubdirectory("hybrid-bench-safetensors-").FullName
    try
        let files = writeSynthetic dir options.Files
        let catalog =
            options.Db
            |> Option.map (fun db -> CatalogBench.cases db files[.. min catalogFiles files.Length - 1])
            |> Option.defaultValue []
        let policy = { options.Policy with Warmup = 0; MinRepeats = 1; MaxRepeats = min options.Policy.MaxRepeats 3 }
        // Warm the JIT and the page cache on a slice, so the timed passes measure steady-state reading.
        pass files[.. min 199 (files.Length - 1)] (Extract.fromPath >> ignore) ()
        let header = Timing.measure policy (pass files (fun f -> (SafetensorsFile.Open f).Dispose()))
        let extract = Timing.measure policy (pass files (Extract.fromPath >> ignore))
        [ case
              $"safetensors headers: Extract.fromPath over {files.Length} files"
              files.Length
              "headers"
              extract
              " (goal >= 1,000 on 2 cores)"
          case $"safetensors headers: SafetensorsFile.Open alone, {files.Length} files" files.Length "headers" header ""
          yield! catalog ]
    finally
        Directory.Delete(dir, true)

/// Times extraction of the torchvision ONNX corpus (when ../shared is present) and of options.Files synthetic
/// safetensors files.
let run (options: Options) : Report.Report =
    if options.Files < 1 then
        invalidArg (nameof options) $"need at least one file, not {options.Files}"
    let corpus =
        match FuzzBench.sharedDir () with
        | Some shared ->
            let dir = Path.Combine(shared, "data", "torchvision-architectures")
            if Directory.Exists dir then Directory.GetFiles(dir, "*.onnx") |> Array.sort else [||]
        | None -> [||]
    if corpus.Length = 0 then
        Report.progress "extract" "../shared/data/torchvision-architectures is missing: no ONNX cases"
    { Benchmark = "extract"
      Device = "cpu"
      Cores = Report.cores ()
      Cases = onnxCases options.Policy corpus @ safetensorsCases options }
