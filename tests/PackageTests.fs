/// The libraries as packages: Core.Gpu, Core.Nn and Analysis.FSharp pack with real metadata, and a console program
/// outside the solution builds and runs against the packages (not the projects), calling a masked conv2d and a CKA score.
module Hybrid.Tests.PackageTests

open System
open System.IO
open System.IO.Compression
open System.Xml.Linq
open Expecto

/// The packed libraries: project file, package id.
let private libraries =
    [ "Core.Gpu/Core.Gpu.csproj", "Hybrid.Core.Gpu"
      "Core.Nn/Core.Nn.csproj", "Hybrid.Core.Nn"
      "Analysis.FSharp/Analysis.FSharp.fsproj", "Hybrid.Analysis" ]

/// The configuration the tests were built in (the libraries beside them are packed from that build, not rebuilt).
let private configuration = DirectoryInfo(Path.TrimEndingDirectorySeparator AppContext.BaseDirectory).Parent.Name

/// The version the libraries carry (Directory.Build.props), as a package version.
let private version =
    let v = typeof<Hybrid.Core.Gpu.Device>.Assembly.GetName().Version
    $"{v.Major}.{v.Minor}.{v.Build}"

/// Runs dotnet with arguments in a folder: its stdout; the test fails with the output when it exits non-zero.
let private dotnet (dir: string) (args: string list) =
    let code, out, err = runProcess "dotnet" dir 300 args
    if code <> 0 then
        failtestf "dotnet %s exited with %d:\n%s\n%s" (String.concat " " args) code out err
    out

/// The metadata element `name` of a package's nuspec.
let private nuspec (package: string) =
    use zip = ZipFile.OpenRead package
    let entry = zip.Entries |> Seq.find (fun e -> e.FullName.EndsWith ".nuspec")
    use stream = entry.Open()
    let doc = XDocument.Load stream
    let metadata = doc.Root.Elements() |> Seq.find (fun e -> e.Name.LocalName = "metadata")
    let entries = zip.Entries |> Seq.map _.FullName |> Set.ofSeq
    (fun (name: string) -> metadata.Elements() |> Seq.tryFind (fun e -> e.Name.LocalName = name)), entries

/// NuGet's global packages folder: a local source for the third-party dependencies, so the consumer's restore needs
/// the registry only for what this machine has never restored.
let private globalPackages =
    match Environment.GetEnvironmentVariable "NUGET_PACKAGES" with
    | null
    | "" -> Path.Combine(Environment.GetFolderPath Environment.SpecialFolder.UserProfile, ".nuget", "packages")
    | path -> path

let private nugetConfig (feed: string) =
    $"""<?xml version="1.0" encoding="utf-8"?>
<configuration>
  <packageSources>
    <clear />
    <add key="hybrid" value="{feed}" />
    <add key="cache" value="{globalPackages}" />
    <add key="nuget.org" value="https://api.nuget.org/v3/index.json" />
  </packageSources>
  <packageSourceMapping>
    <packageSource key="hybrid"><package pattern="Hybrid.*" /></packageSource>
    <packageSource key="cache"><package pattern="*" /></packageSource>
    <packageSource key="nuget.org"><package pattern="*" /></packageSource>
  </packageSourceMapping>
</configuration>"""

/// "name value" lines of the consumer's output, as a map.
let private figures (output: string) =
    output.Split('\n', StringSplitOptions.RemoveEmptyEntries ||| StringSplitOptions.TrimEntries)
    |> Array.map (fun line -> let parts = line.Split ' ' in parts[0], parts[1])
    |> Map.ofArray

