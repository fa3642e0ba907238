"""The Fluentd simulator writes what real Fluentd writes.

For each recorded run in shared/fixtures/fluentd/ the simulator runs the equivalent config against s3rver,
the same events are driven (emit, SIGUSR1 or RPC, S3 stopped and restarted), and both logs are reduced
to line shapes (times, chunk ids, pids, numbers, paths, ports, S3 keys replaced by placeholders):
  - every shape the simulator writes appears in the real log;
  - every flush-relevant shape of the real log (acknowledgement, write/completed, failure, retry,
    taking back) appears in the simulator's log, and a chunk's life goes through them in the same order;
  - monitor_agent answers with the same field names and value types per plugin category;
  - the RPC reply is the same.
"""
import json
import os
import re
import shutil
import tempfile
import time

import pytest

from bed.s3 import S3Server
from bed.sim import FluentdSim, sim_config

FIXTURES = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                        "..", "shared", "fixtures", "fluentd")
FIXTURES = os.path.normpath(os.environ.get("FF_FLUENTD_FIXTURES", FIXTURES))

TIME_RX = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)? [+-]\d{4}"
LINE_RX = re.compile(r"^(?P<cont>  )?(?P<time>" + TIME_RX + r") \[(?P<level>\w+)\]: (?P<rest>.*)$")

# flush-relevant messages: (kind, regex on the normalised message)
FLUSH_KINDS = [
    ("created", r"Created new chunk"),
    ("ack", r"force flushing buffered events$"),
    ("forcedly", r"flushing all buffer forcedly$"),
    ("taking_back", r"taking back chunk for errors\."),
    ("failed", r"failed to flush the buffer\."),
    ("write", r"out_s3: write chunk "),
    ("completed", r"out_s3: completed to write chunk "),
    ("retry_succeeded", r"retry succeeded\."),
    ("hit_limit", r"Hit limit for retries|hit limit for retries"),
]


def fixture(name, *parts):
    return os.path.join(FIXTURES, name, *parts)


def normalise(rest):
    """A message (after `[level]: `) reduced to its shape."""
    s = re.sub(r"^#\d+ ", "#N ", rest)
    s = re.sub(r"fluent/log\.rb:\d+:(\w+): ", r"CALLER(\1) ", s)
    s = re.sub(r"[0-9a-f]{32}", "<ID>", s)
    s = re.sub(TIME_RX, "<TIME>", s)
    s = re.sub(r"s3://\S+", "s3://<KEY>", s)
    s = re.sub(r"cmdline=\[.*\]$", "cmdline=<CMD>", s)
    s = re.sub(r'"/[^"]*"', '"<PATH>"', s)
    s = re.sub(r"(bad chunk is moved to|evacuated to) /\S+", r"\1 <PATH>", s)
    s = re.sub(r"^(  \S.*? )?/\S+:\d+:in `.*'$", "<FRAME>", s)
    s = re.sub(r"(?<![A-Za-z_])\d+", "<N>", s)
    return s


def shapes(text):
    """[(shape, raw line)] for every log line except config dump lines."""
    out = []
    for line in text.splitlines():
        m = LINE_RX.match(line)
        if not m:
            continue            # config dump (`  <system>` …) and `</ROOT>`
        rest = m.group("rest")
        if m.group("cont"):
            body = re.sub(r"^#\d+ ", "", rest)
            body = "suppressed same stacktrace" if body == "suppressed same stacktrace" else "<FRAME>"
            shape = "  [%s]: %s%s" % (m.group("level"), "#N " if rest.startswith("#") else "", body)
        else:
            shape = "[%s]: %s" % (m.group("level"), normalise(rest))
        out.append((shape, line))
    return out


def kind_of(shape):
    for kind, rx in FLUSH_KINDS:
        if re.search(rx, shape):
            return kind
    return None


def chunk_life(text):
    """{chunk id: [kinds in first-occurrence order]}; the ack lines of the worker are part of it."""
    lives = {}
    acks = []
    for shape, line in shapes(text):
        kind = kind_of(shape)
        if kind is None:
            continue
        ids = re.findall(r"[0-9a-f]{32}", line)
        if not ids:
            acks.append(kind)
            for life in lives.values():
                if kind not in life:
                    life.append(kind)
            continue
        life = lives.setdefault(ids[0], [])
        if kind not in life:
            life.append(kind)
    return lives


