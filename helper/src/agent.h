/* agent.h — find the Fluentd supervisor (sd-bus MainPID, pid file, pid) and trigger the flush. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

enum agent_via { VIA_SIGNAL = 0, VIA_RPC };

struct agent {
        char unit[256];           /* resolved unit id (e.g. "fluentd.service"), "" without systemd */
        char unit_asked[256];     /* what was asked or tried, for messages */
        pid_t pid;                /* the supervisor */
        int pidfd;                /* pidfd_open(pid) to notice its exit, -1 when unavailable */
        char flavor[32];          /* "fluent-package" | "td-agent" | "" (unknown) — drives path defaults */
};

/* Find the agent. unit may be NULL (default: first active of fluentd.service, td-agent.service), or
 * pid > 0, or pid_file. Returns 0; -ESRCH (not running / unit inactive), -ENOENT (no such unit or
 * pid file), -EACCES/-EPERM, -EBADMSG (pid file content), other -errno. */
int agent_find(const char *unit, pid_t pid, const char *pid_file, struct agent *a);
/* Package default log path for the agent ("/var/log/fluent/fluentd.log" or
 * "/var/log/td-agent/td-agent.log"); NULL when unknown. */
const char *agent_default_log(const struct agent *a);
/* SIGUSR1 to the supervisor only: sd-bus KillUnit(unit, "main", sig) when a unit is known, else kill(). */
int agent_signal(const struct agent *a, int sig);
/* GET <rpc_url>/api/plugins.flushBuffers; 0 only on HTTP 200 with {"ok":true}; -EPROTO for any other
 * reply (Fluentd answers 500 with the same body on an internal error); a transport failure returns
 * http_do()'s -errno (-ECONNREFUSED when nothing listens, -ETIMEDOUT, ...). err gets a one-line reason. */
int agent_rpc_flush(const char *rpc_url, long timeout_ms, char *err, size_t err_size);
/* Read and validate a pid file: a decimal pid in 1..4194304, optionally followed by white space, at
 * most 32 bytes, a regular file. 0; -ENOENT/-EACCES (open), -EBADMSG (anything else). */
int agent_read_pid_file(const char *path, pid_t *ret);
/* Still running? 1 yes, 0 no (exited), <0 error. */
int agent_alive(const struct agent *a);
/* Does the supervisor or one of its workers have this file open (or a logrotate-renamed "path.*" of it)?
 * 1 yes, 0 no, -errno when /proc can't tell (not root, no such file). */
int agent_has_file_open(const struct agent *a, const char *path);
void agent_done(struct agent *a);
