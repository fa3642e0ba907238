#!/usr/bin/python3
"""The fluent-flush benchmark (`make bench`; `make bench-smoke` for CI).

Measures, on this host (no systemd bed: the helper gets --pid, --log-file, --buffer-path and --monitor-url,
which keeps the noise low), against the Fluentd simulator (tests/bed) uploading to s3rver on loopback:

  - time to safe termination: the helper's SIGUSR1 → the helper's exit, for 1 … 1,000 chunks and
    1 MB … 500 MB buffered, next to the physical floor (the simulator's own last commit = the deletion of
    the last snapshot chunk file, seen by an independent inotify watcher, bench/ffwatch.c) and to the
    baseline users run today (SIGUSR1, then a fixed 300 s wait: computed, never waited for);
  - verdict latency: helper exit − that last deletion, over every run;
  - footprint: the helper's CPU time (user + sys) and peak RSS (wait4 of bench/ffrun.c);
  - log-follow throughput: the helper's logtail + fl_parse_line (bench/fflogbench.c) over a generated
    debug-level Fluentd log, next to `grep -c 'completed to write chunk'`;
  - start-up and size: `fluent-flush --version` wall time, binary sizes (dynamic, static when built).

Every time is CLOCK_MONOTONIC on one host (ffrun, ffwatch and time.monotonic() share it).
Writes OUT/results.json, OUT/results.md, OUT/time_to_safe.png (gnuplot) and, for the committed run,
the results section of bench/README.md.
"""
import argparse
import datetime
import json
import math
import os
import platform
import random
import re
import shutil
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time

BENCH = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(BENCH)
sys.path.insert(0, os.path.join(REPO, "tests"))

from bed import sim_msgpack as mp          # noqa: E402
from bed.s3 import S3Server                # noqa: E402
from bed.sim import FluentdSim, sim_config  # noqa: E402

FIXTURES = os.path.join(os.path.dirname(REPO), "shared", "fixtures", "fluentd")
BASELINE_WAIT_S = 300          # `systemctl kill -s SIGUSR1 td-agent` then a fixed 300 s wait
CHUNK_LIMIT = 8 * 1024 * 1024  # out_s3's buffer chunk_limit_size default
MB = 1000 * 1000
TARGETS = {"verdict_latency_median_ms": 20, "verdict_latency_p95_ms": 100, "peak_rss_kib": 8192,
           "cpu_pct_of_wall": 2.0, "log_vs_grep": 0.5}

PROFILES = {
    # chunks → runs; MB buffered → runs; the default-burst scenario; log size; --version runs
    "full": {"chunks": {1: 30, 10: 10, 100: 5, 1000: 3}, "sizes": {1: 5, 10: 5, 100: 3, 500: 3},
             "burst": (10, 2), "log_bytes": 1024 ** 3, "startup": 100, "static_chunks": {1: 10, 1000: 1},
             "timeout": 900},
    "smoke": {"chunks": {1: 2, 3: 1}, "sizes": {0.2: 1, 1: 1}, "burst": (2, 1), "log_bytes": 4 * MB,
              "startup": 5, "static_chunks": {1: 1}, "timeout": 120},
}


# ----------------------------------------------------------------------------------------------- helpers

def pct(values, p):
    """Nearest-rank percentile (p95 of fewer than 20 runs is their maximum)."""
    v = sorted(values)
    if not v:
        return None
    return v[max(0, math.ceil(p / 100.0 * len(v)) - 1)]


def stats(values):
    values = [x for x in values if x is not None]
    if not values:
        return None
    return {"median": round(statistics.median(values), 3), "p95": round(pct(values, 95), 3),
            "min": round(min(values), 3), "max": round(max(values), 3), "n": len(values)}


def log(msg):
    print("bench: " + msg, file=sys.stderr, flush=True)


