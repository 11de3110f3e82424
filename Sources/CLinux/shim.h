// The kernel interfaces glibc does not wrap, as plain C functions Swift can call (Swift
// cannot call the variadic syscall(2)). Only LinuxSystem imports this module.
#include <errno.h>
#include <linux/openat2.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <unistd.h>

// openat2(2) (Linux 5.6): open `path` relative to `dirfd` with resolve restrictions.
// Returns the fd, or -1 with errno set (ENOSYS on older kernels).
static inline int binfmtctl_openat2(int dirfd, const char *path, unsigned long long flags,
                                    unsigned long long mode, unsigned long long resolve) {
#ifdef SYS_openat2
  struct open_how how = {.flags = flags, .mode = mode, .resolve = resolve};
  return (int)syscall(SYS_openat2, dirfd, path, &how, sizeof how);
#else
  errno = ENOSYS;
  return -1;
#endif
}

// getdents64(2): directory entries in bulk (struct linux_dirent64: d_ino u64, d_off s64,
// d_reclen u16, d_type u8, d_name NUL-terminated). Returns the bytes filled, 0 at the end,
// or -1 with errno set.
static inline long binfmtctl_getdents64(int fd, void *buf, unsigned long size) {
  return syscall(SYS_getdents64, fd, buf, size);
}
