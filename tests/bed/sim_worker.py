"""One Fluentd worker process of the simulator: in_forward, monitor_agent, out_s3 with a file or memory
buffer, flush threads, retry state machine, SIGUSR1 force flush and graceful shutdown.

The behaviour follows Fluentd's plugin/output.rb (try_flush, flush_thread_run, submit_flush_all,
update_retry_state, backup_chunk), plugin/buf_file.rb (chunk files), plugin_helper/retry_state.rb
and fluent-plugin-s3's out_s3.rb (check_object index loop, `write chunk` / `completed to write chunk`).
"""
import collections
import gzip
import http.server
import io
import json
import os
import random
import re
import shutil
import signal
import socket
import socketserver
import struct
import threading
import time
import urllib.parse

import sim_msgpack as mp
import sim_texts
from sim_log import Logger, PluginLog, Raw, RubyTime, SimError, Symbol, ruby_time_str
from sim_signals import SignalPipe

WEBRICK = "WEBrick/1.8.1 (Ruby/3.1.2/2022-04-12)"
BUFFER_HEADER = b"\xc1\x00"


# --------------------------------------------------------------------------- ids, patterns, faults

def unique_id():
    """Fluent::UniqueId.generate: ((usec since epoch) << 12 | rand(0xfff)), rand32, rand32 as 128 bits."""
    now = time.time()
    usec = int(now * 1000000)
    u1 = (usec << 12) | random.randrange(0xFFF)
    return struct.pack(">IIII", (u1 >> 32) & 0xFFFFFFFF, u1 & 0xFFFFFFFF,
                       random.randrange(0xFFFFFFFF), random.randrange(0xFFFFFFFF))


def match_pattern(pattern, tag):
    """Fluentd <match> glob: `*` one tag part, `**` zero or more parts, `{a,b}` alternatives."""
    for alt in pattern.split():
        rx = ""
        i = 0
        while i < len(alt):
            if alt.startswith("**", i):
                rx += r"(?:[^.]+(?:\.[^.]+)*)?"
                i += 2
            elif alt[i] == "*":
                rx += r"[^.]+"
                i += 1
            elif alt[i] == "{":
                j = alt.index("}", i)
                rx += "(?:" + "|".join(re.escape(x) for x in alt[i + 1:j].split(",")) + ")"
                i = j + 1
            else:
                rx += re.escape(alt[i])
                i += 1
        rx = rx.replace(r"\.(?:[^.]+(?:\.[^.]+)*)?", r"(?:\.[^.]+)*")
        if re.fullmatch(rx, tag):
            return True
    return False


def read_faults(path):
    faults = {"ignore_usr1": False, "s3_delay_ms": 0, "die_mid_upload": False, "unrecoverable": False,
              "rpc_error": False}
    if path:
        try:
            with open(path) as f:
                data = json.load(f)
            if isinstance(data, dict):
                faults.update(data)
        except (OSError, ValueError):
            pass
    return faults


# --------------------------------------------------------------------------- buffer

class Chunk:
    def __init__(self, cid, timekey, path_b=None):
        self.id = cid
        self.hex = cid.hex()
        self.timekey = timekey
        self.records = 0
        self.size = 0
        self.data = bytearray() if path_b is None else None
        self.path = path_b
        self.created = time.time()
        self.modified = self.created

    @property
    def meta_path(self):
        return self.path + ".meta" if self.path else None

    def metadata_str(self):
        tk = "nil" if self.timekey is None else str(self.timekey)
        return "#<struct Fluent::Plugin::Buffer::Metadata timekey=%s, tag=nil, variables=nil, seq=0>" % tk

    def append(self, data, nrecords):
        if self.path:
            with open(self.path, "ab") as f:
                f.write(data)
        else:
            self.data += data
        self.size += len(data)
        self.records += nrecords
        self.modified = time.time()
        self.write_meta()

    def write_meta(self):
        if not self.path:
            return
        meta = {"timekey": self.timekey, "tag": None, "variables": None, "seq": 0, "id": self.id,
                "s": self.records, "c": int(self.created), "m": int(self.modified)}
        bin_ = mp.packb(meta)
        with open(self.meta_path, "wb") as f:
            f.write(BUFFER_HEADER + struct.pack(">I", len(bin_)) + bin_)

    def read(self):
        if self.path:
            with open(self.path, "rb") as f:
                return f.read()
        return bytes(self.data)

    def enqueue(self):
        """staged -> queued: buffer.b<id>.log is renamed to buffer.q<id>.log (with its .meta)."""
        if not self.path:
            return
        d, name = os.path.split(self.path)
        qpath = os.path.join(d, "buffer.q" + name[len("buffer.b"):])
        os.rename(self.path, qpath)
        os.rename(self.path + ".meta", qpath + ".meta")
        self.path = qpath

    def purge(self):
        if self.path:
            for p in (self.path, self.meta_path):
                try:
                    os.unlink(p)
                except FileNotFoundError:
                    pass


