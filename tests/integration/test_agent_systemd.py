# The helper's agent path (helper/src/agent.c) against a real systemd in its own namespaces
# (tests/bed/nsbed.py): which unit is chosen, MainPID over sd-bus (private socket as root, the system bus
# otherwise), Alias= resolution, KillUnit(unit, "main", SIGUSR1) reaching the supervisor only, and the
# errors for inactive and unknown units. The entry point is tests/unit/agent_probe.c, linked against
# build/libff.a with the Makefile's own flags, run inside the bed; it prints one JSON object.
import errno
import json
import os
import re
import subprocess
import time

import pytest

from bed import nsbed
from bed.nsbed import SystemdBed

TESTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REPO = os.path.dirname(TESTS)
PROBE_SRC = os.path.join(REPO, "tests", "unit", "agent_probe.c")
# A rule added to the Makefile on make's stdin: the probe gets exactly the Makefile's CFLAGS/LDFLAGS/libs.
PROBE_RULE = ("$(PROBE): tests/unit/agent_probe.c $(B)/libff.a\n"
              "\t$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $< $(B)/libff.a $(PKG_LIBS)\n")
# The stand-in agent logs one line per signal a process takes: `got SIGUSR1 from pid <sender>`,
# with `#<worker> ` on worker lines only.
GOT_USR1 = re.compile(r"^\S+ \S+ \S+ \[debug\]: (?:#(\d+) )?got SIGUSR1 from pid (\d+)$", re.M)
FLUSH_LINE = re.compile(r"^\S+ \S+ \S+ \[info\]: #(\d+) force flushing buffered events$", re.M)
NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]


def build_probe(out, *make_args):
    r = subprocess.run(["make", "-s", "-C", REPO, "-f", "Makefile", "-f", "-", f"PROBE={out}", *make_args, out],
                       input=PROBE_RULE, text=True, capture_output=True, timeout=300)
    assert r.returncode == 0, f"building the agent probe failed:\n{r.stdout}\n{r.stderr}"
    assert os.access(out, os.X_OK)
    # inside the bed the probe is run by root and by nobody: its directory must be reachable
    os.chmod(os.path.dirname(out), 0o755)
    return out


@pytest.fixture(scope="module")
def probe(tmp_path_factory):
    return build_probe(str(tmp_path_factory.mktemp("probe") / "agent_probe"))


@pytest.fixture(scope="module")
def probe_nosd(tmp_path_factory, probe):
    """The probe as the static build has it: NO_SYSTEMD=1, objects in a private build dir. It lives
    next to `probe` (the directory the beds bind in)."""
    d = os.path.dirname(probe)
    return build_probe(os.path.join(d, "agent_probe_nosd"), "NO_SYSTEMD=1", f"B={d}/build-nosd")


def Bed(tmp_path, probe, name):
    """A bed that sees the probe (built once per module, outside this test's tmp_path)."""
    return SystemdBed(tmp_path, name=name, ro_binds=[os.path.dirname(probe)])


def stub_config(tmp_path, workers=2):
    path = tmp_path / f"agent-{workers}.json"
    path.write_text(json.dumps({"workers": workers}))
    return str(path)


def run_probe(bed, probe, *args, user=None):
    argv = ([*NOBODY] if user == "nobody" else []) + [probe, "--verbose", *args]
    r = bed.run(argv, timeout=60)
    assert r.returncode == 0, f"probe failed (rc {r.returncode}):\n{r.stdout}\n{r.stderr}"
    try:
        res = json.loads(r.stdout)
    except ValueError:
        raise AssertionError(f"probe printed no JSON:\n{r.stdout}\n{r.stderr}") from None
    res["stderr"] = r.stderr
    return res


def install(bed, tmp_path, name, flavor, **kw):
    # The bed's own stand-in (not the simulator): its per-signal debug lines are what this test counts.
    return bed.install_agent(name, stub_config(tmp_path), flavor=flavor, executable=nsbed.STUB, **kw)


