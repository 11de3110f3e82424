import Glibc

/// The fuzzer's input as an array.
func fuzzBytes(_ data: UnsafePointer<UInt8>, _ size: Int) -> [UInt8] {
  Array(UnsafeBufferPointer(start: data, count: size))
}

/// A property that must hold: when it does not, the process traps and libFuzzer saves the input.
func require(
  _ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String, file: StaticString = #fileID,
  line: UInt = #line
) {
  if !condition() { fatalError("property violated: " + message(), file: file, line: line) }
}

/// Properties that fail today and are written up in fuzz/RESULTS.md, by id.
///
/// - A known bug is checked (and traps) unless `FUZZ_MASK` names it (`FUZZ_MASK=all` masks
///   every one), so the other properties can be fuzzed for a full run while it is being fixed.
/// - A known limitation (a property the code does not promise today) is checked only with
///   `FUZZ_STRICT=1`, which also unmasks every bug: that is how the reproducers are replayed.
enum Known {
  static let strict = env("FUZZ_STRICT") == "1"
  static let masked: Set<String> = Set((env("FUZZ_MASK") ?? "").split(separator: ",").map(String.init))

  /// Whether to check the known bug `id`.
  static func checkBug(_ id: String) -> Bool {
    strict || !(masked.contains(id) || masked.contains("all"))
  }

  /// Whether to check the known limitation `id`.
  static func checkLimitation(_ id: String) -> Bool { strict }

  private static func env(_ name: String) -> String? {
    getenv(name).map { String(cString: $0) }
  }
}

extension Array where Element == UInt8 {
  /// The bytes split at every LF, each line without it; a final line without LF is kept.
  func linesSplitAtLF() -> [ArraySlice<UInt8>] {
    split(separator: 10, omittingEmptySubsequences: false)
  }
}
