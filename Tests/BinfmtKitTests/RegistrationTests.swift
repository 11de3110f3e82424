import Testing

@testable import BinfmtKit

@Suite struct RegistrationTests {
  @Test func parsesDebianStyleLine() throws {
    let r = try Registration.parse(
      ":qemu-aarch64:M::\\x7f\\x45\\x4c\\x46\\x02\\x01\\x01\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x02\\x00\\xb7\\x00:\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\x00\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\xfe\\xff\\xff\\xff:/usr/libexec/qemu-binfmt/aarch64-binfmt-P:OPF"
    )
    #expect(r.name == "qemu-aarch64")
    #expect(r.flags == [.openBinary, .preserveArgv0, .fixBinary])
    #expect(r.flags.description == "POF")
    #expect(r == Catalog.standard.resolve("arm64")!.registration(interpreter: r.interpreter, flags: r.flags))
  }

  @Test func anyDelimiterAndLiteralMagic() throws {
    let r = try Registration.parse("|t8|M|2|\\x7fELF||/bin/true|P\n")
    #expect(r.match == .magic(offset: 2, magic: [0x7f, 0x45, 0x4c, 0x46], mask: nil))
    #expect(r.flags == .preserveArgv0)
  }

  @Test func extensionEntryIgnoresOffsetAndMask() throws {
    let r = try Registration.parse(":py:E:zz:py:yy:/usr/bin/python3:")
    #expect(r.match == .fileExtension("py"))
    #expect(r.registerString() == ":py:E::py::/usr/bin/python3:")
  }

  @Test func credentialsImplyOpenBinary() throws {
    #expect(try Registration.parse(":x:M::ab::/x:C").flags == [.credentials, .openBinary])
  }

  /// Each bad string names the field the kernel would reject it for.
  @Test(arguments: [
    (":a:M::ab::/x", "interpreter"),
    (":a:M::ab::/x:F:", "flags"),
    (":a:M::ab::/x:P\n\n", "flags"),
    (":a:M::ab::/x:Z", "flags"),
    ("::M::ab::/x:", "name"),
    (":.:M::ab::/x:", "name"),
    (":a/b:M::ab::/x:", "name"),
    (":a:X::ab::/x:", "type"),
    (":a:MM::ab::/x:", "type"),
    (":a:M:x:ab::/x:", "offset"),
    (":a:M: 1:ab::/x:", "offset"),
    (":a:M:-1:ab::/x:", "offset"),
    (":a:M:0x1:ab::/x:", "offset"),
    (":a:M::::/x:", "magic"),
    (":a:M::ab\\x4::/x:", "magic"),
    (":a:M::ab\\xg1::/x:", "magic"),
    (":a:M::abc:\\xff\\xff:/x:", "mask"),
    (":a:M:251:abcdef::/x:", "offset"),
    (":a:E::a/b::/x:", "extension"),
    (":a:E::::/x:", "extension"),
    (":a:M::ab:::", "interpreter"),
    (":a:M:", "register string"),
  ])
  func rejectsWithField(input: String, field: String) {
    #expect {
      try Registration.parse(input)
    } throws: { error in
      (error as? BinfmtError)?.location == field
    }
  }

  @Test func limits() throws {
    _ = try Registration.parse(":a:M:250:abcdef::/x:")
    let longName = String(repeating: "n", count: 256)
    #expect(throws: BinfmtError.self) { try Registration.parse(":\(longName):M::ab::/x:") }
    let huge = ":a:M::ab::/" + String(repeating: "x", count: 1920) + ":"
    #expect(throws: BinfmtError.self) { try Registration.parse(huge) }
  }

  @Test func unescapeMatchesKernel() {
    #expect(KernelEscape.unescape(ArraySlice("ab\\q".utf8)) == Array("ab\\q".utf8))
    #expect(KernelEscape.unescape(ArraySlice("ab\\".utf8)) == Array("ab\\".utf8))
    #expect(KernelEscape.unescape(ArraySlice("\\x41\\x4".utf8)) == [0x41, 0x04])
    #expect(KernelEscape.unescape(ArraySlice("\\x7fELF".utf8)) == [0x7f, 0x45, 0x4c, 0x46])
  }

  @Test func everyCatalogEntryRoundTrips() throws {
    for a in Catalog.standard.architectures {
      for flags: BinfmtFlags in [
        [], Architecture.defaultFlags, [.preserveArgv0, .openBinary, .credentials, .fixBinary],
      ] {
        let r = a.registration(flags: flags)
        for d in [":", "|", "#"] as [Character] {
          let s = r.registerString(delimiter: d)
          let back = try Registration.parse(s)
          #expect(back == r, "\(a.name) with \(d)")
          #expect(back.registerString(delimiter: d) == s)
        }
      }
    }
  }

  @Test func kernelMatchRule() {
    let r = Registration(
      name: "t", match: .magic(offset: 2, magic: [0xff, 0x45], mask: [0x0f, 0xff]), interpreter: "/x", flags: [])
    #expect(r.matches(header: [0, 0, 0x3f, 0x45]))  // bits outside the mask are ignored
    #expect(!r.matches(header: [0, 0, 0x3e, 0x45]))
    #expect(!r.matches(header: [0, 0]))  // short files compare against zeros
    let e = Registration(name: "e", match: .fileExtension("py"), interpreter: "/x", flags: [])
    #expect(e.matches(header: [], path: "/a/b.py"))
    #expect(!e.matches(header: [], path: "/a/b.pyc"))
  }

  @Test func statusFileRoundTrip() throws {
    let text = "enabled\ninterpreter /bin/true\nflags: PF\noffset 2\nmagic ff45\nmask 0fff\n"
    let s = try KernelEntryStatus.parse(name: "t1", text: text)
    #expect(s.enabled && s.flags == [.preserveArgv0, .fixBinary])
    #expect(s.match == .magic(offset: 2, magic: [0xff, 0x45], mask: [0x0f, 0xff]))
    #expect(s.render() == text)
    let e = try KernelEntryStatus.parse(name: "t2", text: "disabled\ninterpreter /x\nflags: \nextension .foo\n")
    #expect(!e.enabled && e.match == .fileExtension("foo"))
    #expect(throws: BinfmtError.self) { try KernelEntryStatus.parse(name: "bad", text: "enabled\n") }
  }

  @Test func binfmtDErrorsNameFileAndLine() throws {
    let ok = BinfmtDFile.parse("# c\n; c\n\n  :a:M::ab::/x:F  \n", file: "f.conf")
    #expect(ok.entries.count == 1 && ok.entries[0].number == 4)
    // Like systemd-binfmt: the bad line is reported with file:line, the good one still applies.
    let mixed = BinfmtDFile.parse("# c\n:a:M::ab::/x:\n:b:M::abc:\\xff:/x:\n", file: "10-qemu.conf")
    #expect(mixed.entries.map(\.registration.name) == ["a"])
    #expect(
      mixed.errors.map(\.description) == [
        "10-qemu.conf:3:mask: is 1 bytes, magic is 3 (they must be the same length)"
      ])
  }
}
