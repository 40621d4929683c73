/// nn layer modules and the model zoo: state keys, order and shapes against the real checkpoints, module trees against
/// torchvision's own named_modules, the Module API (load_state_dict, modes, hooks, containers) and initialisation.
/// Forwards are not run here: they belong to the Functional tests.
module Hybrid.Tests.NnModulesTests

open System.Collections.Generic
open Expecto
open Hybrid.Core.Nn
open Hybrid.Core.Nn.Formats.PyTorch
open Hybrid.Core.Nn.Modules
open Hybrid.Core.Nn.Zoo

// ---------------------------------------------------------------------------------------------------
// Helpers

let private cifarModels =
    [ 20, "cifar10-resnet20", "resnet20-12fca82f.th"; 32, "cifar10-resnet32", "resnet32-d509ac18.th" ]

let private stateOf (m: Module) = [ for struct (key, value) in m.StateDict() -> key, List.ofArray value.Shape ]

let private isTracked (key: string) = key.EndsWith ".num_batches_tracked"

/// PyTorch's num_batches_tracked is a scalar; model.safetensors stores it as shape [1] (see CheckpointTests).
let private modelShape (key: string) (shape: int list) = if isTracked key && shape = [ 1 ] then [] else shape

let private ints (shape: int64[]) = shape |> Array.map int

let private fromCheckpoint (t: CheckpointTensor) =
    let shape = modelShape t.Name (List.ofArray (ints t.Shape)) |> Array.ofList
    if t.DType = Hybrid.Core.Nn.Formats.DType.I64 then
        Tensor.From(t.ReadInt64(), shape)
    else
        Tensor.From(t.ReadFloat32(), shape)

let private fromSafetensors (file: SafetensorsFile) (name: string) =
    tensorFrom file name (modelShape name (List.ofArray (ints (file.Entry name).Shape)) |> Array.ofList)

/// After loading, every model tensor must equal its source tensor exactly (a copy, float32 to float32).
let private landed (model: Module) (source: IReadOnlyDictionary<string, Tensor>) =
    for struct (key, value) in model.StateDict() do
        match source.TryGetValue key with
        | true, expected ->
            Expect.sequenceEqual
                (value.ToDoubleArray())
                (expected.ToDoubleArray())
                (sprintf "%s holds the file's values" key)
        | _ -> Expect.isTrue (isTracked key) (sprintf "only num_batches_tracked may be absent, not %s" key)

type private ModuleRow = { Path: string; Type: string; Depth: int; Params: (string * int list) list; Leaf: bool }

let private rowsOfJson (path: string) =
    use doc = readJson path
    let root = doc.RootElement
    let rows =
        [ for m in root.GetProperty("modules").EnumerateArray() ->
              { Path = m.GetProperty("path").GetString()
                Type = m.GetProperty("type").GetString()
                Depth = m.GetProperty("depth").GetInt32()
                Params =
                  [ for p in m.GetProperty("params").EnumerateObject() ->
                        p.Name, [ for d in p.Value.EnumerateArray() -> d.GetInt32() ] ]
                Leaf = m.GetProperty("leaf").GetBoolean() } ]
    rows, root.GetProperty("n_params").GetInt64()

/// PyTorch's named_modules() without the root: depth is the number of dots, params the module's own (recurse=False).
let private rowsOfModel (model: Module) =
    [ for struct (path, m) in model.NamedModules() do
          if path <> "" then
              yield
                  { Path = path
                    Type = m.TypeName
                    Depth = path.Split('.').Length - 1
                    Params =
                      [ for struct (name, p) in m.NamedParameters() do
                            if not (name.Contains '.') then
                                yield name, List.ofArray p.Shape ]
                    Leaf = Seq.isEmpty (m.NamedChildren()) } ]

/// Equal lists, with the first difference named.
let private sameRows what (expected: ModuleRow list) (actual: ModuleRow list) =
    Seq.zip expected actual
    |> Seq.tryFindIndex (fun (e, a) -> e <> a)
    |> Option.iter (fun i ->
        failtestf "%s: module %d differs:\n expected %A\n actual   %A" what i expected.[i] actual.[i])
    Expect.equal actual.Length expected.Length (sprintf "%s: number of modules" what)