class Buffer:
    def __init__(self, cfg, path):
        self.cfg = cfg
        self.dir = path
        self.lock = threading.RLock()
        self.stage = collections.OrderedDict()    # timekey -> Chunk
        self.queue = collections.deque()
        self.dequeued = {}
        self.timekeys_seen = []
        total = cfg["total_limit_size"]
        if total is None:
            total = 64 * 1024 ** 3 if cfg["type"] == "file" else 512 * 1024 ** 2
        self.total_limit = total

    def resume(self):
        """Chunk files left on disk (a stop with flush_at_shutdown false, or a killed worker) come back as
        buf_file.rb#resume brings them back: in file name order (Dir.glob), buffer.b* stay staged — one
        per metadata, a second one with the same metadata is enqueued —, buffer.q* (queued, or being
        written when the worker died) are queued again, oldest modified first; the flush threads then
        write the queue without any signal."""
        if not self.dir:
            return
        os.makedirs(self.dir, exist_ok=True)
        queue = []
        for name in sorted(os.listdir(self.dir)):
            m = re.fullmatch(r"buffer\.([bq])([0-9a-f]{32})\.log", name)
            if not m:
                continue
            path = os.path.join(self.dir, name)
            c = Chunk(bytes.fromhex(m.group(2)), None, path)
            c.size = os.path.getsize(path)
            try:
                with open(path + ".meta", "rb") as f:
                    raw = f.read()
                if raw.startswith(BUFFER_HEADER):
                    raw = raw[6:]
                meta = mp.unpackb(raw)
                c.timekey = meta.get("timekey")
                c.records = meta.get("s", 0)
                c.created = meta.get("c", c.created)
                c.modified = meta.get("m", c.created)
            except (OSError, ValueError, KeyError, AttributeError):
                with open(path, "rb") as f:
                    c.records = f.read().count(b"\n")
            if m.group(1) == "b" and c.timekey not in self.stage:
                self.stage[c.timekey] = c
            else:
                if m.group(1) == "b":
                    c.enqueue()
                queue.append(c)
        queue.sort(key=lambda c: c.modified)
        for c in queue:
            self.queue.append(c)
            self.note_timekey(c.timekey)

    def note_timekey(self, tk):
        if tk is not None and tk not in self.timekeys_seen:
            self.timekeys_seen.append(tk)

    def new_chunk(self, timekey):
        cid = unique_id()
        path = None
        if self.dir:
            path = os.path.join(self.dir, "buffer.b%s.log" % cid.hex())
        c = Chunk(cid, timekey, path)
        if path:
            open(path, "ab").close()
            c.write_meta()
        return c

    def enqueue_chunk(self, timekey):
        c = self.stage.pop(timekey, None)
        if c is None:
            return
        if c.size == 0:
            c.purge()
            return
        c.enqueue()
        self.queue.append(c)
        self.note_timekey(c.timekey)

    def enqueue_all(self, pred=None):
        with self.lock:
            for tk in list(self.stage):
                if pred is None or pred(self.stage[tk]):
                    self.enqueue_chunk(tk)

    def dequeue_chunk(self):
        with self.lock:
            if not self.queue:
                return None
            c = self.queue.popleft()
            self.dequeued[c.id] = c
            return c

    def takeback_chunk(self, cid):
        with self.lock:
            c = self.dequeued.pop(cid, None)
            if c is None:
                return False
            self.queue.appendleft(c)
            return True

    def purge_chunk(self, cid):
        with self.lock:
            c = self.dequeued.pop(cid, None)
            if c is not None:
                c.purge()

    def queued(self):
        with self.lock:
            return bool(self.queue)

    def queued_records(self):
        with self.lock:
            return sum(c.records for c in self.queue)

    def stats(self):
        with self.lock:
            stage_bytes = sum(c.size for c in self.stage.values())
            queue_bytes = sum(c.size for c in self.queue) + sum(c.size for c in self.dequeued.values())
            return {"stage_length": len(self.stage), "stage_bytes": stage_bytes,
                    "queue_length": len(self.queue), "queue_bytes": queue_bytes}


# --------------------------------------------------------------------------- retry state

class RetryState:
    """plugin_helper/retry_state.rb ExponentialBackOffRetry."""

    def __init__(self, bcfg, offset):
        self.wait = float(bcfg["retry_wait"])
        self.base = float(bcfg["retry_exponential_backoff_base"])
        self.max_interval = bcfg["retry_max_interval"]
        self.max_steps = bcfg["retry_max_times"]
        self.forever = bool(bcfg["retry_forever"])
        self.randomize = bool(bcfg["retry_randomize"])
        self.offset = offset
        self.start = time.time()
        self.steps = 0
        self.timeout_at = self.start + float(bcfg["retry_timeout"])
        self.next_time = self.start + self.wait

    def interval(self, num):
        iv = self.wait * (self.base ** (num + self.offset))
        if self.max_interval is not None and iv > self.max_interval:
            iv = float(self.max_interval)
        return iv

    def calc_next_time(self):
        iv = self.interval(self.steps)
        if self.randomize:
            iv = iv + iv * 0.125 * (2 * random.random() - 1.0)
        naive = time.time() + iv
        if not self.forever and naive >= self.timeout_at:
            return self.timeout_at
        return naive

    def step(self):
        self.steps += 1
        self.next_time = self.calc_next_time()

    def recalc_next_time(self):
        self.next_time = self.calc_next_time()

    def limit(self):
        if self.forever:
            return False
        return self.next_time >= self.timeout_at or (self.max_steps is not None and self.steps >= self.max_steps)


# --------------------------------------------------------------------------- out_s3

def timekey_to_timeformat(timekey):
    if timekey is None:
        return ""
    if timekey < 60:
        return "%Y%m%d%H%M%S"
    if timekey < 3600:
        return "%Y%m%d%H%M"
    if timekey < 86400:
        return "%Y%m%d%H"
    return "%Y%m%d"


class FlushThreadState:
    def __init__(self):
        self.cond = threading.Condition()
        self.next_clock = 0.0
        self.thread = None


