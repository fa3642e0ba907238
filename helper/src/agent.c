/* agent.c — find the Fluentd supervisor (sd-bus MainPID, pid file, pid) and trigger the flush. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <jansson.h>
#ifndef FF_NO_SYSTEMD
#include <systemd/sd-bus.h>
#endif

#include "agent.h"
#include "http.h"
#include "log.h"
#include "macro.h"

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif

#define PID_MAX_LIMIT 4194304          /* the kernel's hard upper bound for pid_max */
#define PID_FILE_MAX 32                /* a pid file is a number and a newline; more is not a pid file */
#define RPC_MAX_BODY 4096

/* The packages we know (FLUENTD-FACTS.md, "Which agent, where"). */
static const struct package {
        const char *unit;
        const char *flavor;
        const char *pid_file;
        const char *log_file;
} packages[] = {
        { "fluentd.service", "fluent-package", "/var/run/fluent/fluentd.pid", "/var/log/fluent/fluentd.log" },
        { "td-agent.service", "td-agent", "/var/run/td-agent/td-agent.pid", "/var/log/td-agent/td-agent.log" },
};

static void set_flavor_from_unit(struct agent *a, const char *name) {
        for (size_t i = 0; i < ELEMENTSOF(packages); i++)
                if (strcmp(name, packages[i].unit) == 0) {
                        snprintf(a->flavor, sizeof a->flavor, "%s", packages[i].flavor);
                        return;
                }
}

static int pidfd_open_(pid_t pid) {
        return (int)syscall(SYS_pidfd_open, pid, 0);   /* the fd is always close-on-exec */
}

/* Does pid exist? Keeps a pidfd for agent_alive()/agent_signal() when the kernel has pidfd_open. */
static int attach_pid(struct agent *a, pid_t pid) {
        int fd = pidfd_open_(pid);
        if (fd >= 0) {
                a->pid = pid;
                a->pidfd = fd;
                return 0;
        }
        if (errno == ESRCH)
                return -ESRCH;
        if (errno != ENOSYS && errno != EINVAL && errno != EPERM)
                return -errno;
        /* No pidfd_open (kernel < 5.3, seccomp): kill(pid, 0). EPERM means it exists. */
        if (kill(pid, 0) < 0 && errno != EPERM)
                return -errno;
        a->pid = pid;
        a->pidfd = -1;
        return 0;
}

/* The pid file holds a decimal pid, optionally followed by white space; nothing else. */
int agent_read_pid_file(const char *path, pid_t *ret) {
        char buf[PID_FILE_MAX + 1];
        struct stat st;
        size_t len = 0;
        _cleanup_(closep) int fd = -1;

        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        if (fd < 0)
                return -errno;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode))
                return -EBADMSG;
        while (len < sizeof buf) {
                ssize_t n = read(fd, buf + len, sizeof buf - len);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (n == 0)
                        break;
                len += (size_t)n;
        }
        if (len == 0 || len > PID_FILE_MAX || memchr(buf, '\0', len))
                return -EBADMSG;
        buf[len] = '\0';

        size_t digits = strspn(buf, "0123456789");
        if (digits == 0 || digits > 7 || buf[digits + strspn(buf + digits, " \t\r\n")] != '\0')
                return -EBADMSG;
        char *end;
        errno = 0;
        unsigned long v = strtoul(buf, &end, 10);
        if (errno != 0 || end != buf + digits || v == 0 || v > PID_MAX_LIMIT)
                return -EBADMSG;
        *ret = (pid_t)v;
        return 0;
}

/* When did process pid start, in seconds since the epoch? From /proc/<pid>/stat (starttime, in clock
 * ticks since boot) and /proc/stat (btime). -errno when it can't be told. */
