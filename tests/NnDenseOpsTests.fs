/// Core.Nn's dense and shape ops (conv, linear, matmul, pooling, views): finite-difference gradient checks in float64,
/// the float32 device paths against the float64 reference, PyTorch golden values, traces, and bad input.
module Hybrid.Tests.NnDenseOpsTests

open System
open System.IO
open Expecto
open Hybrid.Core.Gpu
open Hybrid.Core.Nn

type private F = Functional

/// A test input: data (standard normal, differentiated) or mask scores (+-[0.5, 1.5]: about half the weights off, none
/// near the step at 0, so finite differences see a flat mask).
type private Input =
    | Data of int list
    | Mask of int list

type private Case = { Name: string; Inputs: Input list; Op: Tensor[] -> Tensor }

let private case name inputs op = { Name = name; Inputs = inputs; Op = op }
let private sz (h: int) (w: int) = Nullable(Size2(h, w))

/// Seeded values rounded to float32, so the float32 and float64 runs start from the same numbers.
let private values (seed: int) (input: Input) =
    let g = Generator(int64 seed)
    let data =
        match input with
        | Data shape -> Array.init (List.fold (*) 1 shape) (fun _ -> g.NextNormal())
        | Mask shape ->
            Array.init (List.fold (*) 1 shape) (fun _ ->
                (if g.NextDouble() < 0.5 then -1.0 else 1.0) * g.Uniform(0.5, 1.5))
    let shape =
        match input with
        | Data s
        | Mask s -> Array.ofList s
    Tensor.From(Array.map (float32 >> float) data, shape)

/// The case's inputs as leaves on the device; masks require grad only when asked (gradient checks leave them out).
let private prepare (dtype: ScalarType) (device: Device) (maskGrads: bool) (c: Case) =
    c.Inputs
    |> List.mapi (fun i input ->
        let t = (values (100 + i) input).To(dtype).To(device)
        t.RequiresGrad <-
            (match input with
             | Data _ -> true
             | Mask _ -> maskGrads)
        t)
    |> Array.ofList

