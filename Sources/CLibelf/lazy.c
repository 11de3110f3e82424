#include "CLibelf.h"

#include <errno.h>
#include <stddef.h>

#include "CLazyLoad.h"

static struct bctl_library lib = {.soname = "libelf.so.1"};

const char *bctl_elf_unavailable(void) { return bctl_library_unavailable(&lib); }

#define RESOLVE(name) BCTL_RESOLVE(&lib, name)

unsigned int bctl_elf_version(unsigned int version) {
  RESOLVE(elf_version);
  return fn ? fn(version) : EV_NONE;
}

Elf *bctl_elf_begin(int fd, Elf_Cmd cmd, Elf *ref) {
  RESOLVE(elf_begin);
  return fn ? fn(fd, cmd, ref) : NULL;
}

int bctl_elf_end(Elf *elf) {
  RESOLVE(elf_end);
  return fn ? fn(elf) : 0;
}

const char *bctl_elf_errmsg(int error) {
  RESOLVE(elf_errmsg);
  return fn ? fn(error) : bctl_elf_unavailable();
}

Elf_Kind bctl_elf_kind(Elf *elf) {
  RESOLVE(elf_kind);
  return fn ? fn(elf) : ELF_K_NONE;
}

int bctl_elf_getphdrnum(Elf *elf, size_t *dst) {
  RESOLVE(elf_getphdrnum);
  return fn ? fn(elf, dst) : -1;
}

Elf_Data *bctl_elf_getdata_rawchunk(Elf *elf, int64_t offset, size_t size, Elf_Type type) {
  RESOLVE(elf_getdata_rawchunk);
  return fn ? fn(elf, offset, size, type) : NULL;
}

GElf_Ehdr *bctl_gelf_getehdr(Elf *elf, GElf_Ehdr *dst) {
  RESOLVE(gelf_getehdr);
  return fn ? fn(elf, dst) : NULL;
}

GElf_Phdr *bctl_gelf_getphdr(Elf *elf, int ndx, GElf_Phdr *dst) {
  RESOLVE(gelf_getphdr);
  return fn ? fn(elf, ndx, dst) : NULL;
}
