/// The web page of `hybrid serve` in a real browser (Debian's chromium through Playwright, as the report test drives
/// it): the server on a free loopback port over the two indexed ResNets, every request that leaves the server refused;
/// picking a model and a layer shows the library's hits and the structural comparison, and draws the CKA heatmap of the
/// query model against the first hit's model with the compare endpoint's matrix. The screenshot is an artifact.
module Hybrid.Tests.ServeBrowserTests

open System
open System.IO
open Expecto
open Microsoft.Playwright
open Hybrid.Analysis
open Hybrid.Cli.Server
open Hybrid.Tests.BrowserTests
open Hybrid.Tests.ServeTests

let private pageTest =
    test "the page: pick a model and a layer, see the hits, the structural comparison and the heatmap" {
        requireBrowser ()
        withServer (new MemoryResponseCache(10_000_000L)) (fun server ->
            let origin = server.Client.BaseAddress.AbsoluteUri.TrimEnd '/'
            let expected =
                use catalog = Catalog.openOrCreate (db ())
                let hits =
                    (LayerSearch.search Hybrid.Core.Gpu.Device.Cpu catalog (LayerSearch.query "resnet32" [ "layer2" ]))
                        .Head
                let top = hits.Results.Head
                hits, LayerCompare.compare catalog "resnet32/1" $"{top.Model}/{top.Version}" None
            let hits, comparison = expected
            use playwright = wait (Playwright.CreateAsync())
            let browser = wait (launch playwright)
            try
                let page, refused, errors = guardedPage browser 1400 1600 (origin + "/")
                wait (page.GotoAsync(origin + "/", PageGotoOptions(Timeout = 60_000.0f))) |> ignore
                let timeout = PageWaitForFunctionOptions(Timeout = 60_000.0f)
                wait (
                    page.WaitForFunctionAsync(
                        "() => document.querySelectorAll('#layer option').length > 0",
                        null,
                        timeout
                    )
                )
                |> ignore
                let resnet32 =
                    wait (
                        page.EvalOnSelectorAsync<string>(
                            "#model",
                            "s => [...s.options].find(o => o.text.startsWith('resnet32/1')).value"
                        )
                    )
                wait (page.SelectOptionAsync("#model", resnet32)) |> ignore
                wait (
                    page.WaitForFunctionAsync(
                        "() => [...document.querySelectorAll('#layer option')].some(o => o.value === 'layer3.4.conv2')",
                        null,
                        timeout
                    )
                )
                |> ignore
                wait (page.SelectOptionAsync("#layer", "layer2")) |> ignore
                wait (
                    page.WaitForFunctionAsync(
                        "() => document.querySelector('#heatmap .main-svg') && document.querySelectorAll('#hits tbody tr').length > 0",
                        null,
                        timeout
                    )
                )
                |> ignore
                let rows =
                    wait (
                        page.EvalOnSelectorAllAsync<string[][]>(
                            "#hits tbody tr",
                            "rows => rows.map(r => [...r.cells].map(c => c.textContent))"
                        )
                    )
                let shown =
                    [ for h in hits.Results ->
                          [| $"{h.Model}/{h.Version}"
                             h.Layer
                             h.LayerType
                             h.Score.ToString("F4", Globalization.CultureInfo.InvariantCulture)
                             (h.Accuracy
                              |> Option.map (fun a -> a.ToString("F4", Globalization.CultureInfo.InvariantCulture))
                              |> Option.defaultValue "unknown") |] ]
                Expect.equal (List.ofArray rows) shown "the hits table shows the library's hits"
                let structure =
                    wait (
                        page.EvalOnSelectorAllAsync<string[]>(
                            "#structure li",
                            "items => items.map(i => i.textContent)"
                        )
                    )
                let top = hits.Results.Head
                let expectedStructure =
                    use catalog = Catalog.openOrCreate (db ())
                    let layers m v = LayerSearch.load catalog m (Some v) None |> _.Layers |> List.map fst
                    StructuralDiff.compare
                        "resnet32/1"
                        (layers "resnet32" "1")
                        $"{top.Model}/{top.Version}"
                        (layers top.Model top.Version)
                Expect.equal
                    (List.ofArray structure)
                    expectedStructure.Summary
                    "the structural comparison of the first hit's model"
                // The drawn heatmap's data is the compare endpoint's matrix: rows a's layers, columns b's.
                let z = wait (page.EvaluateAsync<float[][]>("() => document.getElementById('heatmap').data[0].z"))
                let y = wait (page.EvaluateAsync<string[]>("() => document.getElementById('heatmap').data[0].y"))
                Expect.equal (List.ofArray y) comparison.LayersA "heatmap rows: the query model's layers"
                Expect.equal z comparison.Cka "heatmap values: the compare endpoint's CKA matrix"
                let screenshot = Path.Combine(artifacts, "serve-page.png")
                wait (page.ScreenshotAsync(PageScreenshotOptions(Path = screenshot, FullPage = true))) |> ignore
                printfn
                    "serve page: %d hits, %d structure lines, %dx%d heatmap; screenshot %s"
                    rows.Length
                    structure.Length
                    z.Length
                    z[0].Length
                    screenshot
                Expect.isEmpty (List.ofSeq refused) "no request left the server"
                Expect.isEmpty (List.ofSeq errors) "no script errors"
                Expect.isTrue (FileInfo(screenshot).Length > 10_000L) "the screenshot holds an image"
            finally
                browser.CloseAsync().Wait())
    }

let private servedTest =
    test "GET / is the page and /plotly.js the library it loads, from the server" {
        withServer (new NoResponseCache()) (fun server ->
            let page = server.Client.GetStringAsync("/").Result
            Expect.stringContains
                page
                "<script src=\"/plotly.js\"></script>"
                "the page loads plotly.js from the server"
            Expect.isFalse (page.Contains "https://" || page.Contains "http://") "the page names no other site"
            let plotly = server.Client.GetStringAsync("/plotly.js").Result
            Expect.stringContains (plotly.Substring(0, 200)) "plotly.js v" "the library, as Plotly.NET carries it"
            Expect.isFalse (plotly.Contains "</script>") "the library without its script element")
    }

[<Tests>]
let tests = testList "serve page" [ servedTest; pageTest ]
