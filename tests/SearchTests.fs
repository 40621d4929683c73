/// Exact top-k inner-product search (EncodingIndex) on every backend against the Reference backend and against a brute
/// force written here, plus the argument checks.
module Hybrid.Tests.SearchTests

open System
open Expecto
open FsCheck
open FsCheck.FSharp
open Hybrid.Core.Gpu

/// Rows of standard-normal values scaled to unit length, like CKA encodings.
let private unitRows (rng: Random) (rows: int) (dim: int) =
    let data = randomNormal rng (rows * dim)
    for r in 0 .. rows - 1 do
        let norm = sqrt (Seq.sum (seq { for j in 0 .. dim - 1 -> float data.[r * dim + j] ** 2.0 }))
        for j in 0 .. dim - 1 do
            data.[r * dim + j] <- float32 (float data.[r * dim + j] / norm)
    data

/// Values in {-1, -3/4, ..., 1}: every product is a multiple of 1/16 and every partial sum of a few hundred of them is
/// exact in float32 whatever the order of addition, so all backends compute the very same scores and ties are real ties.
let private gridRows (rng: Random) (rows: int) (dim: int) =
    Array.init (rows * dim) (fun _ -> float32 (rng.Next(-4, 5)) / 4.0f)

/// The second half of the rows repeats the first half in a shuffled order: many exact ties between distinct rows.
let private withDuplicates (rng: Random) (rows: int) (dim: int) (data: float32[]) =
    let half = max 1 (rows / 2)
    let order = Array.init half id |> Array.sortBy (fun _ -> rng.Next())
    for i in 0 .. rows - half - 1 do
        Array.blit data (order.[i % half] * dim) data ((half + i) * dim) dim
    data

let private duplicatedGrid (rng: Random) (rows: int) (dim: int) = gridRows rng rows dim |> withDuplicates rng rows dim

let private build (device: Device) (data: float32[]) (rows: int) (dim: int) (groups: int[]) (shardRows: int) =
    EncodingIndex.Build(device, ReadOnlySpan data, rows, dim, ReadOnlySpan groups, shardRows)

let private search (index: EncodingIndex) (queries: float32[]) (count: int) (k: int) (exclude: int[]) =
    index.Search(ReadOnlySpan queries, count, k, ReadOnlySpan exclude)

/// Rows must be identical; scores within 1e-5 abs + 1e-5 rel. For unit vectors of at most a few dozen elements a float32
/// dot product is within about 1e-6 of the float64 one, whatever the summation order.
let private sameHits (absTol: float) (relTol: float) (what: string) (expected: SearchHit[][]) (actual: SearchHit[][]) =
    Expect.equal actual.Length expected.Length (sprintf "%s: queries" what)
    for q in 0 .. expected.Length - 1 do
        let rows (hits: SearchHit[]) = hits |> Array.map (fun h -> h.Row)
        let scores (hits: SearchHit[]) = hits |> Array.map (fun h -> h.Score)
        Expect.sequenceEqual (rows actual.[q]) (rows expected.[q]) (sprintf "%s: rows of query %d" what q)
        closeTo absTol relTol (sprintf "%s: scores of query %d" what q) (scores expected.[q]) (scores actual.[q])

/// One search case: stored rows (with groups and a shard size), queries with their exclusions, k.
type private Case =
    { Rows: int
      Dim: int
      Data: float32[]
      Groups: int[]
      ShardRows: int
      Queries: float32[]
      QueryCount: int
      Exclude: int[]
      K: int }

let private run (device: Device) (c: Case) =
    use index = build device c.Data c.Rows c.Dim c.Groups c.ShardRows
    search index c.Queries c.QueryCount c.K c.Exclude

