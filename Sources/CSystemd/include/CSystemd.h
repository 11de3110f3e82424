// libsystemd, loaded on first use (dlopen), the way systemd loads its own optional libraries:
// most commands never talk to systemd and should not pay for loading it and its six
// dependencies at every start. The types come from the real headers; the functions are the
// `bctl_` wrappers below, each of which calls the library's function of the same name. When
// libsystemd.so.0 cannot be loaded they fail the way the library reports errors (-ENOSYS, or
// NULL), and `bctl_sd_available` says why.
#include <systemd/sd-bus.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-journal.h>
#include <sys/uio.h>

/// NULL when libsystemd is loaded (loading it if needed), else dlerror()'s message.
const char *bctl_sd_unavailable(void);

int bctl_sd_booted(void);
int bctl_sd_notify(int unset_environment, const char *state);
int bctl_sd_journal_sendv(const struct iovec *iov, int n);
int bctl_sd_bus_open_system(sd_bus **ret);
sd_bus *bctl_sd_bus_flush_close_unref(sd_bus *bus);
int bctl_sd_bus_message_new_method_call(
    sd_bus *bus, sd_bus_message **m, const char *destination, const char *path, const char *interface,
    const char *member);
sd_bus_message *bctl_sd_bus_message_unref(sd_bus_message *m);
int bctl_sd_bus_message_append_strv(sd_bus_message *m, char **l);
int bctl_sd_bus_message_append_basic(sd_bus_message *m, char type, const void *p);
int bctl_sd_bus_call(sd_bus *bus, sd_bus_message *m, uint64_t usec, sd_bus_error *ret_error, sd_bus_message **reply);
int bctl_sd_bus_message_read_basic(sd_bus_message *m, char type, void *p);
int bctl_sd_bus_message_enter_container(sd_bus_message *m, char type, const char *contents);
int bctl_sd_bus_message_exit_container(sd_bus_message *m);
void bctl_sd_bus_error_free(sd_bus_error *e);
