import BinfmtKit
import CLinux
import Synchronization
import SystemPackage

#if canImport(Glibc)
  import Glibc
#endif

/// How `TreeWalk` treats symlinks and mount points, and how many threads read.
public struct TreeWalkOptions: Sendable {
  /// Follow symlinks below the operands (`find -L`); a directory reached again through a
  /// link to one of its ancestors is a loop and is not entered.
  public var followSymlinks: Bool
  /// Stay on the file system of each operand (`find -xdev`).
  public var oneFileSystem: Bool
  /// Threads that read directories, the calling one included.
  public var workers: Int
  public init(followSymlinks: Bool = false, oneFileSystem: Bool = false, workers: Int = 2) {
    self.followSymlinks = followSymlinks
    self.oneFileSystem = oneFileSystem
    self.workers = max(1, workers)
  }
}

/// What the walk saw besides the files it handed over.
public struct TreeWalkCounts: Sendable, Equatable {
  /// Directories read (operands included).
  public var directories = 0
  /// Symlinks not followed (all of them without `followSymlinks`; dangling ones with it).
  public var symlinks = 0
  /// FIFOs, sockets and devices: never opened.
  public var special = 0
  /// Directories on another file system, not entered (`oneFileSystem`).
  public var otherFileSystems = 0
  /// Directories not entered again because a followed symlink led back to an ancestor.
  public var loops = 0
  public init() {}

  public mutating func add(_ o: TreeWalkCounts) {
    directories += o.directories
    symlinks += o.symlinks
    special += o.special
    otherFileSystems += o.otherFileSystems
    loops += o.loops
  }
}

/// One regular file the walk opened; valid only during `TreeVisitor.file`.
public struct OpenedFile: ~Copyable {
  /// The index of the operand it was found under.
  public let root: Int
  /// st_size, from fstat(2) of the open file.
  public let size: UInt64
  let fd: Int32
  let directory: [UInt8]
  let name: UnsafeBufferPointer<UInt8>

  /// pread(2) into `buffer` from `offset`, until it is full or the file ends (EINTR and short
  /// reads retried). The bytes read, or the errno.
  public func read(into buffer: UnsafeMutableRawBufferPointer, at offset: UInt64) -> Result<Int, Errno> {
    guard var off = off_t(exactly: offset) else { return .success(0) }
    var got = 0
    while got < buffer.count {
      switch valueOrErrno({ pread(fd, buffer.baseAddress! + got, buffer.count - got, off) }) {
      case .success(0): return .success(got)
      case .success(let n):
        got += n
        off += off_t(n)
      case .failure(let e): return .failure(e)
      }
    }
    return .success(got)
  }

  /// Its path: the operand's, then each directory's name (bytes, so `PathBytes.string` gives
  /// a string that names the same file).
  public var pathBytes: [UInt8] { TreeWalk.join(directory, name) }
}

/// Receives what one walking thread finds; each thread has its own, so nothing in it is shared.
public protocol TreeVisitor: Sendable {
  /// A regular file, open, and `head` its first bytes: up to `TreeWalk.headSize`, fewer when
  /// the file is shorter, none when it has fewer than `TreeWalk.minimumSize` bytes.
  mutating func file(_ file: borrowing OpenedFile, head: UnsafeRawBufferPointer)
  /// An entry that could not be opened, read or listed; the walk goes on without it.
  mutating func failed(path: [UInt8], error: BinfmtError)
  /// A directory entered again through a followed symlink (a loop), not read twice.
  mutating func loop(path: [UInt8])
}

/// An operand, opened before the walk starts so a missing root fails at once.
public struct WalkRoot: Sendable {
  enum Node: Sendable {
    case directory(DirectoryNode)
    case file(path: [UInt8], file: OpenDescriptor, size: UInt64)
  }
  let node: Node
  let index: Int
  public var isDirectory: Bool {
    if case .directory = node { return true }
    return false
  }