let private cases =
    [ case "conv2d" [ Data [ 2; 3; 5; 5 ]; Data [ 4; 3; 3; 3 ]; Data [ 4 ] ] (fun t -> F.Conv2d(t.[0], t.[1], t.[2]))
      case "conv2d stride 2 padding 1" [ Data [ 2; 3; 6; 5 ]; Data [ 4; 3; 3; 3 ]; Data [ 4 ] ] (fun t ->
          F.Conv2d(t.[0], t.[1], t.[2], stride = sz 2 2, padding = sz 1 1))
      case "conv2d dilation 2 rectangular" [ Data [ 1; 2; 7; 6 ]; Data [ 3; 2; 3; 2 ]; Data [ 3 ] ] (fun t ->
          F.Conv2d(t.[0], t.[1], t.[2], padding = sz 2 1, dilation = sz 2 2))
      case "conv2d groups 2" [ Data [ 2; 4; 5; 5 ]; Data [ 6; 2; 3; 3 ]; Data [ 6 ] ] (fun t ->
          F.Conv2d(t.[0], t.[1], t.[2], stride = sz 1 2, padding = sz 1 0, groups = 2))
      case "conv2d depthwise no bias" [ Data [ 1; 4; 5; 5 ]; Data [ 4; 1; 3; 3 ] ] (fun t ->
          F.Conv2d(t.[0], t.[1], null, padding = sz 1 1, groups = 4))
      case
          "masked conv2d"
          [ Data [ 2; 3; 5; 5 ]; Data [ 4; 3; 3; 3 ]; Mask [ 4; 3; 3; 3 ]; Data [ 4 ]; Mask [ 4 ] ]
          (fun t -> F.MaskedConv2d(t.[0], t.[1], t.[2], t.[3], t.[4], stride = sz 2 1, padding = sz 1 1))
      case "masked conv2d clipped, no bias" [ Data [ 1; 2; 5; 5 ]; Data [ 2; 2; 3; 3 ]; Mask [ 2; 2; 3; 3 ] ] (fun t ->
          F.MaskedConv2d(t.[0], t.[1], t.[2], null, null, rule = MaskGradient.ClippedStraightThrough))
      case "linear 1-D input" [ Data [ 5 ]; Data [ 3; 5 ]; Data [ 3 ] ] (fun t -> F.Linear(t.[0], t.[1], t.[2]))
      case "linear 3-D input no bias" [ Data [ 2; 3; 5 ]; Data [ 4; 5 ] ] (fun t -> F.Linear(t.[0], t.[1]))
      case "masked linear" [ Data [ 3; 5 ]; Data [ 4; 5 ]; Mask [ 4; 5 ]; Data [ 4 ]; Mask [ 4 ] ] (fun t ->
          F.MaskedLinear(t.[0], t.[1], t.[2], t.[3], t.[4]))
      case "masked linear clipped" [ Data [ 3; 5 ]; Data [ 4; 5 ]; Mask [ 4; 5 ] ] (fun t ->
          F.MaskedLinear(t.[0], t.[1], t.[2], null, null, MaskGradient.ClippedStraightThrough))
      case "matmul 1-D x 1-D" [ Data [ 4 ]; Data [ 4 ] ] (fun t -> F.Matmul(t.[0], t.[1]))
      case "matmul 2-D x 2-D" [ Data [ 3; 4 ]; Data [ 4; 5 ] ] (fun t -> F.Matmul(t.[0], t.[1]))
      case "matmul 1-D x 2-D" [ Data [ 4 ]; Data [ 4; 3 ] ] (fun t -> F.Matmul(t.[0], t.[1]))
      case "matmul 2-D x 1-D" [ Data [ 3; 4 ]; Data [ 4 ] ] (fun t -> F.Matmul(t.[0], t.[1]))
      case "matmul batched broadcast" [ Data [ 2; 1; 3; 4 ]; Data [ 3; 4; 5 ] ] (fun t -> F.Matmul(t.[0], t.[1]))
      case "matmul batched x 2-D" [ Data [ 2; 3; 4 ]; Data [ 4; 2 ] ] (fun t -> F.Matmul(t.[0], t.[1]))
      case "matmul 1-D x batched" [ Data [ 4 ]; Data [ 2; 4; 3 ] ] (fun t -> F.Matmul(t.[0], t.[1]))
      case "matmul batched x 1-D" [ Data [ 2; 3; 4 ]; Data [ 4 ] ] (fun t -> F.Matmul(t.[0], t.[1]))
      case "bmm" [ Data [ 3; 2; 4 ]; Data [ 3; 4; 2 ] ] (fun t -> F.Bmm(t.[0], t.[1]))
      case "max pool" [ Data [ 2; 2; 6; 6 ] ] (fun t -> F.MaxPool2d(t.[0], Size2(2, 2)))
      case "max pool padding ceil mode" [ Data [ 1; 2; 7; 6 ] ] (fun t ->
          F.MaxPool2d(t.[0], Size2(3, 3), stride = sz 2 2, padding = sz 1 1, ceilMode = true))
      case "max pool dilation 3-D input" [ Data [ 2; 7; 8 ] ] (fun t ->
          F.MaxPool2d(t.[0], Size2(2, 3), stride = sz 1 2, padding = sz 1 0, dilation = sz 2 1))
      case "avg pool" [ Data [ 2; 2; 6; 6 ] ] (fun t -> F.AvgPool2d(t.[0], Size2(2, 2)))
      case "avg pool ceil mode without padding counts" [ Data [ 1; 2; 7; 8 ] ] (fun t ->
          F.AvgPool2d(t.[0], Size2(3, 3), stride = sz 2 2, padding = sz 1 1, ceilMode = true, countIncludePad = false))
      case "avg pool counting padding" [ Data [ 1; 2; 7; 6 ] ] (fun t ->
          F.AvgPool2d(t.[0], Size2(3, 2), stride = sz 2 1, padding = sz 1 1))
      case "adaptive avg pool" [ Data [ 2; 2; 7; 5 ] ] (fun t -> F.AdaptiveAvgPool2d(t.[0], Size2(3, 2)))
      case "adaptive avg pool global" [ Data [ 2; 3; 4; 4 ] ] (fun t -> F.AdaptiveAvgPool2d(t.[0], Size2(1, 1)))
      case "reshape" [ Data [ 2; 3; 4 ] ] (fun t -> F.Reshape(t.[0], 4, -1))
      case "flatten" [ Data [ 2; 3; 2; 2 ] ] (fun t -> F.Flatten(t.[0], 1, 2))
      case "permute" [ Data [ 2; 3; 4; 2 ] ] (fun t -> F.Permute(t.[0], 2, 0, 3, 1))
      case "transpose" [ Data [ 2; 3; 4 ] ] (fun t -> F.Transpose(t.[0], 0, -1))
      case "unsqueeze and squeeze" [ Data [ 3; 1; 4 ] ] (fun t -> F.Unsqueeze(F.Squeeze(t.[0], 1), -1))
      case "slice step 2 negative start" [ Data [ 3; 9; 2 ] ] (fun t -> F.Slice(t.[0], 1, -5, 7, 2))
      case "slice clamped" [ Data [ 4; 3 ] ] (fun t -> F.Slice(t.[0], 0, -10, 10))
      case "cat of three" [ Data [ 2; 1; 3 ]; Data [ 2; 4; 3 ]; Data [ 2; 2; 3 ] ] (fun t ->
          F.Cat([ t.[0]; t.[1]; t.[2] ], 1))
      case "pad negative amounts" [ Data [ 2; 3; 5; 4 ] ] (fun t -> F.Pad(t.[0], [| 1; -1; -2; 2 |], 0.5))
      case "pad three dimensions" [ Data [ 2; 3; 4 ] ] (fun t -> F.Pad(t.[0], [| 0; 2; 1; 1; -1; 1 |])) ]

