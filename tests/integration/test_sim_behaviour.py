"""The Fluentd simulator behaves as Fluentd does where fluent-flush depends on it: who flushes on which
signal, what the buffer files do, retries and their limits, the overwrite hazard, faults, daemon mode."""
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import pytest

from bed.s3 import S3Server
from bed.sim import SIM, FluentdSim, sim_config


@pytest.fixture(scope="module")
def s3():
    with S3Server() as server:
        server.create_bucket()
        yield server


@pytest.fixture
def workdir():
    d = tempfile.mkdtemp(prefix="ff-simb-")
    yield d
    shutil.rmtree(d, ignore_errors=True)


def wait_until(pred, timeout=20, what="condition"):
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for " + what)
        time.sleep(0.05)


def prefix_of(request):
    return re.sub(r"[^a-z0-9]+", "-", request.node.name.lower()) + "/"


def test_usr1_to_supervisor_flushes_every_worker(s3, workdir, request):
    p = prefix_of(request)
    with FluentdSim(sim_config(workdir, s3, workers=2, path=p,
                               key_format="%{path}%{time_slice}_${chunk_id}.%{file_extension}"), workdir) as fd:
        fd.start()
        ids = fd.emit(fd.records(150), worker=0) | fd.emit(fd.records(150), worker=1)
        assert fd.buffer_files(0) and fd.buffer_files(1)
        off = fd.log_size()
        fd.usr1()
        fd.wait_for_log(r"completed to write chunk", count=2, start=off)
        wait_until(lambda: not fd.buffer_files(0) and not fd.buffer_files(1), what="buffer files to go")
        assert ids <= s3.record_ids(prefix=p)
        tail = fd.log_text(off)
        assert len(re.findall(r"#0 force flushing buffered events", tail)) == 1
        assert len(re.findall(r"#1 force flushing buffered events", tail)) == 1
        assert fd.stop() == 0


def test_usr1_to_one_worker_flushes_only_that_worker(s3, workdir, request):
    p = prefix_of(request)
    with FluentdSim(sim_config(workdir, s3, workers=2, path=p,
                               key_format="%{path}%{time_slice}_${chunk_id}.%{file_extension}"), workdir) as fd:
        fd.start()
        ids0 = fd.emit(fd.records(50), worker=0)
        ids1 = fd.emit(fd.records(50), worker=1)
        pids = fd.worker_pids()
        assert set(pids) == {0, 1} and pids[0] != pids[1] != fd.supervisor_pid
        with open("/proc/%d/stat" % pids[1]) as f:
            assert int(f.read().rsplit(")", 1)[1].split()[1]) == fd.supervisor_pid, "worker is not a child"
        off = fd.log_size()
        fd.usr1(worker=1)
        fd.wait_for_log(r"#1 \[out_s3\] out_s3: completed to write chunk", start=off)
        wait_until(lambda: not fd.buffer_files(1))
        time.sleep(1.0)
        got = s3.record_ids(prefix=p)
        assert ids1 <= got and not (ids0 & got)
        assert fd.buffer_files(0), "worker 0 flushed without being signalled"
        assert "#0 force flushing" not in fd.log_text(off)
        assert fd.stop() == 0


def test_two_workers_default_key_overwrite(s3, workdir, request):
    """Default key %{path}%{time_slice}_%{index}: both workers HEAD index 0 (absent), both PUT it."""
    p = prefix_of(request)
    with FluentdSim(sim_config(workdir, s3, workers=2, path=p), workdir) as fd:
        fd.start()
        assert "No ${chunk_id}, %{uuid_flush} or %{hex_random} in s3_object_key_format" in fd.log_text()
        ids = fd.emit(fd.records(100), worker=0) | fd.emit(fd.records(100), worker=1)
        fd.set_faults(s3_delay_ms=1500)     # both HEADs happen before either PUT
        off = fd.log_size()
        fd.usr1()
        fd.wait_for_log(r"completed to write chunk", count=2, start=off)
        done = re.findall(r"completed to write chunk ([0-9a-f]{32}) .* to (s3://\S+)", fd.log_text(off))
        assert len({c for c, _ in done}) == 2 and len({k for _, k in done}) == 1, done
        objs = s3.list_objects(prefix=p)
        assert len(objs) == 1
        got = s3.record_ids(prefix=p)
        assert len(got) == 100 and got < ids, "the second PUT did not overwrite the first"
        assert fd.stop() == 0