def assert_same_shapes(fixture_name, sim_text):
    with open(fixture(fixture_name, "fluentd.log")) as f:
        real_text = f.read()
    real = {s for s, _ in shapes(real_text)}
    sim = shapes(sim_text)
    assert sim, "the simulator wrote no log lines"
    extra = [(s, line) for s, line in sim if s not in real]
    assert not extra, "simulator lines with no equivalent in %s:\n%s" % (
        fixture_name, "\n".join("%s\n    shape: %s" % (line, s) for s, line in extra[:15]))
    sim_shapes = {s for s, _ in sim}
    missing = sorted(s for s in real if kind_of(s) and s not in sim_shapes)
    assert not missing, "flush-relevant lines of %s the simulator never wrote:\n%s" % (
        fixture_name, "\n".join(missing))
    real_lives = [life for life in chunk_life(real_text).values()]
    sim_lives = list(chunk_life(sim_text).values())
    assert bool(sim_lives) == bool(real_lives), "chunk lives: sim %s, real %s" % (sim_lives, real_lives)
    for life in sim_lives:
        assert life in real_lives, "chunk life %s differs from the real one(s) %s" % (life, real_lives)


def field_types(plugin):
    def t(v):
        if isinstance(v, bool):
            return "bool"
        if v is None:
            return "null"
        return type(v).__name__

    out = {k: t(v) for k, v in plugin.items()}
    if isinstance(plugin.get("retry"), dict) and plugin["retry"]:
        out["retry"] = {k: t(v) for k, v in plugin["retry"].items()}
    if isinstance(plugin.get("config"), dict):
        out["config"] = sorted(plugin["config"])
    return out


def assert_same_monitor(fixture_name, json_name, sim_doc):
    with open(fixture(fixture_name, json_name)) as f:
        real = json.load(f)
    for cat in ("input", "output"):
        r = [field_types(p) for p in real["plugins"] if p["plugin_category"] == cat]
        s = [field_types(p) for p in sim_doc["plugins"] if p["plugin_category"] == cat]
        assert s == r, "monitor_agent %s plugins differ from %s/%s:\nsim:  %s\nreal: %s" % (
            cat, fixture_name, json_name, s, r)


@pytest.fixture(scope="module")
def s3():
    if not os.path.isdir(FIXTURES):
        pytest.fail(f"Fluentd fixtures not found at {FIXTURES} (set FF_FLUENTD_FIXTURES)")
    with S3Server() as server:
        server.create_bucket()
        yield server


@pytest.fixture
def workdir():
    d = tempfile.mkdtemp(prefix="ff-sim-")
    yield d
    shutil.rmtree(d, ignore_errors=True)


def run_normal(s3, workdir, name, *, version="1.14", log_level="info", output_log_level="debug",
               via="signal", time_format=None):
    cfg = sim_config(workdir, s3, version=version, log_level=log_level, output_log_level=output_log_level,
                     path=name + "/", time_format=time_format)
    with FluentdSim(cfg, workdir) as fd:
        fd.start()
        before_emit = fd.monitor()
        ids = fd.emit(fd.records(300))
        before_flush = fd.monitor()
        off = fd.log_size()
        reply = None
        if via == "rpc":
            reply = fd.rpc_flush()
        else:
            fd.usr1()
        fd.wait_for_log(r"flushing all buffer forcedly", start=off)
        deadline = time.monotonic() + 20
        while fd.output_monitor()["buffer_total_queued_size"] and time.monotonic() < deadline:
            time.sleep(0.1)
        after_flush = fd.monitor()
        assert ids <= s3.record_ids(prefix=name + "/"), "records missing from S3"
        assert fd.buffer_files() == [], "buffer files left after the upload"
        if log_level == "debug":
            fd.wait_for_log(r"flushing thread: flushed", start=off)
        assert fd.stop() == 0
        return fd.log_text(), before_emit, before_flush, after_flush, reply


def test_normal_debug(s3, workdir):
    log, before_emit, before_flush, after_flush, _ = run_normal(s3, workdir, "1-normal-debug")
    assert_same_shapes("1-normal-debug", log)
    assert_same_monitor("1-normal-debug", "monitor_before_emit.json", before_emit)
    assert_same_monitor("1-normal-debug", "monitor_before_flush.json", before_flush)
    assert_same_monitor("1-normal-debug", "monitor_after_flush.json", after_flush)