  /// Opens the operand `path` (following a symlink there, as `find -H` does) without ever
  /// blocking: a FIFO or device is refused, not opened for reading.
  public static func open(_ path: String, index: Int) throws(BinfmtError) -> WalkRoot {
    var bytes = PathBytes.bytes(path)
    while bytes.count > 1 && bytes.last == UInt8(ascii: "/") { bytes.removeLast() }
    var st = stat()
    if let e = nothingOrErrno({ PathBytes.withCString(path) { stat($0, &st) } }) {
      throw errnoError(e, path: path, action: "cannot read")
    }
    switch st.st_mode & S_IFMT {
    case S_IFDIR:
      let fd: Int32
      switch valueOrErrno({ PathBytes.withCString(path) { Glibc.open($0, O_RDONLY | O_DIRECTORY | O_CLOEXEC) } }) {
      case .success(let f): fd = f
      case .failure(let e): throw errnoError(e, path: path, action: "cannot open the directory")
      }
      return WalkRoot(
        node: .directory(
          DirectoryNode(
            fd: fd, path: bytes, root: index, device: UInt64(st.st_dev), inode: UInt64(st.st_ino), parent: nil)),
        index: index)
    case S_IFREG:
      let fd: Int32
      switch valueOrErrno({
        PathBytes.withCString(path) { Glibc.open($0, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY) }
      }) {
      case .success(let f): fd = f
      case .failure(let e): throw errnoError(e, path: path, action: "cannot open")
      }
      return WalkRoot(
        node: .file(path: bytes, file: OpenDescriptor(fd), size: UInt64(clamping: st.st_size)), index: index)
    default:
      throw BinfmtError(.invalidInput, FileKindError.describe(mode: st.st_mode), at: path)
    }
  }
}

/// An operand file's descriptor, closed with the last reference (also when a later operand
/// fails to open and the walk never starts).
final class OpenDescriptor: Sendable {
  let fd: Int32
  init(_ fd: Int32) { self.fd = fd }
  deinit { close(fd) }
}

/// A directory being read, or whose subdirectories wait in the queue: its descriptor stays
/// open while any of them does (so they are opened relative to it), and is closed with the
/// last reference. With `followSymlinks` it keeps its parent, whose device and inode tell a
/// loop; without, it does not, so open descriptors are bounded by the queue's reach.
final class DirectoryNode: Sendable {
  let fd: Int32
  let path: [UInt8]
  let root: Int
  let device: UInt64
  let inode: UInt64
  let parent: DirectoryNode?

  init(fd: Int32, path: [UInt8], root: Int, device: UInt64, inode: UInt64, parent: DirectoryNode?) {
    self.fd = fd
    self.path = path
    self.root = root
    self.device = device
    self.inode = inode
    self.parent = parent
  }

  deinit { close(fd) }
}

/// Walks directory trees with several threads: each takes a directory from a shared stack,
/// lists it with getdents64(2) in 64 KiB batches, opens each regular file relative to the
/// directory's descriptor (O_NONBLOCK | O_NOFOLLOW, checked again with fstat), reads its head
/// with one pread(2), and pushes the subdirectories. Nothing is kept per file: memory grows
/// with depth and with the subdirectories waiting, never with the number of files.
public enum TreeWalk {
  /// The bytes read from every file: an ELF64 header.
  public static let headSize = 64
  /// Files shorter than an ELF32 header (52 bytes) are not read at all.
  public static let minimumSize: UInt64 = 52
  static let direntBufferSize = 64 * 1024