def test_check_object_index_increments(s3, workdir, request):
    """One worker, two flushes into the same hour: the second chunk gets index 1 (HEAD finds _0)."""
    p = prefix_of(request)
    with FluentdSim(sim_config(workdir, s3, path=p), workdir) as fd:
        fd.start()
        for n in (1, 2):
            fd.emit(fd.records(10))
            off = fd.log_size()
            fd.usr1()
            fd.wait_for_log(r"completed to write chunk", start=off)
        keys = [o["key"] for o in s3.list_objects(prefix=p)]
        assert [k.rsplit("_", 1)[1] for k in keys] == ["0.gz", "1.gz"]
        assert fd.stop() == 0


@pytest.mark.parametrize("version,message", [
    ("1.14", "Hit limit for retries. dropping all chunks in the buffer queue."),
    ("1.14.0", "failed to flush the buffer, and hit limit for retries. dropping all chunks in the buffer queue."),
])
def test_retry_limit_drops_chunks(s3, workdir, request, version, message):
    p = prefix_of(request)
    cfg = sim_config(workdir, s3, version=version, path=p, buffer={"retry_max_times": 1})
    cfg["outputs"][0]["sdk_retry_limit"] = 0
    with FluentdSim(cfg, workdir) as fd:
        fd.start()
        fd.emit(fd.records(40))
        s3.stop()
        try:
            off = fd.log_size()
            fd.usr1()
            fd.wait_for_log(re.escape(message), start=off, timeout=30)
            # as in output.rb: the error, its backtrace, the chunks dropped, `buffer queue cleared`, and
            # only then the retry state reset
            fd.wait_for_log(r"buffer queue cleared", start=off)
            assert fd.buffer_files() == [], "dropped chunk files are still there"
            tail = fd.log_text(off)
            assert re.search(r"\[error\]: #0 \[out_s3\] " + re.escape(message) +
                             r" retry_times=\d+ records=40 error_class=Seahorse::Client::NetworkingError", tail)
            assert tail.index(message) < tail.index("buffer queue cleared")
            if version == "1.14.0":
                assert "retry_time=0 next_retry_seconds=" in tail
            wait_until(lambda: fd.output_monitor()["retry"] == {}, what="the retry state to be reset")
            m = fd.output_monitor()
            assert m["buffer_queue_length"] == 0 and m["buffer_queue_byte_size"] == 0
        finally:
            s3.start()
        time.sleep(1.5)
        assert s3.list_objects(prefix=p) == []
        assert "retry succeeded" not in fd.log_text(off)
        assert fd.stop() == 0


def test_retry_limit_evacuates_in_119(s3, workdir, request):
    p = prefix_of(request)
    cfg = sim_config(workdir, s3, version="1.19", path=p, buffer={"retry_max_times": 0})
    cfg["outputs"][0]["sdk_retry_limit"] = 0
    with FluentdSim(cfg, workdir) as fd:
        fd.start()
        assert "retry" not in fd.output_monitor(), "1.19 hides `retry` in monitor_agent"
        fd.emit(fd.records(5))
        chunk = fd.chunk_ids().pop()
        s3.stop()
        try:
            off = fd.log_size()
            fd.usr1()
            fd.wait_for_log(r"chunk files are evacuated to ", start=off)
        finally:
            s3.start()
        evac = os.path.join(workdir, "root", "buffer", "out_s3")
        assert os.path.exists(os.path.join(evac, "buffer.q%s.log" % chunk))
        assert re.search(r'chunk files are evacuated to %s\. chunk_id="%s"' % (re.escape(evac), chunk),
                         fd.log_text(off))
        assert fd.buffer_files() == []
        assert fd.stop() == 0