def test_normal_info(s3, workdir):
    log, _, before_flush, after_flush, _ = run_normal(s3, workdir, "1-normal-info", output_log_level=None)
    assert_same_shapes("1-normal-info", log)
    assert "write chunk" not in log
    assert_same_monitor("1-normal-info", "monitor_before_flush.json", before_flush)
    assert_same_monitor("1-normal-info", "monitor_after_flush.json", after_flush)


def test_rpc_flush(s3, workdir):
    log, _, _, after_flush, reply = run_normal(s3, workdir, "2-rpc-flush", via="rpc")
    assert_same_shapes("2-rpc-flush", log)
    assert_same_monitor("2-rpc-flush", "monitor_after_flush.json", after_flush)
    with open(fixture("2-rpc-flush", "rpc_response.txt")) as f:
        raw = f.read()
    status = int(raw.split()[1])
    body = raw.split("\n\n", 1)[1].split("rc=")[0].encode()
    assert reply == (status, body)


def test_ms_time_format(s3, workdir):
    log, _, _, after_flush, _ = run_normal(s3, workdir, "5-large-buffer-msfmt",
                                           time_format="%Y-%m-%d %H:%M:%S.%3N %z")
    assert re.search(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} \+\d{4} \[info\]: ", log, re.M)
    assert_same_shapes("5-large-buffer-msfmt", log)
    assert_same_monitor("5-large-buffer-msfmt", "monitor_after_flush.json", after_flush)


def test_v116_sysdebug(s3, workdir):
    log, before_emit, before_flush, after_flush, _ = run_normal(
        s3, workdir, "v1.16.11-1-normal-sysdebug", version="1.16", log_level="debug")
    assert "fluent/log.rb:362:info: force flushing buffered events" in log
    assert_same_shapes("v1.16.11-1-normal-sysdebug", log)
    assert_same_monitor("v1.16.11-1-normal-sysdebug", "monitor_before_emit.json", before_emit)
    assert_same_monitor("v1.16.11-1-normal-sysdebug", "monitor_after_flush.json", after_flush)


def test_upload_in_progress_monitor(s3, workdir):
    """5-large-buffer-msfmt sampled monitor_agent during a long PUT: queue length 0, queue bytes > 0."""
    cfg = sim_config(workdir, s3, path="5-large-buffer-msfmt/", time_format="%Y-%m-%d %H:%M:%S.%3N %z")
    with FluentdSim(cfg, workdir) as fd:
        fd.start()
        fd.emit(fd.records(2000))
        fd.set_faults(s3_delay_ms=2000)
        off = fd.log_size()
        fd.usr1()
        fd.wait_for_log(r"out_s3: write chunk ", start=off)
        during = fd.monitor()
        out = [p for p in during["plugins"] if p["plugin_category"] == "output"][0]
        assert out["buffer_queue_length"] == 0 and out["buffer_queue_byte_size"] > 0
        assert out["write_count"] == 1
        assert_same_monitor("5-large-buffer-msfmt", "monitor_during_001.json", during)
        fd.wait_for_log(r"completed to write chunk", start=off)
        assert fd.stop() == 0
        assert_same_shapes("5-large-buffer-msfmt", fd.log_text())


def run_s3_down(s3, workdir, name, *, version="1.14", output_log_level="debug", failures=2):
    cfg = sim_config(workdir, s3, version=version, output_log_level=output_log_level, path=name + "/")
    with FluentdSim(cfg, workdir) as fd:
        fd.start()
        ids = fd.emit(fd.records(300))
        s3.stop()
        try:
            off = fd.log_size()
            fd.usr1()
            fd.wait_for_log(r"failed to flush the buffer\.", start=off, timeout=30)
            during = fd.monitor()
            fd.wait_for_log(r"failed to flush the buffer\.", count=failures, start=off, timeout=30)
        finally:
            s3.start()
        fd.wait_for_log(r"retry succeeded\.", start=off, timeout=30)
        after = fd.monitor()
        assert ids <= s3.record_ids(prefix=name + "/")
        assert fd.buffer_files() == []
        assert fd.stop() == 0
        return fd.log_text(), during, after