static int process_start_time(pid_t pid, long long *ret) {
        char path[64], buf[1024];
        snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
        _cleanup_(fclosep) FILE *f = fopen(path, "re");
        if (!f)
                return -errno;
        size_t n = fread(buf, 1, sizeof buf - 1, f);
        buf[n] = '\0';
        /* the command name may hold spaces and parentheses: fields start after the last ')' */
        char *p = strrchr(buf, ')');
        if (!p)
                return -EBADMSG;
        /* after ") ": state(3) ppid … starttime is field 22, i.e. 19 fields after the state */
        const char *q = p[1] == ' ' ? p + 2 : NULL;
        for (int i = 0; i < 19 && q; i++) {
                q = strchr(q, ' ');
                if (q)
                        q++;
        }
        if (!q || *q < '0' || *q > '9')
                return -EBADMSG;
        char *end;
        errno = 0;
        unsigned long long ticks = strtoull(q, &end, 10);
        if (errno != 0 || (*end != ' ' && *end != '\n' && *end != '\0'))
                return -EBADMSG;
        _cleanup_(fclosep) FILE *st = fopen("/proc/stat", "re");
        if (!st)
                return -errno;
        char line[256];
        long long btime = -1;
        while (fgets(line, sizeof line, st))
                if (strncmp(line, "btime ", 6) == 0) {
                        errno = 0;
                        long long v = strtoll(line + 6, &end, 10);
                        if (errno == 0 && end != line + 6 && (*end == '\n' || *end == '\0'))
                                btime = v;
                        break;
                }
        long hz = sysconf(_SC_CLK_TCK);
        if (btime < 0 || hz <= 0)
                return -EBADMSG;
        *ret = btime + (long long)(ticks / (unsigned long long)hz);
        return 0;
}

/* A pid file older than its process is fine (the daemon writes it once it runs); a process that started
 * after the pid file was last written got a recycled pid: the file is stale and that process is not the
 * agent (SIGUSR1 would most likely kill it). */
static int check_pid_file_fresh(const char *path, pid_t pid) {
        struct stat sb;
        long long started = 0;
        if (stat(path, &sb) < 0)
                return -errno;
        if (process_start_time(pid, &started) < 0)
                return 0;        /* can't tell: don't refuse on a /proc we can't read */
        if (started > (long long)sb.st_mtime + 2) {
                log_debug("agent: pid %d started %lld s after %s was written: stale pid file", (int)pid,
                          started - (long long)sb.st_mtime, path);
                return -ESRCH;
        }
        return 0;
}

static int find_by_pid_file(const char *path, struct agent *a) {
        pid_t pid;
        int r = agent_read_pid_file(path, &pid);
        if (r < 0) {
                log_debug("agent: pid file %s: %s", path, strerror(-r));
                return r;
        }
        /* agent_read_pid_file() sets pid whenever it returns 0; the analyzer assumes errno may be 0 */
        r = attach_pid(a, pid); /* NOLINT(clang-analyzer-core.CallAndMessage) */
        if (r == 0) {
                r = check_pid_file_fresh(path, pid);
                if (r < 0)
                        agent_done(a);
        }
        if (r < 0)
                log_debug("agent: pid %d from %s: %s", (int)pid, path, strerror(-r));
        if (r == 0 && !a->flavor[0]) {
                /* The package's own pid file names the package. */
                const char *base = strrchr(path, '/');
                base = base ? base + 1 : path;
                if (strcmp(base, "fluentd.pid") == 0)
                        set_flavor_from_unit(a, "fluentd.service");
                else if (strcmp(base, "td-agent.pid") == 0)
                        set_flavor_from_unit(a, "td-agent.service");
        }
        return r;
}

