/// What `eval` and `train` share: per-channel normalisation values and the image architectures of the zoo.
module Hybrid.Analysis.ImageRun

open System
open System.Globalization

/// "0.485,0.456,0.406" as floats; the flag's name goes into the error.
let channelValues (flag: string) (text: string) =
    text.Split(',', StringSplitOptions.TrimEntries)
    |> Array.map (fun v ->
        match Single.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture) with
        | true, x when Single.IsFinite x -> x
        | _ -> Input.fail "%s: '%s' is not a comma-separated list of numbers" flag text)

/// The mean and std options of a run, parsed (see channelValues).
let normalisation (mean: string option) (std: string option) =
    mean |> Option.map (channelValues "--mean"), std |> Option.map (channelValues "--std")

/// A dataset spec (cifar10:FILE, fashion-mnist[:DIR], random:N:CxHxW[:SEED], ...) loaded as labelled images; a
/// malformed spec is the user's mistake.
let load (spec: string) (train: bool) =
    Input.guard "dataset" (fun () -> Hybrid.Core.Nn.Data.DatasetSpec.Load(spec, train = train))

/// The zoo's architectures that classify images, in the zoo's order.
let imageArchitectures () = List.ofSeq Hybrid.Core.Nn.Zoo.Zoo.ImageNames

/// Images first .. first + count - 1 of a loaded dataset (copies); what asks for them (what) names the error when the
/// dataset holds fewer.
let slice (what: string) (spec: string) (data: Hybrid.Core.Nn.Data.LabelledImages) (first: int) (count: int) =
    if first < 0 then
        Input.fail "%s: the first index %d is negative" what first
    if first + count > data.Count then
        Input.fail "%s: %s holds %d images; images %d..%d were asked for" what spec data.Count first (first + count - 1)
    let size = data.ImageSize
    Hybrid.Core.Nn.Data.LabelledImages(
        Array.sub data.Images (first * size) (count * size),
        Array.sub data.Labels first count,
        count,
        data.Channels,
        data.Height,
        data.Width,
        data.ClassNames
    )
