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

#include <fcntl.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/wait.h>

// CLONE_NEWNS, without needing _GNU_SOURCE for <sched.h>.
#define BINFMTCTL_CLONE_NEWNS 0x00020000

// Starts `path` (a path inside `root`) chrooted into `root` in a new, private mount namespace,
// the way a container runtime starts a process: only what the kernel holds open (a binfmt_misc
// entry's F interpreter) is reachable from there. stdin is /dev/null, stdout and stderr go to
// `outfd` and `errfd`. Between fork and execve the child makes only async-signal-safe calls.
// Returns the child's pid (> 0); or -1 with `*stage` (1 unshare, 2 mount, 3 chroot, 4 chdir,
// 5 execve, 6 fork or pipe) and `*err` (the errno) when it could not be started.
static inline int binfmtctl_spawn_in_root(const char *root, const char *path, char *const argv[],
                                          char *const envp[], int outfd, int errfd, int *stage,
                                          int *err) {
  int report[2];
  if (pipe(report) != 0) {
    *stage = 6;
    *err = errno;
    return -1;
  }
  fcntl(report[0], F_SETFD, FD_CLOEXEC);
  fcntl(report[1], F_SETFD, FD_CLOEXEC);
  pid_t pid = fork();
  if (pid < 0) {
    *stage = 6;
    *err = errno;
    close(report[0]);
    close(report[1]);
    return -1;
  }
  if (pid == 0) {
    int failure[2] = {0, 0};
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    for (int s = 1; s < NSIG; s++) signal(s, SIG_DFL);
    int in = open("/dev/null", O_RDONLY);
    if (in >= 0) dup2(in, 0);
    dup2(outfd, 1);
    dup2(errfd, 2);
    if (syscall(SYS_unshare, BINFMTCTL_CLONE_NEWNS) != 0) {
      failure[0] = 1;
    } else if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) {
      failure[0] = 2;
    } else if (chroot(root) != 0) {
      failure[0] = 3;
    } else if (chdir("/") != 0) {
      failure[0] = 4;
    } else {
      execve(path, argv, envp);
      failure[0] = 5;
    }
    failure[1] = errno;
    (void)!write(report[1], failure, sizeof failure);
    _exit(127);
  }
  close(report[1]);
  int failure[2] = {0, 0};
  ssize_t n;
  do {
    n = read(report[0], failure, sizeof failure);
  } while (n < 0 && errno == EINTR);
  close(report[0]);
  if (n == (ssize_t)sizeof failure) {
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    *stage = failure[0];
    *err = failure[1];
    return -1;
  }
  return pid;
}