  /// Walks `roots` with `options.workers` threads, each with the visitor `makeVisitor` gives
  /// it; returns every visitor and the counts, after the last thread ended. `progress`, when
  /// given, is called with the files read so far, at most every `progressInterval` ns. When
  /// `stop` says so (asked before each directory), the directories left are not read.
  public static func run<V: TreeVisitor>(
    _ roots: [WalkRoot], options: TreeWalkOptions, progressInterval: UInt64 = 250_000_000,
    progress: (@Sendable (Int) -> Void)? = nil, stop: (@Sendable () -> Bool)? = nil,
    makeVisitor: @escaping @Sendable (Int) -> V
  ) -> (visitors: [V], counts: TreeWalkCounts) {
    let shared = WalkShared(progressInterval: progressInterval, progress: progress, stop: stop)
    let stack = WorkStack<WorkItem>()
    var first = makeVisitor(0)
    var firstCounts = TreeWalkCounts()
    var items: [WorkItem] = []
    for root in roots {
      switch root.node {
      case .directory(let d):
        items.append(WorkItem(parent: d, name: [], followed: false))
      case .file(let path, let file, let size):
        var worker = Worker(options: options, shared: shared)
        worker.visitOpen(
          fd: file.fd, size: size, root: root.index, directory: path, name: UnsafeBufferPointer(start: nil, count: 0),
          visitor: &first)
        firstCounts.add(worker.counts)
      }
    }
    stack.push(items)
    let results = Results<V>()
    var threads: [pthread_t] = []
    for index in 1..<max(1, options.workers) {
      let started = Threads.start {
        var visitor = makeVisitor(index)
        var worker = Worker(options: options, shared: shared)
        worker.drain(stack, visitor: &visitor)
        let done = (index, visitor, worker.counts)
        results.list.withLock { $0.append(done) }
      }
      guard let t = started else { break }
      threads.append(t)
    }
    var worker = Worker(options: options, shared: shared)
    worker.drain(stack, visitor: &first)
    firstCounts.add(worker.counts)
    for t in threads { Threads.join(t) }
    var visitors = [first]
    var counts = firstCounts
    for (_, v, c) in results.list.withLock({ $0 }).sorted(by: { $0.0 < $1.0 }) {
      visitors.append(v)
      counts.add(c)
    }
    return (visitors, counts)
  }

  static func join(_ directory: [UInt8], _ name: UnsafeBufferPointer<UInt8>) -> [UInt8] {
    if name.isEmpty { return directory }
    var p = directory
    p.reserveCapacity(directory.count + name.count + 1)
    if p.last != UInt8(ascii: "/") { p.append(UInt8(ascii: "/")) }
    p.append(contentsOf: name)
    return p
  }
}

/// What each thread's visitor and counts come back in.
final class Results<V: Sendable>: Sendable {
  let list = Mutex<[(Int, V, TreeWalkCounts)]>([])
}

/// A subdirectory to read: its name in `parent`, NUL included (empty for an operand, which is
/// open already).
struct WorkItem: Sendable {
  let parent: DirectoryNode
  let name: [UInt8]
  /// Reached through a symlink (`followSymlinks`): opened without O_NOFOLLOW.
  let followed: Bool
}

/// What the threads share: the file count for progress and when it was last shown.
final class WalkShared: Sendable {
  let files = Atomic<Int>(0)
  let lastShown = Atomic<UInt64>(0)
  let interval: UInt64
  let progress: (@Sendable (Int) -> Void)?
  let stop: (@Sendable () -> Bool)?

  init(progressInterval: UInt64, progress: (@Sendable (Int) -> Void)?, stop: (@Sendable () -> Bool)?) {
    self.interval = progressInterval
    self.progress = progress
    self.stop = stop
    lastShown.store(Monotonic.nanoseconds(), ordering: .relaxed)
  }

  /// Adds a thread's recent files; shows progress when the interval has passed (one thread
  /// wins the exchange, so a line is never shown twice).
  func report(_ files: Int) {
    let total = self.files.wrappingAdd(files, ordering: .relaxed).newValue
    guard let progress else { return }
    let now = Monotonic.nanoseconds()
    let last = lastShown.load(ordering: .relaxed)
    guard now &- last >= interval else { return }
    if lastShown.compareExchange(expected: last, desired: now, ordering: .relaxed).exchanged { progress(total) }
  }
}

/// One thread's walk: its getdents buffer, head buffer and counts.
struct Worker: ~Copyable {
  let options: TreeWalkOptions
  let shared: WalkShared
  var counts = TreeWalkCounts()
  var recentFiles = 0
  let dirents: UnsafeMutableRawPointer
  let head: UnsafeMutableRawBufferPointer

  init(options: TreeWalkOptions, shared: WalkShared) {
    self.options = options
    self.shared = shared
    dirents = .allocate(byteCount: TreeWalk.direntBufferSize, alignment: 8)
    head = .allocate(byteCount: TreeWalk.headSize, alignment: 8)
  }

  deinit {
    dirents.deallocate()
    head.deallocate()
  }

  mutating func drain<V: TreeVisitor>(_ stack: WorkStack<WorkItem>, visitor: inout V) {
    while let item = stack.pop() {
      // Stopped: the rest is popped unread, so every thread finishes soon.
      if shared.stop?() != true { read(item, stack: stack, visitor: &visitor) }
      stack.done()
    }
    if recentFiles > 0 { shared.report(recentFiles) }
    recentFiles = 0
  }

