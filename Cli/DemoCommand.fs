/// `hybrid demo`: the whole tour on data it obtains itself: the kernel self-check on every backend, short benchmark
/// tables against NumPy and PyTorch, Gaussian mixtures and CKA on Fashion-MNIST (Debian's dataset-fashion-mnist), a small
/// CNN trained and saved in every format, then the structure of the zoo and of those files: catalog, dedup and report,
/// that CNN re-engineered with SeaM's masks for one target problem, its layers searched in an untrained copy, and a
/// naming classifier trained on the zoo that flags copies of those models given a wrong declared class.
module Hybrid.Cli.DemoCommand

open Argu
open Hybrid.Bench
open Hybrid.Core.Gpu
open Hybrid.Cli.Args
open Hybrid.Cli.Console

let run (args: ParseResults<DemoArgs>) =
    let devices = args.GetResult(DemoArgs.Device, defaultValue = selfCheckDevices)
    heading "Hybrid demo, stage 1: kernels"
    printfn "devices: %s" (devices |> List.map (fun d -> (Args.device d).Name) |> String.concat "; ")
    let ok =
        SelfCheckCommand.runCheck
            devices
            (args.GetResult(DemoArgs.Seed, Defaults.selfCheck.Seed))
            Defaults.selfCheck.DemoCount
            false
    heading "Short benchmark on the Cpu backend (best of a few runs; speedup = peer time / our time)"
    Report.printTable (GemmBench.runWith GemmBench.quick Device.Cpu)
    Report.printTable (ConvBench.run Device.Cpu ConvBench.quick)
    Report.printTable (ResnetBench.run Device.Cpu ResnetBench.quick)
    let analysisDevice = Device.Parse "auto"
    let images = Hybrid.Core.Nn.Data.FashionMnist.Load(train = false)
    DemoAnalysis.mixtures analysisDevice images
    DemoAnalysis.similarity analysisDevice images
    let folder = DemoTraining.run Device.Cpu (System.IO.Path.GetFullPath "hybrid-demo")
    DemoStructure.run folder |> ignore
    DemoReengineering.run Device.Cpu folder
    DemoLayerSearch.run analysisDevice folder
    DemoNaming.run analysisDevice folder
    if ok then
        0
    else
        eprintfn "hybrid: error: the kernel self-check failed (see the table above)"
        1
