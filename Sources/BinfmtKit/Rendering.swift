/// A command's result knows how to show itself; the command layer's one renderer picks text
/// or JSON and writes it.
public protocol CommandReport: Sendable {
  /// For people: what goes to stdout without `--json`.
  var text: String { get }
  /// Some of the items failed: after printing, the command exits 1.
  var partialFailure: Bool { get }
  /// An error to report after the result is printed (its kind decides the exit code).
  var trailingError: BinfmtError? { get }
}

/// A report that scripts can read with `--json`: one value, keys sorted when rendered.
public protocol JSONReport: CommandReport {
  var json: JSON { get }
}

extension CommandReport {
  public var partialFailure: Bool { false }
  public var trailingError: BinfmtError? { nil }
}

/// Aligned columns for text output (the last column is not padded).
public enum TextTable {
  public static func render(_ rows: [[String]], separator: String = "  ") -> String {
    guard let n = rows.map(\.count).max() else { return "" }
    var widths = [Int](repeating: 0, count: n)
    for r in rows { for (i, c) in r.enumerated() where i < r.count - 1 { widths[i] = max(widths[i], c.count) } }
    var out = ""
    for r in rows {
      var line = ""
      for (i, c) in r.enumerated() {
        if i > 0 { line += separator }
        line += i < r.count - 1 ? c.padding(to: widths[i]) : c
      }
      while line.last == " " { line.removeLast() }
      out += line + "\n"
    }
    return out
  }
}

extension String {
  public func padding(to n: Int) -> String {
    count >= n ? self : self + String(repeating: " ", count: n - count)
  }
}
