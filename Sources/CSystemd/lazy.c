#include "CSystemd.h"

#include <errno.h>
#include <stddef.h>

#include "CLazyLoad.h"

static struct bctl_library lib = {.soname = "libsystemd.so.0"};

const char *bctl_sd_unavailable(void) { return bctl_library_unavailable(&lib); }

#define RESOLVE(name) BCTL_RESOLVE(&lib, name)

int bctl_sd_booted(void) {
  RESOLVE(sd_booted);
  return fn ? fn() : -ENOSYS;
}

int bctl_sd_notify(int unset_environment, const char *state) {
  RESOLVE(sd_notify);
  return fn ? fn(unset_environment, state) : -ENOSYS;
}

int bctl_sd_journal_sendv(const struct iovec *iov, int n) {
  RESOLVE(sd_journal_sendv);
  return fn ? fn(iov, n) : -ENOSYS;
}

int bctl_sd_bus_open_system(sd_bus **ret) {
  RESOLVE(sd_bus_open_system);
  return fn ? fn(ret) : -ENOSYS;
}

sd_bus *bctl_sd_bus_flush_close_unref(sd_bus *bus) {
  RESOLVE(sd_bus_flush_close_unref);
  return fn ? fn(bus) : NULL;
}

int bctl_sd_bus_message_new_method_call(
    sd_bus *bus, sd_bus_message **m, const char *destination, const char *path, const char *interface,
    const char *member) {
  RESOLVE(sd_bus_message_new_method_call);
  return fn ? fn(bus, m, destination, path, interface, member) : -ENOSYS;
}

sd_bus_message *bctl_sd_bus_message_unref(sd_bus_message *m) {
  RESOLVE(sd_bus_message_unref);
  return fn ? fn(m) : NULL;
}

int bctl_sd_bus_message_append_strv(sd_bus_message *m, char **l) {
  RESOLVE(sd_bus_message_append_strv);
  return fn ? fn(m, l) : -ENOSYS;
}

int bctl_sd_bus_message_append_basic(sd_bus_message *m, char type, const void *p) {
  RESOLVE(sd_bus_message_append_basic);
  return fn ? fn(m, type, p) : -ENOSYS;
}

int bctl_sd_bus_call(sd_bus *bus, sd_bus_message *m, uint64_t usec, sd_bus_error *ret_error, sd_bus_message **reply) {
  RESOLVE(sd_bus_call);
  return fn ? fn(bus, m, usec, ret_error, reply) : -ENOSYS;
}

int bctl_sd_bus_message_read_basic(sd_bus_message *m, char type, void *p) {
  RESOLVE(sd_bus_message_read_basic);
  return fn ? fn(m, type, p) : -ENOSYS;
}

int bctl_sd_bus_message_enter_container(sd_bus_message *m, char type, const char *contents) {
  RESOLVE(sd_bus_message_enter_container);
  return fn ? fn(m, type, contents) : -ENOSYS;
}

int bctl_sd_bus_message_exit_container(sd_bus_message *m) {
  RESOLVE(sd_bus_message_exit_container);
  return fn ? fn(m) : -ENOSYS;
}

void bctl_sd_bus_error_free(sd_bus_error *e) {
  RESOLVE(sd_bus_error_free);
  if (fn) fn(e);
}