/// The output and every input gradient after backward with a seeded projection of the output.
let private runCase dtype (device: Device) maskGrads (c: Case) =
    let inputs = prepare dtype device maskGrads c
    let y = c.Op inputs
    let v = (values 7 (Data(List.ofArray y.Shape))).To(dtype).To(y.Device)
    y.Backward v
    y, inputs |> Array.map (fun t -> t.Grad)

let private asFloat32 (t: Tensor) = t.ToDoubleArray() |> Array.map float32

let private gradientChecks =
    // Every op here is linear or piecewise linear in each input, so central differences are exact up to rounding
    // (about 1e-10 at eps 1e-6); GradCheck's defaults, 1e-6 abs + 1e-4 rel, leave ample room.
    testList
        "gradient checks (float64, reference)"
        [ for c in cases ->
              testCase c.Name (fun () ->
                  let inputs = prepare ScalarType.Float64 Device.Reference false c
                  let result = GradCheck.Run((fun xs -> c.Op xs), inputs)
                  Expect.isTrue result.Passed (sprintf "max error %g, %s" result.MaxAbsError result.Worst)) ]

let private float32MatchesReference =
    // float32 rounds at 6e-8; the longest sums here (conv weight gradients, about 150 products of N(0, 1) values)
    // accumulate errors near 1e-5, so 1e-4 abs + 1e-4 rel separates rounding from a wrong result.
    Backends.perBackend Backends.others "float32 device path equals the float64 reference" (fun b device ->
        for c in cases do
            let yRef, gRef = runCase ScalarType.Float64 Device.Reference true c
            let y, g = runCase ScalarType.Float32 device true c
            Expect.equal y.Dtype ScalarType.Float32 (c.Name + ": dtype")
            Expect.equal y.Shape yRef.Shape (c.Name + ": shape")
            closeTo 1e-4 1e-4 (sprintf "%s on %s: output" c.Name b.Name) (asFloat32 yRef) (asFloat32 y)
            for i in 0 .. g.Length - 1 do
                closeTo
                    1e-4
                    1e-4
                    (sprintf "%s on %s: gradient of input %d" c.Name b.Name i)
                    (asFloat32 gRef.[i])
                    (asFloat32 g.[i]))