def start(bed, unit):
    r = bed.systemctl("start", unit)
    assert r.returncode == 0, f"systemctl start {unit}: {r.stderr}\n{bed.journal(unit, 40)}"


def pid_file_pid(bed, agent):
    with open(bed.host_path(agent["pid_file"])) as f:
        return int(f.read().strip())


def read_log(bed, agent):
    with open(bed.host_path(agent["log_file"])) as f:
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


def assert_found(res, unit, pid, flavor, log_file):
    assert res["find_rc"] == 0, res
    assert res["unit"] == unit, res
    assert res["pid"] == pid, res
    assert res["flavor"] == flavor, res
    assert res["default_log"] == log_file, res
    assert res["alive"] == 1, res


def test_td_agent_unit_mainpid_is_the_pid_file(tmp_path, probe):
    with Bed(tmp_path, probe, name="ag-td4") as bed:
        agent = install(bed, tmp_path, "td-agent", "td-agent4")
        start(bed, "td-agent.service")
        main = bed.main_pid("td-agent.service")
        assert main > 0
        assert pid_file_pid(bed, agent) == main
        for asked in ("td-agent.service", "td-agent"):
            res = run_probe(bed, probe, "--unit", asked)
            assert_found(res, "td-agent.service", main, "td-agent", "/var/log/td-agent/td-agent.log")
            assert res["unit_asked"] == "td-agent.service"
        # the default: fluentd.service does not exist here, td-agent.service is the first active one
        res = run_probe(bed, probe)
        assert_found(res, "td-agent.service", main, "td-agent", "/var/log/td-agent/td-agent.log")
        # the pid file itself (no systemd) names the same process and the same package
        res = run_probe(bed, probe, "--pid-file", agent["pid_file"])
        assert_found(res, "", main, "td-agent", "/var/log/td-agent/td-agent.log")
        # as root the probe talked to PID 1's private socket: no D-Bus daemon runs in the bed
        assert "trying the system bus" not in res["stderr"]
        assert not os.path.exists(bed.host_path("/run/dbus/system_bus_socket"))


def test_fluentd_unit_and_its_alias(tmp_path, probe):
    with Bed(tmp_path, probe, name="ag-fp5") as bed:
        install(bed, tmp_path, "fluentd", "fluent-package5")     # enabled: Alias=td-agent.service
        start(bed, "fluentd.service")
        main = bed.main_pid("fluentd.service")
        assert main > 0
        log = "/var/log/fluent/fluentd.log"
        for args in (("--unit", "fluentd.service"), ("--unit", "td-agent.service"), ("--unit", "td-agent"), ()):
            res = run_probe(bed, probe, *args)
            assert_found(res, "fluentd.service", main, "fluent-package", log)


def test_default_is_the_first_active(tmp_path, probe):
    with Bed(tmp_path, probe, name="ag-dflt") as bed:
        # both packages' units, the alias not enabled so that td-agent.service is its own unit
        install(bed, tmp_path, "fluentd", "fluent-package5", enable=False)
        install(bed, tmp_path, "td-agent", "td-agent4")
        # neither runs: they exist, so "not running", not "no such unit"
        res = run_probe(bed, probe)
        assert res["find_rc"] == -errno.ESRCH, res
        assert res["unit_asked"] == "fluentd.service or td-agent.service"
        # only td-agent.service runs: fluentd.service (inactive) is passed over
        start(bed, "td-agent.service")
        res = run_probe(bed, probe)
        assert_found(res, "td-agent.service", bed.main_pid("td-agent.service"), "td-agent",
                     "/var/log/td-agent/td-agent.log")
        # both run: fluentd.service comes first
        start(bed, "fluentd.service")
        res = run_probe(bed, probe)
        assert_found(res, "fluentd.service", bed.main_pid("fluentd.service"), "fluent-package",
                     "/var/log/fluent/fluentd.log")