def test_s3_down_then_back_and_no_forced_retry(s3, workdir, request):
    """While an output waits for its next retry, SIGUSR1 is acknowledged but makes no extra attempt."""
    p = prefix_of(request)
    cfg = sim_config(workdir, s3, path=p, buffer={"retry_wait": 4, "retry_randomize": False})
    cfg["outputs"][0]["sdk_retry_limit"] = 0
    with FluentdSim(cfg, workdir) as fd:
        fd.start()
        ids = fd.emit(fd.records(100))
        s3.stop()
        try:
            off = fd.log_size()
            fd.usr1()
            fd.wait_for_log(r"failed to flush the buffer\.", start=off)
            first_fail = time.monotonic()
            m = fd.output_monitor()
            assert m["write_count"] == 1 and m["retry"]["steps"] == 0 and m["buffer_queue_length"] == 1
            fd.usr1()
            time.sleep(0.3)
            fd.usr1()
            fd.wait_for_log(r"force flushing buffered events", count=3, start=off)
            time.sleep(1.0)
            assert fd.output_monitor()["write_count"] == 1, "SIGUSR1 shortened the retry wait"
            assert fd.count(r"failed to flush the buffer\.", off) == 1
        finally:
            s3.start()
        fd.wait_for_log(r"retry succeeded\.", start=off, timeout=30)
        assert time.monotonic() - first_fail >= 3.0, "retried before next_retry_time"
        assert ids <= s3.record_ids(prefix=p)
        assert fd.buffer_files() == []
        m = fd.output_monitor()
        assert m["write_count"] == 2 and m["rollback_count"] == 1 and m["retry_count"] == 1 and m["retry"] == {}
        assert fd.stop() == 0


def test_ignore_usr1_gives_no_ack(s3, workdir, request):
    p = prefix_of(request)
    with FluentdSim(sim_config(workdir, s3, path=p), workdir) as fd:
        fd.start()
        fd.emit(fd.records(10))
        fd.set_faults(ignore_usr1=True)
        off = fd.log_size()
        fd.usr1()
        fd.usr1(worker=0)
        time.sleep(2.0)
        assert "force flushing buffered events" not in fd.log_text(off)
        assert fd.buffer_files() and s3.list_objects(prefix=p) == []
        fd.set_faults()
        fd.usr1()
        fd.wait_for_log(r"completed to write chunk", start=off)
        assert fd.stop() == 0


def test_memory_buffer(s3, workdir, request):
    p = prefix_of(request)
    with FluentdSim(sim_config(workdir, s3, path=p, buffer_type="memory"), workdir) as fd:
        fd.start()
        ids = fd.emit(fd.records(100))
        m = fd.output_monitor()
        assert m["buffer_stage_byte_size"] > 0 and m["buffer_total_queued_size"] == m["buffer_stage_byte_size"]
        assert not os.path.exists(os.path.join(workdir, "buffer"))
        assert not [n for n in os.listdir(workdir) if n.startswith("buffer")]
        off = fd.log_size()
        fd.usr1()
        fd.wait_for_log(r"completed to write chunk", start=off)
        wait_until(lambda: fd.output_monitor()["buffer_total_queued_size"] == 0)
        assert ids <= s3.record_ids(prefix=p)
        only = fd.monitor(query="@type=s3")["plugins"]
        assert [x["plugin_id"] for x in only] == ["out_s3"]
        assert [x["type"] for x in fd.monitor(query="@id=in_forward")["plugins"]] == ["forward"]
        more = fd.emit(fd.records(20))
        off = fd.log_size()
        assert fd.stop() == 0                    # memory buffers are flushed at shutdown
        assert more <= s3.record_ids(prefix=p)
        log = fd.log_text(off)
        assert log.index("fluentd worker is now stopping") < log.index("completed to write chunk") \
            < log.index("Worker 0 finished with status 0")


def test_file_chunks_stay_on_disk_at_shutdown_and_resume(s3, workdir, request):
    p = prefix_of(request)
    with FluentdSim(sim_config(workdir, s3, path=p), workdir) as fd:
        fd.start()
        ids = fd.emit(fd.records(30))
        files = fd.buffer_files()
        assert len(files) == 2 and files[0].startswith("buffer.b") and files[1].endswith(".log.meta")
        assert fd.stop() == 0
        assert fd.buffer_files() == files, "flush_at_shutdown is false for file buffers"
        assert s3.list_objects(prefix=p) == []
        off = fd.log_size()
        fd.start()
        assert re.search(r"buffer started instance=\d+ stage_size=[1-9]\d* queue_size=0", fd.log_text(off))
        fd.usr1()
        fd.wait_for_log(r"completed to write chunk", start=off)
        wait_until(lambda: not fd.buffer_files())
        assert ids <= s3.record_ids(prefix=p)
        assert fd.stop() == 0