[<Tests>]
let tests =
    testList
        "packages"
        [ testInTempDir
              "the libraries pack with metadata, and a program builds and runs against the packages alone"
              (fun dir ->
                  let feed = Path.Combine(dir, "feed")
                  for project, _ in libraries do
                      dotnet
                          repoRoot
                          [ "pack"
                            Path.Combine(repoRoot, project)
                            "-c"
                            configuration
                            "--no-build"
                            "-o"
                            feed
                            "-nologo" ]
                      |> ignore
                  for _, id in libraries do
                      let package = Path.Combine(feed, $"{id}.{version}.nupkg")
                      Expect.isTrue (File.Exists package) $"{id}: package written"
                      let field, entries = nuspec package
                      let text name = field name |> Option.map _.Value |> Option.defaultValue ""
                      Expect.isGreaterThan (text "description").Length 80 $"{id}: a real description"
                      Expect.notEqual (text "description") "Package Description" $"{id}: not the SDK's placeholder"
                      Expect.equal (text "license") "MIT" $"{id}: licence expression"
                      Expect.equal (text "readme") "README.md" $"{id}: readme named"
                      Expect.isTrue (entries.Contains "README.md") $"{id}: readme packed"
                      Expect.isGreaterThan ((text "tags").Split(' ').Length) 3 $"{id}: tags"
                      Expect.stringContains (text "authors") "Hybrid" $"{id}: authors"
                      Expect.isTrue
                          (entries |> Set.exists (fun e -> e.StartsWith "lib/net10.0/" && e.EndsWith ".xml"))
                          $"{id}: API docs packed"
                      let dependencies = (field "dependencies").Value.ToString()
                      Expect.isFalse
                          (dependencies.Contains "Grpc.Tools")
                          $"{id}: the build-time protobuf compiler is no dependency"
                  // Symbols are embedded in each assembly (Directory.Build.props says why).
                  let assembly =
                      Path.Combine(repoRoot, "Core.Gpu", "bin", configuration, "net10.0", "Hybrid.Core.Gpu.dll")
                  use pe = new Reflection.PortableExecutable.PEReader(File.OpenRead assembly)
                  Expect.isTrue
                      (pe.ReadDebugDirectory()
                       |> Seq.exists (fun d ->
                           d.Type = Reflection.PortableExecutable.DebugDirectoryEntryType.EmbeddedPortablePdb))
                      "Hybrid.Core.Gpu.dll embeds its PDB"

                  let consumer = Path.Combine(dir, "consumer")
                  Directory.CreateDirectory consumer |> ignore
                  for file in Directory.GetFiles(Path.Combine(repoRoot, "tests", "PackageConsumer")) do
                      File.Copy(file, Path.Combine(consumer, Path.GetFileName file))
                  File.WriteAllText(Path.Combine(consumer, "nuget.config"), nugetConfig feed)
                  // A private packages folder: Hybrid's packages from this run, never a stale copy of the same version.
                  let packages = Path.Combine(dir, "packages")
                  dotnet
                      consumer
                      [ "build"; "-c"; "Release"; $"-p:HybridVersion={version}"; "--packages"; packages; "-nologo" ]
                  |> ignore
                  Expect.isTrue
                      (Directory.Exists(Path.Combine(packages, "hybrid.analysis", version)))
                      "Hybrid.Analysis came from the feed"
                  Expect.isTrue
                      (Directory.Exists(Path.Combine(packages, "hybrid.core.gpu", version)))
                      "Hybrid.Core.Gpu came in as a dependency"
                  Expect.isFalse
                      (File.Exists(Path.Combine(consumer, "bin", "Release", "net10.0", "Hybrid.Core.Gpu.pdb")))
                      "no loose symbols"
                  let f =
                      figures (dotnet consumer [ Path.Combine("bin", "Release", "net10.0", "PackageConsumer.dll") ])
                  let number name = Double.Parse(f[name], Globalization.CultureInfo.InvariantCulture)
                  Expect.equal f["conv_outputs"] "648" "2 x 4 x 9 x 9 outputs"
                  // Masked conv2d, Cpu against Reference: |diff| <= 1e-5 abs + 1e-5 x the largest |output| (float32 sums of 27 terms).
                  let tolerance = 1e-5 + 1e-5 * number "conv_max_magnitude"
                  Expect.isLessThanOrEqual
                      (number "conv_max_difference")
                      tolerance
                      "masked conv2d: Cpu agrees with Reference"
                  Expect.isGreaterThan (number "conv_max_magnitude") 0.1 "the output is not all zero"
                  // CKA: of a layer with itself exactly 1 (1e-12 abs); Cpu and Reference within 1e-9 abs + 1e-9 rel.
                  Expect.floatClose { absolute = 1e-12; relative = 0.0 } (number "cka_self") 1.0 "cka(x, x) = 1"
                  Expect.floatClose
                      { absolute = 1e-9; relative = 1e-9 }
                      (number "cka_cpu")
                      (number "cka_reference")
                      "cka: Cpu = Reference"
                  Expect.isTrue
                      (number "cka_cpu" > 0.3 && number "cka_cpu" < 0.999)
                      "a related but different layer scores between 0.3 and 0.999") ]