/// Queries drawn from the stored rows (a layer looking for its peers in other models, its own model excluded) and fresh
/// ones from the same generator, without exclusion.
let private caseOf
    (generate: Random -> int -> int -> float32[])
    (rng: Random)
    rows
    dim
    (groupSize: int)
    shardRows
    queryCount
    k
    =
    let data = generate rng rows dim
    let groups = Array.init rows (fun r -> r / groupSize)
    let sources = Array.init queryCount (fun i -> if i % 2 = 0 then rng.Next rows else -1)
    let fresh = generate rng queryCount dim
    let queries =
        Array.init (queryCount * dim) (fun e ->
            let q, j = e / dim, e % dim
            if sources.[q] >= 0 then data.[sources.[q] * dim + j] else fresh.[e])
    let exclude = sources |> Array.map (fun s -> if s >= 0 then groups.[s] else EncodingIndex.NoGroup)
    { Rows = rows
      Dim = dim
      Data = data
      Groups = groups
      ShardRows = shardRows
      Queries = queries
      QueryCount = queryCount
      Exclude = exclude
      K = k }

/// Shapes per backend: rows not a multiple of the Cpu block (512) nor of the GEMM tile (64), several shards, and on the
/// slow ILGPU simulator a few hundred rows at most.
let private agreementTests =
    // Each case: its seed, the data (unit rows, compared within 1e-5 abs + 1e-5 rel; grid rows, exactly), (rows, dim,
    // shard rows) on the slow ILGPU simulator and elsewhere, the group size, the number of queries and k.
    let unit, grid = (unitRows, (1e-5, 1e-5)), (duplicatedGrid, (0.0, 0.0))
    let compareWith adjust name seed (generate, (absTol, relTol)) slow fast groupSize queryCount k =
        perBackend all name (fun b device ->
            let rows, dim, shardRows = if b.Slow then slow else fast
            let c: Case = adjust (caseOf generate (Random seed) rows dim groupSize shardRows queryCount k)
            sameHits absTol relTol name (run Device.Reference c) (run device c))
    let compare = compareWith id
    let withExclusions (c: Case) = { c with Exclude = [| 0; 1; EncodingIndex.NoGroup; 0 |] }
    testList
        "agrees with reference"
        [ compare "unit rows, batched, own group excluded" 11 unit (300, 13, 70) (1300, 37, 700) 10 12 7
          compare "duplicate rows on a grid (exact ties), shards of 7 rows" 12 grid (150, 9, 7) (1100, 24, 300) 6 5 9
          compare "k = 1, a single query" 13 unit (200, 11, 200) (777, 50, 777) 4 1 1
          compare
              "many rows per shard, k = 2 (several select lists and merge rounds)"
              14
              unit
              (1100, 5, 1100)
              (3000, 16, 3000)
              25
              3
              2
          compare "more queries than one query tile (256)" 15 unit (70, 6, 70) (900, 20, 900) 9 300 3
          compareWith withExclusions "k above the rows left after exclusion" 16 grid (40, 8, 15) (40, 8, 15) 20 4 30
          // The Cpu scan streams up to 4 queries and tiles more (4 x 6 register tiles, blocks of 48 rows, slices of 512
          // floats): the largest streamed batch, the smallest tiled one, a dimension of several slices with a partial
          // last vector, and a query tile of 128 plus a short one.
          compare "4 queries (the largest streamed batch)" 19 unit (60, 7, 60) (1001, 33, 1001) 7 4 5
          compare "5 queries (the smallest tiled batch)" 20 grid (60, 7, 60) (1001, 33, 1001) 7 5 5
          compare "dimension of several 512-float slices" 21 unit (30, 40, 30) (303, 1100, 150) 11 9 4
          compare "more queries than one Cpu query tile (128)" 22 unit (50, 6, 50) (500, 20, 500) 13 131 2 ]

/// Hits a brute force written here: score every row in float64 (exact on grid data), drop the excluded group, sort by
/// descending score then row, keep k.
let private bruteForce (c: Case) =
    Array.init c.QueryCount (fun q ->
        [| for r in 0 .. c.Rows - 1 do
               if c.Exclude.[q] = EncodingIndex.NoGroup || c.Groups.[r] <> c.Exclude.[q] then
                   let dot =
                       Seq.sum (
                           seq {
                               for j in 0 .. c.Dim - 1 ->
                                   float c.Queries.[q * c.Dim + j] * float c.Data.[r * c.Dim + j]
                           }
                       )
                   yield SearchHit(r, float32 dot) |]
        |> Array.sortBy (fun h -> -h.Score, h.Row)
        |> Array.truncate c.K)