  /// Opens the item's directory, lists it, visits its files and pushes its subdirectories.
  mutating func read<V: TreeVisitor>(_ item: WorkItem, stack: WorkStack<WorkItem>, visitor: inout V) {
    let dir: DirectoryNode
    if item.name.isEmpty {
      dir = item.parent
    } else {
      guard let d = open(item, visitor: &visitor) else { return }
      dir = d
    }
    counts.directories += 1
    var subdirectories: [WorkItem] = []
    while true {
      let n: Int
      switch valueOrErrno({ binfmtctl_getdents64(dir.fd, dirents, UInt(TreeWalk.direntBufferSize)) }) {
      case .success(let got): n = got
      case .failure(let e):
        visitor.failed(
          path: dir.path, error: errnoError(e, path: PathBytes.string(dir.path), action: "cannot list the directory"))
        n = 0
      }
      if n <= 0 { break }
      var offset = 0
      while offset < n {
        // struct linux_dirent64: d_ino (8), d_off (8), d_reclen (2), d_type (1), d_name.
        let entry = dirents + offset
        let reclen = Int(entry.loadUnaligned(fromByteOffset: 16, as: UInt16.self))
        let type = entry.load(fromByteOffset: 18, as: UInt8.self)
        let namePointer = (entry + 19).assumingMemoryBound(to: UInt8.self)
        let name = UnsafeBufferPointer(start: namePointer, count: strlen(entry + 19))
        offset += reclen
        if name.count <= 2 && name[0] == UInt8(ascii: ".") && (name.count == 1 || name[1] == UInt8(ascii: ".")) {
          continue
        }
        entryAt(dir, name: name, type: type, subdirectories: &subdirectories, visitor: &visitor)
      }
      // Hand the subdirectories found so far to idle threads before listing on.
      if !subdirectories.isEmpty {
        stack.push(subdirectories)
        subdirectories.removeAll(keepingCapacity: true)
      }
    }
  }

  mutating func entryAt<V: TreeVisitor>(
    _ dir: DirectoryNode, name: UnsafeBufferPointer<UInt8>, type: UInt8, subdirectories: inout [WorkItem],
    visitor: inout V
  ) {
    var type = Int(type)
    var followed = false
    if type == DT_UNKNOWN || (type == DT_LNK && options.followSymlinks) {
      // No type from the file system (or a link to follow): ask fstatat, relative to the directory.
      var st = stat()
      let flags: Int32 = type == DT_LNK ? 0 : AT_SYMLINK_NOFOLLOW
      followed = type == DT_LNK
      let r = nothingOrErrno { fstatat(dir.fd, nulTerminated(name), &st, flags) }
      if let e = r {
        if followed && (e == .noSuchFileOrDirectory || e == .tooManySymbolicLinkLevels) {
          counts.symlinks += 1  // dangling, or a loop of links
        } else {
          let p = TreeWalk.join(dir.path, name)
          visitor.failed(path: p, error: errnoError(e, path: PathBytes.string(p), action: "cannot stat"))
        }
        return
      }
      switch st.st_mode & S_IFMT {
      case S_IFDIR: type = Int(DT_DIR)
      case S_IFREG: type = Int(DT_REG)
      case S_IFLNK: type = Int(DT_LNK)
      default: type = Int(DT_FIFO)
      }
    }
    switch type {
    case Int(DT_DIR):
      // With the NUL that ends d_name, for openat.
      let withNUL = UnsafeBufferPointer(start: name.baseAddress, count: name.count + 1)
      subdirectories.append(WorkItem(parent: dir, name: Array(withNUL), followed: followed))
    case Int(DT_REG):
      openFile(dir, name: name, followed: followed, visitor: &visitor)
    case Int(DT_LNK):
      counts.symlinks += 1
    default:
      counts.special += 1
    }
  }