def test_inactive_and_unknown_units(tmp_path, probe):
    with Bed(tmp_path, probe, name="ag-err") as bed:
        install(bed, tmp_path, "td-agent", "td-agent4")
        # installed, never started
        res = run_probe(bed, probe, "--unit", "td-agent.service")
        assert res["find_rc"] == -errno.ESRCH, res
        assert res["pid"] == 0
        # started, stopped: the unit is garbage-collected (GetUnit would say NoSuchUnit); still ESRCH
        start(bed, "td-agent.service")
        assert run_probe(bed, probe, "--unit", "td-agent.service")["find_rc"] == 0
        bed.systemctl("stop", "td-agent.service", check=True)
        res = run_probe(bed, probe, "--unit", "td-agent.service")
        assert res["find_rc"] == -errno.ESRCH, res
        # no such unit at all; fluentd.service is not installed in this bed either
        for unit in ("no-such-agent.service", "fluentd.service"):
            res = run_probe(bed, probe, "--unit", unit)
            assert res["find_rc"] == -errno.ENOENT, res
            assert res["unit_asked"] == unit
        # not a service, not a unit name
        for unit in ("td-agent.socket", "../etc/passwd", "a b"):
            assert run_probe(bed, probe, "--unit", unit)["find_rc"] == -errno.EINVAL


def count_usr1(bed, agent, supervisor):
    """(supervisor deliveries from systemd, worker deliveries from the supervisor, other deliveries)"""
    sup = wrk = other = 0
    for worker, sender in GOT_USR1.findall(read_log(bed, agent)):
        sender = int(sender)
        if worker == "" and sender == 1:
            sup += 1
        elif worker != "" and sender == supervisor:
            wrk += 1
        else:
            other += 1
    return sup, wrk, other


@pytest.mark.parametrize("flavor,name", [("td-agent4", "td-agent"), ("fluent-package5", "fluentd")])
def test_killunit_main_reaches_only_the_supervisor(tmp_path, probe, flavor, name):
    with Bed(tmp_path, probe, name=f"ag-kill-{name}") as bed:
        agent = install(bed, tmp_path, name, flavor)
        start(bed, agent["unit"])
        main = bed.main_pid(agent["unit"])
        wait_for(lambda: len(re.findall(r"fluentd worker is now running", read_log(bed, agent))) == 2,
                 what="both workers running")
        asked = "td-agent.service"      # for fluent-package: through the alias
        res = run_probe(bed, probe, "--unit", asked, "--signal")
        assert res["find_rc"] == 0 and res["pid"] == main, res
        assert res["signal_rc"] == 0, res
        wait_for(lambda: len(FLUSH_LINE.findall(read_log(bed, agent))) == 2, what="both workers flushing")
        time.sleep(0.3)   # a duplicate delivery (KillUnit "all") would arrive within this time
        log = read_log(bed, agent)
        # the supervisor got it once, from PID 1; each worker once, from the supervisor; nobody else
        assert count_usr1(bed, agent, main) == (1, 2, 0), log
        assert sorted(FLUSH_LINE.findall(log)) == ["0", "1"], log


def test_kill_through_the_pid_file(tmp_path, probe):
    with Bed(tmp_path, probe, name="ag-pidf") as bed:
        agent = install(bed, tmp_path, "td-agent", "td-agent4")
        start(bed, "td-agent.service")
        main = bed.main_pid("td-agent.service")
        wait_for(lambda: len(re.findall(r"fluentd worker is now running", read_log(bed, agent))) == 2,
                 what="both workers running")
        res = run_probe(bed, probe, "--pid-file", agent["pid_file"], "--signal")
        assert res["find_rc"] == 0 and res["pid"] == main and res["unit"] == "", res
        assert res["signal_rc"] == 0, res
        wait_for(lambda: len(FLUSH_LINE.findall(read_log(bed, agent))) == 2, what="both workers flushing")
        time.sleep(0.3)
        log = read_log(bed, agent)
        got = GOT_USR1.findall(log)
        # the supervisor once, from the probe (not PID 1); the workers once each, from the supervisor
        assert len([g for g in got if g[0] == ""]) == 1, log
        assert [g for g in got if g[0] == "" and int(g[1]) == 1] == [], log
        assert sorted(g[0] for g in got if g[0] != "" and int(g[1]) == main) == ["0", "1"], log
        assert len(got) == 3, log