let private moments (values: float[]) =
    let n = float values.Length
    let mean = Array.average values
    mean, sqrt (values |> Array.sumBy (fun v -> (v - mean) * (v - mean)) |> fun s -> s / n)

let private paramOf (m: Module) name =
    m.NamedParameters() |> Seq.pick (fun struct (n, p) -> if n = name then Some p else None)

// ---------------------------------------------------------------------------------------------------
// CIFAR ResNets against the real checkpoints

let private cifarCheckpointTests =
    testList
        "cifar resnet checkpoints"
        [ for depth, folder, th in cifarModels do
              let path file = sharedFile (sprintf "models/%s/%s" folder file)
              testList
                  (sprintf "resnet%d" depth)
                  [ test "state keys, order and shapes equal model.pt" {
                        let pt = TorchCheckpoint.Load(path "model.pt")
                        let expected = [ for t in pt.Tensors -> t.Name, List.ofArray (ints t.Shape) ]
                        Expect.sequenceEqual (stateOf (CifarResNet depth)) expected "state_dict order as PyTorch"
                    }
                    test "state keys and shapes equal model.safetensors (116 for resnet20)" {
                        use file = SafetensorsFile.Open(path "model.safetensors")
                        let expected =
                            [ for e in file.Tensors -> e.Name, modelShape e.Name (List.ofArray (ints e.Shape)) ]
                            |> List.sort
                        let model = CifarResNet depth
                        Expect.sequenceEqual (stateOf model |> List.sort) expected "same keys and shapes"
                        if depth = 20 then
                            Expect.equal expected.Length 116 "ResNet-20 has 116 state entries"
                    }
                    test "the .th keys without module. are the state keys minus num_batches_tracked, in order" {
                        let legacy = TorchCheckpoint.Load(path th).WithoutPrefix()
                        let expected = [ for t in legacy.Tensors -> t.Name, List.ofArray (ints t.Shape) ]
                        let ours = stateOf (CifarResNet depth) |> List.filter (fst >> isTracked >> not)
                        Expect.sequenceEqual ours expected "keys in order"
                        if depth = 20 then
                            Expect.equal expected.Length 97 "ResNet-20's legacy checkpoint has 97 keys"
                    }
                    test "the .th loads strictly (num_batches_tracked may be missing) and its values land" {
                        let state =
                            readOnlyDict
                                [ for t in TorchCheckpoint.Load(path th).WithoutPrefix().Tensors ->
                                      t.Name, fromCheckpoint t ]
                        let model = CifarResNet depth
                        let before = (paramOf model "conv1.weight").ToDoubleArray()
                        let result = model.LoadStateDict(state, strict = true)
                        Expect.isTrue result.IsComplete "nothing missing, nothing unexpected"
                        Expect.notEqual ((paramOf model "conv1.weight").ToDoubleArray()) before "the weights changed"
                        landed model state
                    }
                    test "model.pt loads strictly and its values land" {
                        let state =
                            readOnlyDict
                                [ for t in TorchCheckpoint.Load(path "model.pt").Tensors -> t.Name, fromCheckpoint t ]
                        let model = CifarResNet depth
                        Expect.isTrue (model.LoadStateDict(state).IsComplete) "complete"
                        landed model state
                        let tracked =
                            model.StateDict()
                            |> Seq.find (fun struct (k, _) -> k = "bn1.num_batches_tracked")
                            |> fun struct (_, v) -> v
                        Expect.equal tracked.Dtype ScalarType.Int64 "num_batches_tracked is int64"
                        Expect.equal
                            (tracked.Item())
                            ((state.["bn1.num_batches_tracked"]).Item())
                            "num_batches_tracked loaded"
                    }
                    test "model.safetensors loads strictly and its values land" {
                        use file = SafetensorsFile.Open(path "model.safetensors")
                        let state = readOnlyDict [ for e in file.Tensors -> e.Name, fromSafetensors file e.Name ]
                        let model = CifarResNet depth
                        Expect.isTrue (model.LoadStateDict(state).IsComplete) "complete"
                        landed model state
                    }
                    test "parameter count equals the checkpoint's" {
                        use file = SafetensorsFile.Open(path "model.safetensors")
                        let expected =
                            file.Tensors
                            |> Seq.filter (fun e -> not (e.Name.Contains "running_" || isTracked e.Name))
                            |> Seq.sumBy (fun e -> e.ElementCount)
                        Expect.equal ((CifarResNet depth).ParameterCount()) expected "trainable elements"
                        if depth = 20 then
                            Expect.equal expected 269722L "ResNet-20: 269,722 parameters (akamaster's 0.27M)"
                    } ]
          test "module tree: shortcuts are empty Sequentials, or LambdaLayers where the shape changes" {
              let model = CifarResNet 20
              let types = dict [ for struct (p, m) in model.NamedModules() -> p, m.TypeName ]
              Expect.equal types.[""] "ResNet" "root type"
              for stage in 1..3 do
                  for block in 0..2 do
                      let expected = if stage > 1 && block = 0 then "LambdaLayer" else "Sequential"
                      Expect.equal types.[sprintf "layer%d.%d" stage block] "BasicBlock" "block type"
                      Expect.equal
                          types.[sprintf "layer%d.%d.shortcut" stage block]
                          expected
                          (sprintf "shortcut of layer%d.%d" stage block)
          }
          test "a one-channel CIFAR ResNet (Fashion-MNIST) changes only conv1 and the classes" {
              let model = CifarResNet(20, 7, 1)
              let shapes = dict (stateOf model)
              Expect.equal shapes.["conv1.weight"] [ 16; 1; 3; 3 ] "conv1 takes one channel"
              Expect.equal shapes.["linear.weight"] [ 7; 64 ] "seven classes"
              Expect.equal (stateOf model).Length 116 "same keys"
          } ]

