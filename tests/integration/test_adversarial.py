"""Adversarial end-to-end scenarios: can the real fluent-flush be made to say "confirmed" (exit 0) while the
data did not reach S3? Real binary, real systemd bed, the Fluentd simulator, s3rver (see instance.py).

Tests named test_fails_until_fix_* show a false "confirmed" and FAIL until the fix named in their docstring
lands (the diffs are in the red-team review report). The others lock in behaviour that is right today."""
import re
import time

from instance import Instance, result_of


def emit(inst, n, worker=0):
    """inst.emit(), waiting for the worker's in_forward: with several workers the last worker's "now running"
    line can come before another worker listens (seen as ConnectionRefusedError right after start)."""
    deadline = time.monotonic() + 15
    while True:
        try:
            return inst.emit(n, worker=worker)
        except ConnectionRefusedError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def usr1_supervisor(inst):
    """What logrotate's postrotate does: SIGUSR1 to the supervisor."""
    inst.bed.run(["/bin/kill", "-USR1", str(inst.bed.main_pid(inst.unit))], timeout=10, check=True)


def test_fails_until_fix_worker_respawn_resets_monitor_counters(tmp_path):
    """Memory buffer, monitor_agent as the proof. The worker dies mid-upload (OOM kill, crash) and the
    supervisor respawns it: the 100 buffered records die with it, and the new worker's counters start from
    0. The new worker then uploads one new chunk (logrotate's USR1): write_count - rollback_count since the
    snapshot reaches the number of chunks held at the snapshot, and the queue is empty.
    Fix F3 (flush.c: counters that go down mark the output reset: never drained; not_running for memory)."""
    with Instance(tmp_path, buffer_type="memory") as inst:
        ids = inst.emit(100)
        inst.faults(die_mid_upload=True)
        p = inst.popen(timeout=40)
        try:
            inst.wait_log(r"out_s3: write chunk")
            inst.wait_log(r"fluentd worker is now running worker=0", count=2)
            inst.faults(die_mid_upload=False)
            inst.emit(10)
            usr1_supervisor(inst)
        finally:
            r = result_of(p, timeout=90)
        got = inst.s3.record_ids()
        assert not (ids & got), "precondition: the records held at the snapshot died with the worker"
        assert r.rc != 0, f"false confirmation: {len(ids)} records lost, helper said {r['verdict']}\n{r}"
        assert r["verdict"] != "confirmed"


def test_fails_until_fix_overwrite_at_info_level(tmp_path):
    """Two workers, out_s3's default key (%{index}), the s3 <match> at the default info level: the flush makes
    both workers upload at once, both chunks get ..._0.gz and the second overwrites the first. At info level
    no line names a key, so nothing catches it.
    Fix F6 (design: with more than one worker and a key format without ${chunk_id} / %{uuid_flush} /
    %{hex_random}, the keys must be seen (debug) before "confirmed" can be said; otherwise unconfirmed)."""
    with Instance(tmp_path, workers=2, output_log_level="info") as inst:
        ids = emit(inst, 150, worker=0) | emit(inst, 150, worker=1)
        r = inst.flush()
        lost = len(ids - inst.s3.record_ids())       # > 0 when the two uploads did collide (most runs)
        assert r.rc != 0, f"confirmed at info level with %{{index}} keys ({lost} of {len(ids)} records overwritten)\n{r}"


def test_fails_until_fix_log_that_is_not_fluentds(tmp_path):
    """--log-file names a file Fluentd does not write (a stale path, the other package's default, a copy).
    The chunk hits an unrecoverable error and is moved to backup: the "bad chunk is moved to" line goes to
    the real log, the helper sees the files go and nothing else.
    Fix F7 (run.c/agent.c: before the signal, check that the agent's processes have the log open
    (/proc/<pid>/fd); otherwise exit 3 config)."""
    with Instance(tmp_path) as inst:
        ids = inst.emit(50)
        other = "/var/log/td-agent/td-agent.log.1"
        inst.bed.run(["/bin/sh", "-c", f": > {other}"], timeout=10, check=True)
        inst.faults(unrecoverable=True)
        r = inst.flush("--log-file", other, "--ack-timeout", "0")
        assert not (ids & inst.s3.record_ids())
        backup = "bad chunk is moved to" in inst.log_text()
        assert r.rc != 0, f"false confirmation ({'the chunk went to backup' if backup else '?'}): {r}"


def test_unit_restarted_mid_flush_is_not_confirmed(tmp_path):
    """The agent is restarted (new MainPID) while uploads are slow: not_running at once, never confirmed."""
    with Instance(tmp_path, buffer_type="memory") as inst:
        inst.emit(100)
        inst.faults(s3_delay_ms=4000)
        p = inst.popen(timeout=60)
        try:
            inst.wait_log(r"out_s3: write chunk")
            inst.bed.systemctl("restart", inst.unit, timeout=60)
        finally:
            r = result_of(p, timeout=90)
        assert r.rc == 7, r
        assert r["verdict"] == "not_running"


def test_backup_seen_with_json_log_format(tmp_path):
    """<system><log> format json: the backup line is still bad news (data_lost), never a commit."""
    with Instance(tmp_path, log_format="json") as inst:
        inst.emit(50)
        inst.faults(unrecoverable=True)
        r = inst.flush("--log-format", "json")
        assert r.rc == 12, r
        assert r["chunks"]["lost"] == 1 and r["chunks"]["committed"] == 0
        assert r["log_lines_rejected"] == 0


def test_backup_seen_with_bracketed_time_format(tmp_path):
    """An odd <system><log> time_format (brackets, milliseconds): loss lines are still parsed."""
    with Instance(tmp_path, time_format="[%d/%b/%Y %H:%M:%S.%3N %z]") as inst:
        inst.emit(50)
        inst.faults(unrecoverable=True)
        r = inst.flush()
        assert re.search(r"^\[\d\d/\w{3}/\d{4} ", inst.log_text(), re.M), "precondition: time_format applied"
        assert r.rc == 12, r
        assert r["chunk_list"][0]["loss"] in ("backup", "thrown_away")



def test_fails_until_fix_stale_worker_dir(tmp_path):
    """Fluentd once ran with 3 workers and now runs with 2: the buffer path still holds an (empty) worker2/.
    Counting buffer directories says 3 workers, monitor_agent answers for 2: the helper must not refuse
    the flush (exit 5 "monitor_agent of worker 2") when everything it needs is there.
    Fix F8 (run.c detect_workers: monitor_agent's count wins over directories; clamp to FLUSH_MAX_WORKERS)."""
    with Instance(tmp_path, workers=2, key_format="%{path}%{time_slice}_${chunk_id}.%{file_extension}") as inst:
        ids = emit(inst, 100, worker=0) | emit(inst, 100, worker=1)
        inst.bed.make_dir(inst.buffer_path + "/worker2", "td-agent")
        r = inst.flush()
        assert r.rc == 0, r
        assert r["workers"]["expected"] == 2
        assert ids <= inst.s3.record_ids()