def test_system_bus_fallback(tmp_path, probe):
    with Bed(tmp_path, probe, name="ag-dbus") as bed:
        agent = install(bed, tmp_path, "td-agent", "td-agent4")
        start(bed, "td-agent.service")
        main = bed.main_pid("td-agent.service")
        # not root: no private socket; without a D-Bus daemon there is no system bus either
        res = run_probe(bed, probe, "--unit", "td-agent.service", user="nobody")
        assert res["euid"] == 65534, res
        assert res["find_rc"] == -errno.ENOENT, res
        assert "system bus" in res["stderr"], res["stderr"]
        bed.start_dbus()
        res = run_probe(bed, probe, "--unit", "td-agent.service", "--signal", user="nobody")
        assert_found(res, "td-agent.service", main, "td-agent", "/var/log/td-agent/td-agent.log")
        # KillUnit needs privileges (polkit, which the bed does not run): refused, nothing was sent
        assert res["signal_rc"] == -errno.EACCES, res
        time.sleep(0.3)
        assert GOT_USR1.findall(read_log(bed, agent)) == []
        # root keeps using the private socket and may signal
        res = run_probe(bed, probe, "--unit", "td-agent.service", "--signal")
        assert res["signal_rc"] == 0, res
        assert "trying the system bus" not in res["stderr"]
        wait_for(lambda: len(FLUSH_LINE.findall(read_log(bed, agent))) == 2, what="both workers flushing")


def test_without_systemd_a_unit_means_its_pid_file(tmp_path, probe, probe_nosd):
    nm = subprocess.run(["nm", "-D", "--undefined-only", probe_nosd], capture_output=True, text=True)
    assert nm.returncode == 0 and "sd_bus" not in nm.stdout, "NO_SYSTEMD build still uses sd-bus"
    with Bed(tmp_path, probe, name="ag-nosd") as bed:
        agent = install(bed, tmp_path, "td-agent", "td-agent4")
        res = run_probe(bed, probe_nosd, "--unit", "td-agent.service")
        assert res["find_rc"] == -errno.ENOENT, res          # not started: no pid file yet
        start(bed, "td-agent.service")
        main = bed.main_pid("td-agent.service")
        wait_for(lambda: len(re.findall(r"fluentd worker is now running", read_log(bed, agent))) == 2,
                 what="both workers running")
        for args in (("--unit", "td-agent.service"), ()):
            res = run_probe(bed, probe_nosd, *args)
            assert_found(res, "", main, "td-agent", "/var/log/td-agent/td-agent.log")
            assert res["unit_asked"] == "td-agent.service"
        # a unit that is not one of the packages' cannot be resolved without systemd
        assert run_probe(bed, probe_nosd, "--unit", "other.service")["find_rc"] == -errno.ENOENT
        # kill() of the supervisor from the pid file: once, from the probe; workers from the supervisor
        res = run_probe(bed, probe_nosd, "--unit", "td-agent.service", "--signal")
        assert res["signal_rc"] == 0, res
        wait_for(lambda: len(FLUSH_LINE.findall(read_log(bed, agent))) == 2, what="both workers flushing")
        time.sleep(0.3)
        got = GOT_USR1.findall(read_log(bed, agent))
        assert [g[0] for g in got if g[0] == ""] == [""] and all(int(g[1]) != 1 for g in got), got
        assert sorted(g[0] for g in got if g[0] != "" and int(g[1]) == main) == ["0", "1"], got
        # stopped: the package removes its pid file
        bed.systemctl("stop", "td-agent.service", check=True)
        assert run_probe(bed, probe_nosd)["find_rc"] == -errno.ENOENT