let private maskGradients =
    // The mask's gradient is the straight-through estimate dL/dw_eff * w (clipped to [-1, 1] by SeaM's rule), where
    // dL/dw_eff comes from the unmasked op on the effective weight; same arithmetic in float64, so 1e-12 abs.
    let check name rule (masked: Tensor -> Tensor -> Tensor -> Tensor) (plain: Tensor -> Tensor -> Tensor) =
        testCase name (fun () ->
            let x, w = values 1 (Data [ 2; 3; 5; 5 ]), values 2 (Data [ 4; 3; 3; 3 ])
            let m = values 3 (Mask [ 4; 3; 3; 3 ])
            let wEff =
                Tensor.From(
                    Array.map2 (fun wi mi -> if mi > 0.0 then wi else 0.0) (w.ToArray<float>()) (m.ToArray<float>()),
                    w.Shape
                )
            w.RequiresGrad <- true
            m.RequiresGrad <- true
            wEff.RequiresGrad <- true
            let v = values 9 (Data [ 2; 4; 3; 3 ])
            (masked x w m).Backward v
            (plain x wEff).Backward v
            let expectedMask =
                Array.map2
                    (fun ge wi ->
                        let s = ge * wi in
                        if rule = MaskGradient.ClippedStraightThrough then max -1.0 (min 1.0 s) else s)
                    (wEff.Grad.ToArray<float>())
                    (w.ToArray<float>())
            let expectedWeight =
                Array.map2
                    (fun ge mi -> if mi > 0.0 then ge else 0.0)
                    (wEff.Grad.ToArray<float>())
                    (m.ToArray<float>())
            closeTo 1e-12 0.0 "mask gradient" (Array.map float32 expectedMask) (asFloat32 m.Grad)
            closeTo 1e-12 0.0 "weight gradient" (Array.map float32 expectedWeight) (asFloat32 w.Grad))
    testList
        "mask gradients"
        [ for rule in [ MaskGradient.StraightThrough; MaskGradient.ClippedStraightThrough ] ->
              check (string rule) rule (fun x w m -> F.MaskedConv2d(x, w, m, null, null, rule = rule)) (fun x w ->
                  F.Conv2d(x, w)) ]

/// The PyTorch cases of tests/golden/make_dense_ops.py: name, input names in order, and the same call through Core.Nn.
let private goldenCases: (string * string list * (Tensor[] -> Tensor)) list =
    [ "conv_grouped",
      [ "x"; "w"; "b" ],
      (fun t -> F.Conv2d(t.[0], t.[1], t.[2], stride = sz 2 1, padding = sz 1 2, dilation = sz 2 1, groups = 2))
      "conv_depthwise", [ "x"; "w" ], (fun t -> F.Conv2d(t.[0], t.[1], null, padding = sz 1 1, groups = 4))
      "masked_conv",
      [ "x"; "w"; "m"; "b" ],
      (fun t -> F.MaskedConv2d(t.[0], t.[1], t.[2], t.[3], null, stride = sz 2 2, padding = sz 1 1))
      "linear", [ "x"; "w"; "b" ], (fun t -> F.Linear(t.[0], t.[1], t.[2]))
      "masked_linear", [ "x"; "w"; "m"; "b"; "bm" ], (fun t -> F.MaskedLinear(t.[0], t.[1], t.[2], t.[3], t.[4]))
      "matmul_broadcast", [ "a"; "b" ], (fun t -> F.Matmul(t.[0], t.[1]))
      "matmul_vector", [ "a"; "b" ], (fun t -> F.Matmul(t.[0], t.[1]))
      "bmm", [ "a"; "b" ], (fun t -> F.Bmm(t.[0], t.[1]))
      "maxpool_ceil",
      [ "x" ],
      (fun t -> F.MaxPool2d(t.[0], Size2(3, 3), stride = sz 2 2, padding = sz 1 1, ceilMode = true))
      "maxpool_dilated",
      [ "x" ],
      (fun t -> F.MaxPool2d(t.[0], Size2(2, 3), stride = sz 1 2, padding = sz 1 0, dilation = sz 2 1))
      "avgpool_exclude_pad",
      [ "x" ],
      (fun t ->
          F.AvgPool2d(t.[0], Size2(3, 3), stride = sz 2 2, padding = sz 1 1, ceilMode = true, countIncludePad = false))
      "avgpool_include_pad", [ "x" ], (fun t -> F.AvgPool2d(t.[0], Size2(3, 2), stride = sz 2 1, padding = sz 1 1))
      "adaptive_avgpool", [ "x" ], (fun t -> F.AdaptiveAvgPool2d(t.[0], Size2(3, 2)))
      "permute", [ "x" ], (fun t -> F.Permute(t.[0], 2, 0, 3, 1))
      "slice", [ "x" ], (fun t -> F.Slice(t.[0], 1, -5, 7, 2))
      "cat", [ "a"; "b"; "c" ], (fun t -> F.Cat([ t.[0]; t.[1]; t.[2] ], 1))
      "pad", [ "x" ], (fun t -> F.Pad(t.[0], [| 1; -1; -2; 2 |], 0.5)) ]