// ---------------------------------------------------------------------------------------------------
// torchvision architectures against their named_modules

let private torchvisionTests =
    testList
        "torchvision named_modules"
        [ for zooName, file in
              [ "resnet18", "resnet18"
                "resnet50", "resnet50"
                "vgg16-bn", "vgg16_bn"
                "densenet121", "densenet121"
                "mobilenet-v3-small", "mobilenet_v3_small" ] do
              yield
                  test file {
                      let expected, count =
                          rowsOfJson (sharedFile (sprintf "data/torchvision-architectures/%s.modules.json" file))
                      let model = Zoo.Create zooName
                      let rows = rowsOfModel model
                      for r in expected do
                          Expect.equal (r.Path.Split('.').Length - 1) r.Depth "the file's depth counts dots"
                      sameRows file expected rows
                      Expect.equal (model.ParameterCount()) count "total parameter count"
                  }
          yield
              test "CIFAR VGG-16-BN has torchvision's features and chenyaofo's 512-wide classifier" {
                  let tv, _ = rowsOfJson (sharedFile "data/torchvision-architectures/vgg16_bn.modules.json")
                  let rows = rowsOfModel (Zoo.Create "cifar-vgg16-bn")
                  let features rs = rs |> List.filter (fun r -> r.Path.StartsWith "features")
                  sameRows "features" (features tv) (features rows)
                  let classifier =
                      rows
                      |> List.filter (fun r -> r.Path.StartsWith "classifier.")
                      |> List.map (fun r -> r.Path, r.Type, r.Params)
                  let linear path o i = path, "Linear", [ "weight", [ o; i ]; "bias", [ o ] ]
                  Expect.sequenceEqual
                      classifier
                      [ linear "classifier.0" 512 512
                        "classifier.1", "ReLU", []
                        "classifier.2", "Dropout", []
                        linear "classifier.3" 512 512
                        "classifier.4", "ReLU", []
                        "classifier.5", "Dropout", []
                        linear "classifier.6" 10 512 ]
                      "classifier"
                  Expect.isFalse (rows |> List.exists (fun r -> r.Path = "avgpool")) "no avgpool on 32x32 inputs"
              }
          yield
              test "CIFAR VGG depths count their convolutions" {
                  for depth in [ 11; 13; 16; 19 ] do
                      let convs =
                          rowsOfModel (Zoo.Create(sprintf "cifar-vgg%d-bn" depth))
                          |> List.filter (fun r -> r.Type = "Conv2d")
                      Expect.equal
                          convs.Length
                          (depth - 3)
                          (sprintf "VGG-%d: %d weighted layers, three of them linear" depth depth)
              } ]

