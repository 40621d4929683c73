/// Whether libtorch loads here, asked once: the TorchSharp engine and the tests that need it start with this.
module Hybrid.TorchInterop.Torch

open System
open TorchSharp

/// Loads TorchSharp's native libraries (the shim and libtorch) once; Error carries one line saying why they did not load.
let available: Lazy<Result<unit, string>> =
    lazy
        (try
            use t = torch.zeros (1L)
            ignore t
            Ok()
         with e ->
             let rec inner (e: exn) = if isNull e.InnerException then e else inner e.InnerException

             let e = inner e
             Error $"libtorch did not load ({e.GetType().Name}: {e.Message.Split('\n').[0].Trim()})")

/// Raises Core.Nn's user error when libtorch cannot load, naming the reason (for `--engine torchsharp`).
let require () =
    match available.Force() with
    | Ok() -> ()
    | Error why -> raise (Hybrid.Core.Nn.InputException("--engine torchsharp", why))