@pytest.mark.slow
def test_s3_down_debug(s3, workdir):
    log, during, after = run_s3_down(s3, workdir, "3-s3-down-debug")
    assert_same_shapes("3-s3-down-debug", log)
    assert_same_monitor("3-s3-down-debug", "monitor_down_plus3s.json", during)
    assert_same_monitor("3-s3-down-debug", "monitor_after_recovery.json", after)


@pytest.mark.slow
def test_s3_down_info(s3, workdir):
    log, during, after = run_s3_down(s3, workdir, "3-s3-down-info", output_log_level=None)
    assert "taking back chunk" not in log
    assert_same_shapes("3-s3-down-info", log)
    assert_same_monitor("3-s3-down-info", "monitor_down_plus3s.json", during)
    assert_same_monitor("3-s3-down-info", "monitor_after_recovery.json", after)


@pytest.mark.slow
def test_v116_s3_down(s3, workdir):
    log, during, after = run_s3_down(s3, workdir, "v1.16.11-3-s3-down-debug", version="1.16")
    assert "suppressed same stacktrace" not in log
    assert_same_shapes("v1.16.11-3-s3-down-debug", log)
    assert_same_monitor("v1.16.11-3-s3-down-debug", "monitor_down_plus3s.json", during)
    assert_same_monitor("v1.16.11-3-s3-down-debug", "monitor_after_recovery.json", after)


def test_multi_worker_chunk_id(s3, workdir):
    name = "4-multi-worker-chunkid"
    cfg = sim_config(workdir, s3, workers=2, output_log_level=None, path=name + "/",
                     key_format="%{path}%{time_slice}_${chunk_id}.%{file_extension}")
    with FluentdSim(cfg, workdir) as fd:
        fd.start()
        ids = fd.emit(fd.records(200), worker=0) | fd.emit(fd.records(200), worker=1)
        before = [fd.monitor(w) for w in (0, 1)]
        chunks = fd.chunk_ids(0) | fd.chunk_ids(1)
        assert len(chunks) == 2 and os.path.isdir(os.path.join(workdir, "buffer", "worker1"))
        off = fd.log_size()
        fd.usr1()
        fd.wait_for_log(r"flushing all buffer forcedly", count=2, start=off)
        deadline = time.monotonic() + 20
        while (fd.buffer_files(0) or fd.buffer_files(1)) and time.monotonic() < deadline:
            time.sleep(0.1)
        after = [fd.monitor(w) for w in (0, 1)]
        keys = {o["key"] for o in s3.list_objects(prefix=name + "/")}
        assert {k.rsplit("_", 1)[1][:-len(".gz")] for k in keys} == chunks, keys
        assert ids <= s3.record_ids(prefix=name + "/")
        assert fd.stop() == 0
        log = fd.log_text()
    assert_same_shapes(name, log)
    for w, port in ((0, 24220), (1, 24221)):
        assert_same_monitor(name, "monitor_before_flush_port%d.json" % port, before[w])
        assert_same_monitor(name, "monitor_after_flush_port%d.json" % port, after[w])


def test_json_log_format(s3, workdir):
    """`<log> format json`: one object per line with time, level, message (+ worker_id on worker lines),
    and the messages have the shapes of the text log."""
    cfg = sim_config(workdir, s3, log_format="json", path="json/")
    with FluentdSim(cfg, workdir) as fd:
        fd.start()
        fd.emit(fd.records(10))
        off = fd.log_size()
        fd.usr1()
        fd.wait_for_log(r"completed to write chunk", start=off)
        assert fd.stop() == 0
        lines = fd.log_lines()
    text = []
    for line in lines:
        obj = json.loads(line)
        assert list(obj)[:3] == ["time", "level", "message"], obj
        assert set(obj) <= {"time", "level", "message", "worker_id"}
        msg = obj["message"]
        if msg.startswith("using configuration file:"):
            assert "\n  <match app.**>\n" in msg
            msg = "using configuration file: <ROOT>"
        prefix = "#%d " % obj["worker_id"] if "worker_id" in obj else ""
        text.append("%s [%s]: %s%s" % (obj["time"], obj["level"], prefix, msg))
    assert any('"worker_id":0' in line and "force flushing buffered events" in line for line in lines)
    assert_same_shapes("1-normal-debug", "\n".join(text))
