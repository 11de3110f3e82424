// libelf, loaded on first use (dlopen): only `inspect` and the emulator checks read program
// headers through it, so the other commands (and `boot`) do not load it at start. Types come
// from the real headers; the functions are `bctl_` wrappers around the library's. When
// libelf.so.1 cannot be loaded they fail as libelf reports failure (EV_NONE, NULL, -1), and
// `bctl_elf_unavailable` says why.
#include <gelf.h>
#include <libelf.h>

/// NULL when libelf is loaded (loading it if needed), else dlerror()'s message.
const char *bctl_elf_unavailable(void);

unsigned int bctl_elf_version(unsigned int version);
Elf *bctl_elf_begin(int fd, Elf_Cmd cmd, Elf *ref);
int bctl_elf_end(Elf *elf);
const char *bctl_elf_errmsg(int error);
Elf_Kind bctl_elf_kind(Elf *elf);
int bctl_elf_getphdrnum(Elf *elf, size_t *dst);
Elf_Data *bctl_elf_getdata_rawchunk(Elf *elf, int64_t offset, size_t size, Elf_Type type);
GElf_Ehdr *bctl_gelf_getehdr(Elf *elf, GElf_Ehdr *dst);
GElf_Phdr *bctl_gelf_getphdr(Elf *elf, int ndx, GElf_Phdr *dst);
