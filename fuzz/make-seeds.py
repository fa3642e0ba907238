#!/usr/bin/python3
"""make-seeds.py — (re)write the small seed corpora in fuzz/corpus/<target>/ from ../shared/fixtures.

Usage: fuzz/make-seeds.py [FIXTURES_DIR]   (default: the repository's ../shared/fixtures)
Seeds stay small: one line per distinct log message (text and JSON), a few monitor replies, argv
vectors from the README, and event sequences for the state machine (the encoding is described at the
top of fuzz/fuzz_flush.c). The asg_xml and imds_creds seeds are written by hand.
"""
import hashlib
import json
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)


def write(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


# --- log lines: the first line of every kind of message, per fixture, and its JSON-format twin
MESSAGES = [
    "force flushing buffered events", "flushing all buffer forcedly", "flushing thread: flushed",
    "get SIGUSR1", "Created new chunk", "out_s3: write chunk", "out_s3: completed to write chunk",
    "failed to flush the buffer", "taking back chunk", "retry succeeded", "Hit limit for retries",
    "hit limit for retries", "bad chunk is moved", "evacuated", "thrown away", "dropping oldest chunk",
    "unrecoverable error", "slow_flush_log_threshold", "starting fluentd", "adding match",
    "  ", "</ROOT>", "#0 ", "[error]", "[fatal]", "[trace]",
]
LINE_RE = re.compile(r"^(?P<time>.+?) \[(?P<level>[a-z]+)\]: (?P<msg>.*)$")


def log_seeds(fixtures):
    seen = set()
    root = os.path.join(fixtures, "fluentd")
    for case in sorted(os.listdir(root)):
        path = os.path.join(root, case, "fluentd.log")
        if not os.path.isfile(path):
            continue
        with open(path, "rb") as f:
            lines = f.read().split(b"\n")
        for raw in lines:
            line = raw.decode("utf-8", "replace")
            for m in MESSAGES:
                if m in line and (case, m) not in seen and len(raw) < 2048:
                    seen.add((case, m))
                    name = hashlib.sha1(raw).hexdigest()[:16]
                    write("fluentlog", "%s-%s" % (case, name), raw)
                    g = LINE_RE.match(line)
                    if g:  # the same event as <log> format json prints it
                        wid = re.match(r"#(\d+) (.*)$", g["msg"])
                        doc = {"time": g["time"], "level": g["level"],
                               "message": wid.group(2) if wid else g["msg"]}
                        if wid:
                            doc["worker_id"] = int(wid.group(1))
                        js = json.dumps(doc, separators=(",", ":")).encode()
                        write("fluentlog", "%s-%s-json" % (case, name), js)
                    break


def monitor_seeds(fixtures):
    picks = ["1-normal-debug/monitor_before_flush.json", "3-s3-down-info/monitor_down_plus10s.json",
             "4-multi-worker-chunkid/monitor_before_flush_port24221.json",
             "v1.16.11-3-s3-down-debug/monitor_down_plus3s.json", "5-large-buffer-msfmt/monitor_during_002.json"]
    for p in picks:
        src = os.path.join(fixtures, "fluentd", p)
        if os.path.isfile(src):
            with open(src, "rb") as f:
                write("monitor", p.replace("/", "-"), f.read())


def args_seeds():
    vecs = [
        ["flush"],
        ["flush", "--timeout", "120", "--ack-timeout", "15", "--via", "signal", "--log-format", "auto",
         "--monitor-url", "http://127.0.0.1:24220", "--buffer-path", "/var/lib/td-agent/buffer", "--quiet"],
        ["status", "--unit", "td-agent.service", "--plugin-id", "out_s3", "--workers", "2", "-v"],
        ["watch", "--lifecycle-hook", "drain", "--asg", "web-asg", "--instance-id", "i-0123456789abcdef0",
         "--heartbeat", "60", "--on-failure", "CONTINUE", "--region", "eu-west-1",
         "--imds-url", "http://169.254.169.254", "--autoscaling-url", "https://127.0.0.1:4443/",
         "--ca-file", "/etc/ssl/ca.pem", "--poll-interval", "2.5"],
        ["--pid", "1234", "--log-file", "/var/log/td-agent/td-agent.log", "--no-monitor",
         "--token", "bcd2f1b8-9a36-4b53-a6e4-0123456789ab", "--monitor-interval", "0.25"],
        ["--via", "rpc", "--rpc-url", "http://127.0.0.1:24444", "--pid-file", "/run/td-agent.pid"],
        ["--help"], ["-V"], ["-qv", "--timeout"],
    ]
    for i, v in enumerate(vecs):
        write("args", "argv-%d" % i, b"\0".join(a.encode() for a in v))


# --- event sequences for fuzz_flush.c
KINDS = ("NONE CONTINUATION SIGUSR1 ACK FLUSHING_ALL THREAD_FLUSHED CHUNK_CREATED WRITE COMPLETED "
         "FLUSH_FAILED SECONDARY_FAILED TAKE_BACK RETRY_SUCCEEDED RETRY_SUCCEEDED_SECONDARY RETRY_LIMIT "
         "BACKUP EVACUATED THROWN_AWAY OVERFLOW_DROP UNRECOVERABLE SLOW_FLUSH").split()
K = {k: i for i, k in enumerate(KINDS)}
FILES, MONITOR, PLUGINS = 4, 8, 32


def chunk(idx, worker=0, queued=False, kb=10, dt=0):
    return bytes([dt << 4 | 0, (0x80 if queued else 0) | (worker % 4) << 3 | idx, kb])


def output(worker=0, plugin=0, queue=1, stage=0, writes=0, rollbacks=0, retry=False, dt=0):
    a = queue | (queue << 2) | (0xc0 if retry else 0)
    return bytes([dt << 4 | 1, worker, plugin, a, stage | (stage << 2), writes | rollbacks << 4])


def signal(dt=0):
    return bytes([dt << 4 | 2])


def log(kind, worker=0, idx=None, key=0, plugin=1, error=False, retry_time=False, dt=1):
    c = 15 if idx is None else idx
    x = plugin | key << 2 | (0x10 if error else 0) | (0x20 if retry_time else 0)
    return bytes([dt << 4 | 3, K[kind], worker, c, x])


def files(present=(), queued=(), dt=1):
    mask = sum(1 << i for i in present)
    q = sum(1 << i for i in queued)
    return bytes([dt << 4 | 6, mask, q, 0])


def sample(worker, outs, dt=1):
    b = bytes([dt << 4 | 7, worker, len(outs)])
    for o in outs:
        b += bytes(o)
    return b


def mon(plugin=0, queue=0, stage=0, writes=0, rollbacks=0, retry=False):
    a = queue | (queue << 2) | (0xc0 if retry else 0)
    return [plugin, a, stage | (stage << 2), writes | rollbacks << 4]


def evaluate(deadline=False, dt=1):
    return bytes([dt << 4 | 11, 1 if deadline else 0])


def flush_seeds():
    seqs = {
        "files-confirmed": bytes([FILES]) + chunk(0) + chunk(1, queued=True) + signal() + log("ACK", idx=None)
        + log("WRITE", idx=0, key=1) + log("COMPLETED", idx=0, key=1) + files([1], [1]) + evaluate()
        + log("WRITE", idx=1, key=2) + log("COMPLETED", idx=1, key=2) + files([]) + evaluate(),
        "files-s3-down": bytes([FILES]) + chunk(0) + chunk(1) + signal() + log("ACK")
        + log("FLUSH_FAILED", idx=0, error=True, retry_time=True) + files([0, 1], [0, 1]) + evaluate()
        + log("FLUSH_FAILED", idx=0, error=True, retry_time=True, dt=8) + evaluate(deadline=True),
        "files-backup": bytes([FILES]) + chunk(0) + chunk(1) + signal() + log("ACK")
        + files([1]) + log("BACKUP", idx=0, error=True) + evaluate() + files([]) + evaluate(),
        "files-retry-limit-2w": bytes([FILES | 1]) + chunk(0, 0) + chunk(1, 1) + signal() + log("ACK", 0)
        + log("ACK", 1) + log("RETRY_LIMIT", 0) + files([]) + evaluate(),
        "files-overwrite": bytes([FILES | 1 | PLUGINS]) + chunk(0, 0) + chunk(1, 1) + signal()
        + log("COMPLETED", 0, 0, key=1) + log("COMPLETED", 1, 1, key=3) + files([]) + evaluate(),
        "files-no-ack": bytes([FILES]) + chunk(0) + signal() + evaluate(dt=15) + evaluate(dt=15),
        "monitor-drained": bytes([MONITOR]) + output(0, 0, queue=1, writes=2) + signal() + log("ACK")
        + log("WRITE", idx=None) + sample(0, [mon(0, queue=1, writes=2)]) + evaluate()
        + sample(0, [mon(0, queue=0, writes=3)]) + evaluate(),
        "monitor-retry": bytes([MONITOR | FILES]) + chunk(2) + output(0, 0, queue=1, writes=1) + signal()
        + log("FLUSH_FAILED", idx=2, error=True) + sample(0, [mon(0, 1, writes=2, rollbacks=1, retry=True)])
        + evaluate() + evaluate(deadline=True, dt=15),
        "monitor-loss": bytes([MONITOR | 1]) + output(0, 0, queue=1) + output(1, 0, queue=1) + signal()
        + log("OVERFLOW_DROP", 1, 9) + sample(0, [mon(0, writes=1)]) + sample(1, [mon(0, writes=1)])
        + evaluate(),
        "log-only": bytes([0]) + signal() + log("ACK") + log("WRITE", idx=4, key=1)
        + log("COMPLETED", idx=4, key=1) + evaluate() + bytes([8]) + evaluate(deadline=True),
        "flood": bytes([MONITOR]) + output(0, 0, queue=1) + signal() + bytes([10, 200, 0, 0xf1, 0x0d])
        + log("BACKUP", idx=3) + sample(0, [mon(0, writes=1)]) + evaluate(),
    }
    for name, b in seqs.items():
        write("flush", name, b)


def main():
    fixtures = sys.argv[1] if len(sys.argv) > 1 else os.path.join(REPO, "..", "shared", "fixtures")
    log_seeds(fixtures)
    monitor_seeds(fixtures)
    args_seeds()
    flush_seeds()


if __name__ == "__main__":
    main()