// ---------------------------------------------------------------------------------------------------
// The zoo registry

let private zooTests =
    testList
        "zoo"
        [ test "names" {
              Expect.sequenceEqual
                  Zoo.Names
                  [ "cifar-resnet20"
                    "cifar-resnet32"
                    "cifar-resnet44"
                    "cifar-resnet56"
                    "cifar-resnet110"
                    "mlp-mixer-cifar"
                    "cifar-vgg11-bn"
                    "cifar-vgg13-bn"
                    "cifar-vgg16-bn"
                    "cifar-vgg19-bn"
                    "resnet18"
                    "resnet50"
                    "vgg16-bn"
                    "densenet121"
                    "mobilenet-v3-small"
                    "small-cnn"
                    "mlp-mixer-b16"
                    "dara-mlp" ]
                  "every architecture"
          }
          test "unknown names are refused with the known ones listed" {
              rejects "cifar-resnet20, cifar-resnet32" (fun () -> Zoo.Create "resnet21")
          }
          test "CIFAR ResNet depths have 6n + 2 layers" {
              for depth in [ 20; 32; 44; 56; 110 ] do
                  let convs =
                      rowsOfModel (Zoo.Create(sprintf "cifar-resnet%d" depth))
                      |> List.filter (fun r -> r.Type = "Conv2d")
                  Expect.equal (convs.Length + 1) depth (sprintf "ResNet-%d: convolutions plus the linear layer" depth)
          }
          test "the same seed gives the same weights, another seed others" {
              let weights seed =
                  (paramOf (Zoo.Create("cifar-resnet20", seed = seed)) "layer1.0.conv1.weight").ToDoubleArray()
              Expect.sequenceEqual (weights 7L) (weights 7L) "reproducible"
              Expect.notEqual (weights 7L) (weights 8L) "seeded"
          }
          test "dara-mlp: fc1..fc4 and one dropout; it needs input features and classes" {
              let model = Zoo.Create("dara-mlp", numClasses = 46, inputFeatures = 894)
              Expect.sequenceEqual
                  (stateOf model)
                  [ "fc1.weight", [ 512; 894 ]
                    "fc1.bias", [ 512 ]
                    "fc2.weight", [ 256; 512 ]
                    "fc2.bias", [ 256 ]
                    "fc3.weight", [ 128; 256 ]
                    "fc3.bias", [ 128 ]
                    "fc4.weight", [ 46; 128 ]
                    "fc4.bias", [ 46 ] ]
                  "keys"
              Expect.equal
                  [ for struct (p, m) in model.NamedModules() -> p, m.TypeName ].[5]
                  ("dropout", "Dropout")
                  "dropout module"
              rejects "input features" (fun () -> Zoo.Create("dara-mlp", numClasses = 46))
              rejects "number of classes" (fun () -> Zoo.Create("dara-mlp", inputFeatures = 894))
              rejects "dara-mlp only" (fun () -> Zoo.Create("resnet18", inputFeatures = 10))
          } ]

// ---------------------------------------------------------------------------------------------------
// The Module API

let private small () = Sequential(Linear(3, 2), BatchNorm1d(2))

