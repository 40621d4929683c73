/// Deduplication of a catalog (ALGORITHMS.md section 3): by name, models whose base names agree; by architecture,
/// models with the same structural hash, then every pair the hash did not merge scored by
/// `0.7 * sequence_ratio + 0.3 * (1 - |Δblocks| / max blocks)` and grouped (union-find) at a threshold.
module Hybrid.Analysis.Dedup

open System
open System.Collections.Concurrent
open System.Collections.Generic
open System.Numerics
open System.Security.Cryptography
open System.Text.RegularExpressions
open System.Threading.Tasks
open Hybrid.Analysis.Architecture

let private versionSuffix = Regex(@"v?\d+(\.\d+)*[a-z]?$", RegexOptions.Compiled)

/// The base name of a model: the last component of a repository path ("org/name", "models--org--name"), lower case,
/// up to the first '-' or '_', then without a trailing version or size ("resnet50" -> "resnet", "mobilenetv2" ->
/// "mobilenet", "yolov8n" -> "yolo"), unless fewer than two letters would remain ("t5" stays "t5").
let baseName (name: string) =
    let last = name.Split('/', '\\') |> Array.last
    let last =
        match last.LastIndexOf "--" with
        | -1 -> last
        | k -> last.Substring(k + 2)
    let lower = last.ToLowerInvariant()
    let head =
        match lower.Split('-', '_') |> Array.tryFind ((<>) "") with
        | Some h -> h
        | None -> lower
    let m = versionSuffix.Match head
    let stripped = if m.Success then head.Substring(0, m.Index) else head
    if stripped |> Seq.filter Char.IsLetter |> Seq.length >= 2 then stripped else head

/// Length of a longest common subsequence by dynamic programming in O(|a| |b|) time and O(min(|a|, |b|)) memory.
let lcsLength (a: int[]) (b: int[]) =
    let shorter, longer = if a.Length <= b.Length then a, b else b, a
    let mutable previous = Array.zeroCreate (shorter.Length + 1)
    let mutable current = Array.zeroCreate (shorter.Length + 1)
    for x in longer do
        for j in 1 .. shorter.Length do
            current[j] <- if x = shorter[j - 1] then previous[j - 1] + 1 else max previous[j] current[j - 1]
        let t = previous
        previous <- current
        current <- t
    previous[shorter.Length]

/// One sequence prepared for bit-parallel LCS against many others (Hyyrö 2004): for each symbol below vocabulary, the
/// bit mask of its positions. Each LCS then costs |b| * ceil(|a| / 64) word operations.
type LcsPattern(a: int[], vocabulary: int) =
    let words = max 1 ((a.Length + 63) / 64)
    let masks =
        let m = Array.zeroCreate<uint64>(vocabulary * words)
        a |> Array.iteri (fun i s -> m[s * words + i / 64] <- m[s * words + i / 64] ||| (1UL <<< (i % 64)))
        m

    member _.Length = a.Length

    /// LCS length of the pattern and b, whose symbols must lie below the vocabulary size.
    member _.Lcs(b: int[]) =
        let v = Array.create words UInt64.MaxValue
        for s in b do
            let offset = s * words
            let mutable carry = 0UL
            for k in 0 .. words - 1 do
                let x = v[k]
                let m = masks[offset + k]
                let sum = x + (x &&& m)
                let total = sum + carry
                carry <- (if sum < x then 1UL else 0UL) ||| (if total < sum then 1UL else 0UL)
                v[k] <- total ||| (x &&& ~~~m)
        // Carries only move upwards, so the bits above |a| in the last word never disturb the ones counted.
        let mutable zeros = 0
        for k in 0 .. words - 1 do
            let valid = if k = words - 1 && a.Length % 64 <> 0 then (1UL <<< (a.Length % 64)) - 1UL else UInt64.MaxValue
            zeros <- zeros + BitOperations.PopCount(~~~v[k] &&& valid)
        zeros

/// 2 * LCS(a, b) / (|a| + |b|), exact; 1 for two empty sequences.
let ratioOfLcs (lcs: int) (lengthA: int) (lengthB: int) =
    if lengthA + lengthB = 0 then 1.0 else 2.0 * float lcs / float (lengthA + lengthB)

/// sequence_ratio of two sequences of normalised layer types.
let sequenceRatio (a: string[]) (b: string[]) =
    let vocabulary = Dictionary<string, int>()
    let encode (xs: string[]) =
        xs
        |> Array.map (fun x ->
            match vocabulary.TryGetValue x with
            | true, i -> i
            | _ ->
                (vocabulary[x] <- vocabulary.Count
                 vocabulary.Count - 1))
    let ea, eb = encode a, encode b
    ratioOfLcs (LcsPattern(ea, vocabulary.Count).Lcs eb) a.Length b.Length

let private blockWord = Regex("block|layer|encoder|decoder", RegexOptions.IgnoreCase ||| RegexOptions.Compiled)