def test_chunk_files_staged_then_queued(s3, workdir, request):
    """b-file while staged, renamed to q-file when enqueued, deleted after the PUT."""
    p = prefix_of(request)
    with FluentdSim(sim_config(workdir, s3, path=p), workdir) as fd:
        fd.start()
        fd.emit(fd.records(500))
        chunk = fd.chunk_ids().pop()
        assert re.fullmatch(r"[0-9a-f]{32}", chunk)
        assert abs((int(chunk[:16], 16) >> 12) / 1e6 - time.time()) < 60, "chunk id is not time-based"
        assert fd.buffer_files() == ["buffer.b%s.log" % chunk, "buffer.b%s.log.meta" % chunk]
        fd.set_faults(s3_delay_ms=1500)
        off = fd.log_size()
        fd.usr1()
        fd.wait_for_log(r"out_s3: write chunk %s" % chunk, start=off)
        assert fd.buffer_files() == ["buffer.q%s.log" % chunk, "buffer.q%s.log.meta" % chunk]
        m = fd.output_monitor()
        assert m["buffer_queue_length"] == 0 and m["buffer_queue_byte_size"] > 0
        fd.wait_for_log(r"completed to write chunk %s" % chunk, start=off)
        wait_until(lambda: not fd.buffer_files())
        assert fd.stop() == 0


def test_unrecoverable_error_backs_up_or_throws_away(s3, workdir, request):
    p = prefix_of(request)
    with FluentdSim(sim_config(workdir, s3, path=p), workdir) as fd:
        fd.start()
        fd.emit(fd.records(10))
        chunk = fd.chunk_ids().pop()
        fd.set_faults(unrecoverable=True)
        off = fd.log_size()
        fd.usr1()
        fd.wait_for_log(r"bad chunk is moved to", start=off)
        backup = os.path.join(workdir, "root", "backup", "worker0", "out_s3", chunk + ".log")
        tail = fd.log_text(off)
        assert "got unrecoverable error in primary and no secondary error_class=ArgumentError" in tail
        assert "bad chunk is moved to %s" % backup in tail
        # output.rb#backup_chunk logs the line first, then writes the file
        wait_until(lambda: os.path.exists(backup) and os.path.getsize(backup) > 0, what="the backup file")
        wait_until(lambda: not fd.buffer_files())
        fd.emit(fd.records(10))
        chunk2 = fd.chunk_ids().pop()
        fd.config["outputs"][0]["buffer"]["disable_chunk_backup"] = True
        assert fd.stop() == 0
        fd.write_config()
        fd.start()
        off = fd.log_size()
        fd.usr1()
        fd.wait_for_log(r"disable_chunk_backup is true\. %s chunk is thrown away" % chunk2, start=off)
        wait_until(lambda: not fd.buffer_files())
        assert s3.list_objects(prefix=p) == []
        assert fd.stop() == 0


def test_worker_killed_mid_upload_is_restarted_and_resumes(s3, workdir, request):
    p = prefix_of(request)
    with FluentdSim(sim_config(workdir, s3, path=p), workdir) as fd:
        fd.start()
        ids = fd.emit(fd.records(20))
        old = fd.worker_pids()[0]
        fd.set_faults(die_mid_upload=True)
        off = fd.log_size()
        fd.usr1()
        fd.wait_for_log(r"Worker 0 finished unexpectedly with signal SIGKILL", start=off)
        fd.set_faults()
        fd.wait_for_log(r"fluentd worker is now running worker=0", start=off)
        assert fd.worker_pids()[0] != old
        assert fd.chunk_ids(), "the chunk being uploaded was lost with the worker"
        fd.wait_for_log(r"completed to write chunk", start=off, timeout=20)   # a queued chunk is retried
        assert ids <= s3.record_ids(prefix=p)
        assert fd.stop() == 0


