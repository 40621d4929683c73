/// What the HTML reports share: plotly.js inlined once per page (so a page opens offline), escaping and tables.
module Hybrid.Analysis.HtmlPage

open System.Net
open Plotly.NET

/// plotly.js as Plotly.NET inlines it for PlotlyJSReference.Full: the library's script element, taken from the head of
/// a page Plotly.NET renders, so that index.html carries it once however many charts it holds.
let plotlyScript =
    lazy
        (let page =
            Chart.Column(values = [ 0 ], Keys = [ "x" ])
            |> Chart.withDisplayOptions (DisplayOptions.init (PlotlyJSReference = PlotlyJSReference.Full))
            |> GenericChart.toEmbeddedHTML
         let head = page.Substring(0, max 0 (page.IndexOf "</head>"))
         let start = head.IndexOf "<script"
         let stop = head.IndexOf("</script>", max 0 start)
         if start < 0 || stop < 0 || not (head.Contains "plotly.js v") then
             failwith "Plotly.NET rendered no inlined plotly.js for PlotlyJSReference.Full"
         head.Substring(start, stop + "</script>".Length - start))

let encode (text: string) = WebUtility.HtmlEncode text

let table (columns: string list) (rows: string list list) =
    let cells tag (r: string list) = r |> List.map (fun c -> $"<{tag}>{encode c}</{tag}>") |> String.concat ""
    let body = rows |> List.map (fun r -> "<tr>" + cells "td" r + "</tr>") |> String.concat "\n"
    let head = cells "th" columns
    $"<table><thead><tr>{head}</tr></thead><tbody>\n{body}\n</tbody></table>"