  /// openat(2) of a subdirectory relative to its parent's descriptor; nil when it is not
  /// entered (an error, another file system, a loop).
  mutating func open<V: TreeVisitor>(_ item: WorkItem, visitor: inout V) -> DirectoryNode? {
    let parent = item.parent
    let flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NONBLOCK | (item.followed ? 0 : O_NOFOLLOW)
    let r = item.name.withUnsafeBufferPointer { name in
      valueOrErrno { openat(parent.fd, nulTerminated(name), flags) }
    }
    let fd: Int32
    switch r {
    case .success(let f): fd = f
    case .failure(let e):
      let p = item.name.withUnsafeBufferPointer {
        TreeWalk.join(parent.path, UnsafeBufferPointer(rebasing: $0.dropLast()))
      }
      if e == .tooManySymbolicLinkLevels || e == .notDirectory {
        counts.symlinks += 1  // replaced by a symlink since it was listed
      } else {
        visitor.failed(path: p, error: errnoError(e, path: PathBytes.string(p), action: "cannot open the directory"))
      }
      return nil
    }
    let path = item.name.withUnsafeBufferPointer {
      TreeWalk.join(parent.path, UnsafeBufferPointer(rebasing: $0.dropLast()))
    }
    var device: UInt64 = 0
    var inode: UInt64 = 0
    if options.oneFileSystem || options.followSymlinks {
      var st = stat()
      if let e = nothingOrErrno({ fstat(fd, &st) }) {
        close(fd)
        visitor.failed(path: path, error: errnoError(e, path: PathBytes.string(path), action: "cannot stat"))
        return nil
      }
      device = UInt64(st.st_dev)
      inode = UInt64(st.st_ino)
      // Each node has the operand's device: its own, equal to it by this very check.
      if options.oneFileSystem && device != parent.device {
        close(fd)
        counts.otherFileSystems += 1
        return nil
      }
      if options.followSymlinks {
        var a: DirectoryNode? = parent
        while let n = a {
          if n.device == device && n.inode == inode {
            close(fd)
            counts.loops += 1
            visitor.loop(path: path)
            return nil
          }
          a = n.parent
        }
      }
    } else {
      device = parent.device
    }
    return DirectoryNode(
      fd: fd, path: path, root: parent.root, device: device, inode: inode,
      parent: options.followSymlinks ? parent : nil)
  }

  mutating func openFile<V: TreeVisitor>(
    _ dir: DirectoryNode, name: UnsafeBufferPointer<UInt8>, followed: Bool, visitor: inout V
  ) {
    let flags = O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY | (followed ? 0 : O_NOFOLLOW)
    let fd: Int32
    switch valueOrErrno({ openat(dir.fd, nulTerminated(name), flags) }) {
    case .success(let f): fd = f
    case .failure(let e):
      if e == .tooManySymbolicLinkLevels {
        counts.symlinks += 1  // replaced by a symlink since it was listed
      } else {
        let p = TreeWalk.join(dir.path, name)
        visitor.failed(path: p, error: errnoError(e, path: PathBytes.string(p), action: "cannot open"))
      }
      return
    }
    defer { close(fd) }
    var st = stat()
    if let e = nothingOrErrno({ fstat(fd, &st) }) {
      let p = TreeWalk.join(dir.path, name)
      visitor.failed(path: p, error: errnoError(e, path: PathBytes.string(p), action: "cannot stat"))
      return
    }
    guard st.st_mode & S_IFMT == S_IFREG else {
      counts.special += 1  // replaced by something else since it was listed
      return
    }
    if options.oneFileSystem && UInt64(st.st_dev) != dir.device {
      counts.otherFileSystems += 1  // a file bind-mounted from elsewhere
      return
    }
    visitOpen(
      fd: fd, size: UInt64(clamping: st.st_size), root: dir.root, directory: dir.path, name: name, visitor: &visitor)
  }

  /// Reads the head of an open regular file and hands it to the visitor.
  mutating func visitOpen<V: TreeVisitor>(
    fd: Int32, size: UInt64, root: Int, directory: [UInt8], name: UnsafeBufferPointer<UInt8>, visitor: inout V
  ) {
    let file = OpenedFile(root: root, size: size, fd: fd, directory: directory, name: name)
    var got = 0
    if size >= TreeWalk.minimumSize {
      switch file.read(into: head, at: 0) {
      case .success(let n): got = n
      case .failure(let e):
        let p = file.pathBytes
        visitor.failed(path: p, error: errnoError(e, path: PathBytes.string(p), action: "cannot read"))
        return
      }
    }
    visitor.file(file, head: UnsafeRawBufferPointer(rebasing: head[0..<got]))
    recentFiles += 1
    if recentFiles == 1024 {
      shared.report(recentFiles)
      recentFiles = 0
    }
  }
}