let private caseGen =
    gen {
        let! rows = Gen.choose (1, 70)
        let! dim = Gen.choose (1, 9)
        let! groupCount = Gen.choose (1, 4)
        let! shardRows = Gen.choose (1, 80)
        let! queryCount = Gen.choose (1, 4)
        let! k = Gen.choose (1, 80)
        let! seed = Gen.choose (0, Int32.MaxValue)
        let rng = Random seed
        let data = duplicatedGrid rng rows dim
        return
            { Rows = rows
              Dim = dim
              Data = data
              ShardRows = shardRows
              Groups = Array.init rows (fun _ -> rng.Next(-1, groupCount))
              Queries = gridRows rng queryCount dim
              QueryCount = queryCount
              Exclude = Array.init queryCount (fun _ -> rng.Next(-1, groupCount))
              K = k }
    }

let private propertyTests =
    perBackend all "top-k = the first k of a full sort (grid data, exact)" (fun b device ->
        let config = Config.QuickThrowOnFailure.WithMaxTest(if b.Slow then 12 else 100).WithQuietOnSuccess(true)
        Check.One(
            config,
            Prop.forAll (Arb.fromGen caseGen) (fun c -> sameHits 0.0 0.0 "brute force" (bruteForce c) (run device c))
        ))

let private edgeTests =
    perBackend all "edges" (fun _ device ->
        let data = unitRows (Random 17) 6 4
        use empty = EncodingIndex.Build(device, ReadOnlySpan<float32>.Empty, 0, 4)
        Expect.sequenceEqual
            (empty.Search(ReadOnlySpan(data, 0, 8), 2, 3) |> Array.map Array.length)
            [ 0; 0 ]
            "an empty index has no hits"
        use index = EncodingIndex.Build(device, ReadOnlySpan data, 6, 4)
        Expect.equal (index.Search(ReadOnlySpan<float32>.Empty, 0, 3).Length) 0 "no queries, no results"
        let hits = index.Search(ReadOnlySpan(data, 4, 4), 1, 1).[0]
        Expect.equal hits.[0].Row 1 "a stored row is its own best hit without groups"
        Expect.floatClose Accuracy.medium (float hits.[0].Score) 1.0 "a unit row scores 1 with itself")

