#!/usr/bin/python3
"""`make demo`: one scale-in on the local test bed, start to finish.

A real systemd (in its own namespaces) runs the Fluentd simulator as td-agent.service with two workers
and a file buffer; records go in; then fluent-flush runs inside, as SSM Run Command would run it, and
proves that every buffered chunk reached the S3 server on loopback."""
import json
import os
import sys
import tempfile
import time

TESTS = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, TESTS)
sys.path.insert(0, os.path.join(TESTS, "integration"))

from instance import Instance  # noqa: E402


def say(msg=""):
    print(msg, flush=True)


def main():
    if os.geteuid() != 0:
        sys.exit("make demo: the test bed starts a systemd in its own namespaces and needs root")
    with tempfile.TemporaryDirectory(prefix="ff-demo-") as tmp:
        say("== Starting the bed: systemd (own pid/mount namespaces), td-agent.service (Fluentd simulator,")
        say("   2 workers, file buffer, ${chunk_id} keys), S3 server on 127.0.0.1")
        t0 = time.monotonic()
        with Instance(tmp, name="demo", workers=2,
                      key_format="%{path}%{time_slice}_${chunk_id}.%{file_extension}") as inst:
            say(f"   up in {time.monotonic() - t0:.1f} s; td-agent.service MainPID {inst.bed.main_pid(inst.unit)}")
            ids = inst.emit(500, worker=0) | inst.emit(500, worker=1)
            say(f"== {len(ids)} log records buffered; chunk files on the instance:")
            for f in inst.chunk_files():
                say(f"   {f}")
            say(f"   objects in s3://{inst.s3.bucket}: {len(inst.s3.list_objects())}")
            say()
            cmd = inst.argv(timeout=60)
            say("== Scale-in. Run Command runs on the instance:")
            say("   " + " ".join(["fluent-flush"] + cmd[1:]))
            say()
            t1 = time.monotonic()
            r = inst.flush(timeout=60)
            took = time.monotonic() - t1
            sys.stderr.write(r.stderr)
            say(json.dumps({k: r.result[k] for k in list(r.result)[:13]}, indent=2))
            say()
            got = inst.s3.record_ids()
            say(f"== exit code {r.rc} ({r.result['verdict']}) after {took:.1f} s")
            say(f"   S3 now holds {len(ids & got)} of the {len(ids)} records, in {len(inst.s3.list_objects())} objects;"
                f" chunk files left: {len(inst.chunk_files())}")
            say(f"   The fixed-wait workaround would have slept 300 s and never checked.")
            if r.rc != 0 or ids - got:
                sys.exit("demo: the flush was not confirmed")


if __name__ == "__main__":
    main()
