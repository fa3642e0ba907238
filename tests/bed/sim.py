"""Python API over the Fluentd simulator (tests/bed/fluentd-sim) for tests.

    with S3Server() as s3, FluentdSim(sim_config(tmp, s3, workers=2, buffer_type="file"), tmp) as fd:
        s3.create_bucket()
        fd.start()
        ids = fd.emit(fd.records(300), worker=0)
        fd.usr1()                                   # to the supervisor, like `kill -USR1 <pid file>`
        fd.wait_for_log(r"completed to write chunk")
        assert ids <= s3.record_ids()
"""
import json
import os
import random
import re
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
import uuid

BED = os.path.dirname(os.path.abspath(__file__))
SIM = os.path.join(BED, "fluentd-sim")

try:
    from . import sim_msgpack as mp
except ImportError:
    import sim_msgpack as mp


def free_port_block(n, host="127.0.0.1", tries=200):
    """A base port P such that P .. P+n-1 are all free (worker N listens on P + N).

    Chosen below the kernel's ephemeral range (ip_local_port_range, 32768-60999 by default): a port that
    bind(0) handed out there can be taken as the local port of an outgoing connection before the
    simulator binds it, and a worker that cannot listen dies at start-up."""
    for _ in range(tries):
        base = random.randrange(20000, 32700 - n)
        socks = []
        try:
            for i in range(n):
                t = socket.socket()
                t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                t.bind((host, base + i))
                socks.append(t)
            return base
        except OSError:
            continue
        finally:
            for t in socks:
                t.close()
    raise RuntimeError("no free block of %d ports" % n)


def sim_config(workdir, s3=None, *, version="1.14", workers=1, log_level="info", log_format="text",
               time_format=None, rpc=True, monitor=True, buffer_type="file", output_log_level="debug",
               output_id="out_s3", path="logs/", key_format=None, check_object=True, buffer=None,
               force_path_style=True, bucket=None, endpoint=None, **extra):
    """A config dict for the simulator with free ports, a buffer dir and a faults file under workdir."""
    buf = {"type": buffer_type}
    if buffer_type == "file":
        buf["path"] = os.path.join(workdir, "buffer")
    buf.update(buffer or {})
    out = {"id": output_id, "log_level": output_log_level,
           "bucket": bucket or (s3.bucket if s3 else "fluentd-logs"),
           "endpoint": endpoint or (s3.endpoint if s3 else "http://127.0.0.1:9"),
           "access_key": "S3RVER", "secret_key": "S3RVER", "force_path_style": force_path_style,
           "path": path, "key_format": key_format, "check_object": check_object, "buffer": buf}
    cfg = {"version": version, "workers": workers, "log_level": log_level, "log_format": log_format,
           "rpc_endpoint": "127.0.0.1:%d" % free_port_block(1) if rpc else None,
           "monitor_agent": {"port": free_port_block(workers)} if monitor else None,
           "input": {"port": free_port_block(workers)},
           "outputs": [out],
           "root_dir": os.path.join(workdir, "root"),
           "faults_file": os.path.join(workdir, "faults.json")}
    if time_format:
        cfg["time_format"] = time_format
    cfg.update(extra)
    return cfg


