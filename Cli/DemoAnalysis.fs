/// The analysis stages of `hybrid demo` on Fashion-MNIST (Debian's dataset-fashion-mnist): Gaussian mixtures on
/// pooled images, then CKA between the layers of two random ReLU networks, with a top-k search over CKA encodings.
module Hybrid.Cli.DemoAnalysis

open System.Diagnostics
open Hybrid.Core.Gpu
open Hybrid.Core.Nn.Data
open Hybrid.Analysis
open Hybrid.Cli.Console

/// Every covariance type with 10 components on the 10,000 test images pooled 4x4 (49 features), seed 0.
let mixtures (device: Device) (images: LabelledImages) =
    let data = Features.averagePool 4 images images.Count
    heading
        $"Stage 2: Gaussian mixtures, 10 components, on {data.Rows} Fashion-MNIST test images pooled 4x4 ({data.Columns} features; {device.Name})"
    let rows =
        [ for t in [ CovarianceType.Spherical; CovarianceType.Diag; CovarianceType.Tied; CovarianceType.Full ] ->
              let options = GaussianMixtureOptions(Components = 10, Covariance = t, Seed = 0, MaxIter = 200)
              let clock = Stopwatch.StartNew()
              let model = GaussianMixture.fit device options None data
              let seconds = clock.Elapsed.TotalSeconds
              let summary = GaussianMixture.summarise device options model data
              [ summary.Covariance
                summary.LowerBound.ToString "F4"
                string summary.NIter
                (if summary.Converged then "yes" else "no")
                summary.Bic.ToString "F0"
                (GaussianMixture.labelPurity (model.Predict(data.Values, device)) images.Labels 10 10).ToString "F3"
                $"%.2f{seconds} s" ] ]
    table [ "covariance"; "lower bound"; "n_iter"; "converged"; "BIC (lower is better)"; "label purity"; "time" ] rows
    printfn "init k-means (seed 0). Label purity: share of images whose component's most common class is their own."

/// CKA between the layers of two random ReLU networks (seeds 1 and 2) on 500 test images, then a search of every
/// layer of network A among the layers of the other models.
let similarity (device: Device) (images: LabelledImages) =
    let probes = Features.standardise (Features.pixels images 500)
    let widths = [ 1024; 512; 256; 128 ]
    let widthsText = widths |> List.map string |> String.concat ", "
    heading
        $"Stage 3: CKA between two random ReLU networks (widths {widthsText}) on {probes.Rows} standardised Fashion-MNIST images ({device.Name})"
    let layersOf seed =
        Features.randomReluLayers device seed widths probes |> List.map (fun a -> Activations.Of(a, probes.Rows))
    let a, b = layersOf 1, layersOf 2
    let linear = Cka.options CkaKernel.Linear 0.8 false
    let m = Cka.matrix device linear a b
    let names = widths |> List.mapi (fun i w -> $"layer {i + 1} ({w})")
    table
        ("linear CKA: A \\ B" :: names)
        [ for i in 0 .. a.Length - 1 -> names[i] :: [ for j in 0 .. b.Length - 1 -> m[i, j].ToString "F3" ] ]
    let kernels =
        [ "linear", linear
          "rbf (sigma 0.8 x median)", Cka.options CkaKernel.Rbf 0.8 false
          "linear, debiased", Cka.options CkaKernel.Linear 0.8 true ]
    table
        [ "A layer 1 vs B layer 1"; "CKA" ]
        [ for name, o in kernels -> [ name; (Hybrid.Core.Gpu.Cka.Score(device, a[0], b[0], o)).ToString "F4" ] ]

    // Encodings of network B's layers and of the pooled pixels (groups 1 and 2); network A (group 0) queries them.
    let encode = Cka.encoding device
    let pooled = Features.averagePool 2 images probes.Rows
    let stored = (b |> List.map encode) @ [ encode (Cka.activations pooled) ]
    let storedNames = (names |> List.map (fun n -> $"B {n}")) @ [ "pixels pooled 2x2" ]
    let dimension = stored.Head.Length
    let hits = Cka.search device stored [| 1; 1; 1; 1; 2 |] (a |> List.map encode) (Array.create a.Length 0) 2
    table
        [ "query (network A)"; "best match"; "CKA"; "second"; "CKA" ]
        [ for q in 0 .. a.Length - 1 ->
              let h = hits[q]
              [ $"A {names[q]}"
                storedNames[h[0].Row]
                h[0].Score.ToString "F3"
                storedNames[h[1].Row]
                h[1].Score.ToString "F3" ] ]
    printfn
        "Encodings: the packed upper triangle of each layer's normalised centred Gram matrix (%d floats for n = %d); their dot product is linear CKA."
        dimension
        probes.Rows
