/// Probe sets: the fixed inputs every indexed layer is observed on (the first n images of a dataset SPEC, normalised),
/// named by the SHA-256 of the inputs themselves so that layers seen on different inputs are never compared.
module Hybrid.Analysis.ProbeSet

open System
open System.Security.Cryptography
open Hybrid.Core.Nn.Data

/// Probe inputs when none is given: the published system's 100 images.
let DefaultCount = 100

/// The largest probe set: every indexed layer stores n (n + 1) / 2 floats (2 MB at this n).
let MaxCount = 1000

/// A probe set: its record and its inputs, n x C x H x W float32 after preprocessing.
type Probe = { Row: ProbeRow; Images: float32[] }

let private numbers (xs: float32[]) =
    String.Join(",", xs |> Array.map (fun x -> x.ToString("R", Globalization.CultureInfo.InvariantCulture)))

let private digest (images: float32[]) (shape: int[]) =
    let bytes = Array.zeroCreate<byte>(images.Length * sizeof<float32>)
    Buffer.BlockCopy(images, 0, bytes, 0, bytes.Length)
    use sha = SHA256.Create()
    let header = Text.Encoding.ASCII.GetBytes(String.Join("x", shape) + ";")
    sha.TransformBlock(header, 0, header.Length, null, 0) |> ignore
    sha.TransformFinalBlock(bytes, 0, bytes.Length) |> ignore
    Convert.ToHexString(sha.Hash).ToLowerInvariant().Substring(0, 16)

/// Images first .. first + count - 1 of the dataset spec, normalised per channel by mean and std when given (as
/// `eval` and `train` normalise: (x - mean) / std).
let load (spec: string) (first: int) (count: int) (mean: float32[] option) (std: float32[] option) =
    if count < 4 || count > MaxCount then
        Input.fail "probe: %d inputs; a probe set holds 4 to %d" count MaxCount
    let data = ImageRun.load spec false
    let subset = ImageRun.slice "probe" spec data first count
    let options =
        DataLoaderOptions(BatchSize = count, Shuffle = false, Mean = Option.toObj mean, Std = Option.toObj std)
    let batch = Input.guard "probe" (fun () -> DataLoader(subset, options).BatchAt(0, 0))
    let shape = [| data.Channels; data.Height; data.Width |]
    let preprocessing =
        match mean, std with
        | None, None -> "none"
        | _ ->
            let part name (v: float32[] option) = v |> Option.map (fun v -> $"{name} {numbers v}")
            String.Join("; ", List.choose id [ part "mean" mean; part "std" std ])
    let parsed = DatasetSpec.Parse spec
    { Row =
        { ProbeRow.Id = digest batch.Images shape
          ProbeRow.Spec = spec
          ProbeRow.Indices = $"{first}-{first + count - 1}"
          ProbeRow.Preprocessing = preprocessing
          ProbeRow.Seed = (if parsed.Kind = DatasetSpec.Source.Random then Some parsed.Seed else None)
          ProbeRow.Count = count
          ProbeRow.InputShape = shape }
      Images = batch.Images }

/// The probe set a catalog records, read again from its dataset SPEC, indices and preprocessing; inputs that no longer
/// hash to the recorded id (the data set file changed or moved) are refused, since their layers would not compare.
let ofRow (row: ProbeRow) =
    let first, count =
        match row.Indices.Split '-' with
        | [| a; b |] ->
            match Int32.TryParse a, Int32.TryParse b with
            | (true, a), (true, b) when b >= a -> a, b - a + 1
            | _ -> Input.fail "probe %s: indices '%s' are not FIRST-LAST" row.Id row.Indices
        | _ -> Input.fail "probe %s: indices '%s' are not FIRST-LAST" row.Id row.Indices
    let part (name: string) =
        row.Preprocessing.Split(';', StringSplitOptions.TrimEntries)
        |> Array.tryPick (fun p ->
            if p.StartsWith(name + " ", StringComparison.Ordinal) then Some(p.Substring(name.Length + 1)) else None)
    let mean, std = ImageRun.normalisation (part "mean") (part "std")
    let probe = load row.Spec first count mean std
    if probe.Row.Id <> row.Id then
        Input.fail
            "probe %s: %s images %s now give probe %s (the data set changed); index on it anew"
            row.Id
            row.Spec
            row.Indices
            probe.Row.Id
    probe