let private goldenFile = lazy (SafetensorsFile.Open(Path.Combine(repoRoot, "tests", "golden", "dense_ops.safetensors")))

let private golden
    (file: SafetensorsFile)
    (dtype: ScalarType)
    (device: Device)
    name
    (inputs: string list)
    (op: Tensor[] -> Tensor)
    =
    let load key =
        Tensor.From(
            file.ReadFloat32(sprintf "%s.%s" name key),
            file.Entry(sprintf "%s.%s" name key).Shape |> Array.map int
        )
    let leaves =
        inputs
        |> List.map (fun k ->
            let t = (load k).To(dtype).To(device) in
            t.RequiresGrad <- true
            t)
        |> Array.ofList
    let y = op leaves
    Expect.equal y.Shape ((load "y").Shape) (name + ": output shape")
    closeTo 1e-5 1e-5 (name + ": output") (file.ReadFloat32(name + ".y")) (asFloat32 y)
    y.Backward((load "v").To(dtype).To(device))
    List.iteri
        (fun i k ->
            closeTo
                1e-5
                1e-5
                (sprintf "%s: gradient of %s" name k)
                (file.ReadFloat32(sprintf "%s.g%s" name k))
                (asFloat32 leaves.[i].Grad))
        inputs

let private pytorchGolden =
    // The generator's values are float32 from PyTorch 1.13; outputs and gradients sum at most ~150 products, so float32
    // rounding stays below 1e-5 abs + 1e-5 rel.
    testList
        "PyTorch golden values"
        [ for dtype, device, label in
              [ ScalarType.Float32, Device.Cpu, "float32 cpu"
                ScalarType.Float64, Device.Reference, "float64 reference" ] ->
              testList
                  label
                  [ for name, inputs, op in goldenCases ->
                        testCase name (fun () -> golden goldenFile.Value dtype device name inputs op) ] ]