/* A unit name as systemd accepts it (the subset we need): no path, no control characters. */
static int normalize_unit(const char *unit, char *out, size_t size) {
        size_t len = strlen(unit);
        if (len == 0 || len >= size - strlen(".service"))
                return -EINVAL;
        if (strspn(unit, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789:-_.\\@") != len)
                return -EINVAL;
        /* Like systemctl: a name without a type suffix is a service. Only services have a MainPID. */
        const char *dot = strrchr(unit, '.');
        if (dot && dot != unit && strcmp(dot, ".service") != 0)
                return -EINVAL;
        snprintf(out, size, "%s%s", unit, dot && dot != unit ? "" : ".service");
        return 0;
}

/* The unit asked for (normalized into name), or the default pair: kept in a->unit_asked for messages. */
static int resolve_asked(const char *unit, char *name, size_t size, struct agent *a) {
        if (!unit) {
                snprintf(a->unit_asked, sizeof a->unit_asked, "%s or %s", packages[0].unit, packages[1].unit);
                return 0;
        }
        int r = normalize_unit(unit, name, size);
        snprintf(a->unit_asked, sizeof a->unit_asked, "%s", r < 0 ? unit : name);
        return r;
}

#ifndef FF_NO_SYSTEMD

#define BUS_DEST "org.freedesktop.systemd1"
#define BUS_PATH "/org/freedesktop/systemd1"
#define BUS_MANAGER "org.freedesktop.systemd1.Manager"
#define BUS_TIMEOUT_USEC (10ULL * 1000000ULL)

static void strv_freep(char ***p) {
        if (*p)
                for (char **s = *p; *s; s++)
                        free(*s);
        free(*p);
}

/* As systemctl does: root talks to PID 1's private socket (no D-Bus daemon needed), else the system bus. */
static int bus_connect(sd_bus **ret) {
        int r;

        if (geteuid() == 0) {
                _cleanup_(sd_bus_flush_close_unrefp) sd_bus *b = NULL;
                r = sd_bus_new(&b);
                if (r < 0)
                        return r;
                r = sd_bus_set_address(b, "unix:path=/run/systemd/private");
                if (r < 0)
                        return r;
                r = sd_bus_start(b);
                if (r >= 0) {
                        *ret = TAKE_PTR(b);
                        return 0;
                }
                log_debug("agent: /run/systemd/private: %s; trying the system bus", strerror(-r));
        }
        r = sd_bus_open_system(ret);
        if (r < 0)
                log_debug("agent: system bus: %s", strerror(-r));
        return r;
}

static int bus_errno(int r, const sd_bus_error *e, const char *what) {
        if (sd_bus_error_has_name(e, "org.freedesktop.systemd1.NoSuchUnit"))
                r = -ENOENT;
        else if (sd_bus_error_has_name(e, "org.freedesktop.systemd1.NoSuchProcess") ||
                 sd_bus_error_has_name(e, "org.freedesktop.systemd1.UnitInactive"))
                r = -ESRCH;
        else if (sd_bus_error_has_name(e, SD_BUS_ERROR_ACCESS_DENIED) ||
                 sd_bus_error_has_name(e, "org.freedesktop.systemd1.InteractiveAuthorizationRequired"))
                r = -EACCES;
        else if (r >= 0)
                r = -EIO;
        log_debug("agent: %s: %s", what, e && e->message ? e->message : strerror(-r));
        return r;
}

/* Call a method with our own timeout (sd_bus_call_method() has no timeout on systemd 239). */
static int bus_call(sd_bus *bus, const char *path, const char *iface, const char *member,
                    sd_bus_message **reply, const char *types, ...) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        va_list ap;
        int r;

        r = sd_bus_message_new_method_call(bus, &m, BUS_DEST, path, iface, member);
        if (r < 0)
                return r;
        va_start(ap, types);
        r = sd_bus_message_appendv(m, types, ap);
        va_end(ap);
        if (r < 0)
                return r;
        r = sd_bus_call(bus, m, BUS_TIMEOUT_USEC, &e, reply);
        if (r < 0)
                return bus_errno(r, &e, member);
        return 0;
}

static int bus_get_property(sd_bus *bus, const char *path, const char *iface, const char *prop,
                            sd_bus_message **ret) {
        sd_bus_message *reply = NULL;
        int r = bus_call(bus, path, "org.freedesktop.DBus.Properties", "Get", &reply, "ss", iface, prop);
        if (r < 0)
                return r;
        *ret = reply;
        return 0;
}

static int bus_get_string(sd_bus *bus, const char *path, const char *iface, const char *prop,
                          char *out, size_t size) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        const char *s;
        int r = bus_get_property(bus, path, iface, prop, &reply);
        if (r < 0)
                return r;
        r = sd_bus_message_read(reply, "v", "s", &s);
        if (r < 0)
                return r;
        snprintf(out, size, "%s", s);
        return 0;
}

static int bus_get_u32(sd_bus *bus, const char *path, const char *iface, const char *prop, uint32_t *ret) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        int r = bus_get_property(bus, path, iface, prop, &reply);
        if (r < 0)
                return r;
        return sd_bus_message_read(reply, "v", "u", ret);
}

