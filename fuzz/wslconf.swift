import BinfmtKit

/// The /etc/wsl.conf merger: `add` puts our `[boot] command` in, `bootCommand` then finds it,
/// `remove` takes out exactly what `add` put in, and nothing else changes.
@_cdecl("LLVMFuzzerTestOneInput") public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
  let bytes = fuzzBytes(data, size)
  let text = PathBytes.string(bytes)  // as the file is read: every byte kept
  let cmd = WSLConf.command(exec: "/usr/local/bin/binfmtctl")
  let before = WSLConf.bootCommand(text)
  let systemd = WSLConf.systemdEnabled(text)
  // Texts that already hold our marker lines (hand-edited leftovers) are removed by `remove`
  // whatever `add` did, so the exact-undo property is only for texts without them.
  let lines = bytes.linesSplitAtLF().map { trimmedLine($0) }
  let hasMarkers = lines.contains {
    $0.elementsEqual(WSLConf.marker.utf8) || $0.elementsEqual(WSLConf.sectionMarker.utf8)
  }
  if !hasMarkers { require(WSLConf.remove(from: text) == text, "remove changed a text without our markers") }

  let added: String
  do { added = try WSLConf.add(cmd, to: text, file: "wsl.conf") } catch {
    // Only a different command already in [boot] is refused.
    require(error.kind == .conflict, "add failed with \(error)")
    require(before != nil && before != cmd && before != "\"\(cmd)\"", "add refused with boot command \(before as Any)")
    return 0
  }
  let now = WSLConf.bootCommand(added)
  // A [boot] header on the last line, without a newline, keeps its line (was bug
  // wslconf-header-eof: the marker was glued to it and the command lost).
  require(now == cmd || now == "\"\(cmd)\"", "after add, bootCommand is \(now as Any)")
  require(WSLConf.systemdEnabled(added) == systemd, "add changed systemdEnabled")
  require((try? WSLConf.add(cmd, to: added, file: "wsl.conf")) == added, "add is not idempotent")
  if before != nil {
    require(added == text, "add changed a text that already has our command")
    return 0
  }

  let removed = WSLConf.remove(from: added)
  require(WSLConf.bootCommand(removed) == nil, "after remove, bootCommand is \(WSLConf.bootCommand(removed) as Any)")
  guard !hasMarkers else { return 0 }
  // Exactly the text back, byte for byte; `add` may have ended an unterminated last line
  // first. A text ending in "\r\n" gets no blank line (was bug wslconf-crlf).
  let nl = text.contains("\r\n") ? "\r\n" : "\n"
  let back = PathBytes.bytes(removed)
  require(
    back == bytes || (bytes.last != 10 && back == bytes + Array(nl.utf8)),
    "remove(add(text)) is \(removed.debugDescription) for \(text.debugDescription)")
  return 0
}

/// A line as `WSLConf` compares it: blanks and the line end trimmed (bytes).
private func trimmedLine(_ line: ArraySlice<UInt8>) -> ArraySlice<UInt8> {
  var t = line
  while let f = t.first, f == 32 || f == 9 { t = t.dropFirst() }
  while let l = t.last, l == 32 || l == 9 || l == 13 { t = t.dropLast() }
  return t
}
