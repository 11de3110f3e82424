/// The contents of the segments `inspect` reads (PT_NOTE, PT_DYNAMIC), decoded from their
/// bytes. Pure, so the fuzzer reaches them without libelf; `LibELF` hands them the segments.
public enum ELFSegmentContents {
  /// What a PT_NOTE segment says about the build.
  public struct Notes: Sendable, Hashable {
    /// NT_GNU_BUILD_ID.
    public var buildID: [UInt8]?
    /// NT_GNU_ABI_TAG: OS and minimum kernel version ("Linux 3.2.0").
    public var abiTag: String?
    public init(buildID: [UInt8]? = nil, abiTag: String? = nil) {
      self.buildID = buildID
      self.abiTag = abiTag
    }
  }

  /// The GNU notes in one PT_NOTE segment (`align` 4 or 8). Each note is namesz, descsz and
  /// type (4 bytes each), then the name and the descriptor, each padded to `align`. Stops at
  /// the first note that does not fit, claims 64 KiB or more, or would not move forward.
  public static func notes(_ r: ByteReader, align: Int) -> Notes {
    let align = align == 8 ? 8 : 4
    func up(_ x: Int) -> Int { (x + align - 1) & ~(align - 1) }
    let b = r.bytes
    var out = Notes()
    var o = 0
    while let namesz = r.uint(at: o, size: 4), let descsz = r.uint(at: o + 4, size: 4),
      let type = r.uint(at: o + 8, size: 4)
    {
      guard namesz < 1 << 16, descsz < 1 << 16 else { break }
      let nameStart = o + 12
      let descStart = nameStart + up(Int(namesz))
      let end = descStart + up(Int(descsz))
      guard descStart + Int(descsz) <= b.count, nameStart + Int(namesz) <= b.count else { break }
      let name = b[nameStart..<nameStart + Int(namesz)].prefix(while: { $0 != 0 })
      if name.elementsEqual("GNU".utf8) {
        let desc = Array(b[descStart..<descStart + Int(descsz)])
        if type == 3 {  // NT_GNU_BUILD_ID
          out.buildID = desc
        } else if type == 1, desc.count >= 16,  // NT_GNU_ABI_TAG
          case let d = ByteReader(bytes: desc, order: r.order),
          let os = d.uint(at: 0, size: 4), let a = d.uint(at: 4, size: 4), let bb = d.uint(at: 8, size: 4),
          let c = d.uint(at: 12, size: 4)
        {
          let names = ["Linux", "GNU Hurd", "Solaris", "FreeBSD"]
          let osName = os < UInt64(names.count) ? names[Int(os)] : "OS \(os)"
          out.abiTag = "\(osName) \(a).\(bb).\(c)"
        }
      }
      if end <= o { break }
      o = end
    }
    return out
  }

  /// DT_FLAGS_1 has DF_1_PIE, in a PT_DYNAMIC segment (entries of two words; DT_NULL ends).
  public static func dynamicHasPIE(_ r: ByteReader, is64: Bool) -> Bool {
    let w = is64 ? 8 : 4
    var o = 0
    while let tag = r.uint(at: o, size: w), let val = r.uint(at: o + w, size: w) {
      if tag == 0 { break }  // DT_NULL
      if tag == 0x6fff_fffb { return val & 0x0800_0000 != 0 }  // DT_FLAGS_1 & DF_1_PIE
      o += 2 * w
    }
    return false
  }
}
