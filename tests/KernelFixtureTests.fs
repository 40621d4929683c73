/// Every case of ../shared/fixtures/kernels/masked_layers.* (PyTorch 1.13.1, float64 reference stored as float32) on every backend.
module Hybrid.Tests.KernelFixtureTests

open Expecto
open Hybrid.Core.Gpu

type FixtureCase = { Name: string; Linear: LinearShape option; Conv: Conv2dShape option; HasBias: bool }

let private fixtureFile = lazy (SafetensorsFile.Open(sharedPath "fixtures/kernels/masked_layers.safetensors"))

let private tensor (case: FixtureCase) (name: string) = fixtureFile.Value.ReadFloat32(case.Name + "." + name)
let private dims (case: FixtureCase) (name: string) =
    fixtureFile.Value.Entry(case.Name + "." + name).Shape |> Array.map int

let private cases =
    lazy
        (use doc = readJson (sharedPath "fixtures/kernels/masked_layers.json")
         [ for c in doc.RootElement.GetProperty("cases").EnumerateArray() do
               let name = c.GetProperty("name").GetString()
               let kind = c.GetProperty("kind").GetString()
               let hasBias = c.GetProperty("bias").GetBoolean()
               let probe = { Name = name; Linear = None; Conv = None; HasBias = hasBias }
               let x, w = dims probe "x", dims probe "w"
               if kind = "linear" then
                   yield { probe with Linear = Some(LinearShape(x.[0], x.[1], w.[0])) }
               else
                   let i (key: string) = c.GetProperty(key).GetInt32()
                   let s, p, d = i "stride", i "padding", i "dilation"
                   yield
                       { probe with
                           Conv =
                               Some(
                                   Conv2dShape(
                                       x.[0],
                                       x.[1],
                                       x.[2],
                                       x.[3],
                                       w.[0],
                                       w.[2],
                                       w.[3],
                                       s,
                                       s,
                                       p,
                                       p,
                                       d,
                                       d,
                                       i "groups"
                                   )
                               ) } ])

/// Stated tolerance: the reference is float64 PyTorch; our float32 sums run over at most 4,096 terms of O(1) values.
let private absTol, relTol = 1e-4, 1e-4

let private forward
    (device: Device)
    (case: FixtureCase)
    (p: LayerParameters)
    (x: DeviceArray<float32>)
    (y: DeviceArray<float32>)
    =
    match case.Linear, case.Conv with
    | Some s, _ -> Linear.Forward(s, p, x, y)
    | _, Some s -> Conv2d.Forward(s, p, x, y)
    | _ -> failwith "fixture case without a shape"

let private backward (case: FixtureCase) p x gradOut g =
    match case.Linear, case.Conv with
    | Some s, _ -> Linear.Backward(s, p, x, gradOut, g)
    | _, Some s -> Conv2d.Backward(s, p, x, gradOut, g)
    | _ -> failwith "fixture case without a shape"

let private runCase (case: FixtureCase) (device: Device) =
    let t = tensor case
    let x, w, s = up device (t "x"), up device (t "w"), up device (t "s")
    let b = if case.HasBias then up device (t "b") else null
    let p = LayerParameters(w, s, b)
    let yExpected = t "y"
    let y = device.Allocate<float32> yExpected.Length
    forward device case p x y
    closeTo absTol relTol "y" yExpected (y.ToArray())

    // The same layer as a plain (unmasked) layer with the masked-out weights zeroed must give the same output.
    let weff = Array.map2 (fun w s -> if s > 0.0f then w else 0.0f) (t "w") (t "s")
    let yPlain = device.Allocate<float32> yExpected.Length
    forward device case (LayerParameters(up device weff, null, b)) x yPlain
    closeTo absTol relTol "y (plain layer)" yExpected (yPlain.ToArray())

    let gradOut = up device (t "grad_out")
    let alloc name = device.Allocate<float32>((t name).Length)
    let gx, gweff, gs, gw = alloc "grad_x", alloc "grad_weff", alloc "grad_s", alloc "grad_w"
    let gb = if case.HasBias then alloc "grad_b" else null
    backward case p x gradOut (LayerGradients(gx, gweff, gs, gw, gb))
    closeTo absTol relTol "grad_x" (t "grad_x") (gx.ToArray())
    closeTo absTol relTol "grad_weff" (t "grad_weff") (gweff.ToArray())
    closeTo absTol relTol "grad_s" (t "grad_s") (gs.ToArray())
    closeTo absTol relTol "grad_w" (t "grad_w") (gw.ToArray())
    if case.HasBias then
        closeTo absTol relTol "grad_b" (t "grad_b") (gb.ToArray())

    // SeaM's rule: the straight-through score gradient clipped to [-1, 1].
    let gsClipped = alloc "grad_s"
    backward case p x gradOut (LayerGradients(WeightScores = gsClipped, MaskRule = MaskGradient.ClippedStraightThrough))
    closeTo
        absTol
        relTol
        "grad_s clipped"
        (t "grad_s" |> Array.map (fun v -> max -1.0f (min 1.0f v)))
        (gsClipped.ToArray())

[<Tests>]
let tests =
    testList
        "masked layers vs PyTorch fixtures"
        [ for case in cases.Value -> perBackend all case.Name (fun _ device -> runCase case device) ]
