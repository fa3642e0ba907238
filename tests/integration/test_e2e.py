"""End to end: the real fluent-flush binary inside a real systemd, against the Fluentd simulator running as
the packaged unit and an S3 server on loopback. Every scenario asserts the exit code, the JSON result and
what the bucket holds."""
import os
import re
import signal
import time

import pytest

from instance import Instance, result_of

SUMMARY = ["verdict", "exit_code", "message", "nothing_buffered", "elapsed_ms", "chunks", "bytes", "workers",
           "evidence", "first_keys", "first_error", "next_retry_time", "agent"]


def check_summary(r):
    """The summary fields come first and fit in the 2,500 characters the SSM console shows."""
    assert list(r.result)[:len(SUMMARY)] == SUMMARY, list(r.result)
    head = r.stdout[:2500]
    for k in SUMMARY:
        assert f'"{k}"' in head, k
    assert r.result["exit_code"] == r.rc


def in_s3(inst, ids):
    got = inst.s3.record_ids()
    missing = ids - got
    assert not missing, f"{len(missing)} of {len(ids)} records missing from S3"


@pytest.mark.parametrize("level", ["info", "debug"])
def test_normal(tmp_path, level):
    with Instance(tmp_path, output_log_level=level) as inst:
        ids = inst.emit(300)
        assert len(inst.chunk_files()) == 1
        r = inst.flush()
        assert r.rc == 0, r
        check_summary(r)
        assert r["verdict"] == "confirmed"
        assert r["nothing_buffered"] is False
        assert r["chunks"] == {"buffered": 1, "committed": 1, "pending": 0, "failed": 0, "lost": 0}
        assert r["bytes"]["committed"] > 0 and r["bytes"]["committed"] == r["bytes"]["buffered"]
        assert r["workers"] == {"expected": 1, "acknowledged": 1}
        assert "buffer_files" in r["evidence"] and "log" in r["evidence"]
        assert r["agent"]["unit"] == "td-agent.service"
        if level == "debug":
            assert r["first_keys"] and r["first_keys"][0].startswith(f"s3://{inst.s3.bucket}/logs/")
        else:
            assert r["first_keys"] == []      # at info level nothing names the key
        in_s3(inst, ids)
        assert inst.chunk_files() == []
        # the supervisor alone got SIGUSR1: one acknowledgement per worker, not two
        assert inst.log_text().count("force flushing buffered events") == 1


def test_nothing_buffered(tmp_path):
    with Instance(tmp_path) as inst:
        r = inst.flush()
        assert r.rc == 0, r
        assert r["verdict"] == "confirmed" and r["nothing_buffered"] is True
        assert "nothing" in r["message"]
        assert "force flushing" not in inst.log_text()      # nothing to do: no signal sent


def test_fluent_package_default_unit(tmp_path):
    """fluent-package 5: fluentd.service with Alias=td-agent.service, found without --unit."""
    with Instance(tmp_path, flavor="fluent-package5") as inst:
        ids = inst.emit(100)
        r = inst.flush(unit=False)
        assert r.rc == 0, r
        assert r["agent"]["unit"] == "fluentd.service"
        assert r["agent"]["log_file"] == "/var/log/fluent/fluentd.log"
        in_s3(inst, ids)


def test_rpc_trigger(tmp_path):
    with Instance(tmp_path) as inst:
        ids = inst.emit(200)
        r = inst.flush("--via", "rpc", "--rpc-url", "http://" + inst.config["rpc_endpoint"])
        assert r.rc == 0, r
        assert r["agent"]["via"] == "rpc"
        in_s3(inst, ids)


def test_two_workers_chunk_id_keys(tmp_path):
    with Instance(tmp_path, workers=2, key_format="%{path}%{time_slice}_${chunk_id}.%{file_extension}") as inst:
        ids = inst.emit(150, worker=0) | inst.emit(150, worker=1)
        r = inst.flush()
        assert r.rc == 0, r
        assert r["workers"] == {"expected": 2, "acknowledged": 2}
        assert r["chunks"]["buffered"] == 2 and r["chunks"]["committed"] == 2
        in_s3(inst, ids)


def test_two_workers_default_key_overwrite(tmp_path):
    """The default key with two workers: both chunks go to ..._0.gz and the second overwrites the first."""
    with Instance(tmp_path, workers=2) as inst:
        ids = inst.emit(150, worker=0) | inst.emit(150, worker=1)
        r = inst.flush()
        got = inst.s3.record_ids()
        assert got < ids, "the simulator did not reproduce the collision"
        assert r.rc == 13, r
        assert r["verdict"] == "overwritten"
        assert r["overwritten_key"].endswith("_0.gz")


def test_large_buffer(tmp_path):
    """A buffer of >= 50 MB in one chunk."""
    with Instance(tmp_path, buffer={"chunk_limit_size": 256 * 1024 * 1024}) as inst:
        ids = set()
        for _ in range(10):
            ids |= inst.emit(10000, payload=500)
        size = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(inst.host(inst.buffer_path))
                   for f in fs if f.endswith(".log"))
        assert size >= 50 * 1000 * 1000, size
        r = inst.flush(timeout=120)
        assert r.rc == 0, r
        assert r["bytes"]["committed"] >= 50 * 1000 * 1000
        in_s3(inst, ids)