let private traces =
    testList
        "autograd names and traces"
        [ testCase "conv2d records its name, inputs in order and its attributes" (fun () ->
              let x, w, b = Tensor.Zeros(1, 4, 6, 6), Tensor.Zeros(2, 2, 3, 3), Tensor.Zeros 2
              w.RequiresGrad <- true
              use trace = Trace.Start()
              let y = F.Conv2d(x, w, b, stride = sz 2 1, padding = sz 1 1, dilation = sz 1 2, groups = 2)
              Expect.equal y.GradFnName "Conv2d" "autograd name"
              let op = Expect.wantSome (trace.Ops |> Seq.tryLast) "one op traced"
              Expect.equal op.Op "Conv2d" "trace name"
              Expect.isTrue
                  (op.Inputs.Length = 3
                   && obj.ReferenceEquals(op.Inputs.[0], x)
                   && obj.ReferenceEquals(op.Inputs.[1], w)
                   && obj.ReferenceEquals(op.Inputs.[2], b))
                  "inputs: data, weight, bias"
              Expect.equal (op.Attributes.["stride"] :?> int[]) [| 2; 1 |] "stride"
              Expect.equal (op.Attributes.["padding"] :?> int[]) [| 1; 1 |] "padding"
              Expect.equal (op.Attributes.["dilation"] :?> int[]) [| 1; 2 |] "dilation"
              Expect.equal (op.Attributes.["groups"] :?> int) 2 "groups")
          testCase "pools, slices and pads carry what an exporter needs" (fun () ->
              let x = Tensor.Zeros(1, 1, 5, 5)
              use trace = Trace.Start()
              F.MaxPool2d(x, Size2(3, 3), padding = sz 1 1, ceilMode = true) |> ignore
              F.Slice(x, -1, -4, 100, 2) |> ignore
              F.Pad(x, [| 1; -1 |], 2.0) |> ignore
              let ops = trace.Ops |> Seq.map (fun o -> o.Op, o.Attributes) |> List.ofSeq
              Expect.equal (ops |> List.map fst) [ "MaxPool2d"; "Slice"; "Pad" ] "op names"
              let pool, slice, pad = snd ops.[0], snd ops.[1], snd ops.[2]
              Expect.equal (pool.["stride"] :?> int[]) [| 3; 3 |] "stride defaults to the kernel"
              Expect.equal (pool.["ceil_mode"] :?> bool) true "ceil_mode"
              Expect.equal
                  [ slice.["dim"]; slice.["start"]; slice.["end"]; slice.["step"] ]
                  [ box 3; box 1; box 5; box 2 ]
                  "slice bounds resolved"
              Expect.equal (pad.["pad"] :?> int[]) [| 1; -1 |] "pad"
              Expect.equal (pad.["value"] :?> float) 2.0 "pad value")
          testCase "views keep int64 tensors" (fun () ->
              let t = Tensor.From([| 0L .. 5L |], [| 2; 3 |])
              let moved = F.Cat([ F.Transpose(t, 0, 1); F.Slice(F.Reshape(t, 3, 2), 0, 1, 3) ], 0)
              Expect.equal (moved.ToArray<int64>()) [| 0L; 3L; 1L; 4L; 2L; 5L; 2L; 3L; 4L; 5L |] "values"
              Expect.equal moved.Shape [| 5; 2 |] "shape") ]

/// The action throws ArgumentException whose message names the op and every given shape.
let private rejectsNaming (op: string) (shapes: string list) (action: unit -> Tensor) =
    let e = throwsOf<ArgumentException>(fun () -> action () |> ignore)
    for fragment in op :: shapes do
        Expect.stringContains e.Message fragment "the message names the op and the shapes"