class S3Output:
    DEFAULT_KEY = "%{path}%{time_slice}_%{index}.%{file_extension}"

    def __init__(self, worker, cfg, index):
        self.worker = worker
        self.cfg = cfg
        self.bcfg = cfg["buffer"]
        self.index = index
        self.log = worker.log
        self.texts = worker.texts
        self.plugin_id = cfg["id"] if cfg["id"] is not None else "object:%x" % (0x3fe0 + 40 * index)
        self.plog = PluginLog(cfg["id"], cfg["log_level"])
        path = None
        if self.bcfg["type"] == "file":
            path = self.bcfg["path"]
            if worker.cfg["workers"] > 1:
                path = os.path.join(path, "worker%d" % worker.id)
        self.buffer = Buffer(self.bcfg, path)
        self.retry = None
        self.retry_lock = threading.RLock()
        self.counters = collections.Counter()
        self.counter_lock = threading.Lock()
        self.flush_threads = []
        self.flush_pos = 0
        self.running = True
        self.enqueue_running = True
        self.key_format = cfg["key_format"]
        if not cfg["check_object"] and cfg["key_format"] is None:
            self.key_format = "%{path}/%{time_slice}_%{hms_slice}.%{file_extension}"
        elif self.key_format is None:
            self.key_format = self.DEFAULT_KEY
        self.s3 = None
        self.flush_at_shutdown = self.bcfg["flush_at_shutdown"]
        if self.flush_at_shutdown is None:
            self.flush_at_shutdown = self.bcfg["type"] != "file"

    # -- lifecycle
    def start(self):
        self.buffer.resume()
        st = self.buffer.stats()
        self.log.debug("buffer started", {"instance": self.texts["buffer_instance"],
                                          "stage_size": st["stage_bytes"], "queue_size": st["queue_bytes"]},
                       plugin=self.plog)
        self.make_client()

    def start_threads(self):
        for i in range(int(self.bcfg["flush_thread_count"])):
            st = FlushThreadState()
            st.thread = threading.Thread(target=self.flush_thread_run, args=(st,), daemon=True,
                                         name="flush_thread_%d" % i)
            self.flush_threads.append(st)
            st.thread.start()
            self.log.debug("flush_thread actually running", plugin=self.plog)
        self.enqueue_thread = threading.Thread(target=self.enqueue_thread_run, daemon=True)
        self.enqueue_thread.start()
        self.log.debug("enqueue_thread actually running", plugin=self.plog)

    def make_client(self):
        import boto3
        from botocore.config import Config
        addressing = "path" if self.cfg["force_path_style"] else "auto"
        conf = Config(retries={"total_max_attempts": 1, "mode": "standard"}, connect_timeout=5,
                      read_timeout=60, s3={"addressing_style": addressing},
                      signature_version="s3v4")
        kw = {}
        if self.cfg["access_key"]:
            kw = {"aws_access_key_id": self.cfg["access_key"], "aws_secret_access_key": self.cfg["secret_key"]}
        self.s3 = boto3.session.Session().client(
            "s3", endpoint_url=self.cfg["endpoint"], region_name=self.cfg["region"], config=conf, **kw)

    # -- emit
    def format_record(self, tag, t, record):
        ts = time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(int(t)))
        ts = ts[:-2] + ":" + ts[-2:]
        return ("%s\t%s\t%s\n" % (ts, tag, json.dumps(record, ensure_ascii=False, separators=(",", ":")))).encode()

    def emit(self, tag, entries):
        timekey_unit = int(self.bcfg["timekey"])
        limit = int(self.bcfg["chunk_limit_size"])
        with self.counter_lock:
            self.counters["emit_count"] += 1
            self.counters["emit_records"] += len(entries)
        groups = collections.OrderedDict()
        for t, rec in entries:
            tk = int(t) - int(t) % timekey_unit
            groups.setdefault(tk, []).append(self.format_record(tag, t, rec))
        with self.buffer.lock:
            for tk, lines in groups.items():
                pending = []
                pending_size = 0
                for line in lines:
                    c = self.buffer.stage.get(tk)
                    if c is not None and c.size + pending_size + len(line) > limit and (c.size + pending_size) > 0:
                        if pending:
                            c.append(b"".join(pending), len(pending))
                            pending, pending_size = [], 0
                        self.buffer.enqueue_chunk(tk)
                        c = None
                    if c is None:
                        c = self.buffer.new_chunk(tk)
                        self.buffer.stage[tk] = c
                        self.log.debug("Created new chunk", {"chunk_id": c.hex, "metadata": Raw(c.metadata_str())},
                                       plugin=self.plog)
                    pending.append(line)
                    pending_size += len(line)
                if pending:
                    self.buffer.stage[tk].append(b"".join(pending), len(pending))

    # -- enqueue by timekey
    def enqueue_thread_run(self):
        unit = int(self.bcfg["timekey"])
        wait = int(self.bcfg["timekey_wait"])
        interval = max(unit / 11.0, float(self.bcfg["flush_thread_interval"]))
        interval = min(interval, 1.0)
        while self.enqueue_running:
            now = int(time.time())
            current = now - now % unit
            self.buffer.enqueue_all(lambda c: c.timekey is not None and c.timekey < current
                                    and c.timekey + unit + wait <= now)
            time.sleep(interval)

    # -- flushing (plugin/output.rb)
    def next_flush_time(self):
        if self.buffer.queued():
            with self.retry_lock:
                if self.retry:
                    return self.retry.next_time
            return time.time() + float(self.bcfg["flush_thread_burst_interval"])
        return time.time() + float(self.bcfg["flush_thread_interval"])

    def flush_thread_run(self, st):
        st.next_clock = time.monotonic() + float(self.bcfg["flush_thread_interval"])
        with st.cond:
            while self.running:
                cur = time.monotonic()
                with self.retry_lock:
                    nrt = self.retry.next_time if self.retry else None
                if st.next_clock > cur:
                    interval = st.next_clock - cur
                elif nrt is not None and nrt > time.time():
                    interval = nrt - time.time()
                else:
                    st.cond.release()
                    try:
                        self.try_flush()
                        interval = self.next_flush_time() - time.time()
                        st.next_clock = time.monotonic() + interval
                    finally:
                        st.cond.acquire()
                if interval > 0 and self.running:
                    st.cond.wait(interval)

    def submit_flush_once(self):
        if not self.flush_threads:
            return
        self.flush_pos = (self.flush_pos + 1) % len(self.flush_threads)
        st = self.flush_threads[self.flush_pos]
        with st.cond:
            st.next_clock = 0
            st.cond.notify()

    def submit_flush_all(self):
        while True:
            with self.retry_lock:
                if self.retry:
                    return
            if not self.buffer.queued():
                return
            self.submit_flush_once()
            time.sleep(float(self.bcfg["flush_thread_burst_interval"]))

    def force_flush(self):
        self.buffer.enqueue_all()
        self.submit_flush_all()

    def try_flush(self):
        chunk = self.buffer.dequeue_chunk()
        if chunk is None:
            return
        with self.counter_lock:
            self.counters["write_count"] += 1
        start = time.monotonic()
        try:
            self.write(chunk)
            with self.counter_lock:
                self.counters["flush_time_count"] += int((time.monotonic() - start) * 1000)
            self.commit_write(chunk.id)
        except SimError as e:
            if e.unrecoverable:
                self.log.warn("got unrecoverable error in primary and no secondary", {"error": e},
                              plugin=self.plog)
                self.log.backtrace("warn", e.frames, plugin=self.plog)
                self.backup_chunk(chunk)
                return
            self.log.debug("taking back chunk for errors.", {"chunk": chunk.hex}, plugin=self.plog)
            if self.buffer.takeback_chunk(chunk.id):
                with self.counter_lock:
                    self.counters["rollback_count"] += 1
            self.update_retry_state(chunk.hex, e)

    def commit_write(self, cid):
        self.buffer.purge_chunk(cid)
        with self.retry_lock:
            if self.retry:
                self.log.warn("retry succeeded.", {"chunk_id": cid.hex()}, plugin=self.plog)
                self.retry = None

    def backup_chunk(self, chunk):
        if self.bcfg["disable_chunk_backup"]:
            self.log.warn("disable_chunk_backup is true. %s chunk is thrown away" % chunk.hex, plugin=self.plog)
        else:
            safe_id = re.sub(r'[ "/\\:;|*<>?]', "_", self.plugin_id)
            root = self.worker.cfg["root_dir"] or "/tmp/fluent"
            backup = os.path.join(root, "backup", "worker%d" % self.worker.id, safe_id, chunk.hex + ".log")
            self.log.warn("bad chunk is moved to %s" % backup, plugin=self.plog)
            try:
                os.makedirs(os.path.dirname(backup), exist_ok=True)
                with open(backup, "ab") as f:
                    f.write(chunk.read())
            except OSError as e:
                self.log.warn("failed to write backup", {"error": SimError("Errno::EACCES", str(e), [])},
                              plugin=self.plog)
        self.commit_write(chunk.id)

    def log_retry_error(self, chunk_hex, e):
        if self.texts["old_retry_messages"]:
            kv = {"retry_time": self.retry.steps, "next_retry_seconds": RubyTime(self.retry.next_time),
                  "chunk": chunk_hex, "error": e}
        else:
            kv = {"retry_times": self.retry.steps, "next_retry_time": RubyTime(round(self.retry.next_time)),
                  "chunk": chunk_hex, "error": e}
        self.log.warn("failed to flush the buffer.", kv, plugin=self.plog)
        self.log.backtrace("warn", e.frames, plugin=self.plog)

    def handle_limit_reached(self, e):
        records = self.buffer.queued_records()
        if self.texts["old_retry_messages"]:
            msg = "failed to flush the buffer, and hit limit for retries. dropping all chunks in the buffer queue."
        else:
            msg = "Hit limit for retries. dropping all chunks in the buffer queue."
        self.log.error(msg, {"retry_times": self.retry.steps, "records": records, "error": e}, plugin=self.plog)
        self.log.backtrace("error", e.frames, plugin=self.plog)
        with self.buffer.lock:
            chunks = list(self.buffer.queue)
            self.buffer.queue.clear()
        for c in chunks:
            if self.texts["evacuate_on_limit"] and c.path:
                root = self.worker.cfg["root_dir"] or "/tmp/fluent"
                safe_id = re.sub(r'[ "/\\:;|*<>?]', "_", self.plugin_id)
                bdir = os.path.join(root, "buffer", safe_id)
                try:
                    os.makedirs(bdir, exist_ok=True)
                    shutil.copy(c.path, bdir)
                    shutil.copy(c.meta_path, bdir)
                    self.log.warn("chunk files are evacuated to %s." % bdir, {"chunk_id": c.hex}, plugin=self.plog)
                except OSError:
                    pass
            c.purge()
        self.log.debug("buffer queue cleared", plugin=self.plog)
        self.retry = None

    def update_retry_state(self, chunk_hex, e):
        with self.retry_lock:
            with self.counter_lock:
                self.counters["retry_count"] += 1
            if self.texts["old_retry_messages"]:
                if self.retry is None:
                    self.retry = RetryState(self.bcfg, self.texts["interval_offset"])
                    self.log_retry_error(chunk_hex, e)
                    return
                if self.retry.limit():
                    self.handle_limit_reached(e)
                else:
                    self.retry.step()
                    self.log_retry_error(chunk_hex, e)
                return
            if self.retry is None:
                self.retry = RetryState(self.bcfg, self.texts["interval_offset"])
                if self.retry.limit():
                    self.handle_limit_reached(e)
                else:
                    self.log_retry_error(chunk_hex, e)
                return
            if time.time() >= self.retry.next_time:
                self.retry.step()
            else:
                self.retry.recalc_next_time()
            if self.retry.limit():
                self.handle_limit_reached(e)
            else:
                self.log_retry_error(chunk_hex, e)

    # -- the S3 side (out_s3.rb#write)
    def s3_error(self, exc, frames_tail):
        import botocore.exceptions as bex
        ep = urllib.parse.urlsplit(self.cfg["endpoint"] or "https://s3.amazonaws.com")
        host = ep.hostname or ""
        port = ep.port or (443 if ep.scheme == "https" else 80)
        frames = list(sim_texts.NETWORK_BACKTRACE_SDK) + frames_tail + sim_texts.fluentd_frames(self.worker.version)
        if isinstance(exc, bex.ConnectTimeoutError):
            return SimError("Seahorse::Client::NetworkingError",
                            "Failed to open TCP connection to %s:%d (execution expired)" % (host, port), frames)
        if isinstance(exc, bex.EndpointConnectionError):
            return SimError("Seahorse::Client::NetworkingError",
                            "Failed to open TCP connection to %s:%d (Connection refused - connect(2) for %s:%d)"
                            % (host, port, host, port), frames)
        if isinstance(exc, bex.ReadTimeoutError):
            return SimError("Seahorse::Client::NetworkingError", "Net::ReadTimeout", frames)
        if isinstance(exc, (bex.ConnectionClosedError, bex.ConnectionError)):
            return SimError("Seahorse::Client::NetworkingError", "end of file reached", frames)
        if isinstance(exc, bex.ClientError):
            err = exc.response.get("Error", {})
            code = err.get("Code") or str(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", "Error"))
            code = re.sub(r"[^A-Za-z0-9]", "", code) or "ServiceError"
            if code.isdigit():
                code = "Http%sError" % code
            return SimError("Aws::S3::Errors::%s" % code, err.get("Message") or "", frames)
        return SimError("RuntimeError", str(exc), frames)

    def sdk_call(self, fn, frames_tail, **kw):
        """One aws-sdk request: the SDK itself retries networking errors (retry_limit 3,
        0.3 s * 2^n back-off), which is why a failed attempt takes 2-3 s in Fluentd's log."""
        import botocore.exceptions as bex
        limit = int(self.cfg["sdk_retry_limit"])
        for n in range(limit + 1):
            try:
                return fn(**kw)
            except (bex.EndpointConnectionError, bex.ConnectionClosedError, bex.ReadTimeoutError,
                    bex.ConnectTimeoutError, bex.ConnectionError) as e:
                if n == limit:
                    raise self.s3_error(e, frames_tail)
                time.sleep(0.3 * (2 ** n))
            except bex.ClientError as e:
                raise self.s3_error(e, frames_tail)

    def exists(self, key):
        import botocore.exceptions as bex
        try:
            self.sdk_call(self.s3.head_object, [sim_texts.S3_EXISTS_FRAME], Bucket=self.cfg["bucket"], Key=key)
            return True
        except SimError as e:
            if e.error_class in ("Aws::S3::Errors::NotFound", "Aws::S3::Errors::404", "Aws::S3::Errors::Http404Error",
                                 "Aws::S3::Errors::NoSuchKey"):
                return False
            raise
        except bex.BotoCoreError as e:
            raise self.s3_error(e, [sim_texts.S3_EXISTS_FRAME])

    def object_key(self, chunk, i):
        tk = chunk.timekey
        time_slice = "" if tk is None else time.strftime(timekey_to_timeformat(int(self.bcfg["timekey"])),
                                                            time.localtime(tk))
        hex_random = chunk.hex[::-1][:int(self.cfg["hex_random_length"])]
        key = self.key_format.replace("%{path}", self.cfg["path"]).replace(
            "%{file_extension}", "gz" if self.cfg["store_as"] == "gzip" else "txt")
        key = key.replace("${chunk_id}", chunk.hex)
        if tk is not None:
            lt = time.localtime(tk)
            key = re.sub(r"%([a-zA-Z])", lambda m: time.strftime("%" + m.group(1), lt), key)
        values = {"%{time_slice}": time_slice, "%{index}": "%d" % i, "%{hex_random}": hex_random,
                  "%{hms_slice}": time.strftime("%H%M%S", time.gmtime()), "%{date_slice}": time_slice,
                  "%{uuid_flush}": "%08x-%04x-4%03x-%04x-%012x" % (random.getrandbits(32), random.getrandbits(16),
                                                                  random.getrandbits(12),
                                                                  0x8000 | random.getrandbits(14),
                                                                  random.getrandbits(48))}
        return re.sub(r"%\{[^}]+\}", lambda m: values.get(m.group(0), m.group(0)), key)

    def write(self, chunk):
        faults = read_faults(self.worker.cfg["faults_file"])
        if faults.get("unrecoverable"):
            raise SimError("ArgumentError", "invalid byte sequence in UTF-8",
                           sim_texts.UNRECOVERABLE_FRAMES + sim_texts.fluentd_frames(self.worker.version),
                           unrecoverable=True)
        if self.cfg["check_object"]:
            i = 0
            prev = None
            while True:
                key = self.object_key(chunk, i)
                if i > 0 and key == prev:
                    raise SimError("RuntimeError",
                                   "duplicated path is generated. use %%{index} in s3_object_key_format: path = %s"
                                   % key, [sim_texts.S3_EXISTS_FRAME] + sim_texts.fluentd_frames(self.worker.version))
                i += 1
                prev = key
                if not self.exists(key):
                    break
        else:
            key = self.object_key(chunk, 0)
        data = chunk.read()
        if self.cfg["store_as"] == "gzip":
            bio = io.BytesIO()
            with gzip.GzipFile(fileobj=bio, mode="wb", mtime=int(time.time())) as gz:
                gz.write(data)
            body = bio.getvalue()
            ctype = "application/x-gzip"
        else:
            body, ctype = data, "text/plain"
        dest = "s3://%s/%s" % (self.cfg["bucket"], key)
        self.log.debug("out_s3: write chunk %s with metadata %s to %s" % (chunk.hex, chunk.metadata_str(), dest),
                       plugin=self.plog)
        faults = read_faults(self.worker.cfg["faults_file"])
        if faults.get("s3_delay_ms"):
            time.sleep(int(faults["s3_delay_ms"]) / 1000.0)
        if faults.get("die_mid_upload"):
            os.kill(os.getpid(), signal.SIGKILL)
        self.sdk_call(self.s3.put_object, sim_texts.S3_PUT_FRAMES, Bucket=self.cfg["bucket"], Key=key, Body=body,
                      ContentType=ctype, StorageClass="STANDARD")
        self.log.debug("out_s3: completed to write chunk %s with metadata %s to %s"
                       % (chunk.hex, chunk.metadata_str(), dest), plugin=self.plog)

    # -- shutdown
    def before_shutdown(self):
        if self.flush_at_shutdown:
            self.force_flush()
        self.enqueue_running = False

    def after_shutdown(self):
        self.running = False
        for st in self.flush_threads:
            with st.cond:
                st.next_clock = 0
                st.cond.notify()
            st.thread.join(timeout=120)

    # -- monitor_agent
    def monitor_info(self, with_config=True, with_retry=True):
        st = self.buffer.stats()
        c = self.counters
        info = {"plugin_id": self.plugin_id, "plugin_category": "output", "type": "s3"}
        if with_config:
            info["config"] = self.monitor_config()
        total = st["stage_bytes"] + st["queue_bytes"]
        ratio = round(100.0 - (total * 100.0 / self.buffer.total_limit), 1)
        info.update({
            "output_plugin": True,
            "buffer_queue_length": st["queue_length"],
            "buffer_timekeys": list(self.buffer.timekeys_seen),
            "buffer_total_queued_size": total,
            "retry_count": c["retry_count"],
            "emit_records": c["emit_records"],
            "emit_size": 0,
            "emit_count": c["emit_count"],
            "write_count": c["write_count"],
            "rollback_count": c["rollback_count"],
            "slow_flush_count": 0,
            "flush_time_count": c["flush_time_count"],
            "buffer_stage_length": st["stage_length"],
            "buffer_stage_byte_size": st["stage_bytes"],
            "buffer_queue_byte_size": st["queue_bytes"],
            "buffer_available_buffer_space_ratios": ratio,
        })
        if self.buffer.timekeys_seen:
            info["buffer_oldest_timekey"] = min(self.buffer.timekeys_seen)
            info["buffer_newest_timekey"] = max(self.buffer.timekeys_seen)
        if with_retry and self.texts["monitor_retry"]:
            with self.retry_lock:
                r = self.retry
                info["retry"] = {} if r is None else {"start": ruby_time_str(int(r.start)), "steps": r.steps,
                                                      "next_time": ruby_time_str(int(r.next_time))}
        return info

    def monitor_config(self):
        c = self.cfg
        out = {"@type": "s3"}
        if c["id"] is not None:
            out["@id"] = c["id"]
        if c["log_level"] is not None:
            out["@log_level"] = c["log_level"]
        if c["access_key"]:
            out["aws_key_id"] = "xxxxxx"
            out["aws_sec_key"] = "xxxxxx"
        out["s3_bucket"] = c["bucket"]
        out["s3_region"] = c["region"]
        if c["endpoint"]:
            out["s3_endpoint"] = c["endpoint"]
        if c["force_path_style"]:
            out["force_path_style"] = "true"
        out["path"] = c["path"]
        if c["key_format"] is not None:
            out["s3_object_key_format"] = c["key_format"]
        if not c["check_object"]:
            out["check_object"] = "false"
        return out


# --------------------------------------------------------------------------- inputs

FORWARD_FD_ENV = "FLUENTD_SIM_FORWARD_FD"


def listen_socket(bind, port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((bind, port))
    s.listen(64)
    return s


class ForwardInput:
    """in_forward (TCP): Message, Forward and PackedForward modes, `chunk` option answered with `ack`."""

    def __init__(self, worker, cfg):
        self.worker = worker
        self.cfg = cfg
        self.port = int(cfg["port"]) + worker.id
        self.bind = cfg["bind"]
        self.plugin_id = cfg["id"]
        self.plog = PluginLog(cfg["id"], None)
        self.sock = None
        self.conns = set()

    def start(self):
        fd = os.environ.get(FORWARD_FD_ENV)
        if fd:      # the supervisor's listening socket (Supervisor.open_forward_sockets)
            s = socket.socket(fileno=int(fd))
        else:
            s = listen_socket(self.bind, self.port)
        self.sock = s
        threading.Thread(target=self.accept_loop, daemon=True).start()
        self.worker.log.info("listening port", {"port": self.port, "bind": self.bind}, plugin=self.plog)

    def accept_loop(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.conns.add(conn)
            threading.Thread(target=self.serve, args=(conn,), daemon=True).start()

    def serve(self, conn):
        up = mp.Unpacker()
        try:
            while True:
                data = conn.recv(65536)
                if not data:
                    return
                up.feed(data)
                for msg in up:
                    ack = self.on_message(msg)
                    if ack is not None:
                        conn.sendall(mp.packb({"ack": ack}))
        except (OSError, ValueError):
            return
        finally:
            self.conns.discard(conn)
            try:
                conn.close()
            except OSError:
                pass

    def on_message(self, msg):
        if not isinstance(msg, list) or len(msg) < 2 or not isinstance(msg[0], str):
            return None
        tag = msg[0]
        entries = []
        option = None
        if isinstance(msg[1], list):                      # Forward mode
            for e in msg[1]:
                if isinstance(e, list) and len(e) >= 2:
                    entries.append((mp.event_time_value(e[0]), e[1]))
            option = msg[2] if len(msg) > 2 else None
        elif isinstance(msg[1], (bytes, str)):            # PackedForward
            raw = msg[1].encode("latin-1") if isinstance(msg[1], str) else msg[1]
            up = mp.Unpacker()
            up.feed(raw)
            for e in up:
                entries.append((mp.event_time_value(e[0]), e[1]))
            option = msg[2] if len(msg) > 2 else None
        else:                                             # Message mode
            entries.append((mp.event_time_value(msg[1]), msg[2] if len(msg) > 2 else {}))
            option = msg[3] if len(msg) > 3 else None
        if entries:
            self.worker.route(tag, entries)
        if isinstance(option, dict) and option.get("chunk") is not None:
            return option["chunk"]
        return None

    def stop(self):
        if self.sock:
            try:
                self.sock.close()
            except OSError:
                pass
        for c in list(self.conns):
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def monitor_info(self, with_config=True):
        info = {"plugin_id": self.plugin_id, "plugin_category": "input", "type": "forward"}
        if with_config:
            info["config"] = {"@type": "forward", "@id": self.plugin_id, "bind": self.bind, "port": str(self.cfg["port"])}
        info.update({"output_plugin": False, "retry_count": None, "emit_records": 0, "emit_size": 0})
        return info


class _ThreadingHTTPServer(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class MonitorAgent:
    def __init__(self, worker, cfg):
        self.worker = worker
        self.cfg = cfg
        self.plugin_id = cfg["id"]
        self.plog = PluginLog(cfg["id"], None)
        self.port = int(cfg["port"]) + worker.id
        self.bind = cfg["bind"]
        self.server = None

    def start(self):
        agent = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            server_version = WEBRICK
            sys_version = ""

            def log_message(self, *a):
                pass

            def do_GET(self):
                u = urllib.parse.urlsplit(self.path)
                q = urllib.parse.parse_qs(u.query)
                if u.path in ("/api/plugins.json", "/api/plugins"):
                    body, ctype = agent.plugins_json(q), "application/json"
                    code = 200
                elif u.path == "/api/config.json":
                    body, ctype, code = agent.config_json(), "application/json", 200
                else:
                    body, ctype, code = b"", "text/plain", 404
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = _ThreadingHTTPServer((self.bind, self.port), Handler)
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def plugins_json(self, q):
        def first(*names):
            for n in names:
                if n in q:
                    return q[n][0]
            return None
        want_type = first("@type", "type")
        want_id = first("@id", "plugin_id")
        with_config = first("with_config") != "false"
        with_retry = first("with_retry") != "false"
        plugins = []
        for p in self.worker.inputs:
            plugins.append(p.monitor_info(with_config))
        for o in self.worker.outputs:
            plugins.append(o.monitor_info(with_config, with_retry))
        if want_type is not None:
            plugins = [p for p in plugins if p["type"] == want_type]
        if want_id is not None:
            plugins = [p for p in plugins if p["plugin_id"] == want_id]
        return json.dumps({"plugins": plugins}, separators=(",", ":")).encode()

    def config_json(self):
        w = self.worker
        return json.dumps({"pid": os.getpid(), "ppid": os.getppid(), "version": w.texts["fluentd"],
                           "config_path": w.config_path, "pid_file": None, "plugin_dirs": [],
                           "log_path": w.log_path}, separators=(",", ":")).encode()

    def stop(self):
        if self.server:
            self.server.shutdown()
            self.server.server_close()

    def monitor_info(self, with_config=True):
        info = {"plugin_id": self.plugin_id, "plugin_category": "input", "type": "monitor_agent"}
        if with_config:
            info["config"] = {"@type": "monitor_agent", "@id": self.plugin_id, "bind": self.bind,
                              "port": str(self.cfg["port"])}
        info.update({"output_plugin": False, "retry_count": None, "emit_records": 0, "emit_size": 0})
        return info


# --------------------------------------------------------------------------- the worker process

class Worker:
    def __init__(self, cfg, config_path, log_path, worker_id):
        self.cfg = cfg
        self.config_path = config_path
        self.log_path = log_path
        self.id = worker_id
        self.version = cfg["version"]
        self.texts = sim_texts.VERSIONS[self.version]
        self.log = Logger(log_path, cfg, self.texts, worker_id)
        self.inputs = []
        self.outputs = []
        self.signals = None

    def route(self, tag, entries):
        for o in self.outputs:
            if match_pattern(o.cfg["match"], tag):
                o.emit(tag, entries)
                return
        self.log.warn("no patterns matched", {"tag": tag})

    def run(self):
        # Fluentd's worker installs its signal handlers before it configures and starts anything
        # (supervisor.rb: install_main_process_signal_handlers, then main_process): a SIGUSR1 or SIGTERM
        # that arrives while the worker starts is acted on once it runs, it does not kill it.
        self.signals = SignalPipe((signal.SIGUSR1, signal.SIGTERM, signal.SIGINT, signal.SIGHUP))
        self.signals.unblock()
        log = self.log
        if self.texts["init_logger_lines"] and self.log_path:
            log.info("init worker%d logger" % self.id, {"path": self.log_path, "rotate_age": None,
                                                         "rotate_size": None})
        for i, ocfg in enumerate(self.cfg["outputs"]):
            if self.id == 0:
                log.info("adding match", {"pattern": ocfg["match"], "type": "s3"}, worker_part=False)
            self.outputs.append(S3Output(self, ocfg, i))
            for text in output_config_warnings(self.cfg, ocfg):
                log.warn(text[1], plugin=PluginLog(ocfg["id"], ocfg["log_level"]) if text[0] else None)
        if self.cfg["input"] is not None:
            if self.id == 0:
                log.info("adding source", {"type": "forward"}, worker_part=False)
            self.inputs.append(ForwardInput(self, self.cfg["input"]))
        monitor = None
        if self.cfg["monitor_agent"] is not None:
            if self.id == 0:
                log.info("adding source", {"type": "monitor_agent"}, worker_part=False)
            monitor = MonitorAgent(self, self.cfg["monitor_agent"])
            self.inputs.append(monitor)
        log.debug("No fluent logger for internal event")
        log.info("starting fluentd worker", {"pid": os.getpid(), "ppid": os.getppid(), "worker": self.id})
        for o in self.outputs:
            o.start()
        if monitor is not None:
            monitor.start()
            log.debug("listening monitoring http server on http://%s:%d/api/plugins for worker%d"
                      % (monitor.bind, monitor.port, self.id), plugin=monitor.plog)
        for o in self.outputs:
            o.start_threads()
        if monitor is not None:
            log.debug("Start webrick HTTP server listening", plugin=monitor.plog)
        for i in self.inputs:
            if isinstance(i, ForwardInput):
                i.start()
        log.info("fluentd worker is now running", {"worker": self.id})
        self.main_loop()

    def main_loop(self):
        """Act on signals (read from the self-pipe, never inside a handler) until the shutdown that the
        first SIGTERM/SIGINT starts has finished; SIGUSR1 and SIGHUP keep working meanwhile."""
        log = self.log
        stopper = None
        while stopper is None or stopper.is_alive():
            for signum in self.signals.wait(0.5 if stopper is None else 0.05):
                if signum == signal.SIGUSR1:
                    threading.Thread(target=self.flush_buffer, daemon=True).start()
                elif signum == signal.SIGHUP:
                    log.debug("fluentd main process get SIGHUP")
                    log.reopen()
                elif stopper is None:       # the first SIGTERM / SIGINT; later ones change nothing
                    stopper = threading.Thread(target=self.shutdown, args=(signal.Signals(signum).name,),
                                               name="shutdown")
                    stopper.start()
        stopper.join()
        self.signals.close()

    def flush_buffer(self):
        faults = read_faults(self.cfg["faults_file"])
        if faults.get("ignore_usr1"):
            return
        log = self.log
        log.debug("fluentd main process get SIGUSR1")
        log.info("force flushing buffered events")
        log.reopen()
        log.info("flushing all buffer forcedly")
        threads = [threading.Thread(target=o.force_flush, daemon=True) for o in self.outputs]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        log.debug("flushing thread: flushed")

    def shutdown(self, sig):
        log = self.log
        log.debug("fluentd main process get %s" % sig)
        log.debug("getting start to shutdown main process")
        log.info("fluentd worker is now stopping", {"worker": self.id})
        log.info("shutting down fluentd worker", {"worker": self.id})

        def desc(p):
            if isinstance(p, S3Output):
                return "output plugin", {"type": Symbol("s3"), "plugin_id": p.plugin_id}
            t = "forward" if isinstance(p, ForwardInput) else "monitor_agent"
            return "input plugin", {"type": Symbol(t), "plugin_id": p.plugin_id}

        plugins = self.inputs + self.outputs
        for p in plugins:
            kind, kv = desc(p)
            log.debug("calling stop on %s" % kind, kv)
        for p in self.inputs:
            p.stop()
        for p in self.inputs:
            kind, kv = desc(p)
            log.debug("preparing shutdown %s" % kind, kv)
        for p in self.inputs:
            kind, kv = desc(p)
            log.info("shutting down %s" % kind, kv)
        for o in self.outputs:
            kind, kv = desc(o)
            log.debug("preparing shutdown %s" % kind, kv)
            o.before_shutdown()
            log.info("shutting down %s" % kind, kv)
        for p in plugins:
            kind, kv = desc(p)
            log.debug("calling after_shutdown on %s" % kind, kv)
            if isinstance(p, S3Output):
                p.after_shutdown()
        for p in plugins:
            kind, kv = desc(p)
            log.debug("closing %s" % kind, kv)
            if isinstance(p, S3Output):
                log.debug("closing buffer", {"instance": self.texts["buffer_instance"]}, plugin=p.plog)
        for p in plugins:
            kind, kv = desc(p)
            log.debug("calling terminate on %s" % kind, kv)


def output_config_warnings(cfg, ocfg):
    """out_s3's configure-time warnings: (with plugin header?, text)."""
    out = []
    if ocfg["force_path_style"]:
        out.append((False, sim_texts.FORCE_PATH_STYLE_WARNING))
    if not ocfg["check_object"]:
        if ocfg["key_format"] is not None:
            out.append((True, sim_texts.CHECK_OBJECT_FALSE_KEY_WARNING))
        else:
            out.append((True, sim_texts.CHECK_OBJECT_FALSE_WARNING))
    if ocfg["key_format"] is None:
        out.append((True, sim_texts.DEFAULT_KEY_WARNING))
    key = ocfg["key_format"] or S3Output.DEFAULT_KEY
    parallel = int(ocfg["buffer"]["flush_thread_count"]) > 1 or int(cfg["workers"]) > 1
    if parallel and not any(k in key for k in ("${chunk_id}", "%{uuid_flush}", "%{hex_random}")):
        out.append((True, sim_texts.PARALLEL_KEY_WARNING))
    return out


def worker_main(cfg, config_path, log_path, worker_id):
    os.environ.setdefault("AWS_CONFIG_FILE", "/dev/null")
    os.environ.setdefault("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
    os.environ["AWS_EC2_METADATA_DISABLED"] = "true"
    w = Worker(cfg, config_path, log_path, worker_id)
    w.run()
    # Stopped and every line written (the logger writes straight to its fd): skip the interpreter's
    # teardown (~0.3 s of freeing boto3), so that `Worker N finished with status 0` follows at once.
    os._exit(0)
