/// The structure report in a real browser: Debian's chromium, headless, driven by Playwright (its bundled node driver
/// from the test output's .playwright folder), with every request outside the report folder refused, so the page
/// must render from what it carries.
module Hybrid.Tests.BrowserTests

open System
open System.IO
open Expecto
open Microsoft.Playwright
open Hybrid.Analysis

let private chromium = "/usr/bin/chromium"

/// Where screenshots go: tests/bin/CONFIGURATION/net10.0/artifacts/.
let artifacts = Directory.CreateDirectory(Path.Combine(AppContext.BaseDirectory, "artifacts")).FullName

let requireBrowser () =
    if not (File.Exists chromium) then
        failtestf
            "%s is missing: install Debian's chromium (apt-get install -y chromium; ./test does it) to run the browser tests"
            chromium
    let driver = Path.Combine(AppContext.BaseDirectory, ".playwright", "node", "linux-x64", "node")
    if not (File.Exists driver) then
        failtestf
            "Playwright's node driver %s is missing: the Microsoft.Playwright package copies it there at build time"
            driver

let wait (t: Threading.Tasks.Task<'T>) = t.GetAwaiter().GetResult()

let launch (playwright: IPlaywright) =
    playwright.Chromium.LaunchAsync(
        BrowserTypeLaunchOptions(
            ExecutablePath = chromium,
            Headless = true,
            Args = [| "--headless"; "--no-sandbox"; "--disable-gpu"; "--disable-background-networking" |]
        )
    )

/// A new page (width x height pixels) that lets through only requests whose URL starts with allowed, refusing and
/// recording the others, and records script errors: the page, the refused URLs and the errors.
let guardedPage (browser: IBrowser) (width: int) (height: int) (allowed: string) =
    let page =
        wait (browser.NewPageAsync(BrowserNewPageOptions(ViewportSize = ViewportSize(Width = width, Height = height))))
    let refused = Collections.Concurrent.ConcurrentBag<string>()
    let errors = Collections.Concurrent.ConcurrentBag<string>()
    page.add_Console (fun _ m ->
        if m.Type = "error" then
            errors.Add m.Text)
    page.add_PageError (fun _ e -> errors.Add e)
    let guard (route: IRoute) : Threading.Tasks.Task =
        if route.Request.Url.StartsWith(allowed, StringComparison.Ordinal) then
            route.ContinueAsync()
        else
            refused.Add route.Request.Url
            route.AbortAsync()
    (page.RouteAsync("**/*", Func<IRoute, Threading.Tasks.Task> guard)).Wait()
    page, refused, errors

[<Tests>]
let tests =
    testList
        "browser"
        [ test "every chart of index.html renders an SVG offline" {
              requireBrowser ()
              let dir = Directory.CreateTempSubdirectory("hybrid-browser-").FullName
              try
                  let models =
                      ReportInputs.fromPaths
                          (Some "image-classification")
                          [ sharedFile "data/torchvision-architectures/resnet18.onnx"
                            sharedFile "data/torchvision-architectures/vit_b_16.onnx"
                            sharedFile "data/peatmoss-traces/dev.jsonl" ]
                  let index = Report.write (Path.Combine(dir, "report")) models
                  let expectedCharts = Directory.GetFiles(Path.Combine(dir, "report", "charts"), "*.json").Length
                  use playwright = wait (Playwright.CreateAsync())
                  let browser = wait (launch playwright)
                  try
                      let page, refused, errors = guardedPage browser 1400 2000 "file://"
                      wait (page.GotoAsync(Uri(index).AbsoluteUri, PageGotoOptions(Timeout = 120_000.0f))) |> ignore
                      let allDrawn =
                          "() => [...document.querySelectorAll('section.chart')].every(s => s.querySelector('.main-svg'))"
                      wait (page.WaitForFunctionAsync(allDrawn, null, PageWaitForFunctionOptions(Timeout = 120_000.0f)))
                      |> ignore
                      let charts = wait (page.Locator("section.chart").CountAsync())
                      let drawn = wait (page.Locator("section.chart:has(.main-svg)").CountAsync())
                      let svgs = wait (page.Locator("section.chart .main-svg").CountAsync())
                      let screenshot = Path.Combine(artifacts, "report-index.png")
                      wait (page.ScreenshotAsync(PageScreenshotOptions(Path = screenshot))) |> ignore
                      printfn
                          "browser test: %d charts, %d with an SVG (%d .main-svg elements); screenshot %s"
                          charts
                          drawn
                          svgs
                          screenshot
                      Expect.equal charts expectedCharts "one chart element per figure file"
                      Expect.equal drawn charts "every chart drew an SVG"
                      Expect.isGreaterThanOrEqual svgs charts "main-svg elements"
                      Expect.isEmpty (List.ofSeq refused) "no request left the report folder"
                      Expect.isEmpty (List.ofSeq errors) "no script errors"
                      Expect.isTrue (FileInfo(screenshot).Length > 10_000L) "the screenshot holds an image"
                  finally
                      browser.CloseAsync().Wait()
              finally
                  Directory.Delete(dir, true)
          } ]