let private badInput =
    let z (shape: int list) = Tensor.Zeros(Array.ofList shape)
    testList
        "bad input names the op and the shapes"
        [ testCase "conv2d channels" (fun () ->
              rejectsNaming "Conv2d" [ "[1, 3, 5, 5]"; "[4, 2, 3, 3]" ] (fun () ->
                  F.Conv2d(z [ 1; 3; 5; 5 ], z [ 4; 2; 3; 3 ])))
          testCase "conv2d kernel larger than the input" (fun () ->
              rejectsNaming "Conv2d" [ "[1, 1, 2, 2]"; "[1, 1, 3, 3]" ] (fun () ->
                  F.Conv2d(z [ 1; 1; 2; 2 ], z [ 1; 1; 3; 3 ])))
          testCase "conv2d bias length" (fun () ->
              rejectsNaming "Conv2d" [ "[3]"; "[4, 1, 3, 3]" ] (fun () ->
                  F.Conv2d(z [ 1; 1; 5; 5 ], z [ 4; 1; 3; 3 ], z [ 3 ])))
          testCase "conv2d mixed dtypes" (fun () ->
              rejectsNaming "Conv2d" [ "Float64"; "Float32" ] (fun () ->
                  F.Conv2d(Tensor.Zeros(ScalarType.Float64, null, 1, 1, 5, 5), z [ 1; 1; 3; 3 ])))
          testCase "masked conv2d mask shape" (fun () ->
              rejectsNaming "MaskedConv2d" [ "[4, 1, 3, 1]"; "[4, 1, 3, 3]" ] (fun () ->
                  F.MaskedConv2d(z [ 1; 1; 5; 5 ], z [ 4; 1; 3; 3 ], z [ 4; 1; 3; 1 ], null, null)))
          testCase "linear features" (fun () ->
              rejectsNaming "Linear" [ "[2, 6]"; "[3, 5]" ] (fun () -> F.Linear(z [ 2; 6 ], z [ 3; 5 ])))
          testCase "masked linear bias mask without bias" (fun () ->
              rejectsNaming "MaskedLinear" [ "[3]" ] (fun () ->
                  F.MaskedLinear(z [ 2; 5 ], z [ 3; 5 ], z [ 3; 5 ], null, z [ 3 ])))
          testCase "matmul inner dimensions" (fun () ->
              rejectsNaming "Matmul" [ "[2, 3]"; "[4, 5]" ] (fun () -> F.Matmul(z [ 2; 3 ], z [ 4; 5 ])))
          testCase "matmul batch dimensions" (fun () ->
              rejectsNaming "Matmul" [ "[2, 3, 4]"; "[3, 4, 5]" ] (fun () -> F.Matmul(z [ 2; 3; 4 ], z [ 3; 4; 5 ])))
          testCase "bmm ranks" (fun () ->
              rejectsNaming "Bmm" [ "[3, 4]"; "[2, 4, 5]" ] (fun () -> F.Bmm(z [ 3; 4 ], z [ 2; 4; 5 ])))
          testCase "max pool padding over half the kernel" (fun () ->
              rejectsNaming "MaxPool2d" [ "[1, 1, 5, 5]" ] (fun () ->
                  F.MaxPool2d(z [ 1; 1; 5; 5 ], Size2(2, 2), padding = sz 2 2)))
          testCase "avg pool of a matrix" (fun () ->
              rejectsNaming "AvgPool2d" [ "[5, 5]" ] (fun () -> F.AvgPool2d(z [ 5; 5 ], Size2(2, 2))))
          testCase "reshape element count" (fun () ->
              rejectsNaming "Reshape" [ "[2, 3]"; "[4, -1]" ] (fun () -> F.Reshape(z [ 2; 3 ], 4, -1)))
          testCase "permute dims" (fun () ->
              rejectsNaming "Permute" [ "[0, 0, 1]"; "[2, 3, 4]" ] (fun () -> F.Permute(z [ 2; 3; 4 ], 0, 0, 1)))
          testCase "flatten order" (fun () ->
              rejectsNaming "Flatten" [ "[2, 3, 4]" ] (fun () -> F.Flatten(z [ 2; 3; 4 ], 2, 1)))
          testCase "slice step" (fun () -> rejectsNaming "Slice" [ "[4]" ] (fun () -> F.Slice(z [ 4 ], 0, 0, 4, 0)))
          testCase "cat shapes" (fun () ->
              rejectsNaming "Cat" [ "[2, 3]"; "[2, 4]" ] (fun () -> F.Cat([ z [ 2; 3 ]; z [ 2; 4 ] ], 0)))
          testCase "pad amounts" (fun () ->
              rejectsNaming "Pad" [ "[1, 2, 3]"; "[2, 2]" ] (fun () -> F.Pad(z [ 2; 2 ], [| 1; 2; 3 |])))
          testCase "pad cropping everything" (fun () ->
              rejectsNaming "Pad" [ "[-2, -1]"; "[2, 2]" ] (fun () -> F.Pad(z [ 2; 2 ], [| -2; -1 |]))) ]

[<Tests>]
let tests =
    testList
        "Core.Nn dense and shape ops"
        [ gradientChecks; float32MatchesReference; maskGradients; pytorchGolden; traces; badInput ]
