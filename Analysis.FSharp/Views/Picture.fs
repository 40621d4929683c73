/// Pictures for the model-analysis views: RGB images built from model inputs and activations, laid side by side or in
/// a grid, and written as PNG (StbImageWriteSharp). Everything is in 8-bit RGB, the form every viewer shows as is.
module Hybrid.Analysis.Picture

open System
open System.IO
open StbImageWriteSharp

/// An 8-bit RGB image, row-major, 3 bytes per pixel.
type Rgb = { Width: int; Height: int; Pixels: byte[] }

let private byteOf (v: float) = byte (Math.Clamp(Math.Round(v * 255.0), 0.0, 255.0))

/// A blank image of one colour.
let filled (width: int) (height: int) (r: byte, g: byte, b: byte) =
    let pixels = Array.zeroCreate (width * height * 3)
    for i in 0 .. width * height - 1 do
        pixels[3 * i] <- r
        pixels[3 * i + 1] <- g
        pixels[3 * i + 2] <- b
    { Width = width; Height = height; Pixels = pixels }

/// Undoes (x - mean) / std per channel of one C x H x W input, giving pixel values in [0, 1] as the dataset stored them.
let denormalise (mean: float32[] option) (std: float32[] option) (channels: int) (image: float32[]) =
    let plane = image.Length / channels
    image
    |> Array.mapi (fun i v ->
        let c = i / plane
        let s = std |> Option.map (fun s -> s[c % s.Length]) |> Option.defaultValue 1.0f
        let m = mean |> Option.map (fun m -> m[c % m.Length]) |> Option.defaultValue 0.0f
        v * s + m)

/// One C x H x W image with pixel values in [0, 1] (C = 1: grey; C = 3: RGB; otherwise the first channel as grey).
let ofPlanes (channels: int) (height: int) (width: int) (values: float32[]) =
    let plane = height * width
    let pixels = Array.zeroCreate (plane * 3)
    for i in 0 .. plane - 1 do
        for k in 0..2 do
            let c = if channels = 3 then k else 0
            pixels[3 * i + k] <- byteOf (float values[c * plane + i])
    { Width = width; Height = height; Pixels = pixels }

/// Colour of t in [0, 1] on a dark-blue, red, yellow, white ramp (an "inferno"-like map: brightness grows with t, so
/// the order survives printing in grey).
let heatColour (t: float) =
    let t = Math.Clamp(t, 0.0, 1.0)
    let stops =
        [| 0.0, (0.0, 0.0, 0.02)
           0.35, (0.45, 0.05, 0.45)
           0.65, (0.9, 0.3, 0.1)
           0.9, (1.0, 0.85, 0.15)
           1.0, (1.0, 1.0, 0.9) |]
    let j = stops |> Array.findIndex (fun (s, _) -> s >= t) |> max 1
    let s0, (r0, g0, b0) = stops[j - 1]
    let s1, (r1, g1, b1) = stops[j]
    let f = (t - s0) / (s1 - s0)
    byteOf (r0 + f * (r1 - r0)), byteOf (g0 + f * (g1 - g0)), byteOf (b0 + f * (b1 - b0))

/// An H x W map as a heatmap, scaled so that lo is dark and hi white.
let heatmap (height: int) (width: int) (lo: float32) (hi: float32) (values: float32[]) =
    let range = if hi > lo then float (hi - lo) else 1.0
    let pixels = Array.zeroCreate (height * width * 3)
    for i in 0 .. height * width - 1 do
        let r, g, b = heatColour (float (values[i] - lo) / range)
        pixels[3 * i] <- r
        pixels[3 * i + 1] <- g
        pixels[3 * i + 2] <- b
    { Width = width; Height = height; Pixels = pixels }

/// The image resized to width x height by bilinear interpolation (pixel centres aligned, as
/// torch.nn.functional.interpolate with align_corners=False).
let resize (width: int) (height: int) (image: Rgb) =
    let pixels = Array.zeroCreate (width * height * 3)
    let source (scale: float) (i: int) (size: int) =
        let x = Math.Clamp((float i + 0.5) * scale - 0.5, 0.0, float (size - 1))
        let a = int x
        a, min (a + 1) (size - 1), x - float a
    for y in 0 .. height - 1 do
        let y0, y1, fy = source (float image.Height / float height) y image.Height
        for x in 0 .. width - 1 do
            let x0, x1, fx = source (float image.Width / float width) x image.Width
            for k in 0..2 do
                let at (yy: int) (xx: int) = float image.Pixels[(yy * image.Width + xx) * 3 + k]
                let top = at y0 x0 * (1.0 - fx) + at y0 x1 * fx
                let bottom = at y1 x0 * (1.0 - fx) + at y1 x1 * fx
                pixels[(y * width + x) * 3 + k] <- byte (Math.Round(top * (1.0 - fy) + bottom * fy))
    { Width = width; Height = height; Pixels = pixels }

/// a over b with a's weight alpha (both the same size).
let blend (alpha: float) (a: Rgb) (b: Rgb) =
    { b with
        Pixels =
            Array.map2
                (fun (x: byte) (y: byte) -> byte (Math.Round(alpha * float x + (1.0 - alpha) * float y)))
                a.Pixels
                b.Pixels }

/// Copies tile into canvas with its top-left corner at (left, top).
let private paste (canvas: Rgb) (left: int) (top: int) (tile: Rgb) =
    for y in 0 .. tile.Height - 1 do
        Array.blit
            tile.Pixels
            (y * tile.Width * 3)
            canvas.Pixels
            (((top + y) * canvas.Width + left) * 3)
            (tile.Width * 3)

/// The tiles in a grid of the given number of columns, gap pixels apart on a mid-grey background; every tile has the
/// first tile's size.
let grid (columns: int) (gap: int) (tiles: Rgb list) =
    match tiles with
    | [] -> filled 1 1 (128uy, 128uy, 128uy)
    | first :: _ ->
        let columns = max 1 (min columns tiles.Length)
        let rows = (tiles.Length + columns - 1) / columns
        let canvas =
            filled
                (columns * first.Width + (columns + 1) * gap)
                (rows * first.Height + (rows + 1) * gap)
                (128uy, 128uy, 128uy)
        tiles
        |> List.iteri (fun i tile ->
            paste canvas (gap + (i % columns) * (first.Width + gap)) (gap + (i / columns) * (first.Height + gap)) tile)
        canvas

/// The image as PNG bytes.
let png (image: Rgb) =
    use stream = new MemoryStream()
    ImageWriter().WritePng(image.Pixels, image.Width, image.Height, ColorComponents.RedGreenBlue, stream)
    stream.ToArray()

/// Writes the image as a PNG file.
let save (path: string) (image: Rgb) = File.WriteAllBytes(path, png image)