static int bus_get_strv(sd_bus *bus, const char *path, const char *iface, const char *prop, char ***ret) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        int r = bus_get_property(bus, path, iface, prop, &reply);
        if (r < 0)
                return r;
        r = sd_bus_message_enter_container(reply, 'v', "as");
        if (r < 0)
                return r;
        return sd_bus_message_read_strv(reply, ret);
}

/* One unit: loaded, active, with a MainPID → the agent. */
static int find_unit(sd_bus *bus, const char *name, struct agent *a) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_(strv_freep) char **names = NULL;
        char path[512], load[32], active[32], id[256];
        const char *p;
        uint32_t main_pid = 0;
        int r;

        /* LoadUnit, not GetUnit: a stopped unit may have been garbage-collected (GetUnit → NoSuchUnit),
         * and through an Alias= symlink the name resolves to the real unit (td-agent → fluentd). */
        r = bus_call(bus, BUS_PATH, BUS_MANAGER, "LoadUnit", &reply, "s", name);
        if (r < 0)
                return r;
        r = sd_bus_message_read(reply, "o", &p);
        if (r < 0)
                return r;
        snprintf(path, sizeof path, "%s", p);

        r = bus_get_string(bus, path, "org.freedesktop.systemd1.Unit", "LoadState", load, sizeof load);
        if (r < 0)
                return r;
        r = bus_get_string(bus, path, "org.freedesktop.systemd1.Unit", "ActiveState", active, sizeof active);
        if (r < 0)
                return r;
        r = bus_get_string(bus, path, "org.freedesktop.systemd1.Unit", "Id", id, sizeof id);
        if (r < 0)
                return r;
        log_debug("agent: %s → %s: LoadState=%s ActiveState=%s", name, id, load, active);
        if (strcmp(active, "active") != 0 && strcmp(active, "reloading") != 0) {
                if (strcmp(load, "not-found") == 0)
                        return -ENOENT;
                return -ESRCH;
        }
        r = bus_get_u32(bus, path, "org.freedesktop.systemd1.Service", "MainPID", &main_pid);
        if (r < 0)
                return r;
        if (main_pid == 0)
                return -ESRCH;

        r = attach_pid(a, (pid_t)main_pid);
        if (r < 0)
                return r;
        snprintf(a->unit, sizeof a->unit, "%s", id);
        set_flavor_from_unit(a, id);
        if (!a->flavor[0] && bus_get_strv(bus, path, "org.freedesktop.systemd1.Unit", "Names", &names) >= 0)
                for (char **n = names; n && *n && !a->flavor[0]; n++)
                        set_flavor_from_unit(a, *n);
        log_debug("agent: %s MainPID=%u flavor=%s", a->unit, main_pid, a->flavor[0] ? a->flavor : "unknown");
        return 0;
}

static int find_by_unit(const char *unit, struct agent *a) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        char name[256];
        int r;

        r = resolve_asked(unit, name, sizeof name, a);
        if (r < 0)
                return r;
        r = bus_connect(&bus);
        if (r < 0)
                return r;
        if (unit)
                return find_unit(bus, name, a);

        /* The default: the first active of the packages' units. ESRCH when one exists but none runs. */
        int ret = -ENOENT;
        for (size_t i = 0; i < ELEMENTSOF(packages); i++) {
                r = find_unit(bus, packages[i].unit, a);
                if (r == 0) {
                        snprintf(a->unit_asked, sizeof a->unit_asked, "%s", packages[i].unit);
                        return 0;
                }
                if (r != -ENOENT && r != -ESRCH)
                        return r;
                if (r == -ESRCH)
                        ret = -ESRCH;
        }
        return ret;
}

static int signal_unit(const char *unit, int sig) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        int r = bus_connect(&bus);
        if (r < 0)
                return r;
        /* "main": the supervisor only. It forwards SIGUSR1 to its workers; the default "all" would hit
         * every worker twice and kill child processes (FLUENTD-FACTS.md, SIGUSR1). */
        r = bus_call(bus, BUS_PATH, BUS_MANAGER, "KillUnit", &reply, "ssi", unit, "main", (int32_t)sig);
        if (r == -ENOENT)
                return -ESRCH;        /* stopped and garbage-collected since agent_find() */
        if (r < 0)
                return r;
        log_debug("agent: KillUnit(%s, main, %d) sent", unit, sig);
        return 0;
}

