#include "CLazyLoad.h"

#include <dlfcn.h>
#include <stddef.h>

void *bctl_library_handle(struct bctl_library *lib) {
  if (!lib->tried) {
    lib->tried = 1;
    lib->handle = dlopen(lib->soname, RTLD_NOW | RTLD_LOCAL);
    if (!lib->handle) lib->failure = dlerror();
  }
  return lib->handle;
}

const char *bctl_library_unavailable(struct bctl_library *lib) {
  if (bctl_library_handle(lib)) return NULL;
  return lib->failure ? lib->failure : lib->soname;
}

void *bctl_library_symbol(void *handle, const char *name) { return dlsym(handle, name); }
