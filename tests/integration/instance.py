"""One simulated EC2 instance for end-to-end tests: a real systemd (tests/bed/nsbed.py) running the Fluentd
simulator as the packaged unit (td-agent.service or fluentd.service), an S3 server on loopback, and the
real fluent-flush binary run inside the bed over nsenter.

    with Instance(tmp_path, workers=2) as inst:
        ids = inst.emit(300)
        r = inst.flush()                   # runs fluent-flush in the bed; r.rc, r.result (JSON), r.stderr
        assert r.rc == 0 and ids <= inst.s3.record_ids()
"""
import contextlib
import os
import subprocess
import time

from ffpaths import Result, helper_binary
from bed.nsbed import SystemdBed
from bed.s3 import S3Server
from bed.sim import FluentdSim, sim_config

FLAVOR_UNIT = {"td-agent4": "td-agent.service", "fluent-package5": "fluentd.service"}
FLAVOR_DIR = {"td-agent4": "td-agent", "fluent-package5": "fluent"}


class Instance:
    def __init__(self, tmp_path, name="i", *, flavor="td-agent4", start=True, **cfg):
        self.tmp = str(tmp_path)
        self.name = name
        self.flavor = flavor
        self.cfg = cfg
        self.start_agent = start
        self.stack = contextlib.ExitStack()
        self.workdir = os.path.join(self.tmp, name)
        os.makedirs(self.workdir, exist_ok=True)
        os.chmod(self.tmp, 0o755)
        self.buffer_path = f"/var/lib/{FLAVOR_DIR[flavor]}/buffer"
        self.log_file = f"/var/log/{FLAVOR_DIR[flavor]}/{'td-agent' if flavor == 'td-agent4' else 'fluentd'}.log"
        self.unit = FLAVOR_UNIT[flavor]

    def __enter__(self):
        try:
            self.s3 = self.stack.enter_context(S3Server(os.path.join(self.workdir, "s3")))
            self.s3.create_bucket()
            cfg = dict(self.cfg)
            buffer_type = cfg.pop("buffer_type", "file")
            buf = dict(cfg.pop("buffer", {}) or {})
            if buffer_type == "file":
                buf.setdefault("path", self.buffer_path)
            self.config = sim_config(self.workdir, self.s3, buffer_type=buffer_type, buffer=buf,
                                     root_dir=os.path.join(self.workdir, "root"), **cfg)
            self.sim = FluentdSim(self.config, self.workdir)     # writes the config + faults; not started here
            self.bed = self.stack.enter_context(SystemdBed(self.tmp, name=self.name))
            uid = self.bed.user_id(FLAVOR_USER[self.flavor])
            for p in (self.workdir, os.path.join(self.workdir, "root")):
                os.makedirs(p, exist_ok=True)
                os.chown(p, uid, uid)
            self.agent = self.bed.install_agent(self.unit.split(".")[0], self.sim.config_path, flavor=self.flavor)
            if self.start_agent:
                self.start()
            return self
        except BaseException:
            self.stack.close()
            raise

    def __exit__(self, *exc):
        self.stack.close()

    # -- the agent
    def start(self):
        r = self.bed.systemctl("start", self.unit, timeout=60)
        if r.returncode != 0:
            raise AssertionError(f"{self.unit} did not start: {r.stderr}\n{self.bed.journal(self.unit, 40)}\n"
                                 f"{self.log_text()[-3000:]}")
        for w in range(self.config.get("workers", 1)):       # workers come up in any order
            self.wait_log(r"fluentd worker is now running worker=%d\b" % w)

    def stop_agent(self):
        return self.bed.systemctl("stop", self.unit, timeout=60)

    def host(self, path):
        return self.bed.host_path(path)

    def log_text(self):
        try:
            with open(self.host(self.log_file), "rb") as f:
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def wait_log(self, pattern, count=1, timeout=30):
        import re
        deadline = time.monotonic() + timeout
        while len(re.findall(pattern, self.log_text())) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {count} x {pattern!r}; log tail:\n{self.log_text()[-4000:]}")
            time.sleep(0.05)

    def emit(self, n, worker=0, payload=100):
        # a worker logs "running" a moment before its input listens: retry a refused connection briefly
        deadline = time.monotonic() + 10
        records = self.sim.records(n, payload=payload)
        while True:
            try:
                return self.sim.emit(records, worker=worker)
            except ConnectionRefusedError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def chunk_files(self):
        out = []
        for root, _, files in os.walk(self.host(self.buffer_path)):
            out += [f for f in files if f.startswith("buffer.") and f.endswith(".log")]
        return sorted(out)

    def faults(self, **kw):
        self.sim.set_faults(**kw)

    # -- the helper
    def argv(self, *extra, monitor=None, buffer=None, unit=True, timeout=30):
        a = [helper_binary()]
        if unit:
            a += ["--unit", self.unit]
        use_monitor = self.config.get("monitor_agent") is not None if monitor is None else monitor
        if use_monitor:
            a += ["--monitor-url", "http://127.0.0.1:%d" % self.config["monitor_agent"]["port"]]
        else:
            a += ["--no-monitor"]
        use_buffer = self.config["outputs"][0]["buffer"]["type"] == "file" if buffer is None else buffer
        if use_buffer:
            a += ["--buffer-path", self.buffer_path]
        a += ["--timeout", str(timeout)]
        return a + list(extra)

    def flush(self, *extra, timeout=30, **kw):
        proc = self.bed.run(self.argv(*extra, timeout=timeout, **kw), timeout=timeout + 30)
        return Result(proc)

    def popen(self, *extra, timeout=30, **kw):
        return self.bed.popen(self.argv(*extra, timeout=timeout, **kw))


FLAVOR_USER = {"td-agent4": "td-agent", "fluent-package5": "_fluentd"}


def result_of(proc, timeout=60):
    out, err = proc.communicate(timeout=timeout)
    return Result(subprocess.CompletedProcess(proc.args, proc.returncode, out.decode() if isinstance(out, bytes) else out,
                                              err.decode() if isinstance(err, bytes) else err))