/// A d_name or stored name as a C string: getdents64 names are NUL-terminated in the buffer;
/// stored names (`WorkItem.name`) are copied with their NUL.
@inline(__always)
func nulTerminated(_ name: UnsafeBufferPointer<UInt8>) -> UnsafePointer<CChar> {
  UnsafeRawPointer(name.baseAddress!).assumingMemoryBound(to: CChar.self)
}

/// The shared stack of directories to read. Threads pop until it is empty and no thread
/// still reading a directory could push more.
final class WorkStack<Item: Sendable>: @unchecked Sendable {
  // Safe to share: `items` and `busy` are read and written only between
  // pthread_mutex_lock(mutex) and pthread_mutex_unlock(mutex); the mutex and condition live
  // at heap addresses that never move, allocated in init and destroyed in deinit, which runs
  // after every thread that used the stack has been joined (TreeWalk.run holds it until then).
  private let mutex: UnsafeMutablePointer<pthread_mutex_t>
  private let cond: UnsafeMutablePointer<pthread_cond_t>
  private var items: [Item] = []
  /// Threads holding an item: they may still push.
  private var busy = 0

  init() {
    mutex = .allocate(capacity: 1)
    cond = .allocate(capacity: 1)
    pthread_mutex_init(mutex, nil)
    pthread_cond_init(cond, nil)
  }

  deinit {
    pthread_cond_destroy(cond)
    pthread_mutex_destroy(mutex)
    mutex.deallocate()
    cond.deallocate()
  }

  func push(_ batch: [Item]) {
    guard !batch.isEmpty else { return }
    pthread_mutex_lock(mutex)
    items.append(contentsOf: batch)
    pthread_cond_broadcast(cond)
    pthread_mutex_unlock(mutex)
  }

  /// The newest item (depth first, so the directories open at once stay few), waiting while
  /// the stack is empty and another thread may still push; nil when the walk is over.
  func pop() -> Item? {
    pthread_mutex_lock(mutex)
    defer { pthread_mutex_unlock(mutex) }
    while items.isEmpty && busy > 0 { pthread_cond_wait(cond, mutex) }
    guard let item = items.popLast() else {
      pthread_cond_broadcast(cond)
      return nil
    }
    busy += 1
    return item
  }

  /// The item `pop` gave is done (its subdirectories are pushed already).
  func done() {
    pthread_mutex_lock(mutex)
    busy -= 1
    if busy == 0 && items.isEmpty { pthread_cond_broadcast(cond) }
    pthread_mutex_unlock(mutex)
  }
}

/// POSIX threads, for the walk's workers.
enum Threads {
  final class Body: Sendable {
    let run: @Sendable () -> Void
    init(_ run: @escaping @Sendable () -> Void) { self.run = run }
  }

  /// pthread_create(3); nil when no thread could be made (the caller does the work itself).
  static func start(_ body: @escaping @Sendable () -> Void) -> pthread_t? {
    let context = Unmanaged.passRetained(Body(body)).toOpaque()
    var thread = pthread_t()
    let rc = pthread_create(
      &thread, nil,
      { raw in
        Unmanaged<Body>.fromOpaque(raw!).takeRetainedValue().run()
        return nil
      }, context)
    guard rc == 0 else {
      Unmanaged<Body>.fromOpaque(context).release()
      return nil
    }
    return thread
  }

  static func join(_ t: pthread_t) { pthread_join(t, nil) }
}

/// CLOCK_MONOTONIC in nanoseconds (a vDSO call: cheap enough to ask every thousand files).
public enum Monotonic {
  public static func nanoseconds() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
  }
}

extension CurrentProcess {
  /// Whether the descriptor is a terminal (isatty(3)): progress lines go only there.
  public static func isTerminal(_ fd: Int32) -> Bool { isatty(fd) == 1 }

  /// Online processors (sysconf(_SC_NPROCESSORS_ONLN)), at least 1.
  public static var processors: Int { max(1, sysconf(Int32(_SC_NPROCESSORS_ONLN))) }
}
