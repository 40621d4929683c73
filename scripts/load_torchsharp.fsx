// Loads the Hybrid build with its TorchSharp adapter into an F# script: `#load "scripts/load_torchsharp.fsx"` (after
// `./hybrid --version` has built it). Scripts then open TorchSharp and Hybrid.TorchInterop as well.
#load "load.fsx"
#r "../Cli/bin/Release/net10.0/TorchSharp.dll"
#r "../Cli/bin/Release/net10.0/Hybrid.TorchInterop.dll"

// F# Interactive does not probe the build's runtimes/ folder, and TorchSharp's own fallback would copy the NuGet cache's
// libtorch (and its unfixed shim, see TorchInterop/build) beside the build: load the build's copies first, as
// TorchSharp's loader asks of scripts, and resolve its DllImports to them.
let private torchNatives =
    System.IO.Path.Combine(__SOURCE_DIRECTORY__, "../Cli/bin/Release/net10.0/runtimes/linux-x64/native")

for library in [ "libtorch_cpu.so"; "libLibTorchSharp.so" ] do
    System.Runtime.InteropServices.NativeLibrary.Load(System.IO.Path.Combine(torchNatives, library)) |> ignore

System.Runtime.InteropServices.NativeLibrary.SetDllImportResolver(
    typeof<TorchSharp.torch>.Assembly,
    fun name _ _ ->
        let file = System.IO.Path.Combine(torchNatives, (if name.StartsWith "lib" then name else "lib" + name) + ".so")
        if System.IO.File.Exists file then
            System.Runtime.InteropServices.NativeLibrary.Load file
        else
            System.IntPtr.Zero
)