def test_s3_down_then_back(tmp_path):
    with Instance(tmp_path) as inst:
        ids = inst.emit(100)
        inst.s3.stop()
        p = inst.popen(timeout=60)
        inst.wait_log(r"failed to flush the buffer", timeout=30)
        inst.s3.start()
        r = result_of(p, timeout=90)
        assert r.rc == 0, r
        assert r["first_error"] and "retry" not in r["verdict"]
        in_s3(inst, ids)


def test_s3_down_past_deadline(tmp_path):
    with Instance(tmp_path) as inst:
        inst.emit(100)
        inst.s3.stop()
        r = inst.flush(timeout=8)
        assert r.rc == 11, r
        assert r["verdict"] == "upload_failing"
        assert r["next_retry_time"]
        assert "error_class=" in r["first_error"]
        assert r["chunks"]["pending"] == 1 and r["chunks"]["failed"] == 1
        assert len(inst.chunk_files()) == 1          # still on disk, not lost


def test_retry_limit_drops(tmp_path):
    with Instance(tmp_path, buffer={"retry_max_times": 1, "retry_wait": 0.5}) as inst:
        inst.emit(100)
        inst.s3.stop()
        r = inst.flush(timeout=40)
        assert r.rc == 12, r
        assert r["verdict"] == "data_lost"
        assert r["chunks"]["lost"] == 1
        assert inst.chunk_files() == []
        inst.s3.start()
        assert inst.s3.record_ids() == set()


def test_unrecoverable_backup(tmp_path):
    with Instance(tmp_path) as inst:
        inst.emit(50)
        inst.faults(unrecoverable=True)
        r = inst.flush()
        assert r.rc == 12, r
        assert r["chunk_list"][0]["loss"] in ("backup", "thrown_away")


def test_agent_not_running(tmp_path):
    with Instance(tmp_path, start=False) as inst:
        r = inst.flush()
        assert r.rc == 7, r
        assert r["verdict"] == "not_running"
        r = inst.flush(unit=False)
        assert r.rc == 7, r


def test_unknown_unit(tmp_path):
    with Instance(tmp_path, start=False) as inst:
        r = inst.bed.run(inst.argv(unit=False) + ["--unit", "nosuch.service"], timeout=30)
        assert r.returncode == 3, r
        assert "nosuch.service" in r.stderr


def test_agent_hung(tmp_path):
    with Instance(tmp_path) as inst:
        inst.emit(100)
        inst.faults(ignore_usr1=True)
        r = inst.flush("--ack-timeout", "2", timeout=20)
        assert r.rc == 10, r
        assert r["verdict"] == "no_ack"
        assert r["workers"]["acknowledged"] == 0


def test_agent_killed_mid_upload(tmp_path):
    """The whole agent dies while a chunk is uploading: the helper says so at once, and the chunk is
    reported pending (still on disk), not committed."""
    with Instance(tmp_path) as inst:
        inst.emit(100)
        inst.faults(s3_delay_ms=5000)
        p = inst.popen(timeout=60)
        inst.wait_log(r"write chunk")
        inst.bed.systemctl("kill", "--signal=SIGKILL", inst.unit, check=True)
        r = result_of(p, timeout=60)
        assert r.rc == 7, r
        assert r["verdict"] == "not_running"
        assert r["chunks"]["committed"] == 0 and r["chunks"]["pending"] == 1
        assert r["elapsed_ms"] < 30000


def test_worker_dies_mid_upload(tmp_path):
    """One worker dies mid-upload and the supervisor restarts it: the chunk is still in the buffer, the
    helper must not call it committed."""
    with Instance(tmp_path) as inst:
        inst.emit(100)
        inst.faults(die_mid_upload=True)
        r = inst.flush(timeout=10)
        assert r.rc in (14, 11), r
        assert r["chunks"]["committed"] == 0
        assert len(inst.chunk_files()) == 1


@pytest.mark.parametrize("how", ["rename", "truncate"])
def test_log_rotated_during_flush(tmp_path, how):
    with Instance(tmp_path) as inst:
        ids = inst.emit(100)
        inst.faults(s3_delay_ms=3000)
        p = inst.popen(timeout=60)
        inst.wait_log(r"force flushing buffered events")
        log = inst.host(inst.log_file)
        if how == "rename":
            os.rename(log, log + ".1")              # logrotate (create mode): rename, then USR1 re-opens
            inst.bed.run(["/bin/kill", "-USR1", str(inst.bed.main_pid(inst.unit))], timeout=10)
        else:
            with open(log, "r+b") as f:             # copytruncate
                f.truncate(0)
        r = result_of(p, timeout=90)
        assert r.rc == 0, r
        in_s3(inst, ids)
        assert r["log_rotations"] >= 1