/// Distinct module-path prefixes that end at a component whose name contains block, layer, encoder or decoder
/// (case-insensitive), over the paths of the hierarchy and of the nodes ("layer1.0.conv1" gives "layer1").
let blocks (arch: Architecture) =
    let found = HashSet<string>()
    for path in Seq.append (arch.Hierarchy |> Seq.map _.Path) (arch.Nodes |> Seq.map _.ModulePath) do
        let parts = path.Split('.', StringSplitOptions.RemoveEmptyEntries)
        for k in 0 .. parts.Length - 1 do
            if blockWord.IsMatch parts[k] then
                found.Add(String.Join('.', parts, 0, k + 1)) |> ignore
    found.Count

/// SHA-256 (hex) of the layer-type sequence and the output shapes of the first and last node ("?" when unknown).
let structuralHash (arch: Architecture) =
    let shape (n: Node option) =
        match n |> Option.bind _.OutputShape with
        | Some s -> "[" + String.Join(",", s) + "]"
        | None -> "?"
    let text =
        String.Join("\n", arch.LayerSequence)
        + "\n|"
        + shape (Array.tryHead arch.Nodes)
        + "|"
        + shape (Array.tryLast arch.Nodes)
    Convert.ToHexStringLower(SHA256.HashData(Text.Encoding.UTF8.GetBytes text))

/// The similarity of two models from their sequence ratio, layer counts and block counts: 0 when the layer counts
/// differ by more than 30% of the larger; the block term is 1 when neither has blocks.
let similarity (ratio: float) (layersA: int, blocksA: int) (layersB: int, blocksB: int) =
    if float (abs (layersA - layersB)) > 0.3 * float (max layersA layersB) then
        0.0
    else
        let most = max blocksA blocksB
        let blockTerm = if most = 0 then 1.0 else 1.0 - float (abs (blocksA - blocksB)) / float most
        0.7 * ratio + 0.3 * blockTerm

type Member = { Id: int64; Name: string; Score: float option }

/// Models judged duplicates of each other, with the one that stands for them (the member with the highest total
/// similarity to the others; by name, the first catalogued). Score: similarity to the representative.
type Group = { Group: int; Representative: int64; Members: Member list }

/// A pair that joined two models in one group: 1.0 for the same structural hash, the similarity otherwise.
type Pair = { A: int64; B: int64; Score: float }

type Result = { Strategy: string; Threshold: float option; Groups: Group list; Pairs: Pair list; Scored: int64 }

type private Profile = { Id: int64; Name: string; Hash: string; Sequence: int[]; Blocks: int }

let private profiles (models: (int64 * Architecture) list) =
    let vocabulary = Dictionary<string, int>()
    let code x =
        match vocabulary.TryGetValue x with
        | true, i -> i
        | _ ->
            (vocabulary[x] <- vocabulary.Count
             vocabulary.Count - 1)
    let ps =
        [| for id, a in models ->
               { Id = id
                 Name = a.Name
                 Hash = structuralHash a
                 Sequence = Array.map code a.LayerSequence
                 Blocks = blocks a } |]
    ps, vocabulary.Count

let private score (vocabulary: int) (x: Profile) (y: Profile) =
    if x.Hash = y.Hash then
        1.0
    elif
        float (abs (x.Sequence.Length - y.Sequence.Length)) > 0.3 * float (max x.Sequence.Length y.Sequence.Length)
    then
        0.0
    else
        let ratio = ratioOfLcs (LcsPattern(x.Sequence, vocabulary).Lcs y.Sequence) x.Sequence.Length y.Sequence.Length
        similarity ratio (x.Sequence.Length, x.Blocks) (y.Sequence.Length, y.Blocks)

/// Connected components of n items under the given links, each sorted, in order of their first item.
let components (n: int) (links: (int * int) seq) =
    let parent = Array.init n id
    let rec find i =
        if parent[i] = i then
            i
        else
            (parent[i] <- find parent[i]
             parent[i])
    for a, b in links do
        let ra, rb = find a, find b
        if ra <> rb then
            parent[max ra rb] <- min ra rb
    [ 0 .. n - 1 ] |> List.groupBy find |> List.map snd

