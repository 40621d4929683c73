/// The Cpu search's integer first pass (SearchPrefilter): its bounds hold the float32 score of every pair, and the search
/// through it returns the very rows and scores of the full float32 scan, on data chosen to be hard for it.
module Hybrid.Tests.SearchPrefilterTests

#nowarn "9" // native pointers into the search storage

open System
open Microsoft.FSharp.NativeInterop
open Expecto
open Hybrid.Core.Gpu
open Hybrid.Core.Gpu.Cpu

/// The integer pass runs only where AVX-512BW exists; elsewhere these tests say so rather than pass on the full scan.
let private requirePrefilter dim =
    if not (SearchPrefilter.Applies dim) then
        skiptest "no AVX-512BW here: the Cpu search runs the full float32 scan"

let private normal (rng: Random) = sqrt (-2.0 * log (1.0 - rng.NextDouble())) * cos (2.0 * Math.PI * rng.NextDouble())

/// Row generators, each hard in its own way: value r * dim + j of a rows x dim matrix.
let private uniform (rng: Random) rows dim = Array.init (rows * dim) (fun _ -> float32 (rng.NextDouble() - 0.5))

/// Every row a copy of one row plus noise of 1e-6 of its size, a tenth of them exact duplicates: the scores of a query
/// all lie within a few ulps of each other, so the bounds prune nothing and ties decide the order.
let private nearEqual (rng: Random) rows dim =
    let baseRow = Array.init dim (fun _ -> normal rng)
    Array.init (rows * dim) (fun e ->
        let r = e / dim
        let noise = if r % 10 = 0 then 0.0 else 1e-6 * normal rng
        float32 (baseRow[e % dim] + noise))

/// Rows of normal values at scales from 1e-12 to 1e12, with zero rows, rows of subnormal values and rows whose one
/// spike dwarfs the rest (so their quantisation keeps little of them).
let private mixedScales (rng: Random) rows dim =
    let data = Array.zeroCreate (rows * dim)
    for r in 0 .. rows - 1 do
        let kind = rng.Next 20
        let scale =
            if kind = 0 then 0.0
            elif kind = 1 then 1e-42
            else 10.0 ** (rng.NextDouble() * 24.0 - 12.0)
        for j in 0 .. dim - 1 do
            data[r * dim + j] <- float32 (scale * normal rng)
        if kind = 2 then
            data[r * dim + rng.Next dim] <- float32 (scale * 1e4)
    data

/// Values on a grid of quarters, half the rows repeated: exact ties between distinct rows.
let private gridTies (rng: Random) rows dim =
    let data = Array.init (rows * dim) (fun _ -> float32 (rng.Next(-4, 5)) / 4.0f)
    let half = rows / 2
    for r in half .. rows - 1 do
        Array.blit data ((r - half) * dim) data (r * dim) dim
    data

let private searchWith
    (kernels: ISearchKernels)
    (data: float32[])
    rows
    dim
    (groups: int[])
    shardRows
    (queries: float32[])
    count
    k
    (exclude: int[])
    =
    use index = EncodingIndex.Build(Device.Cpu, ReadOnlySpan data, rows, dim, ReadOnlySpan groups, shardRows, kernels)
    index.Search(ReadOnlySpan queries, count, k, ReadOnlySpan exclude)

/// The prefiltered search against the full float32 scan on the same index layout, hit for hit, bit for bit.
let private identical name generate seed rows dim shardRows queryCounts ks =
    testCase name (fun () ->
        requirePrefilter dim
        let rng = Random(seed: int)
        let data: float32[] = generate rng rows dim
        let groups = Array.init rows (fun r -> if r % 7 = 3 then EncodingIndex.NoGroup else r / 13)
        for count in queryCounts do
            // Half the queries are stored rows (their own group excluded), half fresh rows of the same kind.
            let fresh: float32[] = generate rng count dim
            let sources = Array.init count (fun i -> if i % 2 = 0 then rng.Next rows else -1)
            let queries =
                Array.init (count * dim) (fun e ->
                    let q = e / dim
                    if sources[q] >= 0 then data[sources[q] * dim + e % dim] else fresh[e])
            let exclude = sources |> Array.map (fun s -> if s >= 0 then groups[s] else EncodingIndex.NoGroup)
            for k in ks do
                let expected = searchWith SearchScan.FullScan data rows dim groups shardRows queries count k exclude
                let actual = searchWith null data rows dim groups shardRows queries count k exclude
                for q in 0 .. count - 1 do
                    Expect.sequenceEqual actual[q] expected[q] $"{count} queries, k {k}: hits of query {q}")

