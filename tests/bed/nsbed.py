"""A real systemd manager (PID 1) in its own pid, mount, uts, ipc and cgroup namespaces, for the tests.

    from bed.nsbed import SystemdBed
    with SystemdBed(tmp_path, name="t1") as bed:       # is-system-running == running; stopped on exit
        agent = bed.install_agent("td-agent", config_path, flavor="td-agent4")
        bed.systemctl("start", "td-agent")
        pid = bed.main_pid("td-agent")                 # a pid of the bed's namespace
        r = bed.run([helper_binary(), "--unit", "td-agent.service"], timeout=60)

Host safety (see tests/bed/ns-init.sh): /run, /tmp, /var/tmp, /dev, /var/log, /var/lib, /etc/passwd,
/etc/group and the two unit directories are private; everything else is read-only inside; /proc/sys is
read-only; systemd runs in container mode with a reduced capability bounding set, no generators and only
the bed's unit set (no tmpfiles, sysusers, sysctl, remount-fs, udev, logind ...). The network is the
host's: give every listener its own port. `tmp_path` is bound through read-write at its own path.

Teardown (stop(), also from __exit__ and at interpreter exit): kill and reap every process that was
nsenter'ed in (one left at systemd's final kill makes it wait 10 s), `systemctl --no-block exit 0`,
SIGKILL PID 1 after stop_timeout, check that no process of the namespace is left, remove the bed's
cgroup. tmp_path must be reachable (its parents traversable) for the agent's user when it is not below
/tmp (below /tmp, the parents inside the bed are fresh 0755 directories).
"""
import atexit
import itertools
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import termios
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
NS_INIT = os.path.join(HERE, "ns-init.sh")
UNITS_DIR = os.path.join(HERE, "units")
SIMULATOR = os.path.join(HERE, "fluentd-sim")
STUB = os.path.join(HERE, "fluentd-stub")

HOST_UNIT_DIRS = ("/lib/systemd/system", "/usr/lib/systemd/system")
# Stock units copied from the host's systemd (they match its binaries): `systemctl exit`, halt/poweroff
# on SIGRTMIN+3/+4, journald (journalctl works inside), dbus (only started by start_dbus()).
STOCK_UNITS = (
    "exit.target", "systemd-exit.service", "shutdown.target", "umount.target", "final.target",
    "halt.target", "systemd-halt.service", "poweroff.target", "systemd-poweroff.service",
    "systemd-journald.service", "systemd-journald.socket", "systemd-journald-dev-log.socket",
    "dbus.socket", "dbus.service",
)
OWN_UNITS = ("test.target", "basic.target", "sysinit.target", "local-fs.target", "network.target",
             "network-online.target", "multi-user.target")
# Users that exist only inside the bed (appended to a copy of the host's /etc/passwd and /etc/group).
BED_USERS = (("td-agent", 990), ("_fluentd", 989), ("fluentd", 988))

# What the real packages install (../shared FLUENTD-FACTS.md, "Which agent, where").
FLAVORS = {
    "td-agent4": {
        "template": "td-agent4.service.in", "user": "td-agent", "dir": "td-agent",
        "pid_file": "/var/run/td-agent/td-agent.pid", "log_file": "/var/log/td-agent/td-agent.log",
        "alias": "",
    },
    "fluent-package5": {
        "template": "fluent-package5.service.in", "user": "_fluentd", "dir": "fluent",
        "pid_file": "/var/run/fluent/fluentd.pid", "log_file": "/var/log/fluent/fluentd.log",
        "alias": "td-agent.service",
    },
}

START_TIMEOUT = 15.0      # generous: 2 cores shared with other test runs; a normal start takes ~0.2 s
STOP_TIMEOUT = 10.0       # graceful `systemctl exit` before PID 1 is SIGKILLed
_counter = itertools.count(1)
_live = set()
_live_lock = threading.Lock()


class BedError(RuntimeError):
    """The bed could not start, or did not stop cleanly."""


def simulator_path():
    """The Fluentd simulator (tests/bed/fluentd-sim); fails loudly when it is missing."""
    if not os.access(SIMULATOR, os.X_OK):
        raise BedError(f"the Fluentd simulator {SIMULATOR} is missing or not executable")
    return SIMULATOR


