/// The real CIFAR-10 ResNet-20 and the CIFAR-10 test images, as the model-view tests and the analysis endpoints' tests
/// use them: ImageNet normalisation, the weights read into the zoo architecture once per run.
module Hybrid.Tests.CifarResnet20

open Hybrid.Analysis

let mean = Some [| 0.485f; 0.456f; 0.406f |]
let std = Some [| 0.229f; 0.224f; 0.225f |]

/// The dataset spec of the CIFAR-10 test batch.
let cifar () = "cifar10:" + sharedFile "data/cifar10/test_batch.bin"

/// The safetensors file of the weights.
let weights () = sharedFile "models/cifar10-resnet20/model.safetensors"

let model = lazy (snd (Networks.loadModule Device.Cpu (weights ()) None))

/// The first n test images.
let firstImages (n: int) = ImageRun.slice "test" (cifar ()) (ImageRun.load (cifar ()) false) 0 n

/// Activation maximisation of targets on the model at 3x32x32, without a progress report.
let maximise (settings: Maximise.Settings) (targets: Maximise.Target list) =
    Maximise.run Device.Cpu model.Value [| 3; 32; 32 |] mean std settings targets (fun _ _ -> ())
