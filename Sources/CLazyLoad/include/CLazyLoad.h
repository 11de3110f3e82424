// One shared library, opened with dlopen on first use and kept open: the loader behind the
// CSystemd and CLibelf wrappers (each caches its own function pointers).
#ifndef BCTL_LAZY_LOAD_H
#define BCTL_LAZY_LOAD_H

struct bctl_library {
  const char *soname;
  int tried;
  void *handle;
  const char *failure;
};

/// The library's handle, opening it on the first call; NULL when it cannot be loaded.
void *bctl_library_handle(struct bctl_library *lib);

/// NULL when the library is loaded (loading it if needed), else why it is not.
const char *bctl_library_unavailable(struct bctl_library *lib);

/// dlsym(3).
void *bctl_library_symbol(void *handle, const char *name);

/// Declares `fn`, a pointer to the library's function `name` typed from its prototype,
/// resolved once (NULL when the library or the symbol is missing).
#define BCTL_RESOLVE(lib, name)                                        \
  static __typeof__(&name) fn;                                         \
  if (!fn) {                                                           \
    void *h = bctl_library_handle(lib);                                \
    if (h) fn = (__typeof__(&name))bctl_library_symbol(h, #name);      \
  }

#endif