let private apiTests =
    testList
        "module api"
        [ test "load_state_dict reports missing and unexpected keys without strict" {
              let model = small ()
              let state = readOnlyDict [ "0.weight", Tensor.Zeros(2, 3); "2.weight", Tensor.Zeros(1) ]
              let result = model.LoadStateDict(state, strict = false)
              Expect.sequenceEqual
                  result.MissingKeys
                  [ "0.bias"; "1.weight"; "1.bias"; "1.running_mean"; "1.running_var" ]
                  "missing"
              Expect.sequenceEqual result.UnexpectedKeys [ "2.weight" ] "unexpected"
              Expect.sequenceEqual ((paramOf model "0.weight").ToDoubleArray()) (Array.zeroCreate 6) "present keys load"
          }
          test "load_state_dict with strict throws naming the keys and writes nothing" {
              let model = small ()
              let before = (paramOf model "0.weight").ToDoubleArray()
              let state = readOnlyDict [ "0.weight", Tensor.Zeros(2, 3); "extra", Tensor.Zeros(1) ]
              rejects "missing keys 0.bias" (fun () -> model.LoadStateDict(state))
              rejects "unexpected keys extra" (fun () -> model.LoadStateDict(state))
              Expect.sequenceEqual ((paramOf model "0.weight").ToDoubleArray()) before "unchanged"
          }
          test "a shape mismatch throws naming the key and both shapes, even without strict" {
              let state = readOnlyDict [ "0.weight", Tensor.Zeros(3, 2) ]
              rejects "'0.weight': the file holds shape [3, 2], the model expects [2, 3]" (fun () ->
                  small().LoadStateDict(state, strict = false))
          }
          test "train and eval scopes set every module and restore each one's mode" {
              let model = Sequential(Linear(2, 2), Sequential(Dropout(), BatchNorm1d(2)))
              let modes () = [ for struct (_, m) in model.NamedModules() -> m.Training ]
              Expect.allEqual (modes ()) true "training by default"
              let inner = model.[1]
              using (inner.Eval()) (fun _ ->
                  Expect.sequenceEqual (modes ()) [ true; true; false; false; false ] "inner subtree in eval"
                  using (model.Eval()) (fun _ -> Expect.allEqual (modes ()) false "all in eval")
                  Expect.sequenceEqual (modes ()) [ true; true; false; false; false ] "outer scope restored")
              Expect.allEqual (modes ()) true "all restored"
          }
          test "forward hooks run after each call until removed" {
              let inner = Identity()
              let model = Sequential(inner, Identity())
              let seen = List<string>()
              let handle =
                  inner.RegisterForwardHook(fun m input output ->
                      seen.Add(sprintf "%s %b" m.TypeName (obj.ReferenceEquals(input, output))))
              let x = Tensor.Zeros(1)
              Expect.isTrue (obj.ReferenceEquals(model.Call x, x)) "identities pass the input through"
              Expect.sequenceEqual seen [ "Identity true" ] "the hook saw the call"
              handle.Dispose()
              model.Call x |> ignore
              Expect.equal seen.Count 1 "removed"
          }
          test "Sequential names children by position or by the given names; ModuleList has no forward" {
              let s = Sequential(Linear(2, 3), ReLU())
              s.Append(Linear(3, 1)) |> ignore
              Expect.sequenceEqual
                  [ for struct (k, _) in s.StateDict() -> k ]
                  [ "0.weight"; "0.bias"; "2.weight"; "2.bias" ]
                  "positional keys"
              Expect.equal s.Count 3 "count"
              Expect.equal s.[-1].TypeName "Linear" "negative index"
              let named =
                  Sequential(struct ("conv", Conv2d(1, 2, Size2(3, 3)) :> Module), struct ("act", ReLU() :> Module))
              Expect.sequenceEqual
                  [ for struct (k, _) in named.StateDict() -> k ]
                  [ "conv.weight"; "conv.bias" ]
                  "named keys"
              Expect.equal named.["act"].TypeName "ReLU" "by name"
              let nested = Sequential(ModuleList(Linear(1, 1), Linear(1, 1)))
              Expect.sequenceEqual
                  [ for struct (k, _) in nested.StateDict() -> k ]
                  [ "0.0.weight"; "0.0.bias"; "0.1.weight"; "0.1.bias" ]
                  "nested"
              Expect.throwsT<System.InvalidOperationException>
                  (fun () -> nested.[0].Forward(Tensor.Zeros(1)) |> ignore)
                  "ModuleList forward"
              rejects "already registered" (fun () -> named.Add("conv", Identity()))
          }
          test "BatchNorm state: weight, bias, running_mean, running_var, int64 scalar num_batches_tracked" {
              let bn = BatchNorm2d(4)
              Expect.sequenceEqual
                  (stateOf bn)
                  [ "weight", [ 4 ]
                    "bias", [ 4 ]
                    "running_mean", [ 4 ]
                    "running_var", [ 4 ]
                    "num_batches_tracked", [] ]
                  "keys"
              Expect.sequenceEqual (bn.Weight.ToDoubleArray()) [ 1.; 1.; 1.; 1. ] "weight 1"
              Expect.sequenceEqual (bn.RunningVar.ToDoubleArray()) [ 1.; 1.; 1.; 1. ] "running_var 1"
              Expect.equal bn.NumBatchesTracked.Dtype ScalarType.Int64 "int64"
              Expect.sequenceEqual
                  (stateOf (BatchNorm1d(3, affine = false, trackRunningStats = false)))
                  []
                  "stateless variant"
              Expect.sequenceEqual
                  (stateOf (BatchNorm1d(3, affine = false)))
                  [ "running_mean", [ 3 ]; "running_var", [ 3 ]; "num_batches_tracked", [] ]
                  "no affine"
              rejects "expected 4-D input, got shape [2, 4]" (fun () -> bn.Forward(Tensor.Zeros(2, 4)))
              Expect.equal (bn.NumBatchesTracked.Item()) 0.0 "a refused input counts no batch"
              Expect.equal
                  (string bn)
                  "BatchNorm2d(4, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True)"
                  "PyTorch's repr"
          }
          test "masked layers: weight, bias, weight_mask, bias_mask, masks all kept; From copies the weights" {
              let conv = Conv2d(2, 4, Size2(3, 3), groups = 2)
              let masked = MaskedConv2d.From conv
              Expect.sequenceEqual
                  (stateOf masked)
                  [ "weight", [ 4; 1; 3; 3 ]; "bias", [ 4 ]; "weight_mask", [ 4; 1; 3; 3 ]; "bias_mask", [ 4 ] ]
                  "conv keys"
              Expect.sequenceEqual (masked.Weight.ToDoubleArray()) (conv.Weight.ToDoubleArray()) "weights copied"
              Expect.allEqual (masked.WeightMask.ToDoubleArray()) 1.0 "weight mask starts at 1"
              Expect.allEqual (masked.BiasMask.ToDoubleArray()) 1.0 "bias mask starts at 1"
              Expect.equal masked.TypeName "MaskedConv2d" "type"
              let linear = MaskedLinear(5, 3, bias = false)
              Expect.sequenceEqual
                  (stateOf linear)
                  [ "weight", [ 3; 5 ]; "weight_mask", [ 3; 5 ] ]
                  "no bias, no bias mask"
              Expect.equal linear.Rule Hybrid.Core.Gpu.MaskGradient.ClippedStraightThrough "SeaM's rule by default"
              Expect.isTrue (linear.WeightMask.RequiresGrad) "masks are trained"
          }
          test "To(device) replaces parameters and the layer properties follow" {
              let conv = Conv2d(1, 1, Size2(1, 1))
              let old = conv.Weight
              conv.To(Hybrid.Core.Gpu.Device.Reference) |> ignore
              Expect.isFalse (obj.ReferenceEquals(old, conv.Weight)) "a new tensor"
              Expect.isTrue
                  (obj.ReferenceEquals(paramOf conv "weight", conv.Weight))
                  "Weight is the registered parameter"
              Expect.equal conv.Weight.Device Hybrid.Core.Gpu.Device.Reference "moved"
              Expect.isTrue conv.Weight.RequiresGrad "still trained"
          }
          test "constructors validate at the edge" {
              rejects "multiples of groups 3" (fun () -> Conv2d(4, 6, Size2(3, 3), groups = 3))
              rejects "kernel_size must be positive" (fun () -> Conv2d(1, 1, Size2(0, 3)))
              rejects "probability" (fun () -> Dropout(1.5))
              rejects "approximate" (fun () -> GELU("fast"))
              rejects "depth 6n + 2" (fun () -> CifarResNet 21)
          }
          test "ResNet-20 has 269,722 parameters" {
              Expect.equal ((Zoo.Create "cifar-resnet20").ParameterCount()) 269722L "count"
          } ]

