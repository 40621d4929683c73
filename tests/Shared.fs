/// What every test file may use without opening it (the module is opened for all of namespace Hybrid.Tests): paths to
/// the reference material, numeric comparison with stated tolerances, and the product types most tests name.
[<AutoOpen>]
module Hybrid.Tests.Shared

open System
open System.IO
open System.Text.Json
open Expecto

type Device = Hybrid.Core.Gpu.Device
type InputException = Hybrid.Core.Nn.InputException
type SafetensorsFile = Hybrid.Core.Nn.Formats.Safetensors.SafetensorsFile
type Tensor = Hybrid.Core.Nn.Tensor
type ScalarType = Hybrid.Core.Nn.ScalarType
type SafetensorsWriter = Hybrid.Core.Nn.Formats.Safetensors.SafetensorsWriter

/// The repository root: the nearest folder above the test program that holds Hybrid.sln.
let repoRoot =
    let rec up (dir: DirectoryInfo) =
        if isNull dir then failwith "tests: cannot find Hybrid.sln above the test program"
        elif File.Exists(Path.Combine(dir.FullName, "Hybrid.sln")) then dir.FullName
        else up dir.Parent
    up (DirectoryInfo AppContext.BaseDirectory)

/// `../shared` beside the repository (reference files for tests; never part of the product).
let sharedDir =
    let dir = Path.GetFullPath(Path.Combine(repoRoot, "..", "shared"))
    if not (Directory.Exists dir) then
        failwithf "tests: the reference folder %s is missing (it must sit beside the repository as ../shared)" dir
    dir

let sharedPath (relative: string) = Path.Combine(sharedDir, relative)

/// A reference file under ../shared that must exist (the test fails, naming it, when it does not).
let sharedFile (relative: string) =
    let path = sharedPath relative
    if not (File.Exists path) then
        failtestf "reference file %s is missing" path
    path

/// Runs a program with arguments and extra environment variables in a folder and returns its exit code, stdout and
/// stderr; a run longer than `seconds` is killed and fails the test, so a hang never stalls the suite.
let runProcessWith
    (environment: (string * string) list)
    (program: string)
    (dir: string)
    (seconds: int)
    (args: string list)
    =
    let info =
        Diagnostics.ProcessStartInfo(
            program,
            WorkingDirectory = dir,
            RedirectStandardOutput = true,
            RedirectStandardError = true
        )
    for a in args do
        info.ArgumentList.Add a
    info.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] <- "1"
    info.Environment["DOTNET_NOLOGO"] <- "1"
    for name, value in environment do
        info.Environment[name] <- value
    use p = Diagnostics.Process.Start info
    let out = p.StandardOutput.ReadToEndAsync()
    let err = p.StandardError.ReadToEndAsync()
    if not (p.WaitForExit(seconds * 1000)) then
        p.Kill true
        failtestf "%s %s did not finish within %d s" program (String.concat " " args) seconds
    p.ExitCode, out.Result, err.Result

/// `runProcessWith` with the inherited environment only.
let runProcess program dir seconds args = runProcessWith [] program dir seconds args

/// A safetensors tensor as a Core.Nn tensor of the given shape: int64 stays int64, every other dtype becomes float32.
let tensorFrom (file: SafetensorsFile) (name: string) (shape: int[]) =
    if file.Entry(name).DType = Hybrid.Core.Nn.Formats.DType.I64 then
        Tensor.From(file.ReadInt64 name, shape)
    else
        Tensor.From(file.ReadFloat32 name, shape)

/// A JSON document from text (a command's --json output).
let parseJson (text: string) = JsonDocument.Parse text

/// A JSON document from a file.
let readJson (path: string) = JsonDocument.Parse(File.ReadAllText path)

/// Runs f in a fresh temporary folder that is deleted afterwards.
let withTempDir f =
    let dir = Directory.CreateTempSubdirectory("hybrid-tests-").FullName
    try
        f dir
    finally
        Directory.Delete(dir, true)

/// A test that runs in a fresh temporary folder (deleted afterwards).
let testInTempDir (name: string) (body: string -> unit) = testCase name (fun () -> withTempDir body)

/// A test given the path of one file, not yet written, in a fresh temporary folder (deleted afterwards).
let testWithTempFile (name: string) (file: string) (body: string -> unit) =
    testInTempDir name (fun dir -> body (Path.Combine(dir, file)))

/// Fails the test naming element i of what, its value, the expected one and the tolerance it broke.
let failElement (what: string) (i: int) (actual: float) (expected: float) (tolerance: string) =
    failtestf "%s: element %d is %.17g, expected %.17g (tolerance %s)" what i actual expected tolerance

/// Element-wise |actual - expected| <= absTol + relTol * |expected| in double precision; the message names the worst
/// element.
let closeTo64 (absTol: float) (relTol: float) (what: string) (expected: float[]) (actual: float[]) =
    Expect.equal actual.Length expected.Length (sprintf "%s: length" what)
    let mutable worst = -1
    let mutable worstExcess = 0.0
    for i in 0 .. expected.Length - 1 do
        let e, a = expected.[i], actual.[i]
        let excess = abs (a - e) - (absTol + relTol * abs e)
        if Double.IsNaN a <> Double.IsNaN e || excess > worstExcess then
            worst <- i
            worstExcess <- if Double.IsNaN excess then infinity else excess
    if worst >= 0 then
        failElement what worst actual.[worst] expected.[worst] $"{absTol} abs + {relTol} rel"

/// closeTo64 on float32 values (compared in double precision).
let closeTo (absTol: float) (relTol: float) (what: string) (expected: float32[]) (actual: float32[]) =
    closeTo64 absTol relTol what (Array.map float expected) (Array.map float actual)

/// The action must throw ArgumentException (or a subclass) whose message contains `fragment`.
let rejects (fragment: string) (action: unit -> 'a) =
    try
        action () |> ignore
        failtestf "expected ArgumentException mentioning '%s'" fragment
    with :? ArgumentException as e ->
        Expect.stringContains e.Message fragment "the message names the problem"

/// The exception of type 'E that action throws; the test fails when it throws nothing or another type.
let throwsOf<'E when 'E :> exn> (action: unit -> unit) : 'E =
    try
        action ()
        failtestf "expected %s, but nothing was thrown" typeof<'E>.Name
    with :? 'E as e ->
        e

/// The action must throw InputException whose message names both the file and the problem.
let refusesFile (fragment: string) (path: string) (action: unit -> unit) =
    let e = throwsOf<InputException> action
    Expect.stringContains e.Message path "the message names the file"
    Expect.stringContains e.Message fragment "the message names the problem"

/// Seeded standard-normal float32 values.
let randomNormal (rng: Random) (n: int) = Hybrid.Core.Gpu.BoxMuller.Singles(rng, n)