let private validationTests =
    let d = Device.Reference
    let data = unitRows (Random 18) 5 3
    let index () = EncodingIndex.Build(d, ReadOnlySpan data, 5, 3, ReadOnlySpan [| 0; 0; 1; 1; EncodingIndex.NoGroup |])
    let query = [| 1.0f; 0.0f; 0.0f |]
    testList
        "validation"
        [ test "encodings of the wrong length" {
              rejects "encodings has 15 floats, expected 4 x 3 = 12" (fun () ->
                  EncodingIndex.Build(d, ReadOnlySpan data, 4, 3))
          }
          test "dimension 0" {
              rejects "dimension must be positive" (fun () -> EncodingIndex.Build(d, ReadOnlySpan data, 5, 0))
          }
          test "negative count" {
              rejects "count must not be negative" (fun () -> EncodingIndex.Build(d, ReadOnlySpan data, -1, 3))
          }
          test "groups of the wrong length" {
              rejects "groups has 2 entries, expected one per row (5)" (fun () ->
                  EncodingIndex.Build(d, ReadOnlySpan data, 5, 3, ReadOnlySpan [| 0; 1 |]))
          }
          test "group id below -1" {
              rejects "groups[3] is -2" (fun () ->
                  EncodingIndex.Build(d, ReadOnlySpan data, 5, 3, ReadOnlySpan [| 0; 1; 2; -2; 0 |]))
          }
          test "NaN in the encodings" {
              let bad = Array.copy data
              bad.[7] <- nanf
              rejects "encodings row 2, element 1 is NaN" (fun () -> EncodingIndex.Build(d, ReadOnlySpan bad, 5, 3))
          }
          test "infinity in the encodings" {
              let bad = Array.copy data
              bad.[14] <- -infinityf
              rejects "encodings row 4, element 2 is -infinity" (fun () ->
                  EncodingIndex.Build(d, ReadOnlySpan bad, 5, 3))
          }
          test "query of the wrong dimension" {
              use i = index ()
              rejects "queries has 4 floats, expected 1 x dimension 3 = 3" (fun () ->
                  i.Search(ReadOnlySpan [| 1.0f; 0.0f; 0.0f; 0.0f |], 1, 2))
          }
          test "k = 0" {
              use i = index ()
              rejects "k must be positive" (fun () -> i.Search(ReadOnlySpan query, 1, 0))
          }
          test "NaN in a query" {
              use i = index ()
              rejects "queries row 1, element 0 is NaN" (fun () ->
                  i.Search(ReadOnlySpan(Array.append query [| nanf; 0.0f; 0.0f |]), 2, 1))
          }
          test "exclusions of the wrong length" {
              use i = index ()
              rejects "excludeGroups has 2 entries, expected one per query (1)" (fun () ->
                  i.Search(ReadOnlySpan query, 1, 1, ReadOnlySpan [| 0; 1 |]))
          }
          test "exclusion below -1" {
              use i = index ()
              rejects "excludeGroups[0] is -5" (fun () -> i.Search(ReadOnlySpan query, 1, 1, ReadOnlySpan [| -5 |]))
          }
          test "a query whose scores could overflow float32" {
              use i = index ()
              rejects "could overflow float32" (fun () -> i.Search(ReadOnlySpan [| 3e38f; 3e38f; 0.0f |], 1, 1))
          }
          test "a disposed index" {
              let i = index ()
              i.Dispose()
              Expect.throwsT<ObjectDisposedException>
                  (fun () -> i.Search(ReadOnlySpan query, 1, 1) |> ignore)
                  "search after dispose"
          } ]

/// What the issue asks of every exact search, on each backend against a brute force: k above the row count returns every
/// row once, best first; equal scores come back by ascending row whichever core or block found them; k = 0 and NaN rows
/// are refused (see validationTests for the messages).
let private issueEdgeTests =
    perBackend all "k > n, ties, refusals" (fun b device ->
        let rows = if b.Slow then 23 else 1031
        let dim = 19
        // Every row the same: all scores tie, so the order is the row order.
        let row = gridRows (Random 23) 1 dim
        let data = Array.init (rows * dim) (fun e -> row[e % dim])
        for queryCount in [ 1; 6 ] do
            let c =
                { Rows = rows
                  Dim = dim
                  Data = data
                  Groups = Array.create rows EncodingIndex.NoGroup
                  ShardRows = rows
                  Queries = Array.init (queryCount * dim) (fun e -> row[e % dim])
                  QueryCount = queryCount
                  Exclude = Array.create queryCount EncodingIndex.NoGroup
                  K = rows + 5 }
            let hits = run device c
            for q in 0 .. queryCount - 1 do
                Expect.sequenceEqual
                    (hits[q] |> Array.map (fun h -> h.Row))
                    [ 0 .. rows - 1 ]
                    $"{queryCount} queries: k > n gives every row once, ties by ascending row"
            sameHits 0.0 0.0 $"{queryCount} queries against the brute force" (bruteForce c) hits
        use index = build device data rows dim (Array.create rows EncodingIndex.NoGroup) rows
        rejects "k must be positive" (fun () -> index.Search(ReadOnlySpan(data, 0, dim), 1, 0))
        let bad = Array.copy data
        bad[dim * (rows - 1)] <- nanf
        rejects $"encodings row {rows - 1}, element 0 is NaN" (fun () ->
            EncodingIndex.Build(device, ReadOnlySpan bad, rows, dim)))