// ---------------------------------------------------------------------------------------------------
// Initialisation statistics

let private initTests =
    testList
        "init"
        [ test "Linear: kaiming_uniform(a = sqrt 5) weight and bias within 1/sqrt(fan_in)" {
              // 2M draws: the sample variance of U(-b, b) has relative standard error sqrt(0.8 / n) = 0.06%, so 1% is
              // 16 sigma; the largest |w| of 2M draws falls below 0.999 b with probability 0.999^2e6 ~ 0.
              let layer = Linear(2048, 1024, generator = Generator(3L))
              let bound = 1.0 / sqrt 2048.0
              let w = layer.Weight.ToDoubleArray()
              let mean, std = moments w
              let largest = w |> Array.map abs |> Array.max
              Expect.isLessThanOrEqual largest (bound * (1.0 + 1e-7)) "inside the bound (float32 rounding allowed)"
              Expect.isGreaterThan largest (0.999 * bound) "reaches the bound"
              Expect.floatClose { absolute = 0.0; relative = 0.01 } (std * std) (bound * bound / 3.0) "variance b^2 / 3"
              Expect.isLessThan (abs mean) (5.0 * std / sqrt (float w.Length)) "centred (5 standard errors)"
              Expect.all (layer.Bias.ToDoubleArray()) (fun b -> abs b <= bound * (1.0 + 1e-7)) "bias inside the bound"
          }
          test "Conv2d: the fan-in counts the receptive field and groups" {
              let conv = Conv2d(64, 128, Size2(3, 3), groups = 2, generator = Generator(4L))
              let bound = 1.0 / sqrt (32.0 * 9.0)
              let w = conv.Weight.ToDoubleArray()
              Expect.isLessThanOrEqual
                  (w |> Array.map abs |> Array.max)
                  (bound * (1.0 + 1e-7))
                  "inside 1/sqrt(32 * 3 * 3)"
              Expect.isGreaterThan (w |> Array.map abs |> Array.max) (0.99 * bound) "reaches it (36,864 draws)"
          }
          test "kaiming_normal fan-out: std sqrt(2 / fan_out)" {
              // 1.18M normal draws: the sample std has relative standard error 1/sqrt(2n) = 0.07%; 1% is 14 sigma.
              let t = Tensor.Zeros(256, 512, 3, 3)
              Init.KaimingNormal(t, Generator(5L), mode = FanMode.FanOut, nonlinearity = Nonlinearity.Relu) |> ignore
              let _, std = moments (t.ToDoubleArray())
              Expect.floatClose { absolute = 0.0; relative = 0.01 } std (sqrt (2.0 / (256.0 * 9.0))) "std"
              Expect.equal (Init.Fans t) (struct (512 * 9, 256 * 9)) "fans"
          }
          test "CIFAR ResNet convolutions follow akamaster's kaiming_normal (fan-in, gain sqrt 2)" {
              // 36,864 draws: relative standard error of the std 0.37%; 3% is 8 sigma.
              let w = (paramOf (CifarResNet(20, generator = Generator(6L))) "layer3.1.conv2.weight").ToDoubleArray()
              let _, std = moments w
              Expect.floatClose { absolute = 0.0; relative = 0.03 } std (sqrt (2.0 / 576.0)) "std"
          }
          test "initialisers refuse integer tensors and zero fans" {
              rejects "floating-point" (fun () -> Init.Zeros(Tensor.Zeros(ScalarType.Int64, null, 2)))
              rejects "at least 2 dimensions" (fun () -> Init.KaimingUniform(Tensor.Zeros(3), Generator(0L)))
          } ]

[<Tests>]
let tests = testList "nn modules" [ cifarCheckpointTests; torchvisionTests; zooTests; apiTests; initTests ]