def _cgroup2_root():
    """Mount point of the host's cgroup v2 hierarchy: /sys/fs/cgroup/unified (hybrid) or /sys/fs/cgroup."""
    with open("/proc/self/mountinfo") as f:
        points = [line.split(" - ")[0].split()[4] for line in f if " - cgroup2 " in line]
    for p in ("/sys/fs/cgroup/unified", "/sys/fs/cgroup"):
        if p in points:
            return p
    if points:
        return points[0]
    raise BedError("no cgroup v2 hierarchy is mounted on this host (need pure v2 or hybrid v1/v2)")


def _own_cgroup2():
    with open("/proc/self/cgroup") as f:
        for line in f:
            if line.startswith("0::"):
                return line[3:].strip()
    return "/"


def _ns_inode(pid, ns):
    return os.stat(f"/proc/{pid}/ns/{ns}").st_ino


def _pids():
    for d in os.listdir("/proc"):
        if d.isdigit():
            yield int(d)


def _ppid(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return int(f.read().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


def _children(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []


def _alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _wait_gone(pids, timeout, reaped=False):
    """Wait until the processes are dead (reaped=True: and reaped, not even a zombie is left)."""
    deadline = time.monotonic() + timeout
    gone = (lambda p: not os.path.exists(f"/proc/{p}")) if reaped else (lambda p: not _alive(p))
    while not all(gone(p) for p in pids):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True


def _pgrp_members(pgid):
    out = []
    for pid in _pids():
        try:
            with open(f"/proc/{pid}/stat") as f:
                if int(f.read().rsplit(")", 1)[1].split()[2]) == pgid:
                    out.append(pid)
        except (OSError, IndexError, ValueError):
            pass
    return out


def _kill_entered(nsenter_pid, timeout=5.0):
    """SIGKILL what an nsenter (a process-group leader) runs, then the nsenter itself if it lingers.
    The command dies first so that its nsenter reaps it: killing both at once can leave the command's
    zombie to the bed's PID 1 in the middle of a shutdown, and systemd-shutdown then waits 10 s."""
    for pid in _pgrp_members(nsenter_pid):
        if pid != nsenter_pid:
            _kill(pid)
    if not _wait_gone([nsenter_pid], timeout):
        try:
            os.killpg(nsenter_pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


class BedProcess(subprocess.Popen):
    """A command started in the bed with `nsenter`. Signals go to the command itself (nsenter forwards
    none; it mirrors the command's exit status, so after kill() returncode is -9)."""

    inner_pid = None      # host pid of the command (nsenter's child)

    def send_signal(self, sig):
        if self.returncode is None and self.inner_pid and _alive(self.inner_pid):
            os.kill(self.inner_pid, sig)
        else:
            super().send_signal(sig)

    @property
    def ns_pid(self):
        """The command's pid inside the bed."""
        with open(f"/proc/{self.inner_pid}/status") as f:
            for line in f:
                if line.startswith("NSpid:"):
                    return int(line.split()[-1])
        raise BedError(f"no NSpid for {self.inner_pid}")

    def kill_all(self):
        """SIGKILL the command and anything it forked (its process group), then nsenter."""
        _kill_entered(self.pid)


class SystemdBed:
    """One systemd in its own namespaces. `tmp_path` (a host directory) is bound through read-write at
    its own path; the bed's state lives in `tmp_path/nsbed-<name>` (console.log is its console)."""

    def __init__(self, tmp_path, name="bed", *, binds=(), ro_binds=(), start_timeout=START_TIMEOUT,
                 stop_timeout=STOP_TIMEOUT, journald=True):
        if not re.fullmatch(r"[A-Za-z0-9_.-]{1,40}", name):
            raise ValueError(f"bed name must be [A-Za-z0-9_.-]{{1,40}}: {name!r}")
        if os.geteuid() != 0:
            raise BedError("the systemd bed needs root (namespaces, mounts, cgroups)")
        self.name = name
        self.testdir = os.path.realpath(str(tmp_path))
        self.state = os.path.join(self.testdir, f"nsbed-{name}")
        self.binds = [os.path.realpath(str(b)) for b in binds]
        self.ro_binds = [os.path.realpath(str(b)) for b in ro_binds]
        self.start_timeout = start_timeout
        self.stop_timeout = stop_timeout
        self.journald = journald
        self.id = f"{name}-{os.getpid()}-{next(_counter)}"
        self.cgroup = None
        self.unshare = None       # Popen of unshare (host pid)
        self.init_pid = None      # host pid of the bed's PID 1 (systemd)
        self.pidns = None
        self.mntns = None
        self.console_log = os.path.join(self.state, "console.log")
        self.start_seconds = None
        self.stop_seconds = None
        self.stop_how = None      # "exit" (graceful) or "kill" (PID 1 SIGKILLed after stop_timeout)
        self.stop_detail = None
        self._procs = []
        self._console_thread = None
        self._master = None
        self._users = {}
        self._stopped = False
        self._ns_fds = []
        self.left_behind = None   # after stop(): what it found left and had to clean up ([] = nothing)

    # ------------------------------------------------------------------ lifecycle
    def __enter__(self):
        self.start()
        return self

    def __exit__(self, exc_type, exc, tb):
        try:
            self.stop(save_journal=exc_type is not None)
        except BedError as e:
            if exc_type is None:
                raise
            # the test failed already: keep its exception, but still say what the bed left behind
            print(f"nsbed: {e}", file=sys.stderr)
        return False

    def start(self):
        t0 = time.monotonic()
        self._prepare_state()
        self._make_cgroup()
        try:
            self._spawn()
            self._wait_running(t0)
        except BaseException:
            try:
                self.stop()
            except BedError:
                pass
            raise
        self.start_seconds = time.monotonic() - t0
        return self

    def _prepare_state(self):
        with _live_lock:
            if any(b.state == self.state for b in _live):
                raise BedError(f"a bed named {self.name!r} is already running with {self.testdir}")
        os.makedirs(self.testdir, exist_ok=True)
        # pytest's tmp_path is 0700: the agent's user must reach configs and buffer dirs under it
        for d in {self.testdir, *self.binds}:
            st = os.stat(d)
            os.chmod(d, stat.S_IMODE(st.st_mode) | 0o755)
        if os.path.exists(self.state):
            shutil.rmtree(self.state)
        for d in ("log", "lib", "etc-system", "lib-system"):
            os.makedirs(os.path.join(self.state, d))
        os.chmod(self.state, 0o755)
        os.makedirs(os.path.join(self.state, "etc-system", "multi-user.target.wants"))
        self._write_users()
        lib = os.path.join(self.state, "lib-system")
        for u in OWN_UNITS:
            shutil.copyfile(os.path.join(UNITS_DIR, u), os.path.join(lib, u))
        for u in STOCK_UNITS:
            if not self.journald and u.startswith("systemd-journald"):
                continue
            src = next((os.path.join(d, u) for d in HOST_UNIT_DIRS if os.path.exists(os.path.join(d, u))),
                       None)
            if src is None:
                raise BedError(f"stock unit {u} not found in {HOST_UNIT_DIRS} (is systemd/dbus installed?)")
            shutil.copyfile(src, os.path.join(lib, u))
        if not self.journald:
            p = os.path.join(lib, "test.target")
            with open(p) as f:
                text = f.read()
            with open(p, "w") as f:
                f.write(re.sub(r"(?m)^Wants=systemd-journald.*\n", "", text))

    def _write_users(self):
        with open("/etc/passwd") as f:
            passwd = f.read()
        with open("/etc/group") as f:
            group = f.read()
        used_uids = {int(line.split(":")[2]) for line in passwd.splitlines() if line.count(":") >= 6}
        used_gids = {int(line.split(":")[2]) for line in group.splitlines() if line.count(":") >= 3}
        names = {line.split(":")[0] for line in passwd.splitlines()}
        gnames = {line.split(":")[0] for line in group.splitlines()}
        if not passwd.endswith("\n"):
            passwd += "\n"
        if not group.endswith("\n"):
            group += "\n"
        for user, want in BED_USERS:
            if user in names or user in gnames:
                raise BedError(f"user/group {user} already exists on the host; the bed adds its own")
            uid = want
            while uid in used_uids or uid in used_gids:
                uid -= 1
            used_uids.add(uid)
            used_gids.add(uid)
            home = "/var/lib/" + user.lstrip("_")
            passwd += f"{user}:x:{uid}:{uid}:{user} (test bed):{home}:/usr/sbin/nologin\n"
            group += f"{user}:x:{uid}:\n"
            self._users[user] = uid
        for fname, text in (("passwd", passwd), ("group", group)):
            with open(os.path.join(self.state, fname), "w") as f:
                f.write(text)
            os.chmod(os.path.join(self.state, fname), 0o644)

    def _make_cgroup(self):
        root = _cgroup2_root()
        # leftovers of killed test runs: empty bed cgroups whose creating process is gone
        for d in os.listdir(root):
            m = re.fullmatch(r"fftest-.*-(\d+)-\d+", d)
            if m and not os.path.exists(f"/proc/{m.group(1)}"):
                _rmdir_tree(os.path.join(root, d))
        self.cgroup = os.path.join(root, f"fftest-{self.id}")
        os.mkdir(self.cgroup)

    def _spawn(self):
        specs = [f"rw:{self.testdir}"] + [f"rw:{b}" for b in self.binds] + [f"ro:{b}" for b in self.ro_binds]
        # the repo must stay visible (read-only) even when it lives below a privatized dir
        if re.match(r"^/(tmp|var/tmp|var/log|var/lib)(/|$)", REPO) and not _under(REPO, self.testdir):
            specs.append(f"ro:{REPO}")
        host_mnt = _ns_inode("self", "mnt")
        master, slave = os.openpty()
        self._master = master
        attrs = termios.tcgetattr(slave)
        attrs[1] &= ~termios.OPOST          # console.log gets "\n", not "\r\n"
        termios.tcsetattr(slave, termios.TCSANOW, attrs)
        cmd = ["/bin/sh", "-c", 'cg=$1; shift; echo $$ > "$cg/cgroup.procs" && exec "$@"', "nsbed", self.cgroup]
        if threading.current_thread() is threading.main_thread():
            # the bed dies with the test process, even on SIGKILL (unshare --kill-child then kills PID 1)
            cmd += ["setpriv", "--pdeathsig", "KILL"]
        cmd += ["unshare", "--pid", "--fork", "--kill-child=SIGKILL", "--mount-proc", "--mount",
                "--propagation", "private", "--uts", "--ipc", "--cgroup",
                NS_INIT, str(host_mnt), self.state, *specs]
        try:
            self.unshare = subprocess.Popen(cmd, stdin=slave, stdout=slave, stderr=slave, close_fds=True,
                                            start_new_session=True, env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"})
        finally:
            os.close(slave)
        with _live_lock:
            _live.add(self)
        self._console_thread = threading.Thread(target=self._drain_console, name=f"nsbed-{self.id}",
                                                daemon=True)
        self._console_thread.start()
        deadline = time.monotonic() + self.start_timeout
        while True:
            kids = _children(self.unshare.pid)
            if kids:
                self.init_pid = kids[0]
                break
            if self.unshare.poll() is not None:
                raise BedError(f"unshare exited ({self.unshare.returncode}) before PID 1 started"
                               + self._console_tail())
            if time.monotonic() > deadline:
                raise BedError("PID 1 of the bed did not appear" + self._console_tail())
            time.sleep(0.002)
        # unshare itself back to our own cgroup: PID 1 is then alone in the bed's cgroup (namespace root)
        # and can move itself to init.scope and delegate controllers (pure v2)
        try:
            with open(os.path.join(os.path.dirname(self.cgroup), _own_cgroup2().lstrip("/"), "cgroup.procs"),
                      "w") as f:
                f.write(str(self.unshare.pid))
        except OSError:
            pass
        # Hold the namespaces open until stop() has checked them: a namespace's inode number is reused
        # as soon as it is freed (another bed may get it), so "same inode" means "ours" only while held.
        for ns in ("pid", "mnt"):
            self._ns_fds.append(os.open(f"/proc/{self.init_pid}/ns/{ns}", os.O_RDONLY | os.O_CLOEXEC))
        self.pidns = os.fstat(self._ns_fds[0]).st_ino
        self.mntns = os.fstat(self._ns_fds[1]).st_ino
        if self.pidns == _ns_inode("self", "pid") or self.mntns == host_mnt:
            raise BedError("PID 1 of the bed is not in its own pid/mount namespace")

    def _drain_console(self):
        with open(self.console_log, "ab", buffering=0) as out:
            while True:
                try:
                    data = os.read(self._master, 65536)
                except OSError:      # EIO: every slave end is closed, the bed is gone
                    break
                if not data:
                    break
                out.write(data.replace(b"\r\n", b"\n"))

    def _console_tail(self, n=40):
        time.sleep(0.05)
        try:
            with open(self.console_log, errors="replace") as f:
                lines = f.read().splitlines()[-n:]
        except OSError:
            lines = []
        return "\n--- console.log (tail) ---\n" + "\n".join(lines) if lines else ""

    def _wait_running(self, t0):
        sock = f"/proc/{self.init_pid}/root/run/systemd/private"
        deadline = t0 + self.start_timeout
        state = ""
        while True:
            if self.unshare.poll() is not None:
                raise BedError(f"the bed's PID 1 exited (unshare rc {self.unshare.returncode})"
                               + self._console_tail())
            if os.path.exists(sock):
                r = self._nsenter(["systemctl", "is-system-running"], timeout=10)
                state = r.stdout.strip()
                if state == "running":
                    return
                if state in ("degraded", "maintenance", "stopping"):
                    failed = self.systemctl("--failed", "--no-legend").stdout
                    raise BedError(f"bed is {state}; failed units:\n{failed}" + self._console_tail())
            if time.monotonic() > deadline:
                raise BedError(f"bed not running after {self.start_timeout} s (state {state!r})"
                               + self._console_tail())
            time.sleep(0.01)

    def stop(self, save_journal=False):
        """Stop the bed: leave no process, mount namespace or cgroup behind. Idempotent.
        save_journal (done by __exit__ when the test failed): the bed's journal goes to
        <state>/journal.txt first (the journal itself lives in the bed's private /run)."""
        if self._stopped:
            return
        if save_journal and self.journald and self.unshare is not None and self.unshare.poll() is None:
            try:
                with open(os.path.join(self.state, "journal.txt"), "w") as f:
                    f.write(self.journal(lines=5000))
            except (OSError, subprocess.SubprocessError, BedError):
                pass
        self._stopped = True
        t0 = time.monotonic()
        problems = []
        try:
            if self.unshare is not None and self.init_pid is not None and self.unshare.poll() is None:
                self._end_entered(problems)
                self.stop_how = self._shutdown()
            if self.unshare is not None:
                try:
                    self.unshare.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    self.unshare.kill()
                    self.unshare.wait(timeout=5)
                    problems.append("unshare did not exit after PID 1 died")
            for p in self._procs:
                if p.returncode is None:
                    try:
                        p.wait(timeout=5)
                    except subprocess.TimeoutExpired:
                        p.kill_all()
                        problems.append(f"nsenter {p.pid} still running after the bed died")
            if self._ns_fds:
                left = [p for p in _pids() if _same_ns(p, "pid", self.pidns)]
                if left:
                    for p in left:
                        _kill(p)
                    problems.append(f"processes left in the bed's pid namespace: {left}")
                left = [p for p in _pids() if _same_ns(p, "mnt", self.mntns)]
                if left:
                    problems.append(f"processes left in the bed's mount namespace: {left}")
            if self.cgroup is not None and os.path.isdir(self.cgroup):
                procs = _cgroup_procs(self.cgroup)
                if procs:
                    problems.append(f"processes left in {self.cgroup}: {procs}")
                    for p in procs:
                        _kill(p)
                    _wait_gone(procs, 2)
                if not _rmdir_tree(self.cgroup):
                    problems.append(f"could not remove {self.cgroup}")
        finally:
            if self._console_thread is not None:
                self._console_thread.join(timeout=2)
                if self._console_thread.is_alive():
                    problems.append("console reader did not finish (a process still holds the pty)")
            if self._master is not None:
                os.close(self._master)
                self._master = None
            for fd in self._ns_fds:
                os.close(fd)
            self._ns_fds = []
            self.left_behind = problems
            with _live_lock:
                _live.discard(self)
            self.stop_seconds = time.monotonic() - t0
        if problems:
            raise BedError(f"bed {self.id} did not stop cleanly: " + "; ".join(problems))

    def _end_entered(self, problems):
        """End every process that was nsenter'ed into the bed (pitfall: systemd-shutdown's kill(-1,
        SIGSTOP) stops a waiting nsenter, its child stays an unreaped zombie and shutdown waits 10 s+)."""
        for p in self._procs:
            if p.returncode is None and p.poll() is None:
                p.kill_all()
        entered = self.entered_pids()
        todo, seen = list(entered), set()
        while todo:                          # the entered processes and everything they forked
            pid = todo.pop()
            if pid not in seen:
                seen.add(pid)
                todo += _children(pid)
        entered = sorted(seen)
        for pid in entered:
            _kill(pid)
        for p in self._procs:
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                problems.append(f"nsenter'ed command {p.args!r} did not die")
        # reaped, not only dead: a zombie left at systemd's final kill makes it wait ~10 s
        if not _wait_gone(entered, 5, reaped=True):
            problems.append(f"entered processes not reaped: {entered}")

    def _shutdown(self):
        """`systemctl exit 0`, then wait for PID 1 to end; SIGKILL it after stop_timeout. systemctl may
        report an error when the manager goes away under it: the exit of PID 1 is what counts."""
        deadline = time.monotonic() + self.stop_timeout
        try:
            # --no-block: systemctl must be gone before systemd's final kill(-1, SIGSTOP), or the stopped
            # systemctl stops its nsenter, stays an unreaped zombie and the final kill waits for it
            r = self._nsenter(["systemctl", "--no-block", "exit", "0"], timeout=self.stop_timeout)
            self.stop_detail = f"systemctl exit: rc {r.returncode} {r.stderr.strip()}"
        except subprocess.TimeoutExpired:
            self.stop_detail = "systemctl exit: timed out"
        try:
            self.unshare.wait(timeout=max(0.1, deadline - time.monotonic()))
            return "exit"
        except subprocess.TimeoutExpired:
            pass
        _kill(self.init_pid)
        return "kill"

    # ------------------------------------------------------------------ commands inside the bed
    def _nsenter_argv(self, argv, cwd=None, internal=False):
        if self.init_pid is None or (self._stopped and not internal):
            raise BedError("the bed is not running")
        pre = ["nsenter", "-t", str(self.init_pid), "-a"]
        if cwd is not None:
            pre.append(f"--wd={cwd}")
        return pre + [str(a) for a in argv]

    def _nsenter(self, argv, timeout):
        return self.run(argv, timeout=timeout, _internal=True)

    def run(self, argv, timeout=60, *, input=None, env=None, cwd=None, check=False, _internal=False):
        """Run argv inside the bed (all its namespaces, its root; cwd / unless given); wait for it.
        Returns a CompletedProcess (text). On timeout the whole command is SIGKILLed and
        subprocess.TimeoutExpired is raised."""
        full = self._nsenter_argv(argv, cwd, _internal)
        p = subprocess.Popen(full, stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                             start_new_session=True)
        try:
            out, err = p.communicate(input, timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_entered(p.pid)
            out, err = p.communicate()
            raise subprocess.TimeoutExpired(full, timeout, out, err) from None
        except BaseException:
            _kill_entered(p.pid)
            p.wait()
            raise
        r = subprocess.CompletedProcess(full, p.returncode, out, err)
        if check:
            r.check_returncode()
        return r

    def popen(self, argv, *, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
              text=True, env=None, cwd=None):
        """Start argv inside the bed and return a BedProcess (a Popen: kill()/terminate()/send_signal()
        reach the command itself, .ns_pid is its pid inside). stop() kills whatever is still running."""
        full = self._nsenter_argv(argv, cwd)
        p = BedProcess(full, stdin=stdin, stdout=stdout, stderr=stderr, text=text, env=env,
                       start_new_session=True)
        self._procs.append(p)
        deadline = time.monotonic() + 5
        while True:
            kids = _children(p.pid)
            if kids:
                p.inner_pid = kids[0]
                break
            if p.poll() is not None:
                break      # nsenter failed or the command already ended
            if time.monotonic() > deadline:
                p.kill_all()
                raise BedError(f"nsenter did not start {argv!r}")
            time.sleep(0.001)
        return p

    def entered_pids(self):
        """Host pids of processes in the bed whose parent is outside it (nsenter'ed in), PID 1 excluded."""
        out = []
        for pid in _pids():
            if pid == self.init_pid or not _same_ns(pid, "pid", self.pidns):
                continue
            pp = _ppid(pid)
            if pp is not None and not _same_ns(pp, "pid", self.pidns):
                out.append(pid)
        return out

    def systemctl(self, *args, timeout=60, check=False):
        """`systemctl ARGS...` inside the bed (private socket, as root) → CompletedProcess (text)."""
        return self.run(["systemctl", *args], timeout=timeout, check=check)

    def main_pid(self, unit):
        """MainPID of the unit: a pid of the bed's namespace (0 when not running)."""
        r = self.systemctl("show", "-p", "MainPID", "--value", unit, check=True)
        return int(r.stdout.strip())

    def host_pid(self, ns_pid):
        """The host pid of a pid of the bed's namespace (for /proc inspection from the host)."""
        for pid in _pids():
            try:
                with open(f"/proc/{pid}/status") as f:
                    for line in f:
                        if line.startswith("NSpid:"):
                            ids = line.split()[1:]
                            if len(ids) >= 2 and int(ids[-1]) == ns_pid and _same_ns(pid, "pid", self.pidns):
                                return pid
                            break
            except OSError:
                continue
        return None

    def journal(self, unit=None, lines=200):
        """The bed's journal (text), optionally of one unit; for failure messages."""
        argv = ["journalctl", "--no-pager", "-o", "short-monotonic", "-n", str(lines)]
        if unit:
            argv += ["-u", unit]
        return self.run(argv, timeout=20).stdout

    # ------------------------------------------------------------------ files and units
    _PRIVATE = (("/var/log", "log"), ("/var/lib", "lib"), ("/etc/systemd/system", "etc-system"),
                ("/usr/lib/systemd/system", "lib-system"), ("/lib/systemd/system", "lib-system"),
                ("/etc/passwd", "passwd"), ("/etc/group", "group"))
    _VOLATILE = ("/run", "/tmp", "/var/tmp", "/dev")

    def host_path(self, path):
        """The host path of a path inside the bed. /var/log, /var/lib, the unit dirs, passwd and group
        map into the bed's state dir (they outlive the bed); /run, /tmp, /var/tmp, /dev are reached
        through /proc/<PID 1>/root (only while the bed runs); the test dirs and everything else (the
        read-only host) are the same path."""
        if not path.startswith("/"):
            raise ValueError(f"absolute path expected: {path}")
        path = os.path.normpath(path)
        if _under(path, "/var/run"):
            path = "/run" + path[len("/var/run"):]
        for d in [self.testdir, *self.binds, *self.ro_binds]:
            if _under(path, d):
                return path
        for inside, sub in self._PRIVATE:
            if _under(path, inside):
                return os.path.join(self.state, sub) + path[len(inside):]
        for d in self._VOLATILE:
            if _under(path, d):
                if self.init_pid is None or self._stopped:
                    raise BedError(f"{path} lives only while the bed runs")
                return f"/proc/{self.init_pid}/root{path}"
        return path

    def user_id(self, user):
        """uid (= gid) of a bed user (td-agent, _fluentd, fluentd) or of a host user."""
        if user in self._users:
            return self._users[user]
        import pwd
        return pwd.getpwnam(user).pw_uid

    def make_dir(self, path, user="root", mode=0o755):
        """Create a directory inside the bed (all missing parents), the last one owned by user."""
        hp = self.host_path(path)
        os.makedirs(hp, exist_ok=True)
        uid = self.user_id(user)
        os.chown(hp, uid, uid)
        os.chmod(hp, mode)
        return hp

    def install_unit(self, name, text, reload=True):
        """Write a unit into the bed's private /usr/lib/systemd/system (and daemon-reload)."""
        if "/" in name or not re.fullmatch(r"[A-Za-z0-9_.@:-]+\.[a-z]+", name):
            raise ValueError(f"bad unit name {name!r}")
        path = os.path.join(self.state, "lib-system", name)
        with open(path, "w") as f:
            f.write(text)
        if reload and not self._stopped and self.init_pid is not None:
            self.systemctl("daemon-reload", check=True)
        return path

    def install_agent(self, name, sim_config_path, flavor="td-agent4", *, user=None, buffer_dirs=None,
                      service_extra="", enable=None, executable=None):
        """Install a Fluentd agent unit mirroring the real package (see units/*.service.in) that runs
        the simulator: `<repo>/tests/bed/fluentd-sim --log <log> --daemon <pidfile> -c <config>`
        (executable=nsbed.STUB runs the bed's instrumented stand-in instead).
        Creates /var/log/<dir> and the buffer dirs (default /var/lib/<dir>/buffer) owned by the unit's
        user. fluent-package5 is enabled (Alias=td-agent.service works). Returns a dict describing it."""
        if flavor not in FLAVORS:
            raise ValueError(f"flavor must be one of {sorted(FLAVORS)}: {flavor!r}")
        f = FLAVORS[flavor]
        unit = name if name.endswith(".service") else name + ".service"
        user = user or f["user"]
        uid = self.user_id(user)
        pkg_dir = f["dir"]
        if buffer_dirs is None:
            buffer_dirs = [f"/var/lib/{pkg_dir}/buffer"]
        executable = executable or simulator_path()
        config = os.path.abspath(str(sim_config_path))
        alias = f["alias"] if f["alias"] and f["alias"] != unit else ""
        with open(os.path.join(UNITS_DIR, f["template"])) as fh:
            text = fh.read()
        for k, v in (("USER", user), ("GROUP", user), ("LOG", f["log_file"]), ("PIDFILE", f["pid_file"]),
                     ("RUNTIMEDIR", pkg_dir), ("EXEC", _unit_quote(executable)),
                     ("CONFIG", _unit_quote(config)), ("ALIAS", alias), ("EXTRA", service_extra)):
            text = text.replace(f"@{k}@", v)
        for d in [f"/var/log/{pkg_dir}", f"/var/lib/{pkg_dir}", *buffer_dirs]:
            self.make_dir(d, user)
        self.install_unit(unit, text)
        if enable is None:
            enable = bool(alias)
        if enable:
            self.systemctl("enable", unit, check=True)
        return {
            "unit": unit, "alias": alias or None, "flavor": flavor, "user": user, "uid": uid,
            "pid_file": f["pid_file"], "log_file": f["log_file"], "buffer_dirs": list(buffer_dirs),
            "config": config, "executable": executable,
        }

    def start_dbus(self):
        """Start dbus.socket + dbus.service (the system bus), to test the helper's fallback to it."""
        r = self.systemctl("start", "dbus.socket", "dbus.service")
        if r.returncode != 0:
            raise BedError(f"dbus did not start: {r.stderr}\n{self.journal('dbus.service', 40)}")
        return r

    def __repr__(self):
        return f"<SystemdBed {self.id} init={self.init_pid}>"


def _under(path, d):
    return path == d or path.startswith(d.rstrip("/") + "/")


def _same_ns(pid, ns, inode):
    try:
        return _ns_inode(pid, ns) == inode
    except OSError:
        return False


def _kill(pid):
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _cgroup_procs(cg):
    procs = []
    for dirpath, _dirs, _files in os.walk(cg):
        try:
            with open(os.path.join(dirpath, "cgroup.procs")) as f:
                procs += [int(x) for x in f.read().split()]
        except OSError:
            pass
    return procs


def _rmdir_tree(cg):
    """Remove an (empty) cgroup and its children bottom-up; False if some remain."""
    for dirpath, _dirs, _files in os.walk(cg, topdown=False):
        try:
            os.rmdir(dirpath)
        except OSError:
            pass
    return not os.path.exists(cg)


def _unit_quote(s):
    """A path as one word in a unit's command line (specifiers and $ escaped)."""
    s = s.replace("%", "%%").replace("$", "$$")
    if re.fullmatch(r"[A-Za-z0-9_./+,:=@%$-]+", s):
        return s
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


@atexit.register
def _stop_all():
    with _live_lock:
        beds = list(_live)
    for b in beds:
        try:
            b.stop()
        except Exception:  # noqa: BLE001 - interpreter exit: best effort, nothing to report to
            pass