let private identityTests =
    testList
        "= the full float32 scan"
        [ identical
              "uniform rows (the benchmark's kind), streamed and tiled"
              uniform
              31
              1503
              700
              1503
              [ 1; 3; 5; 37 ]
              [ 1; 10 ]
          identical "near-equal scores and duplicates" nearEqual 32 611 300 200 [ 1; 6 ] [ 1; 10; 50 ]
          identical
              "scales from 1e-12 to 1e12, zero, subnormal and spiky rows"
              mixedScales
              33
              900
              129
              250
              [ 2; 9 ]
              [ 3; 40 ]
          identical "exact ties on a grid, many shards" gridTies 34 1000 65 97 [ 1; 4; 13 ] [ 7; 100 ]
          identical "k above the rows left after exclusion" uniform 35 30 64 11 [ 1; 5 ] [ 29; 35 ]
          identical "dimension 1" mixedScales 36 200 1 200 [ 1; 8 ] [ 5 ]
          identical "a query tile of 128 and a short one" uniform 37 400 63 400 [ 131 ] [ 2 ]
          testCase "zero queries and all rows excluded" (fun () ->
              requirePrefilter 17
              let data = uniform (Random 38) 50 17
              let groups = Array.create 50 4
              let queries = Array.append (Array.zeroCreate 17) (Array.sub data 0 17)
              for exclude in [ [| EncodingIndex.NoGroup; EncodingIndex.NoGroup |]; [| 4; 4 |] ] do
                  let expected = searchWith SearchScan.FullScan data 50 17 groups 50 queries 2 6 exclude
                  let actual = searchWith null data 50 17 groups 50 queries 2 6 exclude
                  Expect.sequenceEqual actual expected $"exclusions {exclude}") ]

/// Every (query, row) pair: lower <= the float32 score of the full scan <= upper, and on the benchmark's kind of data the
/// interval is narrow (what makes the pass worth running).
let private boundTests =
    let check name generate seed rows dim (maxWidth: float option) =
        testCase name (fun () ->
            requirePrefilter dim
            let rng = Random(seed: int)
            let count = 6
            use stored =
                SearchScan.Instance.Store(Device.Cpu, ReadOnlySpan(generate rng rows dim: float32[]), dim)
                :?> SearchStorage
            use held =
                SearchScan.FullScan.Store(Device.Cpu, ReadOnlySpan(generate rng count dim: float32[]), dim)
                :?> SearchStorage
            let tile =
                SearchScan.TileQueries(
                    NativePtr.toNativeInt held.Pointer,
                    count,
                    held.Stride,
                    Array.create count -1,
                    0
                )
            use queries = new QuantisedQueries(&tile, 8, dim, QuantisedRows.StrideOf dim)
            let rows = stored.Quantised
            let mutable widest = 0.0
            for i in 0 .. count - 1 do
                let query = NativePtr.add held.Pointer (i * held.Stride)
                for r in 0 .. rows.Rows - 1 do
                    let raw =
                        SearchDotInt8.One(queries.Row i, NativePtr.add rows.Pointer (r * rows.Stride), rows.Stride)
                    let struct (lower, upper) = queries.Bounds(i, raw, rows, r)
                    let score = SearchDot.One(query, NativePtr.add stored.Pointer (r * stored.Stride), stored.Stride)
                    if not (lower <= score && score <= upper) then
                        failtest $"query {i}, row {r}: score {score:R} outside [{lower:R}, {upper:R}]"
                    let scale =
                        sqrt (Seq.sum (seq { for j in 0 .. dim - 1 -> float (NativePtr.get query j) ** 2.0 }))
                        * rows.Norms[r]
                    if scale > 0.0 then
                        widest <- max widest (float (upper - lower) / scale)
            match maxWidth with
            | Some limit -> Expect.isLessThan widest limit "widest interval over |q| |e|"
            | None -> ())
    testList
        "integer bounds hold the float32 score"
        [ check "uniform rows" uniform 41 400 5050 (Some 0.03)
          check "near-equal rows" nearEqual 42 300 333 None
          check "mixed scales, zero, subnormal and spiky rows" mixedScales 43 600 77 None
          check "grid rows" gridTies 44 300 130 None ]

[<Tests>]
let tests = testList "search prefilter" [ boundTests; identityTests ]
