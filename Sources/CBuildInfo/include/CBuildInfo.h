#ifndef CBUILDINFO_H
#define CBUILDINFO_H
/// The commit binfmtctl was built from: `git describe --always --dirty` as the Makefile wrote
/// it into commit.h before the build, or "unknown" for a build that did not go through make.
const char *bctl_build_commit(void);
#endif
