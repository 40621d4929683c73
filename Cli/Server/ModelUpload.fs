/// `POST /models`: a model file sent to the server, as the raw request body or as the file of a multipart form,
/// streamed to a temporary file within a size limit, its format recognised from its first bytes. The file is then read
/// by the same readers `hybrid cka index` uses, which execute nothing in it: safetensors are plain data, PyTorch
/// checkpoints go through the allow-list unpickler, and ONNX graphs run on Hybrid's own standard operators.
module Hybrid.Cli.Server.ModelUpload

open System
open System.IO
open Microsoft.AspNetCore.Http
open Microsoft.AspNetCore.Http.Features
open Microsoft.AspNetCore.WebUtilities
open Microsoft.Net.Http.Headers
open Hybrid.Cli.Server.ApiError

/// An uploaded model on disk: the file (its extension names its format for the readers) and the name it is reported
/// under in messages and the catalog's source column.
type Upload = { Path: string; Name: string }

/// What a multipart form may add around its file: boundaries and part headers.
let private formOverhead = 64L * 1024L

let private tooLarge (limit: int64) =
    fail 413 $"the upload is larger than the server's limit of {limit} bytes (hybrid serve --max-upload-mb)"

/// Copies source to the file at path, refusing more than limit bytes.
let private copyLimited (source: Stream) (path: string) (limit: int64) =
    task {
        use target = new FileStream(path, FileMode.CreateNew, FileAccess.Write)
        let buffer = Array.zeroCreate<byte> 81920
        let mutable total = 0L
        let mutable n = -1
        while n <> 0 do
            let! read = source.ReadAsync(buffer, 0, buffer.Length)
            n <- read
            total <- total + int64 n
            if total > limit then
                tooLarge limit
            do! target.WriteAsync(buffer, 0, n)
    }

/// The part of a multipart form that carries a file (the first with a file name).
let rec private filePart (reader: MultipartReader) =
    task {
        match! reader.ReadNextSectionAsync() with
        | null ->
            return fail 400 "the multipart form holds no file (send the model as a file field, e.g. -F model=@FILE)"
        | section ->
            match section.GetContentDispositionHeader() with
            | null -> return! filePart reader
            | d when d.IsFileDisposition() -> return section, d.FileName.Value
            | _ -> return! filePart reader
    }

/// A name an upload may be reported under: the file name's plain characters, or "upload".
let private plainName (fileName: string) =
    let name =
        Path.GetFileName(if isNull fileName then "" else fileName.Trim('"'))
        |> String.filter (fun c -> Char.IsAsciiLetterOrDigit c || c = '.' || c = '_' || c = '-')
    if name = "" || name.Length > 100 then "upload" else name

/// The extension the readers take the file's format from, from its first bytes: a PyTorch zip checkpoint starts with a
/// zip entry, a legacy one with a pickle (protocol 2 to 5), a safetensors file with its header's length and the JSON
/// header's brace, an ONNX model (a protobuf ModelProto) with its first field, ir_version (tag 0x08, then a version
/// from 1 to 127 as a one-byte varint). Anything else is refused (415); so is an empty file (400).
let private formatOf (path: string) =
    let head = Array.zeroCreate<byte> 9
    let n =
        use f = File.OpenRead path
        f.ReadAtLeast(head.AsSpan(), head.Length, false)
    if n = 0 then
        fail 400 "the upload is empty"
    if n >= 4 && head[0] = byte 'P' && head[1] = byte 'K' && head[2] = 3uy && head[3] = 4uy then ".pt"
    elif n >= 2 && head[0] = 0x80uy && head[1] >= 2uy && head[1] <= 5uy then ".pt"
    elif n = 9 && head[8] = byte '{' && BitConverter.ToUInt64(head, 0) > 1UL then ".safetensors"
    elif n >= 2 && head[0] = 0x08uy && head[1] >= 1uy && head[1] <= 127uy then ".onnx"
    else fail 415 "unknown format: not a safetensors file, a PyTorch checkpoint (zip or legacy) or an ONNX model"

/// Receives the request's model into a new file under dir (at most limit bytes of model), named by its format.
let receive (context: HttpContext) (dir: string) (limit: int64) : Threading.Tasks.Task<Upload> =
    task {
        let request = context.Request
        let size = context.Features.Get<IHttpMaxRequestBodySizeFeature>()
        if not (isNull size) && not size.IsReadOnly then
            size.MaxRequestBodySize <- Nullable(limit + formOverhead)
        if request.ContentLength.HasValue && request.ContentLength.Value > limit + formOverhead then
            tooLarge limit
        let raw = Path.Combine(dir, "upload")
        let! name =
            task {
                try
                    match MediaTypeHeaderValue.TryParse(request.ContentType) with
                    | true, media when media.MediaType.Equals("multipart/form-data", StringComparison.OrdinalIgnoreCase) ->
                        let boundary = HeaderUtilities.RemoveQuotes(media.Boundary).Value
                        if String.IsNullOrEmpty boundary then
                            fail 400 "the multipart form has no boundary"
                        let! section, fileName = filePart (MultipartReader(boundary, request.Body))
                        do! copyLimited section.Body raw limit
                        return plainName fileName
                    | _ ->
                        do! copyLimited request.Body raw limit
                        return "upload"
                with
                | :? BadHttpRequestException as e when e.StatusCode = 413 -> return tooLarge limit
                | :? InvalidDataException as e -> return fail 400 $"the multipart form is malformed: {e.Message}"
                | :? IOException as e -> return fail 400 $"the upload was cut short: {e.Message}"
            }
        let path = raw + formatOf raw
        File.Move(raw, path)
        return { Path = path; Name = name }
    }