def machine():
    model = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = 0
    try:
        with open("/proc/meminfo") as f:
            mem = int(f.readline().split()[1]) // 1024
    except (OSError, ValueError, IndexError):
        pass
    osname = platform.system()
    try:
        with open("/etc/os-release") as f:
            for line in f:
                if line.startswith("PRETTY_NAME="):
                    osname = line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    commit = subprocess.run(["git", "-C", REPO, "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True).stdout.strip() or None
    dirty = subprocess.run(["git", "-C", REPO, "status", "--porcelain", "--", "helper", "Makefile"],
                           capture_output=True, text=True).stdout.split("\n")
    dirty = sorted(l[3:] for l in dirty if l.strip())
    return {"cpu": model, "cores": os.cpu_count(), "memory_mib": mem, "kernel": platform.release(),
            "os": osname, "python": platform.python_version(), "commit": commit, "uncommitted": dirty}


class Tools:
    def __init__(self, tools_dir, binary):
        self.dir = tools_dir
        self.binary = os.path.abspath(binary)
        for t in ("ffrun", "ffwatch", "fflogbench", "ffsizes"):
            p = os.path.join(tools_dir, t)
            if not os.access(p, os.X_OK):
                raise SystemExit(f"bench: {p} is missing: run `make bench-tools` (bench/bench.mk)")
        if not os.access(self.binary, os.X_OK):
            raise SystemExit(f"bench: {self.binary} is missing: run `make`")

    def path(self, name):
        return os.path.join(self.dir, name)


def ffrun(tools, argv, stdout_file="/dev/null", timeout=None):
    """Run argv under bench/ffrun: {start, exit, status, err: [(ns, line)], utime_us, stime_us, maxrss_kib}."""
    p = subprocess.run([tools.path("ffrun"), "-o", stdout_file, "--"] + argv, capture_output=True, text=True,
                       timeout=timeout)
    if p.returncode != 0:
        raise RuntimeError(f"ffrun failed ({p.returncode}): {p.stderr}")
    r = {"err": []}
    for line in p.stdout.splitlines():
        kind, _, rest = line.partition(" ")
        if kind == "start":
            r["start"] = int(rest)
        elif kind == "err":
            ns, _, text = rest.partition(" ")
            r["err"].append((int(ns), text))
        elif kind == "exit":
            ns, status = rest.split()
            r["exit"], r["status"] = int(ns), int(status)
        elif kind == "rusage":
            u, s, m = rest.split()
            r["utime_us"], r["stime_us"], r["maxrss_kib"] = int(u), int(s), int(m)
    st = r["status"]
    r["rc"] = os.waitstatus_to_exitcode(st)
    return r


class Watcher:
    """bench/ffwatch over the buffer directories: when each chunk file was created / deleted."""

    def __init__(self, tools, dirs):
        self.proc = subprocess.Popen([tools.path("ffwatch")] + list(dirs), stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)
        if self.proc.stdout.readline().strip() != "ready":
            self.proc.kill()
            raise RuntimeError("ffwatch did not start")
        self.lock = threading.Lock()
        self.cond = threading.Condition(self.lock)
        self.deleted = {}      # chunk id → ns of the deletion of its .log file
        self.overflows = 0
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        rx = re.compile(r"(\d+) ([CDFTO]) \S+ (?:buffer\.[bq]([0-9a-f]{32})\.log|.*)$")
        for line in self.proc.stdout:
            m = rx.match(line.strip())
            if not m:
                continue
            with self.cond:
                if m.group(2) == "O":
                    self.overflows += 1
                elif m.group(2) == "D" and m.group(3):
                    self.deleted[m.group(3)] = int(m.group(1))
                self.cond.notify_all()

    def wait_deleted(self, ids, timeout=10.0):
        """{id: ns} for every id, waiting up to timeout for the watcher to report them."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while not all(i in self.deleted for i in ids):
                left = deadline - time.monotonic()
                if left <= 0:
                    missing = [i for i in ids if i not in self.deleted]
                    raise RuntimeError(f"the watcher saw no deletion of {len(missing)} chunk(s), e.g. {missing[0]}")
                self.cond.wait(left)
            return {i: self.deleted[i] for i in ids}

    def close(self):
        try:
            self.proc.stdin.close()
            self.proc.wait(10)
        except (OSError, subprocess.TimeoutExpired):
            self.proc.kill()
            self.proc.wait()


# -------------------------------------------------------------------------------------- buffered data

WORDS = ("request served user session cache order payment item search login logout upload export "
         "retry timeout accepted rejected checkout inventory shipment invoice token refresh").split()
PATHS = ["/api/v1/items", "/api/v1/orders", "/api/v1/users", "/health", "/api/v2/search", "/static/app.js"]
AGENTS = ["Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36",
          "curl/7.88.1", "aws-sdk-go/1.44.0 (go1.20; linux; amd64)", "ELB-HealthChecker/2.0"]


def app_record(rng, i):
    """One application log record as an app would emit it (varied enough for a realistic gzip ratio)."""
    return {"id": "%08x%04x" % (rng.getrandbits(32), i & 0xffff),
            "level": rng.choice(("info", "info", "info", "warn", "error", "debug")),
            "method": rng.choice(("GET", "GET", "POST", "PUT", "DELETE")),
            "path": "%s/%d" % (rng.choice(PATHS), rng.randrange(100000)),
            "status": rng.choice((200, 200, 200, 201, 204, 304, 400, 404, 500, 503)),
            "latency_ms": round(rng.expovariate(1 / 40.0), 2), "bytes": rng.randrange(100, 200000),
            "ua": rng.choice(AGENTS), "ip": "10.%d.%d.%d" % (rng.randrange(256), rng.randrange(256), rng.randrange(256)),
            "msg": " ".join(rng.choice(WORDS) for _ in range(rng.randrange(4, 16)))}


def record_pool(nbytes, seed=7):
    """out_file lines (time, tag, JSON) as out_s3 stores them in a chunk: about nbytes of them."""
    rng = random.Random(seed)
    out, size, i = [], 0, 0
    t0 = int(time.time()) - 86400
    while size < nbytes:
        ts = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(t0 + i // 50))
        line = ("%s\tapp.web\t%s\n" % (ts, json.dumps(app_record(rng, i), separators=(",", ":")))).encode()
        out.append(line)
        size += len(line)
        i += 1
    return b"".join(out)


def unique_id(rng):
    """Fluent::UniqueId.generate: (µs since the epoch << 12 | 12 random bits), then 64 random bits."""
    u1 = (int(time.time() * 1000000) << 12) | rng.randrange(0xFFF)
    return struct.pack(">QII", u1 & 0xFFFFFFFFFFFFFFFF, rng.getrandbits(32), rng.getrandbits(32))


def write_chunks(buffer_dir, total_bytes, pool, rng):
    """Staged chunk files (buffer.b<id>.log + .meta) holding total_bytes in chunks of at most 8 MiB, each in
    its own 1 s timekey, as a stopped Fluentd leaves them; the simulator resumes them at start."""
    os.makedirs(buffer_dir, exist_ok=True)
    left, k, ids = int(total_bytes), 0, []
    base = int(time.time()) - 60
    while left > 0:
        size = min(left, CHUNK_LIMIT)
        off = rng.randrange(len(pool) // 2)
        data = bytearray()
        while len(data) < size:
            data += pool[off:off + size - len(data)]
            off = 0
        cid = unique_id(rng)
        path = os.path.join(buffer_dir, "buffer.b%s.log" % cid.hex())
        with open(path, "wb") as f:
            f.write(data)
        meta = mp.packb({"timekey": base - k, "tag": None, "variables": None, "seq": 0, "id": cid,
                         "s": data.count(b"\n"), "c": int(time.time()), "m": int(time.time())})
        with open(path + ".meta", "wb") as f:
            f.write(b"\xc1\x00" + struct.pack(">I", len(meta)) + meta)
        ids.append(cid.hex())
        left -= size
        k += 1
    return ids


def emit_chunks(sim, n, rng):
    """n chunks through in_forward: one record in each of n distinct 1 s timekeys (Forward mode, with ack)."""
    base = int(time.time()) - 10
    entries = [[mp.event_time(base - i), app_record(rng, i)] for i in range(n)]
    port = int(sim.config["input"]["port"])
    tag = uuid_hex(rng)
    with socket.create_connection(("127.0.0.1", port), timeout=60) as s:
        s.sendall(mp.packb(["app.web", entries, {"chunk": tag, "size": n}]))
        up = mp.Unpacker()
        while True:
            data = s.recv(4096)
            if not data:
                raise RuntimeError("in_forward closed the connection without an ack")
            up.feed(data)
            for reply in up:
                if isinstance(reply, dict) and reply.get("ack") == tag:
                    return


def uuid_hex(rng):
    return "%032x" % rng.getrandbits(128)


def chunk_ids(buffer_dir):
    ids, states = [], set()
    for name in os.listdir(buffer_dir):
        m = re.fullmatch(r"buffer\.([bq])([0-9a-f]{32})\.log", name)
        if m:
            ids.append(m.group(2))
            states.add(m.group(1))
    return ids, states


# -------------------------------------------------------------------------------------- one flush run

class Bed:
    """s3rver + the Fluentd simulator (one worker, file buffer, out_s3 at @log_level debug) on this host."""

    def __init__(self, workdir, s3, burst_interval):
        self.workdir = workdir
        os.makedirs(workdir, exist_ok=True)
        # timekey 1 s and a timekey_wait of years: every chunk stays staged until the flush, one chunk per
        # distinct second of event time (the simulator keys chunks by timekey only).
        self.config = sim_config(workdir, s3, output_log_level="debug",
                                 key_format="%{path}%{time_slice}_${chunk_id}.%{file_extension}",
                                 buffer={"timekey": 1, "timekey_wait": 10 ** 8,
                                         "flush_thread_burst_interval": burst_interval})
        self.buffer_dir = self.config["outputs"][0]["buffer"]["path"]
        os.makedirs(self.buffer_dir, exist_ok=True)
        self.sim = None

    def start(self):
        self.sim = FluentdSim(self.config, self.workdir)
        self.sim.start(timeout=60)
        return self

    def stop(self):
        if self.sim:
            self.sim.stop()
            self.sim = None

    def helper_args(self, timeout):
        return ["--pid", str(self.sim.supervisor_pid), "--log-file", self.sim.log_path, "--buffer-path",
                self.buffer_dir, "--monitor-url", "http://127.0.0.1:%d" % self.config["monitor_agent"]["port"],
                "--timeout", str(timeout)]


def flush_run(tools, binary, bed, watcher, ids, timeout, labels):
    """One helper run over the snapshot `ids`: the measured record (or an "error")."""
    out = os.path.join(bed.workdir, "result.json")
    rec = dict(labels)
    over0 = watcher.overflows
    r = ffrun(tools, [binary] + bed.helper_args(timeout), stdout_file=out, timeout=timeout + 60)
    try:
        with open(out) as f:
            res = json.load(f)
    except (OSError, ValueError) as e:
        res = {}
        rec["error"] = f"no JSON result ({e}); rc {r['rc']}; stderr: {[t for _, t in r['err']][-5:]}"
    rec.update({"rc": r["rc"], "verdict": res.get("verdict"), "chunks": len(ids),
                "bytes": (res.get("bytes") or {}).get("buffered"),
                "helper_chunks": (res.get("chunks") or {}).get("buffered"), "elapsed_ms": res.get("elapsed_ms")})
    if r["rc"] != 0 or res.get("verdict") != "confirmed" or rec["helper_chunks"] != len(ids):
        rec.setdefault("error", f"rc {r['rc']} verdict {res.get('verdict')} chunks {rec['helper_chunks']} "
                                f"(expected {len(ids)}): {res.get('message')}")
        return rec
    sig = [ns for ns, t in r["err"] if "SIGUSR1 sent" in t]
    rec["signal_source"] = "helper stderr" if sig else "helper start"
    t_sig = sig[0] if sig else r["start"]
    try:
        dels = watcher.wait_deleted(ids)
    except RuntimeError as e:
        rec["error"] = str(e)
        return rec
    t_last = max(dels.values())
    # The helper's own "… committed to S3 in …" progress line is written when flush.c gives the verdict;
    # what follows it (tearing down the watches, printing the JSON, exiting) is the rest of the latency.
    said = [ns for ns, t in r["err"] if "committed to S3 in" in t and ns >= t_sig]
    wall = (r["exit"] - r["start"]) / 1e6
    cpu = (r["utime_us"] + r["stime_us"]) / 1000.0
    rec.update({"time_to_safe_ms": round((r["exit"] - t_sig) / 1e6, 3),
                "floor_ms": round((t_last - t_sig) / 1e6, 3),
                "verdict_latency_ms": round((r["exit"] - t_last) / 1e6, 3),
                "startup_to_signal_ms": round((t_sig - r["start"]) / 1e6, 3),
                "detect_ms": round((said[0] - t_last) / 1e6, 3) if said else None,
                "exit_after_verdict_ms": round((r["exit"] - said[0]) / 1e6, 3) if said else None,
                "wall_ms": round(wall, 3), "cpu_ms": round(cpu, 3),
                "cpu_pct": round(100.0 * cpu / wall, 3) if wall > 0 else None,
                "maxrss_kib": r["maxrss_kib"], "watch_overflow": watcher.overflows != over0,
                "baseline_ms": BASELINE_WAIT_S * 1000.0})
    return rec


def scenario_chunks(tools, binary, bed, watcher, n, runs, timeout, rng, name="chunks", label="dynamic"):
    recs = []
    for i in range(runs):
        emit_chunks(bed.sim, n, rng)
        ids, states = chunk_ids(bed.buffer_dir)
        if len(ids) != n or states != {"b"}:
            raise RuntimeError(f"expected {n} staged chunks, found {len(ids)} ({states})")
        recs.append(flush_run(tools, binary, bed, watcher, ids, timeout,
                              {"scenario": name, "run": i, "binary": label}))
        log(f"{name} {n}: run {i + 1}/{runs}: {brief(recs[-1])}")
    return recs


def scenario_size(tools, binary, bed, watcher, mbytes, runs, timeout, rng, pool):
    recs = []
    for i in range(runs):
        bed.stop()
        for name in os.listdir(bed.buffer_dir):
            os.unlink(os.path.join(bed.buffer_dir, name))
        ids = write_chunks(bed.buffer_dir, mbytes * MB, pool, rng)
        bed.start()
        now, states = chunk_ids(bed.buffer_dir)
        if sorted(now) != sorted(ids) or states != {"b"}:
            raise RuntimeError(f"the simulator did not resume the {len(ids)} staged chunks ({len(now)}, {states})")
        recs.append(flush_run(tools, binary, bed, watcher, ids, timeout,
                              {"scenario": "bytes", "mb": mbytes, "run": i, "binary": "dynamic"}))
        log(f"bytes {mbytes} MB: run {i + 1}/{runs}: {brief(recs[-1])}")
    return recs


def brief(rec):
    if "error" in rec:
        return "ERROR " + rec["error"]
    return ("safe after %.0f ms (floor %.0f ms, verdict latency %.1f ms), cpu %.0f ms, rss %d KiB"
            % (rec["time_to_safe_ms"], rec["floor_ms"], rec["verdict_latency_ms"], rec["cpu_ms"], rec["maxrss_kib"]))


def summarize(recs):
    ok = [r for r in recs if "error" not in r]
    s = {"runs": len(recs), "errors": len(recs) - len(ok)}
    if not ok:
        return s
    s["chunks"] = ok[0]["chunks"]
    s["bytes"] = int(statistics.median(r["bytes"] for r in ok))
    for k in ("time_to_safe_ms", "floor_ms", "verdict_latency_ms", "detect_ms", "exit_after_verdict_ms", "cpu_ms",
              "cpu_pct", "maxrss_kib", "wall_ms", "startup_to_signal_ms"):
        s[k] = stats([r[k] for r in ok])
    tts, floor = s["time_to_safe_ms"]["median"], s["floor_ms"]["median"]
    s["helper_over_floor"] = round(tts / floor, 3) if floor > 0 else None
    s["helper_minus_floor_ms"] = round(tts - floor, 3)
    s["baseline_ms"] = BASELINE_WAIT_S * 1000.0
    s["baseline_over_helper"] = round(BASELINE_WAIT_S * 1000.0 / tts, 1) if tts > 0 else None
    # The fixed wait is only safe when the floor fits in it.
    s["baseline_safe"] = s["floor_ms"]["max"] <= BASELINE_WAIT_S * 1000.0
    return s


# -------------------------------------------------------------------------------------- log throughput

def fixture_segments():
    """(startup lines, steady lines) of each text-format debug fixture: the log around a flush."""
    segs = []
    for d in sorted(os.listdir(FIXTURES)):
        path = os.path.join(FIXTURES, d, "fluentd.log")
        if "info" in d or not os.path.isfile(path):
            continue
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
        cut = max(i for i, l in enumerate(lines) if "is now running" in l) + 1
        segs.append((d, lines[:cut], lines[cut:]))
    if not segs:
        raise SystemExit(f"bench: no Fluentd fixtures under {FIXTURES}")
    return segs


TIME_RX = re.compile(r"^(\s*)\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d+)? [+-]\d{4}")
HEX_RX = re.compile(r"(?<![0-9a-f])[0-9a-f]{32}(?![0-9a-f])")


def generate_log(path, nbytes, rng):
    """A debug-level Fluentd log of about nbytes: every debug fixture's start-up once, then the steady part
    of each (chunk created, flush, write, completed; S3-down runs with retries and backtraces) in a mix of
    ten normal flushes to one failure episode, with fresh times and chunk ids. Returns the mix."""
    segs = fixture_segments()
    normal = [s for s in segs if "s3-down" not in s[0]]
    failing = [s for s in segs if "s3-down" in s[0]]
    t = int(time.time()) - 30 * 86400

    def render(lines, t0):
        ids = {}

        def newid(m):
            return ids.setdefault(m.group(0), "%032x" % rng.getrandbits(128))
        out = []
        for k, l in enumerate(lines):
            ts = time.strftime("%Y-%m-%d %H:%M:%S +0000", time.gmtime(t0 + k // 20))
            l = TIME_RX.sub(lambda m: m.group(1) + (ts if not m.group(2) else ts[:19] + m.group(2) + ts[19:]), l)
            out.append(HEX_RX.sub(newid, l))
        return "\n".join(out) + "\n"

    block = []
    size = 0
    cycle = 0
    while size < min(nbytes, 16 * MB):
        for _ in range(10):
            seg = normal[cycle % len(normal)]
            cycle += 1
            block.append(render(seg[2], t))
            t += 3
        seg = failing[cycle % len(failing)]
        block.append(render(seg[2], t))
        t += 30
        size += sum(len(b) for b in block[-11:])
    block = "".join(block).encode()
    with open(path, "wb") as f:
        head = "".join(render(s[1], t) for s in segs).encode()
        f.write(head)
        written = len(head)
        while written < nbytes:
            piece = block[:nbytes - written]
            if len(piece) < len(block):
                piece = piece[:piece.rfind(b"\n") + 1] or piece
            f.write(piece)
            written += len(piece)
            if len(piece) == 0:
                break
    return {"normal_fixtures": [s[0] for s in normal], "failure_fixtures": [s[0] for s in failing],
            "normal_per_failure": 10}


def log_throughput(tools, workdir, nbytes, reps, rng):
    path = os.path.join(workdir, "fluentd-debug.log")
    t0 = time.monotonic()
    mix = generate_log(path, nbytes, rng)
    size = os.path.getsize(path)
    log(f"log: generated {size / MB:.0f} MB in {time.monotonic() - t0:.1f} s")
    try:
        with open(path, "rb") as f:          # warm the page cache: both readers see the same cache state
            while f.read(8 * MB):
                pass
        env = dict(os.environ, LC_ALL="C")
        greps, drivers, dstats = [], [], None
        for i in range(reps):
            t = time.monotonic()
            g = subprocess.run(["grep", "-c", "completed to write chunk", path], capture_output=True, text=True,
                               env=env)
            greps.append(time.monotonic() - t)
            t = time.monotonic()
            d = subprocess.run([tools.path("fflogbench"), path, "text"], capture_output=True, text=True)
            drivers.append(time.monotonic() - t)
            if d.returncode != 0:
                raise RuntimeError("fflogbench failed: " + d.stderr)
            dstats = json.loads(d.stdout)
            log(f"log: run {i + 1}/{reps}: grep {size / MB / greps[-1]:.0f} MB/s, "
                f"logtail+parse {size / MB / drivers[-1]:.0f} MB/s")
        grep_count = int(g.stdout.strip() or 0)
    finally:
        os.unlink(path)
    g_mbs = size / MB / statistics.median(greps)
    d_mbs = size / MB / statistics.median(drivers)
    return {"bytes": size, "lines": dstats["lines"], "runs": reps, "mix": mix,
            "grep_mb_per_s": round(g_mbs, 1), "parse_mb_per_s": round(d_mbs, 1),
            "parse_over_grep": round(d_mbs / g_mbs, 3),
            "grep_s": stats(greps), "parse_s": stats(drivers),
            "parse_cpu_s_last": dstats["cpu_s"], "parse_maxrss_kib": dstats["maxrss_kb"],
            "grep_count": grep_count, "parsed_completed": dstats["kinds"]["completed"],
            "counts_agree": grep_count == dstats["kinds"]["completed"], "rejected_lines": dstats["rejected"],
            "events": {k: v for k, v in dstats["kinds"].items() if v}, "grep": "grep -c (LC_ALL=C), "
            + subprocess.run(["grep", "--version"], capture_output=True, text=True).stdout.splitlines()[0]}


# -------------------------------------------------------------------------------------- start-up and size

def startup_and_size(tools, binary, reps, workdir):
    out = {}
    static = os.path.join(REPO, "build", "static", "fluent-flush")
    cands = [("dynamic", binary)]
    if os.access(static, os.X_OK):
        cands.append(("static", static))
    for name, b in cands:
        walls, rss, cpu = [], [], []
        for _ in range(reps):
            r = ffrun(tools, [b, "--version"])
            if r["rc"] != 0:
                raise RuntimeError(f"{b} --version exited {r['rc']}")
            walls.append((r["exit"] - r["start"]) / 1e6)
            rss.append(r["maxrss_kib"])
            cpu.append((r["utime_us"] + r["stime_us"]) / 1000.0)
        stripped = os.path.join(workdir, "stripped")
        sp = subprocess.run(["strip", "-o", stripped, b], capture_output=True, text=True)
        ssize = os.path.getsize(stripped) if sp.returncode == 0 else None
        if sp.returncode == 0:
            os.unlink(stripped)
        libs = None
        if name == "dynamic":
            ld = subprocess.run(["ldd", b], capture_output=True, text=True)
            libs = len([l for l in ld.stdout.splitlines() if "=>" in l])
        out[name] = {"path": os.path.relpath(b, REPO) if b.startswith(REPO) else b,
                     "bytes": os.path.getsize(b), "stripped_bytes": ssize, "shared_libraries": libs,
                     "version_wall_ms": stats(walls), "version_maxrss_kib": stats(rss), "version_cpu_ms": stats(cpu),
                     "built": datetime.datetime.fromtimestamp(os.path.getmtime(b), datetime.timezone.utc)
                     .strftime("%Y-%m-%dT%H:%M:%SZ")}
    if "static" not in out:
        out["static"] = {"skipped": "build/static/fluent-flush not built (`make static`, packaging/packaging.mk)"}
    return out


# -------------------------------------------------------------------------------------- report

def fmt_ms(v):
    if v is None:
        return "–"
    if v >= 10000:
        return "%.1f s" % (v / 1000)
    if v >= 100:
        return "%.0f ms" % v
    return "%.1f ms" % v


def fmt_bytes(b):
    if b is None:
        return "–"
    if b >= MB:
        return "%.1f MB" % (b / MB) if b < 10 * MB else "%.0f MB" % (b / MB)
    if b >= 1000:
        return "%.1f kB" % (b / 1000)
    return "%d B" % b


def fmt_load(v):
    return " / ".join("%.2f" % x for x in v)


def markdown(res):
    m = res["machine"]
    L = []
    L.append(f"Run {res['date']} on {m['cpu']} × {m['cores']} cores, {m['memory_mib']} MiB, {m['os']}, "
             f"kernel {m['kernel']} (commit {m['commit']}{' + uncommitted ' + ', '.join(m['uncommitted']) if m.get('uncommitted') else ''}); load average {fmt_load(res['load']['before'])} before, "
             f"{fmt_load(res['load']['after'])} after (1, 5, 15 min; the machine is shared). Profile `{res['profile']}`, "
             f"{res['duration_s']:.0f} s. Helper on the host against the Fluentd simulator (1 worker, file "
             f"buffer, out_s3 `@log_level debug`) and s3rver on loopback.")
    L.append("")
    v = res["verdict_latency_ms"]
    L.append(f"**Verdict latency** (helper exit − last snapshot chunk file deleted, independent inotify watcher), "
             f"all {v['n']} runs: median **{v['median']:.1f} ms**, p95 **{v['p95']:.1f} ms** "
             f"(max {v['max']:.1f} ms; target ≤ 20 / ≤ 100 ms).")
    sp = res.get("verdict_latency_split") or {}
    if sp.get("detect_ms") and sp.get("exit_after_verdict_ms"):
        L.append(f"Split with the helper's own progress line (written when the verdict is reached): deletion → "
                 f"verdict median {sp['detect_ms']['median']:.1f} ms (p95 {sp['detect_ms']['p95']:.1f}), verdict → "
                 f"exit median {sp['exit_after_verdict_ms']['median']:.1f} ms "
                 f"(p95 {sp['exit_after_verdict_ms']['p95']:.1f}): releasing the inotify watches, printing the "
                 f"JSON, exiting.")
    L.append("")
    L.append("**Time to safe termination** (SIGUSR1 → helper exit, medians; p95 of fewer than 20 runs is the "
             "maximum). Floor: the simulator's own last commit. Baseline: SIGUSR1 then a fixed 300 s wait.")
    L.append("")
    L.append("| scenario | chunks | buffered | runs | helper median | helper p95 | floor median | helper − floor "
             "| verdict latency median / p95 | baseline ÷ helper | baseline safe? |")
    L.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for s in res["scenarios"]:
        if "time_to_safe_ms" not in s:
            L.append(f"| {s['name']} | – | – | {s['runs']} | errors: {s['errors']} | | | | | | |")
            continue
        L.append(f"| {s['name']} | {s['chunks']} | {fmt_bytes(s['bytes'])} | {s['runs']} | "
                 f"{fmt_ms(s['time_to_safe_ms']['median'])} | {fmt_ms(s['time_to_safe_ms']['p95'])} | "
                 f"{fmt_ms(s['floor_ms']['median'])} | {fmt_ms(s['helper_minus_floor_ms'])} | "
                 f"{s['verdict_latency_ms']['median']:.1f} / {s['verdict_latency_ms']['p95']:.1f} ms | "
                 f"{s['baseline_over_helper']:g}× | {'yes' if s['baseline_safe'] else '**no: data lost**'} |")
    rate = res.get("default_burst_chunks_per_s")
    if rate:
        L.append("")
        L.append(f"With Fluentd's default `flush_thread_burst_interval` (1 s) and one flush thread the agent "
                 f"itself committed {rate:.2f} chunks/s: at that rate about {rate * BASELINE_WAIT_S:.0f} chunks "
                 f"fit in the fixed 300 s wait (an extrapolation, not a run); a bigger buffer is cut off by the "
                 f"baseline while fluent-flush waits for it (up to `--timeout`).")
    L.append("")
    L.append("**Footprint** of the helper (wait4 of the helper process; CPU = user + sys; medians, max in brackets):")
    L.append("")
    L.append("| scenario | binary | chunks | CPU | CPU % of wall | peak RSS |")
    L.append("|---|---|---:|---:|---:|---:|")
    for s in res["scenarios"] + res.get("static_scenarios", []):
        if "cpu_ms" not in s:
            continue
        L.append(f"| {s['name']} | {s.get('binary', 'dynamic')} | {s['chunks']} | {fmt_ms(s['cpu_ms']['median'])} "
                 f"({fmt_ms(s['cpu_ms']['max'])}) | {s['cpu_pct']['median']:.2f} % ({s['cpu_pct']['max']:.2f} %) | "
                 f"{s['maxrss_kib']['median'] / 1024:.1f} MiB ({s['maxrss_kib']['max'] / 1024:.1f} MiB) |")
    g = res["footprint"]["rss_growth"]
    if g:
        L.append("")
        L.append(f"Peak RSS from {g['from_chunks']} to {g['to_chunks']} chunks: +{g['growth_kib']} KiB; the chunk "
                 f"table for {g['to_chunks']} chunks is {g['chunk_table_kib']} KiB "
                 f"({res['footprint']['sizes']['flush_chunk']} B per `struct flush_chunk` + "
                 f"{res['footprint']['sizes']['chunk_file']} B per `struct chunk_file`, twice: snapshot and rescan).")
    lt = res.get("log_throughput")
    L.append("")
    if lt:
        L.append(f"**Log-follow throughput** over a generated {lt['bytes'] / 1024 ** 2:.0f} MiB debug log "
                 f"({lt['lines']} lines; page cache warm; median of {lt['runs']}): logtail + fl_parse_line "
                 f"**{lt['parse_mb_per_s']:.0f} MB/s**, `grep -c 'completed to write chunk'` "
                 f"{lt['grep_mb_per_s']:.0f} MB/s → **{100 * lt['parse_over_grep']:.0f} %** of grep (target ≥ 50 %). "
                 f"Both count {lt['parsed_completed']} `completed` lines "
                 f"({'agree' if lt['counts_agree'] else 'DISAGREE: ' + str(lt['grep_count'])}).")
    su = res.get("startup_size", {})
    L.append("")
    L.append("**Start-up and size**:")
    L.append("")
    L.append("| binary | size | stripped | shared libraries | `--version` wall median / p95 | `--version` CPU "
             "| `--version` peak RSS |")
    L.append("|---|---:|---:|---:|---:|---:|---:|")
    for name in ("dynamic", "static"):
        b = su.get(name)
        if not b:
            continue
        if "skipped" in b:
            L.append(f"| {name} | skipped: {b['skipped']} | | | | | |")
            continue
        L.append(f"| {name} (`{b['path']}`) | {b['bytes'] / 1024:.0f} KiB | "
                 f"{(b['stripped_bytes'] or 0) / 1024:.0f} KiB | {b['shared_libraries'] if b['shared_libraries'] is not None else 0} | "
                 f"{b['version_wall_ms']['median']:.2f} / {b['version_wall_ms']['p95']:.2f} ms | "
                 f"{b['version_cpu_ms']['median']:.1f} ms | {b['version_maxrss_kib']['median'] / 1024:.1f} MiB |")
    L.append("")
    L.append("**Targets**:")
    L.append("")
    L.append("| target | measured | met |")
    L.append("|---|---|---|")
    for t in res["targets"]:
        L.append(f"| {t['target']} | {t['measured']} | {'yes' if t['met'] else '**no**'} |")
    return "\n".join(L) + "\n"


PLOT = os.path.join(BENCH, "plot.gp")


def plot(res, out_dir):
    tmp = tempfile.mkdtemp(prefix="ff-bench-plot-")
    try:
        return _plot(res, out_dir, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _plot(res, out_dir, tmp):
    dat_b = os.path.join(tmp, "time_to_safe_bytes.dat")
    dat_c = os.path.join(tmp, "time_to_safe_chunks.dat")
    with open(dat_b, "w") as f:
        f.write("# bytes_mb helper_median_s helper_p95_s floor_median_s baseline_s\n")
        for s in res["scenarios"]:
            if s["name"].startswith("bytes") and "time_to_safe_ms" in s:
                f.write("%g %g %g %g %g\n" % (s["bytes"] / MB, s["time_to_safe_ms"]["median"] / 1000,
                                              s["time_to_safe_ms"]["p95"] / 1000, s["floor_ms"]["median"] / 1000,
                                              BASELINE_WAIT_S))
    with open(dat_c, "w") as f:
        f.write("# chunks helper_median_s helper_p95_s floor_median_s baseline_s\n")
        for s in res["scenarios"]:
            if s["name"].startswith("chunks") and "time_to_safe_ms" in s:
                f.write("%d %g %g %g %g\n" % (s["chunks"], s["time_to_safe_ms"]["median"] / 1000,
                                              s["time_to_safe_ms"]["p95"] / 1000, s["floor_ms"]["median"] / 1000,
                                              BASELINE_WAIT_S))
    dat_d = os.path.join(tmp, "time_to_safe_default_burst.dat")
    with open(dat_d, "w") as f:
        f.write("# chunks helper_median_s helper_p95_s floor_median_s baseline_s\n")
        for s in res["scenarios"]:
            if s["name"].startswith("default burst") and "time_to_safe_ms" in s:
                f.write("%d %g %g %g %g\n" % (s["chunks"], s["time_to_safe_ms"]["median"] / 1000,
                                              s["time_to_safe_ms"]["p95"] / 1000, s["floor_ms"]["median"] / 1000,
                                              BASELINE_WAIT_S))
    png = os.path.join(out_dir, "time_to_safe.png")
    title = "fluent-flush %s, %s, %s x %d cores" % (res["date"][:10], res["profile"], res["machine"]["cpu"],
                                                     res["machine"]["cores"])
    p = subprocess.run(["gnuplot", "-e", "bytes_dat='%s'; chunks_dat='%s'; burst_dat='%s'; out='%s'; title='%s'"
                        % (dat_b, dat_c, dat_d, png, title.replace("'", "")), PLOT], capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError("gnuplot failed: " + p.stderr)
    return png


def update_readme(md, png_name):
    path = os.path.join(BENCH, "README.md")
    with open(path, encoding="utf-8") as f:
        text = f.read()
    start, end = "<!-- results: written by bench/bench.py -->", "<!-- /results -->"
    if start not in text or end not in text:
        return False
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    with open(path, "w", encoding="utf-8") as f:
        f.write(head + start + "\n" + md + "\n![time to safe termination](" + png_name + ")\n" + end + tail)
    return True


# -------------------------------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--smoke", action="store_true", help="tiny sizes (CI): checks the harness, not the numbers")
    ap.add_argument("--binary", default=os.path.join(REPO, "build", "fluent-flush"))
    ap.add_argument("--tools", default=os.path.join(REPO, "build", "bench"))
    ap.add_argument("--out", default=BENCH, help="where results.json, results.md and time_to_safe.png go")
    ap.add_argument("--skip", action="append", default=[], choices=["chunks", "bytes", "burst", "static", "log",
                                                                     "startup"], help="leave a part out")
    ap.add_argument("--replot", action="store_true",
                    help="only redraw results.md, the plot (and the README section) from OUT/results.json")
    a = ap.parse_args()
    if a.replot:
        with open(os.path.join(a.out, "results.json")) as f:
            res = json.load(f)
        return report(res, a.out)
    prof_name = "smoke" if a.smoke else "full"
    prof = PROFILES[prof_name]
    tools = Tools(a.tools, a.binary)
    os.makedirs(a.out, exist_ok=True)
    rng = random.Random(20261204)
    t_start = time.monotonic()
    res = {"profile": prof_name,
           "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
           "machine": machine(), "load": {"before": [round(x, 2) for x in os.getloadavg()]},
           "setup": {"where": "host (no systemd bed): --pid, --log-file, --buffer-path, --monitor-url",
                     "agent": "tests/bed fluentd-sim 1.14, 1 worker, file buffer, timekey 1 s, "
                              "timekey_wait 10^8 s (chunks stay staged until the flush), out_s3 @log_level debug, "
                              "key %{path}%{time_slice}_${chunk_id}.%{file_extension}, check_object on, gzip",
                     "s3": "s3rver 3.7.1 on 127.0.0.1",
                     "chunks": "one record per chunk through in_forward (each in its own 1 s timekey)",
                     "bytes": "8 MiB chunks (chunk_limit_size default) of generated app log lines written as "
                              "staged chunk files, resumed by the simulator at start",
                     "flush_thread_burst_interval": "0.01 s except in the `default burst` scenario (1 s, Fluentd's "
                                                    "default: one chunk per second per flush thread)",
                     "baseline": f"SIGUSR1 then a fixed {BASELINE_WAIT_S} s wait (computed, not waited for)",
                     "clock": "CLOCK_MONOTONIC (ffrun, ffwatch, time.monotonic)"},
           "scenarios": [], "static_scenarios": [], "runs": []}
    errors = []
    workdir = tempfile.mkdtemp(prefix="ff-bench-")
    try:
        if "startup" not in a.skip:
            log("start-up and size")
            res["startup_size"] = startup_and_size(tools, a.binary, prof["startup"], workdir)
        sizes = json.loads(subprocess.run([tools.path("ffsizes")], capture_output=True, text=True,
                                          check=True).stdout)
        if "log" not in a.skip:
            res["log_throughput"] = log_throughput(tools, workdir, prof["log_bytes"], 3, rng)

        with S3Server(os.path.join(workdir, "s3")) as s3:
            s3.create_bucket()

            def record(name, recs, binary_name="dynamic", into="scenarios"):
                s = summarize(recs)
                s["name"] = name
                s["binary"] = binary_name
                res[into].append(s)
                res["runs"].extend(recs)
                errors.extend(f"{name}: {r['error']}" for r in recs if "error" in r)

            bed = Bed(os.path.join(workdir, "fast"), s3, 0.01).start()
            watcher = Watcher(tools, [bed.buffer_dir])
            try:
                if "chunks" not in a.skip:
                    for n, runs in prof["chunks"].items():
                        record(f"chunks {n}", scenario_chunks(tools, a.binary, bed, watcher, n, runs,
                                                              prof["timeout"], rng))
                if "bytes" not in a.skip:
                    pool = record_pool(4 * 1024 * 1024)
                    for mbytes, runs in prof["sizes"].items():
                        record(f"bytes {mbytes:g} MB", scenario_size(tools, a.binary, bed, watcher, mbytes, runs,
                                                                     prof["timeout"], rng, pool))
                    if not bed.sim:
                        bed.start()
                static = os.path.join(REPO, "build", "static", "fluent-flush")
                if "static" not in a.skip and os.access(static, os.X_OK):
                    for n, runs in prof["static_chunks"].items():
                        record(f"chunks {n}", scenario_chunks(tools, static, bed, watcher, n, runs,
                                                              prof["timeout"], rng, name="static chunks", label="static"),
                               "static", "static_scenarios")
            finally:
                watcher.close()
                bed.stop()
            if "burst" not in a.skip:
                n, runs = prof["burst"]
                bed = Bed(os.path.join(workdir, "default-burst"), s3, 1.0).start()
                watcher = Watcher(tools, [bed.buffer_dir])
                try:
                    record(f"default burst {n} chunks",
                           scenario_chunks(tools, a.binary, bed, watcher, n, runs, prof["timeout"], rng,
                                           name="default burst"))
                finally:
                    watcher.close()
                    bed.stop()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    res["load"]["after"] = [round(x, 2) for x in os.getloadavg()]
    res["duration_s"] = round(time.monotonic() - t_start, 1)
    ok = [r for r in res["runs"] if "error" not in r and r.get("binary") != "static"]
    lat = stats([r["verdict_latency_ms"] for r in ok]) or {"median": None, "p95": None, "max": None, "n": 0}
    res["verdict_latency_ms"] = lat
    res["verdict_latency_split"] = {"detect_ms": stats([r["detect_ms"] for r in ok]),
                                    "exit_after_verdict_ms": stats([r["exit_after_verdict_ms"] for r in ok])}
    rss_all = [r["maxrss_kib"] for r in ok]
    by_chunks = {s["chunks"]: s for s in res["scenarios"] if s["name"].startswith("chunks ") and "maxrss_kib" in s}
    growth = None
    if len(by_chunks) >= 2:
        lo, hi = min(by_chunks), max(by_chunks)
        table = (hi - lo) * (sizes["flush_chunk"] + 2 * sizes["chunk_file"])
        growth = {"from_chunks": lo, "to_chunks": hi,
                  "growth_kib": by_chunks[hi]["maxrss_kib"]["median"] - by_chunks[lo]["maxrss_kib"]["median"],
                  "chunk_table_kib": round(table / 1024)}
    res["footprint"] = {"sizes": sizes, "rss_growth": growth,
                        "peak_rss_kib": stats(rss_all),
                        "cpu_pct": stats([r["cpu_pct"] for r in ok])}
    targets = []
    if lat["n"]:
        targets.append({"target": "verdict latency median ≤ 20 ms", "measured": f"{lat['median']:.1f} ms",
                        "met": lat["median"] <= TARGETS["verdict_latency_median_ms"]})
        targets.append({"target": "verdict latency p95 ≤ 100 ms", "measured": f"{lat['p95']:.1f} ms",
                        "met": lat["p95"] <= TARGETS["verdict_latency_p95_ms"]})
    if rss_all:
        worst = max(rss_all)
        targets.append({"target": "peak RSS ≤ 8 MiB (dynamic binary, every run)",
                        "measured": f"{worst / 1024:.1f} MiB max", "met": worst <= TARGETS["peak_rss_kib"]})
        st = [r["maxrss_kib"] for r in res["runs"] if "error" not in r and r.get("binary") == "static"]
        if st:
            targets.append({"target": "peak RSS ≤ 8 MiB (static binary)", "measured": f"{max(st) / 1024:.1f} MiB max",
                            "met": max(st) <= TARGETS["peak_rss_kib"]})
        cpus = [s["cpu_pct"]["median"] for s in res["scenarios"] if "cpu_pct" in s]
        targets.append({"target": "CPU ≤ 2 % of wall (median of every scenario)",
                        "measured": f"{max(cpus):.2f} % worst scenario", "met": max(cpus) <= TARGETS["cpu_pct_of_wall"]})
        long = [r["cpu_pct"] for r in ok if r["wall_ms"] >= 1000]
        if long:
            targets.append({"target": "CPU ≤ 2 % of wall (every run of 1 s or more)",
                            "measured": f"{max(long):.2f} % worst of {len(long)} runs",
                            "met": max(long) <= TARGETS["cpu_pct_of_wall"]})
    if growth:
        targets.append({"target": "no RSS growth with chunks beyond the chunk table",
                        "measured": f"+{growth['growth_kib']} KiB for {growth['to_chunks']} chunks "
                                    f"(table {growth['chunk_table_kib']} KiB)",
                        "met": growth["growth_kib"] <= growth["chunk_table_kib"] + 256})
    if "log_throughput" in res:
        lt = res["log_throughput"]
        targets.append({"target": "log-follow ≥ 50 % of grep's speed",
                        "measured": f"{100 * lt['parse_over_grep']:.0f} %",
                        "met": lt["parse_over_grep"] >= TARGETS["log_vs_grep"]})
    res["targets"] = targets
    for s in res["scenarios"]:
        if s["name"].startswith("default burst") and "floor_ms" in s and s["floor_ms"]["median"] > 0:
            res["default_burst_chunks_per_s"] = round(s["chunks"] / (s["floor_ms"]["median"] / 1000.0), 2)
    res["errors"] = errors

    with open(os.path.join(a.out, "results.json"), "w") as f:
        json.dump(res, f, indent=1)
        f.write("\n")
    rc = report(res, a.out)
    if errors:
        for e in errors:
            log("ERROR " + e)
        return 1
    return rc


def report(res, out):
    """results.md, the plot, and (for bench/ itself) the README section, from the results."""
    md = markdown(res)
    with open(os.path.join(out, "results.md"), "w") as f:
        f.write("# fluent-flush benchmark results\n\n" + md)
    png = plot(res, out)
    if os.path.abspath(out) == BENCH:
        update_readme(md, os.path.basename(png))
    log(f"done in {res['duration_s']:.0f} s: {os.path.join(out, 'results.json')}, results.md, {png}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