/// The Cpu kernels add in the same order whether a query streams alone or is tiled with others, so a query's scores, not
/// only its rows, are the same bit for bit in every batch.
let private batchIndependenceTests =
    testCase "Cpu: a query's hits do not depend on its batch" (fun () ->
        let rng = Random 24
        let rows, dim, count = 777, 1030, 13
        let data = unitRows rng rows dim
        let queries = unitRows rng count dim
        use index = EncodingIndex.Build(Device.Cpu, ReadOnlySpan data, rows, dim)
        let batched = index.Search(ReadOnlySpan queries, count, 9)
        for q in 0 .. count - 1 do
            let alone = index.Search(ReadOnlySpan(queries, q * dim, dim), 1, 9)
            Expect.sequenceEqual alone[0] batched[q] $"query {q} alone and in a batch of {count}")

/// The GPU search selects its top k with ILGPU.Algorithms' radix sort, the Cpu search with its bounded lists: on grid data
/// (every score exact in float32 whatever the order of addition) they return the same rows and the same scores, ties and
/// exclusions included, on ILGPU's CPU accelerator and, where present, on CUDA.
let private gpuTopKTests =
    perBackend [ ilgpuCpu; cuda ] "gpu top-k (radix sort) = Cpu top-k" (fun _ device ->
        for seed, rows, dim, shardRows, queryCount, k in
            [ 26, 120, 9, 120, 3, 5; 27, 150, 7, 40, 6, 12; 28, 60, 5, 25, 2, 70 ] do
            let c = caseOf duplicatedGrid (Random seed) rows dim 8 shardRows queryCount k
            sameHits 0.0 0.0 $"seed {seed}" (run Device.Cpu c) (run device c))

/// The streaming read behind the benchmark's bandwidth figure reads every stored value: its sum is the data's.
let private streamingReadTests =
    perBackend all "streaming read sums every stored value" (fun b device ->
        let rows, dim = (if b.Slow then 40 else 3001), 37
        let data = gridRows (Random 25) rows dim
        use index = EncodingIndex.Build(device, ReadOnlySpan data, rows, dim, ReadOnlySpan<int>.Empty, 1000)
        // Grid values are multiples of 1/4 and the sum stays far below 2^22: exact in float32 lanes whatever the order.
        let expected = data |> Array.sumBy float
        Expect.floatClose { absolute = 0.0; relative = 0.0 } (index.StreamingRead()) expected "sum")

/// An index joined from indexes built block by block (as a catalog search keeps its blocks) searches as one index built
/// over every row: the same rows and scores, global row numbers and groups included; the parts are taken over.
let private joinTests =
    perBackend all "joined blocks search as one index" (fun b device ->
        let rows, dim = (if b.Slow then 90 else 2003), 21
        let c = caseOf duplicatedGrid (Random 29) rows dim 9 rows 6 7
        let cuts = [ 0; rows / 5; rows / 5 + 1; rows / 2; rows ]
        let parts =
            [| for first, last in List.pairwise cuts ->
                   EncodingIndex.Build(
                       device,
                       ReadOnlySpan(c.Data, first * dim, (last - first) * dim),
                       last - first,
                       dim,
                       ReadOnlySpan(c.Groups, first, last - first)
                   ) |]
        use joined = EncodingIndex.Join parts
        Expect.equal joined.Count rows "rows of the joined index"
        sameHits 0.0 0.0 "joined" (run device c) (search joined c.Queries c.QueryCount c.K c.Exclude)
        Expect.throwsT<ObjectDisposedException>
            (fun () -> parts[0].Search(ReadOnlySpan(c.Queries, 0, dim), 1, 1) |> ignore)
            "a joined part belongs to the joined index"
        use other = EncodingIndex.Build(device, ReadOnlySpan(c.Data, 0, 2 * (dim - 1)), 2, dim - 1)
        use same = EncodingIndex.Build(device, ReadOnlySpan(c.Data, 0, 2 * dim), 2, dim)
        rejects "share a device and a dimension" (fun () -> EncodingIndex.Join [| same; other |]))

[<Tests>]
let tests =
    testList
        "search"
        [ agreementTests
          propertyTests
          edgeTests
          issueEdgeTests
          batchIndependenceTests
          gpuTopKTests
          streamingReadTests
          joinTests
          validationTests ]