def test_rpc_flush_and_rpc_error(s3, workdir, request):
    p = prefix_of(request)
    with FluentdSim(sim_config(workdir, s3, path=p), workdir) as fd:
        fd.start()
        ids = fd.emit(fd.records(10))
        fd.set_faults(rpc_error=True)
        assert fd.rpc_flush() == (500, b'{"ok":true}')
        time.sleep(0.5)
        assert "force flushing" not in fd.log_text()
        fd.set_faults()
        off = fd.log_size()
        assert fd.rpc_flush() == (200, b'{"ok":true}')
        fd.wait_for_log(r"completed to write chunk", start=off)
        assert ids <= s3.record_ids(prefix=p)
        assert fd.stop() == 0


def test_usr1_reopens_the_log(s3, workdir, request):
    """logrotate renames the log and sends SIGUSR1.  Like Fluentd, a worker logs `force flushing buffered
    events` *before* it re-opens its log (so that line lands in the renamed file) and everything after it
    in a new file at the old path."""
    p = prefix_of(request)
    with FluentdSim(sim_config(workdir, s3, path=p), workdir) as fd:
        fd.start()
        fd.emit(fd.records(10))
        os.rename(fd.log_path, fd.log_path + ".1")
        fd.usr1()
        fd.wait_for_log(r"completed to write chunk")
        new = fd.log_text()
        assert "flushing all buffer forcedly" in new and "using configuration file" not in new
        with open(fd.log_path + ".1") as f:
            old = f.read()
        assert "fluentd worker is now running" in old and "force flushing buffered events" in old
        assert "flushing all buffer forcedly" not in old
        assert fd.stop() == 0


def test_daemon_mode_as_unprivileged_user_without_home(s3, workdir, request):
    """The way td-agent.service runs it: --daemon PIDFILE, User=td-agent, no home directory."""
    p = prefix_of(request)
    cfg = sim_config(workdir, s3, path=p)
    fd = FluentdSim(cfg, workdir)
    nobody = pwd.getpwnam("nobody")
    for root, dirs, files in os.walk(workdir):
        for n in dirs + files + ["."]:
            os.chown(os.path.join(root, n), nobody.pw_uid, nobody.pw_gid)
    env = {"PATH": "/usr/bin:/bin", "HOME": "/nonexistent-home"}
    cmd = ["setpriv", "--reuid", str(nobody.pw_uid), "--regid", str(nobody.pw_gid), "--clear-groups",
           SIM, "--log", fd.log_path, "--daemon", fd.pid_file, "-c", fd.config_path]
    try:
        r = subprocess.run(cmd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=30)
        assert r.returncode == 0, r.stderr
        assert r.stdout == b"" and r.stderr == b""
        with open(fd.pid_file) as f:
            fd.supervisor_pid = int(f.read())
        assert fd.alive()
        st = os.stat("/proc/%d" % fd.supervisor_pid)
        assert st.st_uid == nobody.pw_uid
        assert os.readlink("/proc/%d/fd/1" % fd.supervisor_pid) == "/dev/null"
        fd.wait_for_log(r"fluentd worker is now running worker=0")
        ids = fd.emit(fd.records(10))
        off = fd.log_size()
        fd.usr1()
        fd.wait_for_log(r"completed to write chunk", start=off)
        assert ids <= s3.record_ids(prefix=p)
        assert fd.stop() is None
        assert "Worker 0 finished with status 0" in fd.log_text(off)
    finally:
        fd.kill()


# --------------------------------------------------------------------------- signals: never fatal, never wedged

def children(pid):
    """Child pids of pid's main thread (the supervisor spawns its workers from its main thread)."""
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []


def storm(pids, signum, seconds, until=None):
    """signum to each pid, back to back, for `seconds` (or until `until()`): systemd's stop sends SIGTERM
    twice, `systemctl kill` and logrotate send SIGUSR1 at any time.  A pid that is gone is skipped."""
    end = time.monotonic() + seconds
    n = 0
    while time.monotonic() < end and not (until and until()):
        for pid in pids:
            try:
                os.kill(pid, signum)
            except ProcessLookupError:
                pass
        n += 1
        if n % 4 == 0:
            time.sleep(0.0002)


