# Tests of the systemd test bed itself (tests/bed/nsbed.py, ns-init.sh, units/): it starts a real systemd
# in its own namespaces, runs the agent units like the packages do, stops without leaving anything, and
# never touches the host.
import hashlib
import json
import os
import re
import socket
import subprocess
import time

import pytest

from bed import nsbed
from bed.nsbed import BedError, SystemdBed

FLUSH_LINE = re.compile(r"^\S+ \S+ \S+ \[info\]: #(\d+) force flushing buffered events$", re.M)


def sim_config(tmp_path, name="sim.json", workers=2, **extra):
    """A config for the agent the bed runs: the simulator's JSON (the stand-in reads only "workers")."""
    path = tmp_path / name
    path.write_text(json.dumps({"workers": workers, **extra}))
    return str(path)


def stub_agent(bed, tmp_path, name="td-agent", flavor="td-agent4", config="sim.json", workers=2, **kw):
    """The agent unit with the bed's instrumented stand-in: tests of the harness itself stay independent
    of the simulator's behaviour (its stop, its timing)."""
    return bed.install_agent(name, sim_config(tmp_path, config, workers), flavor=flavor,
                             executable=nsbed.STUB, **kw)


def read(path):
    with open(path) as f:
        return f.read()


def wait_for(pred, timeout=10.0, what="condition"):
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.02)


def bed_pids(bed):
    return [p for p in nsbed._pids() if nsbed._same_ns(p, "pid", bed.pidns)]


def unit_pids(bed, unit):
    """Namespace pids in the unit's cgroup."""
    r = bed.run(["cat", f"/sys/fs/cgroup/system.slice/{unit}/cgroup.procs"], timeout=10)
    assert r.returncode == 0, r.stderr
    return sorted(int(x) for x in r.stdout.split())


def proc_uid(bed, ns_pid):
    hp = bed.host_pid(ns_pid)
    assert hp, f"ns pid {ns_pid} not found from the host"
    for line in read(f"/proc/{hp}/status").splitlines():
        if line.startswith("Uid:"):
            return int(line.split()[1])
    raise AssertionError("no Uid line")


def flush_lines(bed, log_file):
    return FLUSH_LINE.findall(read(bed.host_path(log_file)))


def wait_workers(bed, agent, n):
    log = bed.host_path(agent["log_file"])
    wait_for(lambda: os.path.exists(log) and len(re.findall(r"fluentd worker is now running", read(log))) == n,
             what=f"{n} workers running")
    time.sleep(0.2)   # the simulator installs its SIGUSR1 handler just after logging that line


def assert_gone(bed):
    """Nothing of the bed is left. stop() checked its pid and mount namespaces while it still held them
    (their inode numbers are reused once freed, so only it can tell); here: what it found, its cgroup,
    unshare reaped."""
    assert bed.left_behind == [], bed.left_behind
    assert bed.unshare.returncode is not None, "unshare still running"
    assert not os.path.exists(bed.cgroup), f"cgroup {bed.cgroup} left behind"
    assert bed._ns_fds == []


def host_mounts():
    # mount point, fs type, source, per-mount options: what a leaking mount or remount would change
    out = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            pre, post = line.split(" - ", 1)
            p = pre.split()
            q = post.split()
            out.append((p[4], p[5], q[0], q[1], q[2]))
    return sorted(out)