#else /* FF_NO_SYSTEMD */

/* Without sd-bus a unit name means its package's pid file. */
static int find_by_unit(const char *unit, struct agent *a) {
        char name[256] = "";
        int r, ret = -ENOENT;

        r = resolve_asked(unit, name, sizeof name, a);
        if (r < 0)
                return r;

        for (size_t i = 0; i < ELEMENTSOF(packages); i++) {
                if (unit && strcmp(name, packages[i].unit) != 0)
                        continue;
                a->flavor[0] = '\0';
                set_flavor_from_unit(a, packages[i].unit);
                r = find_by_pid_file(packages[i].pid_file, a);
                if (r == 0) {
                        snprintf(a->unit_asked, sizeof a->unit_asked, "%s", packages[i].unit);
                        return 0;
                }
                a->flavor[0] = '\0';
                if (r != -ENOENT && r != -ESRCH)
                        return r;
                if (r == -ESRCH)
                        ret = -ESRCH;
        }
        if (unit && ret == -ENOENT)
                log_debug("agent: built without systemd: only %s and %s are known (by their pid files)",
                          packages[0].unit, packages[1].unit);
        return ret;
}

static int signal_unit(const char *unit, int sig) {
        (void)unit;
        (void)sig;
        return -EOPNOTSUPP;   /* never reached: a->unit stays "" without systemd */
}

#endif /* FF_NO_SYSTEMD */

int agent_find(const char *unit, pid_t pid, const char *pid_file, struct agent *a) {
        memset(a, 0, sizeof *a);
        a->pidfd = -1;

        if (pid < 0)
                return -EINVAL;
        if (pid > 0) {
                int r = attach_pid(a, pid);
                if (r < 0)
                        log_debug("agent: pid %d: %s", (int)pid, strerror(-r));
                return r;
        }
        if (pid_file)
                return find_by_pid_file(pid_file, a);
        return find_by_unit(unit, a);
}

const char *agent_default_log(const struct agent *a) {
        for (size_t i = 0; i < ELEMENTSOF(packages); i++)
                if (strcmp(a->flavor, packages[i].flavor) == 0)
                        return packages[i].log_file;
        return NULL;
}

int agent_signal(const struct agent *a, int sig) {
        if (a->unit[0])
                return signal_unit(a->unit, sig);
        if (a->pid <= 0)
                return -ESRCH;
        /* Through the pidfd when we have one: it cannot hit a recycled pid. */
        if (a->pidfd >= 0) {
                if (syscall(SYS_pidfd_send_signal, a->pidfd, sig, NULL, 0) == 0)
                        return 0;
                if (errno != ENOSYS)
                        return -errno;
        }
        if (kill(a->pid, sig) < 0)
                return -errno;
        return 0;
}

int agent_rpc_flush(const char *rpc_url, long timeout_ms, char *err, size_t err_size) {
        _cleanup_(json_decrefp) json_t *j = NULL;
        struct http_response resp = { 0 };
        char url[2048];
        size_t n;
        int r;

        if (err_size > 0)
                err[0] = '\0';
        if (!rpc_url)
                return -EINVAL;
        n = strlen(rpc_url);
        while (n > 0 && rpc_url[n - 1] == '/')
                n--;
        if (n == 0 || n > sizeof url - 64)
                return -EINVAL;
        /* `<system> rpc_endpoint` is written host:port: accept it as given there. */
        const char *scheme = strstr(rpc_url, "://") ? "" : "http://";
        snprintf(url, sizeof url, "%s%.*s/api/plugins.flushBuffers", scheme, (int)n, rpc_url);

        struct http_request req = { .url = url, .timeout_ms = timeout_ms, .max_body = RPC_MAX_BODY };
        r = http_do(&req, &resp);
        if (r < 0) {
                snprintf(err, err_size, "%s", resp.error);
                http_response_done(&resp);
                return r;
        }
        /* 200 and {"ok":true}: Fluentd answers 500 with the same body on an internal error. */
        if (resp.status == 200) {
                j = json_loadb(resp.body, resp.len, JSON_REJECT_DUPLICATES, NULL);
                /* json_is_object() tests j again inside the macro */
                if (j && json_is_object(j) && json_is_true(json_object_get(j, "ok"))) { /* NOLINT(misc-redundant-expression) */
                        http_response_done(&resp);
                        return 0;
                }
        }
        snprintf(err, err_size, "HTTP %ld: %.*s", resp.status, (int)MIN(resp.len, (size_t)200), resp.body);
        log_debug("agent: RPC flushBuffers: %s", err);
        http_response_done(&resp);
        return -EPROTO;
}