def where_stuck(fd):
    where = {}
    for pid in [fd.supervisor_pid] + children(fd.supervisor_pid):
        try:
            with open("/proc/%d/wchan" % pid) as f:
                where[pid] = f.read()
        except OSError as e:
            where[pid] = str(e)
    return where


def assert_responsive(fd, what):
    """SIGUSR1 to the supervisor still reaches the worker (no process is wedged)."""
    deadline = time.monotonic() + 20           # first, what the storm started has finished: a quiet log
    size, quiet_since = fd.log_size(), time.monotonic()
    while time.monotonic() - quiet_since < 0.5 and time.monotonic() < deadline:
        time.sleep(0.05)
        if fd.log_size() != size:
            size, quiet_since = fd.log_size(), time.monotonic()
    off = fd.log_size()
    os.kill(fd.supervisor_pid, signal.SIGUSR1)
    deadline = time.monotonic() + 10
    while not re.search(r"fluentd supervisor process get SIGUSR1(.|\n)*#0 .*fluentd main process get SIGUSR1",
                        fd.log_text(off)):
        assert time.monotonic() < deadline, "after %s, SIGUSR1 gets no answer; stuck in %s; log tail:\n%s" % (
            what, where_stuck(fd), "\n".join(fd.log_lines()[-30:]))
        time.sleep(0.05)
    assert "finished unexpectedly" not in fd.log_text(), "a process died during %s" % what


def wait_exit(fd, timeout):
    """The supervisor's exit code, or an AssertionError naming where each process is stuck."""
    try:
        return fd.proc.wait(timeout)
    except subprocess.TimeoutExpired:
        raise AssertionError("the simulator did not stop within %ss; stuck in %s; log tail:\n%s"
                             % (timeout, where_stuck(fd), "\n".join(fd.log_lines()[-30:])))


def test_signal_storms_never_wedge_a_process(workdir):
    """A signal handler that takes a lock (Event.set, the logger's lock, Thread.start) deadlocks its
    process when another signal lands while the main thread holds that lock (or recurses until
    RecursionError).  Storms of SIGHUP, then SIGUSR1, then SIGTERM to the supervisor and the worker at
    once: both keep answering, and the stop is clean."""
    with FluentdSim(sim_config(workdir, None, log_level="debug"), workdir) as fd:
        fd.start()
        pids = [fd.supervisor_pid, fd.worker_pids()[0]]
        storm(pids, signal.SIGHUP, 1.5)
        assert_responsive(fd, "a SIGHUP storm")
        assert fd.count(r"#0 .*fluentd main process get SIGHUP") >= 1
        storm(pids, signal.SIGUSR1, 1.5)
        assert_responsive(fd, "a SIGUSR1 storm")
        storm(pids, signal.SIGTERM, 3.0, until=lambda: fd.proc.poll() is not None)
        assert wait_exit(fd, 30) == 0
        log = fd.log_text()
        assert log.count("Received graceful stop") == 1
        assert "Worker 0 finished with status 0" in log and "finished unexpectedly" not in log