def digest(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


# --------------------------------------------------------------------------------------------------
def test_bed_starts_a_contained_systemd(tmp_path):
    with SystemdBed(tmp_path, name="start") as bed:
        assert bed.systemctl("is-system-running").stdout.strip() == "running"
        assert bed.run(["cat", "/proc/1/comm"]).stdout.strip() == "systemd"
        assert bed.run(["systemd-detect-virt"]).stdout.strip() == "container-other"
        # only the bed's unit dirs, and none of the units that touch the host's state
        assert bed.systemctl("show", "-p", "UnitPath", "--value").stdout.split() == \
            ["/etc/systemd/system", "/usr/lib/systemd/system"]
        units = bed.systemctl("list-units", "--all", "--no-legend", "--plain").stdout
        for bad in ("systemd-tmpfiles", "systemd-sysctl", "systemd-sysusers", "systemd-remount-fs",
                    "systemd-modules-load", "systemd-udevd", "systemd-logind"):
            assert bad not in units, f"{bad} is loaded in the bed"
        # read-only host, private /tmp, read-only kernel knobs, pid namespace
        r = bed.run(["sh", "-c", "touch /nsbed-must-fail"])
        assert r.returncode != 0 and "Read-only file system" in r.stderr, r
        assert not os.path.exists("/nsbed-must-fail")
        r = bed.run(["sh", "-c", "echo 1 > /proc/sys/net/unix/max_dgram_qlen"])
        assert r.returncode != 0 and "Read-only file system" in r.stderr, r
        assert bed.run(["sh", "-c", "echo $$"]).stdout.strip() != str(os.getpid())
        assert bed.run(["stat", "-f", "-c", "%T", "/tmp"]).stdout.strip() == "tmpfs"
        # the test dir is writable inside at its own path, and shared with the host
        r = bed.run(["sh", "-c", f"echo inside > {tmp_path}/from-bed"])
        assert r.returncode == 0, r.stderr
        assert (tmp_path / "from-bed").read_text() == "inside\n"
        # users that exist only inside
        r = bed.run(["id", "-u", "td-agent"])
        assert r.stdout.strip() == str(bed.user_id("td-agent"))
        assert bed.run(["id", "_fluentd"]).returncode == 0
        assert "td-agent:" not in read("/etc/passwd")
        # the repo (simulator, helper) is visible read-only
        assert bed.run(["test", "-x", nsbed.simulator_path()]).returncode == 0
        r = bed.run(["touch", os.path.join(nsbed.REPO, "nsbed-must-fail")])
        assert r.returncode != 0


def test_td_agent4_main_pid_is_the_pid_file_and_runs_as_td_agent(tmp_path):
    with SystemdBed(tmp_path, name="td4") as bed:
        agent = stub_agent(bed, tmp_path)
        assert agent["pid_file"] == "/var/run/td-agent/td-agent.pid"
        unit_text = read(bed.host_path("/usr/lib/systemd/system/td-agent.service"))
        for line in ("Type=forking", "PIDFile=/var/run/td-agent/td-agent.pid", "User=td-agent",
                     "RuntimeDirectory=td-agent", "LimitNOFILE=65536", "TimeoutStopSec=120"):
            assert line in unit_text.splitlines(), line
        r = bed.systemctl("start", "td-agent")
        assert r.returncode == 0, r.stderr + bed.journal("td-agent.service")
        main = bed.main_pid("td-agent")
        assert main > 1
        assert int(read(bed.host_path(agent["pid_file"])).strip()) == main
        r = bed.run(["cat", "/run/td-agent/td-agent.pid"])
        assert int(r.stdout) == main
        assert bed.systemctl("show", "-p", "Type", "--value", "td-agent").stdout.strip() == "forking"
        # supervisor + 2 workers in the unit's cgroup, all as td-agent
        pids = unit_pids(bed, "td-agent.service")
        assert len(pids) == 3 and main in pids, pids
        uid = bed.user_id("td-agent")
        assert all(proc_uid(bed, p) == uid for p in pids)
        log = bed.host_path(agent["log_file"])
        assert log == os.path.join(bed.state, "log", "td-agent", "td-agent.log")
        assert os.stat(os.path.dirname(log)).st_uid == uid
        assert os.stat(bed.host_path("/var/lib/td-agent/buffer")).st_uid == uid
        wait_workers(bed, agent, 2)
        # stop runs ExecStop (kill -TERM $MAINPID): the agent's last lines reach the log
        r = bed.systemctl("stop", "td-agent")
        assert r.returncode == 0, r.stderr
        assert bed.main_pid("td-agent") == 0
        assert bed.run(["test", "-e", "/sys/fs/cgroup/system.slice/td-agent.service"]).returncode != 0
        assert "Received graceful stop" in read(log)


def test_kill_unit_main_reaches_each_simulator_worker_once(tmp_path):
    with SystemdBed(tmp_path, name="killsim") as bed:
        agent = bed.install_agent("td-agent", sim_config(tmp_path), flavor="td-agent4")
        assert bed.systemctl("start", "td-agent").returncode == 0
        wait_workers(bed, agent, 2)
        before = unit_pids(bed, "td-agent.service")
        # KillUnit(unit, "main", SIGUSR1), as the helper calls it over /run/systemd/private
        r = bed.systemctl("kill", "--kill-whom=main", "-s", "SIGUSR1", "td-agent")
        assert r.returncode == 0, r.stderr
        wait_for(lambda: len(flush_lines(bed, agent["log_file"])) >= 2, what="2 flush lines")
        time.sleep(0.5)      # would a second signal per worker still arrive?
        assert sorted(flush_lines(bed, agent["log_file"])) == ["0", "1"]
        assert unit_pids(bed, "td-agent.service") == before


@pytest.mark.parametrize("flavor,unit,name,user,pkg_dir", [
    ("td-agent4", "td-agent.service", "td-agent", "td-agent", "td-agent"),
    ("fluent-package5", "fluentd.service", "fluentd", "_fluentd", "fluent"),
])
def test_real_simulator_runs_as_the_packaged_unit(tmp_path, flavor, unit, name, user, pkg_dir):
    assert os.access(nsbed.SIMULATOR, os.X_OK), f"the Fluentd simulator {nsbed.SIMULATOR} is missing"
    # an "S3 endpoint" that must never be contacted: nothing is ingested, so nothing is flushed
    s3 = socket.socket()
    s3.bind(("127.0.0.1", 0))
    s3.listen(8)
    s3.setblocking(False)
    buffer_dir = f"/var/lib/{pkg_dir}/buffer"
    try:
        config = sim_config(tmp_path, workers=1, outputs=[{
            "id": "out_s3", "bucket": "nsbed", "endpoint": "http://127.0.0.1:%d" % s3.getsockname()[1],
            "access_key": "AKIDNSBED", "secret_key": "nsbed",
            "buffer": {"type": "file", "path": buffer_dir}}])
        with SystemdBed(tmp_path, name=f"sim-{pkg_dir}") as bed:
            agent = bed.install_agent(name, config, flavor=flavor)
            assert agent["executable"] == nsbed.SIMULATOR
            assert agent["unit"] == unit and agent["buffer_dirs"] == [buffer_dir]
            # td-agent.service is the unit (td-agent 4) or fluentd.service's alias (fluent-package 5)
            r = bed.systemctl("start", "td-agent")
            assert r.returncode == 0, r.stderr + bed.journal(unit)
            assert bed.systemctl("show", "-p", "Id", "--value", "td-agent").stdout.strip() == unit
            main = bed.main_pid("td-agent")
            assert main > 1
            assert int(read(bed.host_path(agent["pid_file"])).strip()) == main
            assert proc_uid(bed, main) == bed.user_id(user)
            log = bed.host_path(agent["log_file"])
            wait_for(lambda: "fluentd worker is now running worker=0" in read(log), what="worker 0 running")
            assert len(unit_pids(bed, unit)) == 2          # supervisor + 1 worker
            assert os.stat(bed.host_path(buffer_dir)).st_uid == bed.user_id(user)
            assert [n for n in os.listdir(bed.host_path(buffer_dir)) if n.startswith("buffer.")] == []
            assert "[error]" not in read(log), read(log)
        with pytest.raises(BlockingIOError):
            s3.accept()
    finally:
        s3.close()


STUB_SIG = re.compile(r"^\S+ \S+ \S+ \[debug\]: (?:#(\d+) )?got (SIG\w+) from pid (\d+)$", re.M)


def stub_signals(bed, agent):
    """(who, signal, sender) per signal the stand-in took; who is "sup" or the worker id."""
    return [(w or "sup", sig, int(pid)) for w, sig, pid in STUB_SIG.findall(read(bed.host_path(agent["log_file"])))]


def test_kill_unit_main_signals_only_the_supervisor(tmp_path):
    # the instrumented stand-in logs the sender of every signal: systemd is pid 1 in the bed
    with SystemdBed(tmp_path, name="kill") as bed:
        agent = stub_agent(bed, tmp_path)
        assert bed.systemctl("start", "td-agent").returncode == 0
        wait_workers(bed, agent, 2)
        main = bed.main_pid("td-agent")
        r = bed.systemctl("kill", "--kill-whom=main", "-s", "SIGUSR1", "td-agent")
        assert r.returncode == 0, r.stderr
        wait_for(lambda: len(stub_signals(bed, agent)) >= 3, what="3 signals taken")
        time.sleep(0.3)
        assert sorted(stub_signals(bed, agent)) == [("0", "SIGUSR1", main), ("1", "SIGUSR1", main),
                                                    ("sup", "SIGUSR1", 1)]
        assert sorted(flush_lines(bed, agent["log_file"])) == ["0", "1"]
        # contrast: without --kill-whom=main systemd signals every process of the unit itself
        # (SIGHUP: the stand-in does not forward it, so each process takes exactly one)
        r = bed.systemctl("kill", "-s", "SIGHUP", "td-agent")
        assert r.returncode == 0, r.stderr
        wait_for(lambda: len(stub_signals(bed, agent)) >= 6, what="3 more signals taken")
        time.sleep(0.3)
        assert sorted(stub_signals(bed, agent)[3:]) == [("0", "SIGHUP", 1), ("1", "SIGHUP", 1),
                                                        ("sup", "SIGHUP", 1)]


def test_fluent_package5_alias_needs_enable_then_resolves_to_fluentd(tmp_path):
    with SystemdBed(tmp_path, name="alias") as bed:
        agent = stub_agent(bed, tmp_path, "fluentd", "fluent-package5", enable=False)
        assert agent["alias"] == "td-agent.service"
        unit_text = read(bed.host_path("/usr/lib/systemd/system/fluentd.service"))
        assert "Alias=td-agent.service" in unit_text.splitlines()
        assert "User=_fluentd" in unit_text.splitlines()
        r = bed.systemctl("start", "td-agent")
        assert r.returncode == 5 and "not found" in r.stderr, r
        r = bed.systemctl("enable", "fluentd")
        assert r.returncode == 0, r.stderr
        assert os.path.islink(os.path.join(bed.state, "etc-system", "td-agent.service"))
        assert os.path.islink(os.path.join(bed.state, "etc-system", "multi-user.target.wants",
                                           "fluentd.service"))
        r = bed.systemctl("start", "td-agent")
        assert r.returncode == 0, r.stderr + bed.journal("fluentd.service")
        show = bed.systemctl("show", "-p", "Id", "-p", "Names", "td-agent").stdout
        assert "Id=fluentd.service" in show.splitlines()
        assert set(re.search(r"^Names=(.*)$", show, re.M).group(1).split()) == {"fluentd.service",
                                                                               "td-agent.service"}
        main = bed.main_pid("td-agent")
        assert main == bed.main_pid("fluentd") > 1
        assert int(read(bed.host_path("/var/run/fluent/fluentd.pid"))) == main
        assert proc_uid(bed, main) == bed.user_id("_fluentd")
        wait_workers(bed, agent, 2)
        # KillUnit through the alias name reaches fluentd.service's supervisor
        r = bed.systemctl("kill", "--kill-whom=main", "-s", "SIGUSR1", "td-agent.service")
        assert r.returncode == 0, r.stderr
        wait_for(lambda: len(flush_lines(bed, agent["log_file"])) >= 2, what="flush lines")
        assert sorted(flush_lines(bed, agent["log_file"])) == ["0", "1"]


def test_install_agent_default_enables_fluent_package5(tmp_path):
    with SystemdBed(tmp_path, name="enable") as bed:
        stub_agent(bed, tmp_path, "fluentd", "fluent-package5")
        assert bed.systemctl("is-enabled", "fluentd").stdout.strip() == "enabled"
        assert bed.systemctl("start", "td-agent.service").returncode == 0


def test_stop_leaves_nothing_behind_even_with_entered_processes(tmp_path):
    mounts_before = host_mounts()
    bed = SystemdBed(tmp_path, name="stop")
    with bed:
        agent = stub_agent(bed, tmp_path)
        assert bed.systemctl("start", "td-agent").returncode == 0
        log = bed.host_path(agent["log_file"])
        wait_workers(bed, agent, 2)
        waiting = bed.popen(["sleep", "1000"])            # a helper still waiting at teardown
        stray = subprocess.Popen(["nsenter", "-t", str(bed.init_pid), "-a", "sleep", "1000"],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(lambda: len(bed.entered_pids()) == 2, what="two entered processes")
        assert len(bed_pids(bed)) >= 6
        cg = bed.cgroup
        assert os.path.isdir(cg)
    # graceful: `systemctl exit` ran ExecStop (the agent's last lines are in its log), no SIGKILL fallback
    assert bed.stop_how == "exit"
    assert bed.unshare.returncode == 0
    assert "Received graceful stop" in read(log)
    assert waiting.returncode == -9
    assert stray.wait(timeout=5) == -9
    assert_gone(bed)
    assert not os.path.exists(cg)
    assert host_mounts() == mounts_before
    # the state (logs) outlives the bed for post-mortems
    assert os.path.exists(log)


def test_stop_reports_a_process_still_in_the_mount_namespace(tmp_path):
    bed = SystemdBed(tmp_path, name="leak")
    bed.start()
    # mount namespace only (not the pid namespace): it survives PID 1 and keeps the bed's mounts alive
    leak = subprocess.Popen(["nsenter", "-t", str(bed.init_pid), "-m", "sleep", "1000"])
    try:
        wait_for(lambda: nsbed._same_ns(leak.pid, "mnt", bed.mntns), what="the process in the namespace")
        with pytest.raises(BedError, match="left in the bed's mount namespace"):
            bed.stop()
        assert len(bed.left_behind) == 1 and str(leak.pid) in bed.left_behind[0]
        assert leak.poll() is None          # not ours to kill: reported, left alone
        assert not os.path.exists(bed.cgroup)
    finally:
        leak.kill()
        leak.wait()


def test_stop_runs_when_the_test_body_raises(tmp_path):
    with pytest.raises(ZeroDivisionError):
        with SystemdBed(tmp_path, name="raise") as bed:
            stub_agent(bed, tmp_path)
            assert bed.systemctl("start", "td-agent").returncode == 0
            1 / 0
    assert_gone(bed)


def test_stop_falls_back_to_sigkill_when_shutdown_hangs(tmp_path):
    # a unit that ignores SIGTERM with a long stop timeout: `systemctl exit` would wait for it
    with SystemdBed(tmp_path, name="hang", stop_timeout=1.0) as bed:
        bed.install_unit("stubborn.service", "[Service]\nExecStart=/bin/sh -c 'trap \"\" TERM; "
                         "while :; do sleep 1; done'\nTimeoutStopSec=600\n")
        assert bed.systemctl("start", "stubborn").returncode == 0
    assert bed.stop_how == "kill", bed.stop_detail
    assert_gone(bed)


def test_popen_kill_reaches_the_command_and_run_timeout_kills(tmp_path):
    with SystemdBed(tmp_path, name="procs") as bed:
        p = bed.popen(["sh", "-c", "echo started; exec sleep 1000"])
        assert p.ns_pid > 1
        assert p.stdout.readline() == "started\n"
        assert bed.run(["kill", "-0", str(p.ns_pid)]).returncode == 0
        p.kill()
        assert p.wait(timeout=5) == -9          # nsenter mirrors the command's death
        assert not nsbed._alive(p.inner_pid)
        with pytest.raises(subprocess.TimeoutExpired):
            bed.run(["sleep", "1000"], timeout=0.3)
        wait_for(lambda: bed.entered_pids() == [], timeout=5, what="no entered process")
        r = bed.run(["sh", "-c", "cat; exit 3"], input="abc")
        assert (r.returncode, r.stdout) == (3, "abc")
        r = bed.run(["pwd"], cwd=str(tmp_path))
        assert r.stdout.strip() == str(tmp_path)


def test_host_tmp_passwd_sysctls_and_mounts_are_untouched(tmp_path):
    tag = f"fftest-sentinel-{os.getpid()}-{time.monotonic_ns()}"
    new = f"/tmp/{tag}-new"
    old = f"/tmp/{tag}-old"
    d = f"/tmp/{tag}-dir"
    sentinels = [new, old, d, d + "/f"]
    try:
        with open(new, "w") as f:
            f.write("new")
        with open(old, "w") as f:
            f.write("old")
        forty_days = time.time() - 40 * 86400
        os.utime(old, (forty_days, forty_days))
        os.mkdir(d)
        with open(d + "/f", "w") as f:
            f.write("f")
        os.utime(d + "/f", (forty_days, forty_days))
        watched = ["/etc/passwd", "/etc/group", "/etc/shadow"]
        digests = {p: digest(p) for p in watched if os.path.exists(p)}
        sysctls = {k: read(f"/proc/sys/{k}") for k in ("fs/file-max", "net/unix/max_dgram_qlen",
                                                       "kernel/hostname")}
        mounts = host_mounts()

        with SystemdBed(tmp_path, name="host") as bed:
            stub_agent(bed, tmp_path)
            assert bed.systemctl("start", "td-agent").returncode == 0
            # the host's /tmp is not even visible inside; the bed's /tmp is not the host's
            r = bed.run(["ls", "-a", "/tmp"])
            assert tag not in r.stdout
            assert bed.run(["sh", "-c", f"echo x > /tmp/{tag}-inside"]).returncode == 0
            assert not os.path.exists(f"/tmp/{tag}-inside")
            assert bed.run(["hostname", "nsbed-host-test"]).returncode == 0
            assert bed.systemctl("stop", "td-agent").returncode == 0
        assert_gone(bed)

        assert all(os.path.exists(p) for p in sentinels)
        assert os.stat(old).st_mtime == pytest.approx(forty_days, abs=1)
        assert {p: digest(p) for p in digests} == digests
        assert {k: read(f"/proc/sys/{k}") for k in sysctls} == sysctls
        assert host_mounts() == mounts
        assert not any(n.startswith(tag + "-inside") for n in os.listdir("/tmp"))
    finally:
        for p in (d + "/f", new, old):
            if os.path.exists(p):
                os.unlink(p)
        if os.path.isdir(d):
            os.rmdir(d)


def test_two_beds_at_once(tmp_path):
    with SystemdBed(tmp_path, name="one") as a, SystemdBed(tmp_path, name="two") as b:
        assert a.cgroup != b.cgroup and a.pidns != b.pidns and a.mntns != b.mntns
        with pytest.raises(BedError, match="already running"):
            SystemdBed(tmp_path, name="one").start()          # would wipe bed one's state dir
        ag_a = stub_agent(a, tmp_path, config="a.json")
        ag_b = stub_agent(b, tmp_path, config="b.json", workers=1)
        assert a.systemctl("start", "td-agent").returncode == 0
        assert b.systemctl("start", "td-agent").returncode == 0
        assert a.host_path(ag_a["log_file"]) != b.host_path(ag_b["log_file"])
        assert len(unit_pids(a, "td-agent.service")) == 3
        assert len(unit_pids(b, "td-agent.service")) == 2
        assert a.systemctl("kill", "--kill-whom=main", "-s", "SIGUSR1", "td-agent").returncode == 0
        wait_for(lambda: len(flush_lines(a, ag_a["log_file"])) == 2, what="flush in bed one")
        time.sleep(0.2)
        assert flush_lines(b, ag_b["log_file"]) == []
        a.stop()
        assert_gone(a)
        assert b.systemctl("is-system-running").stdout.strip() == "running"
        assert len(unit_pids(b, "td-agent.service")) == 2
    assert_gone(b)


def test_system_bus_only_after_start_dbus(tmp_path):
    call = ["busctl", "--system", "call", "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
            "org.freedesktop.systemd1.Manager", "GetUnit", "s", "td-agent.service"]
    with SystemdBed(tmp_path, name="dbus") as bed:
        stub_agent(bed, tmp_path)
        assert bed.systemctl("start", "td-agent").returncode == 0
        r = bed.run(call)
        assert r.returncode != 0, "a system bus exists before start_dbus()"
        bed.start_dbus()
        r = bed.run(call)
        assert r.returncode == 0, r.stderr
        assert r.stdout.strip() == 'o "/org/freedesktop/systemd1/unit/td_2dagent_2eservice"'


def test_host_path_mapping(tmp_path):
    with SystemdBed(tmp_path, name="paths") as bed:
        assert bed.host_path("/var/log/td-agent/td-agent.log") == \
            os.path.join(bed.state, "log", "td-agent", "td-agent.log")
        assert bed.host_path(str(tmp_path / "x")) == str(tmp_path / "x")
        assert bed.host_path("/usr/bin/env") == "/usr/bin/env"
        hp = bed.host_path("/var/run/probe")
        assert hp == f"/proc/{bed.init_pid}/root/run/probe"
        assert bed.run(["sh", "-c", "echo run > /run/probe"]).returncode == 0
        assert read(hp) == "run\n"
        bed.make_dir("/var/lib/custom/buf", "td-agent")
        r = bed.run(["stat", "-c", "%U", "/var/lib/custom/buf"])
        assert r.stdout.strip() == "td-agent"
    with pytest.raises(BedError):
        bed.host_path("/run/probe")


def test_ns_init_refuses_outside_its_own_namespaces(tmp_path):
    state = tmp_path / "state"
    state.mkdir()
    host_mnt = str(os.stat("/proc/self/ns/mnt").st_ino)
    mounts = host_mounts()
    # not PID 1
    r = subprocess.run(["/bin/sh", nsbed.NS_INIT, host_mnt, str(state)], capture_output=True, text=True,
                       timeout=10)
    assert r.returncode != 0 and "refusing to run: not PID 1" in r.stderr, r
    # PID 1, but given its own mount namespace as "the host's" (a throw-away namespace: harmless if
    # the check were broken)
    r = subprocess.run(["unshare", "--pid", "--fork", "--mount", "--propagation", "private", "/bin/sh", "-c",
                        'exec /bin/sh "$0" "$(stat -L -c %i /proc/self/ns/mnt)" "$1"', nsbed.NS_INIT,
                        str(state)], capture_output=True, text=True, timeout=10)
    assert r.returncode != 0 and "refusing to run: this is the host's mount namespace" in r.stderr, r
    # PID 1 in a private mount namespace whose mounts propagate (made shared inside the throw-away ns)
    r = subprocess.run(["unshare", "--pid", "--fork", "--mount", "--propagation", "private", "/bin/sh", "-c",
                        'mount --make-shared / && exec /bin/sh "$0" "$1" "$2"', nsbed.NS_INIT, host_mnt,
                        str(state)], capture_output=True, text=True, timeout=10)
    assert r.returncode != 0 and "shared propagation" in r.stderr, r
    assert host_mounts() == mounts
    assert os.listdir(state) == []


class BrokenBed(SystemdBed):
    """A bed whose default target wants a service that fails."""

    def _prepare_state(self):
        super()._prepare_state()
        lib = os.path.join(self.state, "lib-system")
        with open(os.path.join(lib, "broken.service"), "w") as f:
            f.write("[Service]\nType=oneshot\nExecStart=/bin/false\n")
        with open(os.path.join(lib, "test.target"), "a") as f:
            f.write("Wants=broken.service\n")


def test_bed_start_failure_is_loud_and_clean(tmp_path):
    bed = BrokenBed(tmp_path, name="broken")
    with pytest.raises(BedError) as e:
        bed.start()
    assert "degraded" in str(e.value) and "broken.service" in str(e.value), str(e.value)
    assert_gone(bed)


def test_bed_shares_the_host_network(tmp_path):
    # the bed shares the host network: a port bound inside is busy outside (pitfall: port clashes)
    with SystemdBed(tmp_path, name="net") as bed:
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.listen(1)
        try:
            r = bed.run(["/usr/bin/python3", "-c",
                         f"import socket; socket.socket().bind(('127.0.0.1', {port}))"])
            assert r.returncode != 0 and "Address already in use" in r.stderr, r
        finally:
            s.close()
