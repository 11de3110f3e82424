// commit.h is written by `make` (target buildinfo) and ignored by git. A C file, not Swift:
// when the commit changes only this file is recompiled, and no Swift module's flags change.
#include "CBuildInfo.h"
#if __has_include("commit.h")
#include "commit.h"
#endif
#ifndef BCTL_COMMIT
#define BCTL_COMMIT "unknown"
#endif

const char *bctl_build_commit(void) { return BCTL_COMMIT; }
