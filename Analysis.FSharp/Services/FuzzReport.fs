/// `bench fuzz`: how the file readers fared against mutated real files, as a result record.
module Hybrid.Analysis.FuzzReport

/// One format's run.
type FuzzCase =
    {
        Format: string
        /// The real file the mutations start from.
        SeedFile: string
        Inputs: int
        Loaded: int
        CleanErrors: int
        Defects: int
        Hangs: int
        Seconds: float
        /// Where the inputs behind defects and hangs were written.
        Kept: string option
        FirstDefect: string option
    }

type FuzzResult = { Benchmark: string; MutationSeed: int; Cases: FuzzCase list }
