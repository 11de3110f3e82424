import BinfmtEngine
import BinfmtKit

/// Text for people, JSON for scripts.
enum OutputFormat {
  case text
  case json
  /// `scan --json-lines`: the report streamed its records already; the summary is the last
  /// line, compact, with `"record": "summary"`.
  case jsonLines
}

enum Output {
  /// The one place that chooses between text and JSON: reports know how to show themselves.
  static func emit(_ report: any CommandReport, as format: OutputFormat, to sink: OutputSink) {
    switch format {
    case .json:
      if let r = report as? any JSONReport {
        sink.stdout(r.json.render() + "\n")
      } else {
        sink.stdout(report.text)
      }
    case .jsonLines:
      if let r = report as? any JSONReport, case .object(var o) = r.json {
        o["record"] = .string("summary")
        sink.stdout(JSON.object(o).render(indent: nil) + "\n")
      } else {
        sink.stdout(report.text)
      }
    case .text:
      sink.stdout(report.text)
    }
  }
}
