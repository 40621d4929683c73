// Loads the Hybrid build into an F# script: `#load "scripts/load.fsx"` (after `./hybrid --version` has built it).
// Experiment scripts copy this line and then open Hybrid.Core.Gpu, Hybrid.Core.Nn.Io and Hybrid.Analysis.
#r "../Cli/bin/Release/net10.0/Hybrid.Core.Gpu.dll"
#r "../Cli/bin/Release/net10.0/Hybrid.Core.Nn.dll"
#r "../Cli/bin/Release/net10.0/Hybrid.Analysis.dll"
#r "../Cli/bin/Release/net10.0/ILGPU.dll"
