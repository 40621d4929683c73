/// ONNX Runtime (Microsoft.ML.OnnxRuntime, in-process) as the peer for ONNX inference: the tool a user would otherwise
/// run an exported .onnx file with. The tests check our exporter and our own ONNX runtime against it; benchmarks time
/// it beside our kernels. It runs with ONNX Runtime's default graph optimisations, as a user gets them, on all cores.
module Hybrid.Bench.OnnxRuntimePeer

open System
open Microsoft.ML.OnnxRuntime
open Hybrid.Core.Nn

/// An ONNX model loaded once into ONNX Runtime, for models with one float32 input; Run returns the first output.
type Session(path: string) =
    let options = new SessionOptions(IntraOpNumThreads = Environment.ProcessorCount)
    let session = new InferenceSession(path, options)
    let inputName = Seq.head session.InputNames
    let runOptions = new RunOptions()

    /// The first output for <paramref name="input"/> (a float32 tensor of the graph input's shape), as a float32 tensor.
    member _.Run(input: Tensor) : Tensor =
        use value = OrtValue.CreateTensorValueFromMemory(input.ToArray<float32>(), input.Shape |> Array.map int64)
        use outputs = session.Run(runOptions, [| inputName |], [| value |], [| Seq.head session.OutputNames |])
        let output = Seq.head outputs
        let shape = output.GetTensorTypeAndShape().Shape |> Array.map int
        Tensor.From(output.GetTensorDataAsSpan<float32>().ToArray(), shape)

    interface IDisposable with
        member _.Dispose() =
            runOptions.Dispose()
            session.Dispose()
            options.Dispose()

/// The first output of the model at <paramref name="path"/> for one input (loads the model for this call only).
let run (path: string) (input: Tensor) =
    use session = new Session(path)
    session.Run input
