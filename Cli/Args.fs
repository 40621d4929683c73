/// The command line as a type (Argu): one union case per subcommand and per flag; usage strings in one match each.
module Hybrid.Cli.Args

open Argu

type DeviceName =
    | Cpu
    | Gpu
    | Reference
    | Auto

type SelfCheckArgs =
    | Device of DeviceName list
    | Seed of int
    | Count of int
    | Json
    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | Device _ -> "devices to check against the reference (default: cpu gpu). gpu without CUDA runs the ILGPU kernels on ILGPU's CPU accelerator."
            | Seed _ -> "seed of the random shapes and data (default 42)."
            | Count _ -> "random cases per operation (default 3)."
            | Json -> "print one JSON document instead of a table."

type GemmArgs =
    | Sizes of int list
    | Quick
    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | Sizes _ -> "square sizes to time (default 256 512 1024 2048 4096)."
            | Quick -> "fewer sizes and shorter timing (what the demo runs)."

type ConvModel =
    | Resnet20
    | Vgg16
    | All

type ConvArgs =
    | Model of ConvModel
    | Batch of int
    | Quick
    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | Model _ -> "conv shapes of which CIFAR model (default all)."
            | Batch _ -> "batch size (default 64)."
            | Quick -> "a few ResNet-20 shapes at batch 16 (what the demo runs)."

type BenchArgs =
    | [<CliPrefix(CliPrefix.None)>] Gemm of ParseResults<GemmArgs>
    | [<CliPrefix(CliPrefix.None)>] Conv of ParseResults<ConvArgs>
    | [<Inherit>] Device of DeviceName
    | [<Inherit>] Json
    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | Gemm _ -> "SGEMM against NumPy matmul (float32, square)."
            | Conv _ -> "conv2d forward + backward, masked and unmasked, against PyTorch on CIFAR ResNet-20 / VGG-16 shapes; sparse vs dense."
            | Device _ -> "device to run ours on: cpu, gpu, reference, or auto (the default: gpu when CUDA is present, else cpu)."
            | Json -> "print one JSON document {benchmark, cases: [{case, ours_s, peer, peer_s, speedup}]}."

type DemoArgs =
    | Device of DeviceName list
    | Seed of int
    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | Device _ -> "devices for the self-check (default: cpu gpu)."
            | Seed _ -> "seed of the self-check (default 42)."

type HybridArgs =
    | [<CliPrefix(CliPrefix.None)>] Demo of ParseResults<DemoArgs>
    | [<CliPrefix(CliPrefix.None)>] Selfcheck of ParseResults<SelfCheckArgs>
    | [<CliPrefix(CliPrefix.None)>] Bench of ParseResults<BenchArgs>
    | Version
    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | Demo _ -> "the tour: kernel self-check on every backend, then a short benchmark table against NumPy and PyTorch."
            | Selfcheck _ -> "compare every backend with the reference kernels on seeded random shapes."
            | Bench _ -> "benchmarks against the tools users would otherwise pick (NumPy, PyTorch)."
            | Version -> "print the version."

/// The Core.Gpu device for a parsed name.
let device (name: DeviceName) =
    match name with
    | Cpu -> Hybrid.Core.Gpu.Device.Cpu
    | Gpu -> Hybrid.Core.Gpu.Device.Gpu()
    | Reference -> Hybrid.Core.Gpu.Device.Reference
    | Auto -> Hybrid.Core.Gpu.Device.Parse "auto"