int agent_alive(const struct agent *a) {
        if (a->pid <= 0)
                return -ESRCH;
        if (a->pidfd >= 0) {
                /* A pidfd becomes readable when the process exits. */
                struct pollfd p = { .fd = a->pidfd, .events = POLLIN };
                int r = poll(&p, 1, 0);
                if (r < 0)
                        return -errno;
                return r == 0;
        }
        if (kill(a->pid, 0) == 0 || errno == EPERM)
                return 1;
        return errno == ESRCH ? 0 : -errno;
}

/* Does one of pid's open files name the file (dev, ino), or a rotated name of path (path + suffix)? */
static int pid_has_file(pid_t pid, dev_t dev, ino_t ino, const char *path) {
        char dir[64];
        snprintf(dir, sizeof dir, "/proc/%d/fd", (int)pid);
        int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return -errno;
        DIR *d = fdopendir(dfd);
        if (!d) {
                int r = -errno;
                close(dfd);
                return r;
        }
        int found = 0, seen = 0, denied = 0;
        size_t plen = strlen(path);
        for (struct dirent *de; !found && (de = readdir(d));) {
                struct stat st;
                char target[PATH_MAX];
                if (de->d_name[0] == '.')
                        continue;
                seen++;
                if (fstatat(dirfd(d), de->d_name, &st, 0) == 0) {
                        if (st.st_dev == dev && st.st_ino == ino)
                                found = 1;
                } else if (errno == EACCES || errno == EPERM)
                        denied++;
                ssize_t n = readlinkat(dirfd(d), de->d_name, target, sizeof target - 1);
                if (!found && n > 0) {
                        target[n] = '\0';
                        /* renamed by logrotate and not re-opened yet: still the agent's log */
                        if ((size_t)n > plen && strncmp(target, path, plen) == 0 && target[plen] == '.')
                                found = 1;
                }
        }
        /* Listing the fds is allowed but looking at them is not (no CAP_SYS_PTRACE): can't tell. */
        if (!found && seen > 0 && denied == seen)
                found = -EACCES;
        closedir(d);
        return found;
}

int agent_has_file_open(const struct agent *a, const char *path) {
        struct stat st;
        char abs[PATH_MAX];
        if (!realpath(path, abs) || stat(abs, &st) < 0)
                return -errno;
        int r = pid_has_file(a->pid, st.st_dev, st.st_ino, abs);
        if (r != 0)
                return r;     /* found, or can't tell */
        /* the workers: children of the supervisor */
        char kids[128];
        snprintf(kids, sizeof kids, "/proc/%d/task/%d/children", (int)a->pid, (int)a->pid);
        _cleanup_(fclosep) FILE *f = fopen(kids, "re");
        if (!f)
                return 0;
        /* "pid pid … ": space-separated decimal pids */
        char list[4096];
        size_t len = fread(list, 1, sizeof list - 1, f);
        list[len] = '\0';
        const char *q = list;
        for (int n = 0; n < 256; n++) {
                char *end;
                errno = 0;
                long child = strtol(q, &end, 10);
                if (errno != 0 || end == q || child <= 0 || child > INT_MAX)
                        break;
                if (pid_has_file((pid_t)child, st.st_dev, st.st_ino, abs) == 1)
                        return 1;
                q = end;
        }
        return 0;
}

void agent_done(struct agent *a) {
        if (!a)
                return;
        if (a->pidfd >= 0)
                close(a->pidfd);
        a->pidfd = -1;
}
