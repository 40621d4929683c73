// Gaussian mixtures and CKA from a script, on Fashion-MNIST (Debian's dataset-fashion-mnist). Run `./hybrid --version`
// once (it builds), then `dotnet fsi scripts/cka_gmm_tour.fsx`. Copy it and edit: every number here comes from a seed.
#load "load.fsx"

open Hybrid.Core.Gpu
open Hybrid.Core.Nn.Data
open Hybrid.Analysis

let device = Device.Parse "auto"
let images = FashionMnist.Load(train = false)

// 1. A mixture on 4x4-pooled images: how many components does BIC prefer, and how well do they match the classes?
let pooled = Features.averagePool 4 images 5000
let options = GaussianMixtureOptions(Components = 10, Covariance = CovarianceType.Diag, Seed = 0, NInit = 2)
for k, bic in GaussianMixture.bicByComponents device options pooled [ 5; 10; 20 ] do
    printfn "diag mixture, %2d components: BIC %.0f" k bic
let model = GaussianMixture.fit device options None pooled
let labels = model.Predict(pooled.Values, device)
printfn
    "10 components: lower bound %.4f after %d iterations; component sizes %A"
    model.LowerBound
    model.NIter
    (labels |> Array.countBy id |> Array.sortBy fst |> Array.map snd)
let struct (drawn, components) = model.Sample(3, seed = 1)
printfn "three samples drawn from it (components %A): %d values each" components (drawn.Length / 3)

// 2. CKA between the layers of two random ReLU networks on 300 probe images, every kernel.
let probes = Features.standardise (Features.pixels images 300)
let netA = Features.randomReluLayers device 1 [ 512; 256; 128 ] probes |> List.map (fun a -> Activations.Of(a, 300))
let netB = Features.randomReluLayers device 2 [ 512; 256; 128 ] probes |> List.map (fun a -> Activations.Of(a, 300))
let m = Cka.matrix device (Cka.options CkaKernel.Linear 0.8 false) netA netB
for i, j, value in Cka.bestMatches m do
    printfn "A layer %d is most like B layer %d (linear CKA %.3f)" (i + 1) (j + 1) value
for name, o in [ "rbf", Cka.options CkaKernel.Rbf 0.8 false; "debiased", Cka.options CkaKernel.Linear 0.8 true ] do
    printfn "%-8s CKA(A1, B1) = %.4f" name (Hybrid.Core.Gpu.Cka.Score(device, netA[0], netB[0], o))
