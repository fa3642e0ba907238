"""An S3 server for tests: s3rver (tests/node_modules) on 127.0.0.1, a free port and a private data dir,
driven with boto3 (Debian's python3-boto3, the real AWS client).

    with S3Server() as s3:
        s3.create_bucket()
        ... point the Fluentd simulator at s3.endpoint ...
        s3.stop(); s3.start()          # "S3 down", then "back" (same port, same data)
        ids = s3.record_ids()          # every record id in every object of the bucket
"""
import gzip
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

TESTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
S3RVER = os.path.join(TESTS, "node_modules", ".bin", "s3rver")
ACCESS_KEY = "S3RVER"
SECRET_KEY = "S3RVER"
DEFAULT_BUCKET = "fluentd-logs"


def free_port(host="127.0.0.1"):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind((host, 0))
        return s.getsockname()[1]
    finally:
        s.close()


def port_open(port, host="127.0.0.1", timeout=0.2):
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


class S3Server:
    def __init__(self, workdir=None, bucket=DEFAULT_BUCKET, port=None):
        if not os.access(S3RVER, os.X_OK):
            raise RuntimeError(f"s3rver not installed at {S3RVER}: run tests/deps.sh (npm ci)")
        self._own_dir = workdir is None
        self.workdir = workdir or tempfile.mkdtemp(prefix="ff-s3-")
        self.data_dir = os.path.join(self.workdir, "s3-data")
        os.makedirs(self.data_dir, exist_ok=True)
        self.bucket = bucket
        self.port = port or free_port()
        self.proc = None
        self._log = None

    @property
    def endpoint(self):
        return f"http://127.0.0.1:{self.port}"

    # -- process
    def start(self, timeout=20):
        """Start (or restart after stop()) on the same port with the same data dir."""
        if self.proc is not None and self.proc.poll() is None:
            return self
        self._log = open(os.path.join(self.workdir, "s3rver.log"), "ab")
        deadline = time.monotonic() + timeout
        while True:
            self.proc = subprocess.Popen(
                [S3RVER, "-d", self.data_dir, "-a", "127.0.0.1", "-p", str(self.port), "--silent"],
                stdin=subprocess.DEVNULL, stdout=self._log, stderr=self._log, start_new_session=True)
            while time.monotonic() < deadline and self.proc.poll() is None:
                if port_open(self.port):
                    return self
                time.sleep(0.05)
            if self.proc.poll() is None or time.monotonic() >= deadline:
                break
            time.sleep(0.2)     # the port may still be held by the previous instance: try again
        self.stop()
        raise RuntimeError(f"s3rver did not start on port {self.port} (see {self.workdir}/s3rver.log)")

    def stop(self, timeout=10):
        """Stop the server (fault "S3 unreachable": connections to the port are refused)."""
        p, self.proc = self.proc, None
        if p is not None and p.poll() is None:
            try:
                os.killpg(p.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                p.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
        if self._log:
            self._log.close()
            self._log = None
        deadline = time.monotonic() + timeout
        while port_open(self.port) and time.monotonic() < deadline:
            time.sleep(0.05)

    def restart(self):
        self.stop()
        return self.start()

    @property
    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def close(self):
        self.stop()
        if self._own_dir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close()

    # -- boto3
    def client(self):
        import boto3
        from botocore.config import Config
        return boto3.session.Session().client(
            "s3", endpoint_url=self.endpoint, region_name="us-east-1", aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
            config=Config(s3={"addressing_style": "path"}, retries={"total_max_attempts": 2, "mode": "standard"},
                          connect_timeout=5, read_timeout=30))

    def create_bucket(self, bucket=None):
        self.client().create_bucket(Bucket=bucket or self.bucket)
        return bucket or self.bucket

    def list_objects(self, bucket=None, prefix=""):
        """[{"key", "size", "last_modified"}] sorted by key."""
        c = self.client()
        out = []
        for page in c.get_paginator("list_objects_v2").paginate(Bucket=bucket or self.bucket, Prefix=prefix):
            for o in page.get("Contents", []):
                out.append({"key": o["Key"], "size": o["Size"], "last_modified": o["LastModified"]})
        return sorted(out, key=lambda o: o["key"])

    def get_object(self, key, bucket=None):
        return self.client().get_object(Bucket=bucket or self.bucket, Key=key)["Body"].read()

    def object_records(self, key, bucket=None):
        """Decode one object written by out_s3 (gzip of out_file lines `time<TAB>tag<TAB>json`)."""
        raw = self.get_object(key, bucket)
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
        out = []
        for line in raw.decode("utf-8").splitlines():
            if not line:
                continue
            t, tag, rec = line.split("\t", 2)
            out.append((t, tag, json.loads(rec)))
        return out

    def all_records(self, bucket=None, prefix=""):
        """{key: [(time, tag, record), ...]} for every object."""
        return {o["key"]: self.object_records(o["key"], bucket) for o in self.list_objects(bucket, prefix)}

    def record_ids(self, bucket=None, prefix="", field="id"):
        """The set of record ids (record[field]) found in all objects."""
        ids = set()
        for recs in self.all_records(bucket, prefix).values():
            for _, _, r in recs:
                if field in r:
                    ids.add(r[field])
        return ids