/// Pairs at or above threshold among profiles of different hashes, plus each hash class chained at 1.0, and the count
/// of pairs scored. The LCS is computed once per pair of classes (members of a class share the sequence).
let private linkedPairs (threshold: float) (ps: Profile[]) (vocabulary: int) =
    let classes = ps |> Array.indexed |> Array.groupBy (fun (_, p) -> p.Hash) |> Array.map (snd >> Array.map fst)
    let found = ConcurrentBag<int * int * float>()
    for members in classes do
        for k in 1 .. members.Length - 1 do
            found.Add((members[0], members[k], 1.0))
    let scored = [| 0L |]
    Parallel.For(
        0,
        classes.Length,
        fun i ->
            let first = ps[classes[i][0]]
            let pattern = LcsPattern(first.Sequence, vocabulary)
            let mutable local = 0L
            for j in i + 1 .. classes.Length - 1 do
                let other = ps[classes[j][0]]
                let la, lb = first.Sequence.Length, other.Sequence.Length
                if float (abs (la - lb)) <= 0.3 * float (max la lb) then
                    let ratio = ratioOfLcs (pattern.Lcs other.Sequence) la lb
                    for x in classes[i] do
                        for y in classes[j] do
                            local <- local + 1L
                            let s = similarity ratio (la, ps[x].Blocks) (lb, ps[y].Blocks)
                            if s >= threshold then
                                found.Add((x, y, s))
                else
                    local <- local + int64 (classes[i].Length * classes[j].Length)
            Threading.Interlocked.Add(&scored[0], local) |> ignore
    )
    |> ignore
    List.ofSeq found |> List.sortBy (fun (a, b, _) -> a, b), scored[0]

let private groupsOf (ps: Profile[]) (vocabulary: int option) (links: (int * int) seq) =
    components ps.Length links
    |> List.mapi (fun g members ->
        let rep, scoreTo =
            match vocabulary with
            | Some v when members.Length > 1 ->
                let scores =
                    Array2D.init members.Length members.Length (fun a b ->
                        if a = b then 1.0 else score v ps[members[a]] ps[members[b]])
                let best =
                    [ 0 .. members.Length - 1 ]
                    |> List.maxBy (fun a -> Seq.sum (Seq.init members.Length (fun b -> scores[a, b])), -a)
                members[best], (fun k -> Some scores[best, k])
            | Some _ -> members[0], (fun _ -> Some 1.0)
            | None -> members[0], (fun _ -> None)
        { Group = g + 1
          Representative = ps[rep].Id
          Members = members |> List.mapi (fun k m -> { Id = ps[m].Id; Name = ps[m].Name; Score = scoreTo k }) })

let private nameLinks (ps: Profile[]) =
    ps
    |> Array.indexed
    |> Array.groupBy (fun (_, p) -> baseName p.Name)
    |> Seq.collect (fun (_, xs) -> xs |> Seq.skip 1 |> Seq.map (fun (i, _) -> fst xs[0], i))

/// Groups by base name (see baseName); the representative is the first catalogued.
let byName (models: (int64 * Architecture) list) =
    let ps, _ = profiles models
    { Strategy = "name"; Threshold = None; Groups = groupsOf ps None (nameLinks ps); Pairs = []; Scored = 0L }

let private checkThreshold (threshold: float) =
    if not (threshold > 0.0 && threshold <= 1.0) then
        invalidArg (nameof threshold) $"the threshold must lie in (0, 1], not {threshold}"

/// Groups linked by architecture at threshold (same structural hash, or similarity >= threshold for some chain of
/// pairs), and by name too when withNames; the result is reported under strategy.
let private linked (strategy: string) (withNames: bool) (threshold: float) (models: (int64 * Architecture) list) =
    checkThreshold threshold
    let ps, vocabulary = profiles models
    let pairs, scored = linkedPairs threshold ps vocabulary
    let links = pairs |> Seq.map (fun (a, b, _) -> a, b)
    { Strategy = strategy
      Threshold = Some threshold
      Scored = scored
      Groups = groupsOf ps (Some vocabulary) (if withNames then Seq.append (nameLinks ps) links else links)
      Pairs = [ for a, b, s in pairs -> { A = ps[a].Id; B = ps[b].Id; Score = s } ] }

/// Groups by architecture at threshold: same structural hash, or similarity >= threshold for some chain of pairs.
let byArchitecture (threshold: float) (models: (int64 * Architecture) list) =
    linked "architecture" false threshold models

/// Groups joined by either strategy: the same base name, or an architecture link at threshold.
let both (threshold: float) (models: (int64 * Architecture) list) = linked "both" true threshold models

/// Runs strategy ("name", "architecture" or "both") over every model of the catalog and replaces that strategy's
/// stored groups with the result.
let run (catalog: ICatalog) (strategy: string) (threshold: float) =
    let models = [ for m in Catalog.models catalog -> m.Id, Catalog.load catalog m.Id ]
    let result =
        match strategy with
        | "name" -> byName models
        | "architecture" -> byArchitecture threshold models
        | "both" -> both threshold models
        | other -> invalidArg (nameof strategy) $"unknown strategy '{other}' (name, architecture or both)"
    Catalog.writeGroups
        catalog
        strategy
        result.Threshold
        [ for g in result.Groups do
              for m in g.Members ->
                  { GroupRow.Group = g.Group
                    GroupRow.Model = m.Id
                    GroupRow.Representative = g.Representative
                    GroupRow.Score = m.Score } ]
    result