def test_signals_while_a_worker_starts_are_not_fatal(workdir):
    """SIGUSR1 (or the supervisor's SIGTERM) reaching a worker that has not finished starting is kept for
    when it runs, as Fluentd installs its handlers first: it neither kills the worker nor is lost."""
    with FluentdSim(sim_config(workdir, None), workdir) as fd:
        fd.start(wait=False)
        first = None
        deadline = time.monotonic() + 30
        while "fluentd worker is now running" not in fd.log_text():
            assert time.monotonic() < deadline, "worker did not start:\n" + fd.log_text()
            for pid in children(fd.supervisor_pid):
                first = first or pid
                try:
                    os.kill(pid, signal.SIGUSR1)
                except ProcessLookupError:
                    pass
            assert "finished unexpectedly" not in fd.log_text(), "SIGUSR1 killed a starting worker"
            time.sleep(0.02)
        assert first is not None, "never saw the worker process"
        fd.wait_for_log(r"#0 force flushing buffered events")
        time.sleep(0.5)
        log = fd.log_text()
        assert "finished unexpectedly" not in log, log
        assert fd.worker_pids()[0] == first
        assert log.index("fluentd worker is now running") < log.index("force flushing buffered events")

        # a restarted worker: SIGUSR1 as soon as it exists, then a stop before it is up
        off = fd.log_size()
        os.kill(first, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while True:
            new = [p for p in children(fd.supervisor_pid) if p != first]
            if new:
                break
            assert time.monotonic() < deadline, "worker was not restarted"
            time.sleep(0.001)
        os.kill(new[0], signal.SIGUSR1)
        os.kill(fd.supervisor_pid, signal.SIGTERM)     # forwarded to the starting worker
        assert wait_exit(fd, 30) == 0
        tail = fd.log_text(off)
        assert tail.count("finished unexpectedly") == 1 and "with signal SIGKILL" in tail, tail
        assert "Worker 0 finished with status 0" in tail, tail
        assert "fluentd worker is now running" in tail and "force flushing buffered events" in tail, tail


def test_restarted_worker_resumes_queued_and_staged_chunks(s3, workdir, request):
    """A worker killed with one chunk queued (buffer.q…, its upload under way) and one staged (buffer.b…):
    the restarted worker resumes both, as buf_file does — the flush thread writes the queued chunk
    without any signal, the staged one stays staged (until a flush or its timekey)."""
    p = prefix_of(request)
    with FluentdSim(sim_config(workdir, s3, path=p), workdir) as fd:
        fd.start()
        ids_q = fd.emit(fd.records(40))
        (q,) = fd.chunk_ids()
        fd.set_faults(s3_delay_ms=60000)
        off = fd.log_size()
        fd.usr1()
        fd.wait_for_log(r"out_s3: write chunk %s" % q, start=off)
        write = re.search(r"out_s3: write chunk %s with metadata (.*) to (s3://\S+)" % q, fd.log_text(off))
        assert "timekey=nil" not in write.group(1)
        ids_b = fd.emit(fd.records(30))
        (b,) = fd.chunk_ids() - {q}
        files = fd.buffer_files()
        assert files == sorted(["buffer.b%s.log" % b, "buffer.b%s.log.meta" % b,
                                "buffer.q%s.log" % q, "buffer.q%s.log.meta" % q]), files
        fd.set_faults()
        old = fd.worker_pids()[0]
        off = fd.log_size()
        os.kill(old, signal.SIGKILL)
        fd.wait_for_log(r"Worker 0 finished unexpectedly with signal SIGKILL", start=off)
        fd.wait_for_log(r"fluentd worker is now running worker=0", start=off)
        assert fd.worker_pids()[0] != old
        assert re.search(r"buffer started instance=\d+ stage_size=[1-9]\d* queue_size=[1-9]\d*", fd.log_text(off))
        # the queued chunk: written again by the flush thread, same metadata, same key; no signal sent
        fd.wait_for_log(r"completed to write chunk %s" % q, start=off, timeout=20)
        tail = fd.log_text(off)
        assert re.search(r"out_s3: write chunk %s with metadata %s to %s" % (q, re.escape(write.group(1)),
                                                                              re.escape(write.group(2))), tail)
        assert "force flushing" not in tail and "flushing all buffer forcedly" not in tail
        wait_until(lambda: fd.buffer_files() == ["buffer.b%s.log" % b, "buffer.b%s.log.meta" % b],
                   what="only the staged chunk's files left")
        assert s3.record_ids(prefix=p) == ids_q
        # the staged chunk stays staged
        time.sleep(2.5)
        assert "write chunk %s" % b not in fd.log_text(off), "the staged chunk was flushed without a signal"
        m = fd.output_monitor()
        assert (m["buffer_stage_length"], m["buffer_queue_length"], m["buffer_queue_byte_size"]) == (1, 0, 0), m
        assert m["buffer_stage_byte_size"] > 0 and m["retry"] == {}
        assert fd.buffer_files() == ["buffer.b%s.log" % b, "buffer.b%s.log.meta" % b]
        # … until a flush
        off = fd.log_size()
        fd.usr1()
        fd.wait_for_log(r"completed to write chunk %s" % b, start=off)
        wait_until(lambda: not fd.buffer_files())
        assert s3.record_ids(prefix=p) == ids_q | ids_b
        assert fd.stop() == 0


def test_systemctl_stop_is_clean_under_systemd(tmp_path):
    """`systemctl stop td-agent` as the package's unit does it: ExecStop's `kill -TERM $MAINPID`, which the
    supervisor forwards to the workers, then systemd's own SIGTERM to every process left in the unit — so
    each worker gets SIGTERM twice, close together.  Every round: a quick stop, `Worker N finished with
    status 0` for both workers (a late SIGTERM must not turn a clean exit into death by signal), and
    systemd's result `success`."""
    from bed.nsbed import SystemdBed
    os.chmod(str(tmp_path), 0o755)
    work = os.path.join(str(tmp_path), "w")
    fd = FluentdSim(sim_config(work, None, workers=2, buffer={"path": "/var/lib/td-agent/buffer"}), work)
    with SystemdBed(str(tmp_path), name="simstop") as bed:
        agent = bed.install_agent("td-agent", fd.config_path, flavor="td-agent4")
        log_path = bed.host_path(agent["log_file"])

        def log():
            with open(log_path, errors="replace") as f:
                return f.read()
        for rnd in range(3):
            bed.systemctl("start", "td-agent", check=True)
            wait_until(lambda: log().count("fluentd worker is now running worker=1") > rnd, what="workers up")
            off = len(log())
            t0 = time.monotonic()
            r = bed.systemctl("stop", "td-agent", timeout=150)
            took = time.monotonic() - t0
            tail = log()[off:]
            assert r.returncode == 0 and took < 20, "round %d: stop took %.1f s: %s\n%s" % (rnd, took, r.stderr, tail)
            assert sorted(re.findall(r"Worker \d finished .*", tail)) == [
                "Worker 0 finished with status 0", "Worker 1 finished with status 0"], "round %d:\n%s" % (rnd, tail)
            res = bed.systemctl("show", "-p", "Result", "--value", "td-agent", check=True).stdout.strip()
            assert res == "success", "round %d: %s\n%s" % (rnd, res, bed.journal("td-agent", 30))


def test_forward_port_open_while_a_worker_starts_or_restarts(s3, workdir, request):
    """in_forward's socket belongs to the supervisor (Fluentd's in_forward gets it from ServerEngine's
    socket manager): a worker's port takes connections as soon as the supervisor is up — before that
    worker says `now running`, and while it is being restarted — and the records sent then are
    buffered once the worker runs."""
    p = prefix_of(request)
    with FluentdSim(sim_config(workdir, s3, workers=2, path=p,
                               key_format="%{path}%{time_slice}_${chunk_id}.%{file_extension}"), workdir) as fd:
        fd.start(wait=False)
        early = {}
        deadline = time.monotonic() + 20
        while len(early) < 2:
            for w in {0, 1} - set(early):
                try:
                    socket.create_connection(("127.0.0.1", fd.config["input"]["port"] + w), timeout=5).close()
                except ConnectionRefusedError:
                    continue
                early[w] = fd.log_text()        # what the log said when the port took the connection
            assert time.monotonic() < deadline, "in_forward ports never opened"
            time.sleep(0.01)
        for w, text in early.items():
            assert not re.search(r"#%d \[in_forward\] listening port" % w, text), \
                "worker %d's port opened only with its in_forward" % w
        ids = fd.emit(fd.records(20), worker=1, timeout=30) | fd.emit(fd.records(20), worker=0, timeout=30)
        for w in (0, 1):
            fd.wait_for_log(r"fluentd worker is now running worker=%d\b" % w)
        old = fd.worker_pids()[0]
        off = fd.log_size()
        os.kill(old, signal.SIGKILL)
        fd.wait_for_log(r"Worker 0 finished unexpectedly with signal SIGKILL", start=off)
        ids |= fd.emit(fd.records(20), worker=0, timeout=30)      # not refused: answered by the new worker
        assert fd.worker_pids()[0] != old
        off = fd.log_size()
        fd.usr1()
        wait_until(lambda: not fd.buffer_files(0) and not fd.buffer_files(1), what="buffer files to go")
        assert ids <= s3.record_ids(prefix=p)
        assert fd.stop() == 0
