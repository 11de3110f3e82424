import BinfmtKit

/// The pure ELF decoders on any bytes: the header, the program header table it points to, the
/// PT_INTERP path, the PT_NOTE and PT_DYNAMIC decoders, the ABI from e_flags, the catalog
/// lookups and the format sniffer.
@_cdecl("LLVMFuzzerTestOneInput") public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
  let bytes = fuzzBytes(data, size)
  let format = FileFormat.sniff(bytes, size: UInt64(bytes.count))
  let head = Array(bytes.prefix(256))
  _ = Catalog.standard.match(header: head)

  let header: ELFHeader
  do { header = try ELFHeader.decode(bytes) } catch {
    require(!error.message.isEmpty, "ELFHeader.decode threw an empty verdict")
    return 0
  }
  require(format == .elf, "decode accepted bytes that sniff calls \(format)")
  // The header is the first 52/64 bytes: what follows cannot change it.
  require(
    (try? ELFHeader.decode(Array(bytes.prefix(header.elfClass.headerSize)))) == header,
    "decode depends on bytes past the header")
  require(header.elfClass.rawValue == bytes[4] && header.byteOrder.rawValue == bytes[5], "class/byte order")

  let abi = ELFABI.decode(header)
  require(abi.summary.isEmpty == abi.tags.isEmpty, "ABI summary '\(abi.summary)' for tags \(abi.tags)")
  if let arch = Catalog.standard.architecture(for: header) {
    require(arch.elfClass == header.elfClass && arch.byteOrder == header.byteOrder, "catalog entry \(arch.name)")
    _ = arch.platform(abi: abi)
  }
  _ = (header.typeName, header.osABIName, header.machineName)

  // The table wherever e_phoff says, and (unchecked) right after the header.
  var table: [ELFProgramHeader]?
  do {
    try header.validateProgramHeaders(fileSize: UInt64(bytes.count))
    if header.phnum > 0 {
      // Validation promises the whole table lies inside the file: decoding it cannot fail.
      let start = Int(header.phoff)
      let end = start + Int(header.phnum) * Int(header.phentsize)
      require(end <= bytes.count, "validated table \(start)..<\(end) past \(bytes.count) bytes")
      table = ELFProgramHeader.decodeTable(Array(bytes[start..<end]), header: header)
      require(table?.count == Int(header.phnum), "validated table did not decode: \(String(describing: table))")
    }
  } catch {
    require(!error.message.isEmpty, "validateProgramHeaders threw an empty verdict")
  }
  let loose = ELFProgramHeader.decodeTable(Array(bytes.dropFirst(header.elfClass.headerSize)), header: header)
  if let loose { require(loose.count == Int(header.phnum), "decodeTable returned \(loose.count) entries") }

  for ph in (table ?? []) + (loose ?? []) { require(!ELFProgramHeader.typeName(ph.type).isEmpty, "typeName") }
  // Segments validated against the file size can be sliced out of it.
  if let table, (try? ELFProgramHeader.validateSegments(table, fileSize: UInt64(bytes.count))) != nil {
    for ph in table where ph.type != 0 && ph.fileSize > 0 {
      let (end, overflow) = ph.offset.addingReportingOverflow(ph.fileSize)
      require(!overflow && end <= UInt64(bytes.count), "validated segment \(ph) past \(bytes.count) bytes")
    }
  }
  for ph in (table ?? []) + (loose ?? []) where ph.type == ELFProgramHeader.interpreter {
    guard ph.offset < UInt64(bytes.count) else { continue }
    let start = Int(ph.offset)
    let segment = Array(bytes[start..<start + Int(min(ph.fileSize, UInt64(bytes.count - start)))])
    let loader = ELFProgramHeader.loaderPath(fromSegment: segment)
    require(loader == Array(segment.prefix { $0 != 0 }), "loader path \(loader) is not the segment up to its NUL")
  }

  // The note and dynamic decoders, on each such segment as `LibELF` hands it over (the
  // segment's bytes inside the file), and on the whole input as a segment of its own.
  var segments: [(UInt32, [UInt8], UInt64)] = [
    (ELFProgramHeader.note, bytes, 4), (ELFProgramHeader.note, bytes, 8), (ELFProgramHeader.dynamic, bytes, 8),
  ]
  for ph in (table ?? []) + (loose ?? []) where ph.type == ELFProgramHeader.note || ph.type == ELFProgramHeader.dynamic
  {
    guard ph.offset < UInt64(bytes.count) else { continue }
    let start = Int(ph.offset)
    segments.append(
      (ph.type, Array(bytes[start..<start + Int(min(ph.fileSize, UInt64(bytes.count - start)))]), ph.align))
  }
  for (type, segment, align) in segments {
    let r = ByteReader(bytes: segment, order: header.byteOrder)
    if type == ELFProgramHeader.dynamic {
      _ = ELFSegmentContents.dynamicHasPIE(r, is64: header.elfClass == .elf64)
      continue
    }
    let notes = ELFSegmentContents.notes(r, align: Int(truncatingIfNeeded: align))
    // A build ID is a descriptor: bytes of the segment, and at most 64 KiB.
    if let id = notes.buildID {
      require(id.count < 1 << 16, "build ID of \(id.count) bytes")
      require(id.isEmpty || segment.firstRange(of: id) != nil, "build ID is not in its segment")
    }
    if let tag = notes.abiTag { require(tag.split(separator: " ").count >= 2, "ABI tag '\(tag)'") }
  }
  return 0
}
