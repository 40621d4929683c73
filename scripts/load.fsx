// Loads the Hybrid build into an F# script: `#load "scripts/load.fsx"` (after `./hybrid --version` has built it).
// Experiment scripts copy this line and then open Hybrid.Core.Gpu, Hybrid.Core.Nn.Formats.Safetensors and Hybrid.Analysis.
#r "../Cli/bin/Release/net10.0/Hybrid.Core.Gpu.dll"
#r "../Cli/bin/Release/net10.0/Hybrid.Core.Nn.dll"
#r "../Cli/bin/Release/net10.0/Hybrid.Analysis.dll"
#r "../Cli/bin/Release/net10.0/ILGPU.dll"
#r "../Cli/bin/Release/net10.0/System.Numerics.Tensors.dll"
#r "../Cli/bin/Release/net10.0/Google.Protobuf.dll"
#r "../Cli/bin/Release/net10.0/Microsoft.Data.Sqlite.dll"
#r "../Cli/bin/Release/net10.0/Plotly.NET.dll"
#r "../Cli/bin/Release/net10.0/SQLitePCLRaw.core.dll"
#r "../Cli/bin/Release/net10.0/SQLitePCLRaw.provider.e_sqlite3.dll"

// F# Interactive does not probe the build's runtimes/ folder for native libraries: point SQLite's provider at it.
System.Runtime.InteropServices.NativeLibrary.SetDllImportResolver(
    typeof<SQLitePCL.SQLite3Provider_e_sqlite3>.Assembly,
    fun name _ _ ->
        if name = "e_sqlite3" then
            System.Runtime.InteropServices.NativeLibrary.Load(
                System.IO.Path.Combine(
                    __SOURCE_DIRECTORY__,
                    "../Cli/bin/Release/net10.0/runtimes/linux-x64/native/libe_sqlite3.so"
                )
            )
        else
            System.IntPtr.Zero
)

/// The script's command-line arguments, at least `required` of them: with fewer, `usage` on standard error and exit
/// code 2.
let scriptArgs (required: int) (usage: string) =
    let args = fsi.CommandLineArgs |> Array.skip 1
    if args.Length < required then
        eprintfn "usage: %s" usage
        exit 2
    args

/// Argument i read by parse, or fallback when the script was given fewer.
let argOr (args: string[]) (i: int) (parse: string -> 'a) (fallback: 'a) =
    if args.Length > i then parse args[i] else fallback

/// Runs f, returning its result with the process CPU seconds and wall seconds it took (profiling scripts: on a shared,
/// loaded machine CPU time moves far less than wall time).
let timed (f: unit -> 'a) =
    let proc = System.Diagnostics.Process.GetCurrentProcess()
    proc.Refresh()
    let cpu0, wall = proc.TotalProcessorTime, System.Diagnostics.Stopwatch.StartNew()
    let result = f ()
    proc.Refresh()
    result, (proc.TotalProcessorTime - cpu0).TotalSeconds, wall.Elapsed.TotalSeconds