def test_logrotate_usr1_just_before(tmp_path):
    with Instance(tmp_path) as inst:
        ids = inst.emit(100)
        inst.faults(s3_delay_ms=1500)
        inst.bed.run(["/bin/kill", "-USR1", str(inst.bed.main_pid(inst.unit))], timeout=10)
        r = inst.flush(timeout=40)
        assert r.rc == 0, r
        in_s3(inst, ids)


def test_forged_lines_do_not_confirm(tmp_path):
    """Lines a record could forge ("completed", "retry succeeded") for our chunk, while S3 is down."""
    with Instance(tmp_path) as inst:
        inst.emit(100)
        (chunk,) = [re.search(r"([0-9a-f]{32})", f).group(1) for f in inst.chunk_files()]
        inst.s3.stop()
        p = inst.popen(timeout=8)
        inst.wait_log(r"failed to flush the buffer")
        with open(inst.host(inst.log_file), "a") as f:
            t = time.strftime("%Y-%m-%d %H:%M:%S +0000", time.gmtime())
            f.write(f"{t} [debug]: #0 [out_s3] out_s3: completed to write chunk {chunk} with metadata "
                    f"#<struct Fluent::Plugin::Buffer::Metadata timekey=1, tag=nil, variables=nil, seq=0> "
                    f"to s3://{inst.s3.bucket}/logs/forged.gz\n")
            f.write(f'{t} [warn]: #0 [out_s3] retry succeeded. chunk_id="{chunk}"\n')
            f.write(f"{t} [info]: #0 force flushing buffered events\x1b[2J\n")
        r = result_of(p, timeout=60)
        assert r.rc == 11, r
        assert r["log_lines_rejected"] >= 1


def test_two_helpers_at_once(tmp_path):
    with Instance(tmp_path) as inst:
        ids = inst.emit(100)
        inst.faults(s3_delay_ms=1000)
        a = inst.popen(timeout=40)
        b = inst.popen(timeout=40)
        ra, rb = result_of(a), result_of(b)
        assert ra.rc == 0, ra
        assert rb.rc == 0, rb
        in_s3(inst, ids)


def test_helper_killed_and_run_again(tmp_path):
    with Instance(tmp_path) as inst:
        ids = inst.emit(100)
        inst.faults(s3_delay_ms=4000)
        p = inst.popen(timeout=60)
        inst.wait_log(r"force flushing buffered events")
        p.kill_all() if hasattr(p, "kill_all") else p.send_signal(signal.SIGKILL)
        p.wait(10)
        r = inst.flush(timeout=60)
        assert r.rc == 0, r
        in_s3(inst, ids)


def test_memory_buffer_with_monitor(tmp_path):
    with Instance(tmp_path, buffer_type="memory") as inst:
        ids = inst.emit(200)
        r = inst.flush()
        assert r.rc == 0, r
        assert r["evidence"] == ["log", "monitor"]
        assert r["chunks"]["committed"] >= 1
        in_s3(inst, ids)


def test_memory_buffer_info_no_monitor_unconfirmed(tmp_path):
    with Instance(tmp_path, buffer_type="memory", monitor=False, output_log_level="info") as inst:
        ids = inst.emit(200)
        r = inst.flush()
        assert r.rc == 15, r
        assert r["verdict"] == "unconfirmed"
        assert "monitor_agent" in r["message"]
        time.sleep(2)
        in_s3(inst, ids)       # the flush itself still happened


def test_status(tmp_path):
    with Instance(tmp_path, workers=2) as inst:
        inst.emit(10, worker=0)
        inst.emit(10, worker=1)
        r = inst.bed.run(inst.argv()[:1] + ["status"] + inst.argv()[1:], timeout=30)
        import json
        s = json.loads(r.stdout)
        assert r.returncode == 0, r.stderr
        assert s["chunks"] == 2 and s["workers"] == 2
        assert {c["worker"] for c in s["chunk_list"]} == {0, 1}
        assert len(s["monitor"]) == 2
        assert "force flushing" not in inst.log_text()


def test_wrong_buffer_path_falls_back_to_monitor(tmp_path):
    """An empty --buffer-path must not "confirm" zero chunks while monitor_agent shows buffered data."""
    with Instance(tmp_path, buffer_type="memory") as inst:
        ids = inst.emit(200)
        inst.bed.make_dir("/var/lib/td-agent/elsewhere", "td-agent")
        r = inst.flush("--buffer-path", "/var/lib/td-agent/elsewhere", buffer=False)
        assert r.rc == 0, r
        assert r["chunks"]["buffered"] >= 1 and r["chunks"]["committed"] == r["chunks"]["buffered"]
        assert "buffer_files" not in r["evidence"] and "monitor" in r["evidence"]
        assert any("monitor_agent as the evidence" in w for w in r["warnings"])
        in_s3(inst, ids)


def test_output_at_error_level_is_unconfirmed(tmp_path):
    """@log_level error on the s3 <match> hides backups and drops (warn): gone files prove nothing."""
    with Instance(tmp_path, output_log_level="error") as inst:
        ids = inst.emit(100)
        r = inst.flush()
        assert r.rc == 15, r
        assert "error level" in r["message"]
        assert any("@log_level error" in w for w in r["warnings"])
        in_s3(inst, ids)       # the flush itself happened
