/// A small sample of `hybrid bench fuzz` (which runs 100,000 inputs per format): mutated real files must load or fail
/// with the reader's own exception naming the file, within a time limit.
module Hybrid.Tests.FuzzTests

open System
open Expecto
open Hybrid.Bench

[<Tests>]
let tests =
    testList
        "fuzz"
        [ let targets = FuzzBench.targets (Some sharedDir)
          yield
              test "every reader has a real file here" {
                  Expect.sequenceEqual
                      (targets |> List.map _.Format)
                      [ "safetensors"; "pytorch zip"; "pytorch legacy"; "onnx"; "idx (gzip)" ]
                      "the targets"
              }
          for target in targets do
              yield
                  test $"{target.Format}: 400 mutated inputs, only clean errors" {
                      let outcome = FuzzBench.run target 400 7 (TimeSpan.FromSeconds 10.0) ignore
                      Expect.equal
                          (outcome.Defects, outcome.Hangs)
                          (0, 0)
                          $"defects and hangs ({outcome.FirstDefect}, kept in {outcome.Kept})"
                      Expect.isGreaterThan outcome.CleanErrors 100 "most mutations are refused"
                  } ]