class FluentdSim:
    def __init__(self, config, workdir, log_name="fluentd.log"):
        self.config = config
        self.workdir = workdir
        os.makedirs(workdir, exist_ok=True)
        self.config_path = os.path.join(workdir, "fluentd-sim.json")
        self.log_path = os.path.join(workdir, log_name)
        self.pid_file = os.path.join(workdir, "fluentd.pid")
        self.proc = None
        self.supervisor_pid = None
        self.daemon = False
        self.write_config()
        if config.get("faults_file"):
            self.set_faults()

    # -- config and faults
    def write_config(self):
        with open(self.config_path, "w") as f:
            json.dump(self.config, f, indent=2)

    def set_faults(self, **faults):
        """Write the faults file (re-read by the simulator on every upload attempt and signal)."""
        path = self.config["faults_file"]
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(faults, f)
        os.replace(tmp, path)

    # -- process
    def start(self, daemon=False, wait=True, timeout=30):
        self.daemon = daemon
        offset = self.log_size()
        cmd = [SIM, "-c", self.config_path, "--log", self.log_path]
        if daemon:
            rc = subprocess.run(cmd + ["--daemon", self.pid_file], stdin=subprocess.DEVNULL,
                                timeout=timeout).returncode
            if rc != 0:
                raise RuntimeError("fluentd-sim --daemon exited %d" % rc)
            with open(self.pid_file) as f:
                self.supervisor_pid = int(f.read().strip())
        else:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, start_new_session=True)
            self.supervisor_pid = self.proc.pid
        if wait:
            deadline = time.monotonic() + timeout
            for w in range(self.config.get("workers", 1)):
                while not self.count(r"fluentd worker is now running worker=%d\b" % w, offset):
                    if not self.alive():      # fail at once, not after the timeout
                        raise RuntimeError("fluentd-sim exited before worker %d ran (exit code %s); log tail:\n%s"
                                           % (w, self.proc.poll() if self.proc else None,
                                              "\n".join(self.log_lines(offset)[-20:])))
                    if time.monotonic() > deadline:
                        raise AssertionError("timed out after %ss waiting for worker %d to run; log tail:\n%s"
                                             % (timeout, w, "\n".join(self.log_lines(offset)[-40:])))
                    time.sleep(0.05)
        return self

    def alive(self):
        if self.proc is not None:
            return self.proc.poll() is None
        if self.supervisor_pid is None:
            return False
        try:
            with open("/proc/%d/stat" % self.supervisor_pid) as f:
                return f.read().split(") ", 1)[1][0] != "Z"
        except (OSError, IndexError):
            return False

    def stop(self, timeout=60):
        """SIGTERM to the supervisor (graceful stop) and wait; returns the supervisor's exit code
        (None when daemonized)."""
        if self.supervisor_pid is None:
            return None
        try:
            os.kill(self.supervisor_pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        rc = None
        if self.proc is not None:
            try:
                rc = self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
                raise
        else:
            deadline = time.monotonic() + timeout
            while self.alive() and time.monotonic() < deadline:
                time.sleep(0.05)
            if self.alive():
                self.kill()
                raise RuntimeError("supervisor did not stop")
        self.kill()
        return rc

    def kill(self):
        """SIGKILL to the whole process group (supervisor and workers): cleanup."""
        if self.supervisor_pid is None:
            return
        try:
            os.killpg(self.supervisor_pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        if self.proc is not None:
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                pass
        self.supervisor_pid = None if self.proc is None or self.proc.poll() is not None else self.supervisor_pid

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.kill()

    # -- signals and RPC
    def worker_pids(self):
        """{worker id: pid} of the current workers (from the log's `starting fluentd worker` lines)."""
        pids = {}
        for m in re.finditer(r"starting fluentd worker pid=(\d+) ppid=(\d+) worker=(\d+)", self.log_text()):
            pids[int(m.group(3))] = int(m.group(1))
        return pids

    def usr1(self, worker=None):
        """SIGUSR1 to the supervisor (worker=None) or straight to one worker."""
        pid = self.supervisor_pid if worker is None else self.worker_pids()[worker]
        os.kill(pid, signal.SIGUSR1)

    def rpc_flush(self, timeout=10):
        """GET /api/plugins.flushBuffers: (status, body bytes)."""
        url = "http://%s/api/plugins.flushBuffers" % self.config["rpc_endpoint"]
        try:
            with urllib.request.urlopen(url, timeout=timeout) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    def monitor(self, worker=0, query="", timeout=10):
        port = int(self.config["monitor_agent"]["port"]) + worker
        url = "http://127.0.0.1:%d/api/plugins.json%s" % (port, ("?" + query) if query else "")
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return json.loads(r.read())

    def output_monitor(self, worker=0, plugin_id=None):
        for p in self.monitor(worker)["plugins"]:
            if p["plugin_category"] == "output" and (plugin_id is None or p["plugin_id"] == plugin_id):
                return p
        raise KeyError("no output plugin in monitor_agent")

    # -- records
    @staticmethod
    def records(n, prefix=None, payload=100):
        """n records, each with a unique "id" and ~payload bytes of message."""
        prefix = prefix or uuid.uuid4().hex[:8]
        return [{"id": "%s-%06d" % (prefix, i), "message": ("x" * payload)} for i in range(n)]

    def emit(self, records, worker=0, tag="app.test", timeout=10):
        """Send records with in_forward (Forward mode, with an ack) to one worker; returns their ids.
        When this returns, the records are in that worker's buffer."""
        port = int(self.config["input"]["port"]) + worker
        chunk = uuid.uuid4().hex
        now = time.time()
        msg = [tag, [[mp.event_time(now), r] for r in records], {"chunk": chunk, "size": len(records)}]
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.sendall(mp.packb(msg))
            up = mp.Unpacker()
            while True:
                data = s.recv(4096)
                if not data:
                    raise RuntimeError("in_forward closed the connection without an ack")
                up.feed(data)
                for reply in up:
                    if isinstance(reply, dict) and reply.get("ack") == chunk:
                        return {r["id"] for r in records if "id" in r}

    # -- the log
    def log_size(self):
        try:
            return os.path.getsize(self.log_path)
        except FileNotFoundError:
            return 0

    def log_text(self, start=0):
        try:
            with open(self.log_path, "rb") as f:
                f.seek(start)
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def log_lines(self, start=0):
        return self.log_text(start).splitlines()

    def count(self, pattern, start=0):
        return len(re.findall(pattern, self.log_text(start)))

    def wait_for_log(self, pattern, count=1, start=0, timeout=30):
        """Wait until `pattern` (regex) occurs `count` times in the log after byte offset `start`."""
        deadline = time.monotonic() + timeout
        while True:
            n = self.count(pattern, start)
            if n >= count:
                return n
            if time.monotonic() > deadline:
                raise AssertionError("timed out after %ss waiting for %d x %r in %s; log tail:\n%s"
                                     % (timeout, count, pattern, self.log_path,
                                        "\n".join(self.log_lines()[-40:])))
            time.sleep(0.05)

    # -- buffer files
    def buffer_dir(self, worker=0, output=0):
        b = self.config["outputs"][output]["buffer"]
        if b.get("type") != "file":
            return None
        if self.config.get("workers", 1) > 1:
            return os.path.join(b["path"], "worker%d" % worker)
        return b["path"]

    def buffer_files(self, worker=0, output=0):
        d = self.buffer_dir(worker, output)
        if not d or not os.path.isdir(d):
            return []
        return sorted(n for n in os.listdir(d) if n.startswith("buffer."))

    def chunk_ids(self, worker=0, output=0):
        return {m.group(1) for n in self.buffer_files(worker, output)
                for m in [re.fullmatch(r"buffer\.[bq]([0-9a-f]{32})\.log", n)] if m}
