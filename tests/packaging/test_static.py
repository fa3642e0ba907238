"""The static binary of `make static`: static by `file`, `ldd` and its ELF headers; only the five known
linker warnings; no NSS or dlopen in our own objects nor in the libcurl.a built from Debian's source; its
size; it runs in an empty chroot (itself and /proc) — --version, --help, the lifecycle call over HTTPS
with the CA file given by option or SSL_CERT_FILE and a clear error without one — and a full flush
against the test bed by --pid-file, from such a chroot, with the same exit codes and JSON as the
dynamic build."""
import json
import os
import re
import shutil
import ssl
import subprocess

from aws.asg_endpoint import AutoScalingEndpoint
from aws.imds_server import ImdsServer
from ffpaths import helper_binary
from pkgbuild import need, run, static_build  # noqa: F401  (static_build is a fixture)

KNOWN_WARNINGS = {"dlopen", "getaddrinfo", "gethostbyname", "getservbyname", "getservbyport_r"}
FORBIDDEN = re.compile(r"^(getpw|getgr|getaddrinfo$|gethostby|getservby|dlopen$|getlogin)")
PATH_ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
# proc is mounted in a private mount namespace: it goes away with the command, even if a test fails.
CHROOT_SH = 'set -e; r=$0; mount -t proc proc "$r/proc"; exec chroot "$r" "$@"'


def empty_root(tmp_path, static_build, name="root"):
    root = tmp_path / name
    (root / "proc").mkdir(parents=True)
    shutil.copy2(static_build["binary"], root / "fluent-flush")
    return root


def in_chroot(root, *argv, env=None, timeout=60):
    need("unshare", "chroot")
    return run(["/usr/bin/unshare", "--mount", "--propagation", "private", "sh", "-c", CHROOT_SH, root, *argv],
               env=dict(PATH_ENV, **(env or {})), timeout=timeout)


# ------------------------------------------------------------------------------------------ the file

def test_file_and_ldd_say_static(static_build):
    need("file", "ldd", "readelf")
    b = static_build["binary"]
    out = run(["file", "-b", b]).stdout
    assert "static-pie linked" in out and "x86-64" in out and "stripped" in out, out
    r = run(["ldd", b])
    assert "statically linked" in (r.stdout + r.stderr) or "not a dynamic executable" in (r.stdout + r.stderr), r
    assert "=>" not in r.stdout, r.stdout
    head = run(["readelf", "-ld", "--wide", b]).stdout
    assert "INTERP" not in head and "(NEEDED)" not in head, head
    assert "GNU_RELRO" in head and re.search(r"\(FLAGS_1\).*\bNOW\b", head), head      # hardened link


def test_size(static_build):
    """The size is reported (the prototype's non-PIE binary was 5.4 MB stripped; most of it is libcrypto)."""
    size = os.path.getsize(static_build["binary"])
    full = os.path.getsize(static_build["unstripped"])
    print(f"\nstatic fluent-flush: {size / 1e6:.1f} MB stripped, {full / 1e6:.1f} MB with symbols")
    assert 2e6 < size < 12e6, size
    assert size < full


def test_only_the_five_known_linker_warnings(static_build):
    log = open(static_build["link_log"]).read()
    warnings = [l for l in log.splitlines() if "warning" in l.lower()]
    names = set()
    for l in warnings:
        m = re.search(r"Using '(\w+)' in statically linked applications requires at runtime", l)
        assert m, f"a linker warning that is not one of the known five: {l}"
        names.add(m.group(1))
    assert names <= KNOWN_WARNINGS, names - KNOWN_WARNINGS
    assert names, "no linker warnings at all: was the binary really linked statically against libcrypto?"
    # make static echoes the link's stderr: nothing else was printed as a warning
    assert "new linker warnings" not in static_build["make"].stderr


def test_no_nss_or_dlopen_in_our_objects(static_build):
    need("nm")
    objs = sorted(os.path.join(static_build["objs"], f) for f in os.listdir(static_build["objs"]) if f.endswith(".o"))
    assert len(objs) >= 10, objs
    out = run(["nm", "-u", "--format=posix", *objs]).stdout
    bad = sorted({l.split()[0] for l in out.splitlines() if l.split() and FORBIDDEN.match(l.split()[0])})
    assert bad == [], f"our objects call NSS/dlopen functions that need shared libraries at run time: {bad}"
    # the static objects were built without systemd
    assert "sd_bus_" not in out


def test_libcurl_from_debian_source_without_nss(static_build):
    lib = static_build["libcurl"]
    stamp = open(os.path.join(os.path.dirname(os.path.dirname(lib)), ".stamp")).read()
    assert re.search(r"source=7\.88\.1-\d+\+deb12u\d+", stamp), stamp
    out = run(["nm", "-u", "--format=posix", lib]).stdout
    undefined = {l.split()[0] for l in out.splitlines() if l.split() and not l.endswith(":")}
    assert not {s for s in undefined if FORBIDDEN.match(s)}, sorted(s for s in undefined if FORBIDDEN.match(s))
    pc = open(os.path.join(os.path.dirname(lib), "pkgconfig", "libcurl.pc")).read()
    assert 'supported_protocols="HTTP HTTPS"' in pc, pc
    assert "AsynchDNS" in pc and "-lcares" in pc and "-DCURL_STATICLIB" in pc


# ------------------------------------------------------------------------------ in an empty chroot

def test_version_and_help_in_an_empty_chroot(static_build, tmp_path):
    root = empty_root(tmp_path, static_build)
    assert sorted(os.listdir(root)) == ["fluent-flush", "proc"]
    r = in_chroot(root, "/fluent-flush", "--version")
    assert r.returncode == 0 and r.stdout.strip() == f"fluent-flush {static_build['version']}", r
    r = in_chroot(root, "/fluent-flush", "--help")
    assert r.returncode == 0, r
    for opt in ("--pid-file", "--ca-file", "--lifecycle-hook", "--timeout"):
        assert opt in r.stdout
    r = in_chroot(root, "/fluent-flush", "--no-such-option")
    assert r.returncode == 2, r


def test_opens_no_shared_object_in_the_chroot(static_build, tmp_path):
    need("strace")
    root = empty_root(tmp_path, static_build)
    trace = tmp_path / "trace"
    r = run(["/usr/bin/unshare", "--mount", "--propagation", "private", "sh", "-c",
             'set -e; mount -t proc proc "$0/proc"; exec strace -f -qq -e trace=%file -o "$1" chroot "$0" /fluent-flush --help',
             root, trace], env=PATH_ENV)
    assert r.returncode == 0, r
    lines = [l for l in trace.read_text().splitlines() if "execve" not in l or "/fluent-flush" in l]
    after_exec = lines[next(i for i, l in enumerate(lines) if 'execve("/fluent-flush"' in l) + 1:]
    opened = [l for l in after_exec if re.search(r'\.so[".]|nsswitch|/lib', l)]
    assert opened == [], opened


def _certificate(tmp_path):
    need("openssl")
    key, cert = tmp_path / "key.pem", tmp_path / "ca.pem"
    r = run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
             "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"])
    assert r.returncode == 0, r.stderr
    return key, cert


class TlsAutoScalingEndpoint(AutoScalingEndpoint):
    """tests/aws/asg_endpoint.py's Auto Scaling endpoint (SigV4 checked with botocore), over HTTPS."""

    def __init__(self, *a, cert, key, **kw):
        super().__init__(*a, **kw)
        self.cert, self.key = str(cert), str(key)

    def wrap_socket(self, sock):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.cert, self.key)
        return ctx.wrap_socket(sock, server_side=True)

    @property
    def url(self):
        return f"https://{self.host}:{self.port}/"


class StandInAgent:
    """A stand-in Fluentd supervisor (ignores SIGUSR1) with an empty log and buffer dir under `where`."""

    def __init__(self, where):
        self.dir = where
        os.makedirs(os.path.join(where, "buffer"), exist_ok=True)
        open(os.path.join(where, "fluentd.log"), "a").close()
        # like Fluentd, it holds its log open (the helper checks that the log is the agent's); "ready"
        # once it does and SIGUSR1 is ignored
        self.proc = subprocess.Popen(["/usr/bin/python3", "-c", "import signal, sys, time\n"
                                      "log = open(sys.argv[1], 'a')\n"
                                      "signal.signal(signal.SIGUSR1, signal.SIG_IGN)\n"
                                      "print('ready', flush=True)\ntime.sleep(600)\n",
                                      os.path.join(where, "fluentd.log")], stdout=subprocess.PIPE, text=True)
        if self.proc.stdout.readline().strip() != "ready":
            raise AssertionError("the stand-in agent did not start")

    def argv(self, prefix):
        return ["--pid", str(self.proc.pid), "--log-file", f"{prefix}/fluentd.log",
                "--buffer-path", f"{prefix}/buffer", "--no-monitor"]

    def stop(self):
        self.proc.kill()
        self.proc.wait(10)
        self.proc.stdout.close()


def _lifecycle_run(tmp_path, static_build, *, ca, name):
    """Flush a stand-in agent (nothing buffered) and complete the lifecycle action over HTTPS: the static
    binary in an empty chroot (+ the CA file and the agent's files), the dynamic one on the host."""
    key, cert = _certificate(tmp_path)
    root = empty_root(tmp_path, static_build, name)
    shutil.copy2(cert, root / "ca.pem")
    agent = StandInAgent(str(root / "agent"))
    try:
        with ImdsServer() as imds, TlsAutoScalingEndpoint("ASIAFLUENTFLUSHSTATIC", "static-secret", "static-token",
                                                          region=imds.region, cert=cert, key=key) as asg:
            imds.set_credentials("ASIAFLUENTFLUSHSTATIC", "static-secret", "static-token", expires_in=3600)
            asg.add_lifecycle_action("web-asg", "drain", imds.instance_id)
            common = ["--lifecycle-hook", "drain", "--asg", "web-asg", "--imds-url", imds.url,
                      "--autoscaling-url", asg.url, "--timeout", "20"]
            env = {}
            if ca == "option":
                common += ["--ca-file", "/ca.pem"]
            elif ca == "env":
                env = {"SSL_CERT_FILE": "/ca.pem"}
            r = in_chroot(root, "/fluent-flush", *agent.argv("/agent"), *common, env=env)
            static_calls = list(asg.calls)
            asg.add_lifecycle_action("web-asg", "drain", imds.instance_id)
            dyn_env = dict(PATH_ENV, SSL_CERT_FILE=str(cert)) if ca else dict(PATH_ENV)
            d = run([helper_binary(), *agent.argv(str(root / "agent")),
                     *[str(root / "ca.pem") if a == "/ca.pem" else a for a in common]], env=dyn_env, timeout=60)
            # the dynamic run names the agent's files by their host paths, the chroot'ed one from its root
            d.stdout = d.stdout.replace(str(root), "")
            return r, d, static_calls, asg.calls[len(static_calls):]
    finally:
        agent.stop()


def test_lifecycle_over_https_with_ca_file_in_a_chroot(static_build, tmp_path):
    r, d, calls, dcalls = _lifecycle_run(tmp_path, static_build, ca="option", name="root-opt")
    res = json.loads(r.stdout)
    assert r.returncode == 0 and res["verdict"] == "confirmed", (r.returncode, r.stdout, r.stderr)
    done = [c for c in calls if c.action == "CompleteLifecycleAction"]
    assert len(done) == 1 and done[0].signature_ok and done[0].params["LifecycleActionResult"] == "CONTINUE", calls
    # the dynamic build: the same exit code and JSON
    assert d.returncode == r.returncode, (d.returncode, d.stdout, d.stderr)
    assert normalise(json.loads(d.stdout)) == normalise(res)
    assert [c.action for c in dcalls] == [c.action for c in calls]


def test_lifecycle_over_https_with_ssl_cert_file_in_a_chroot(static_build, tmp_path):
    r, _, calls, _ = _lifecycle_run(tmp_path, static_build, ca="env", name="root-env")
    assert r.returncode == 0, (r.stdout, r.stderr)
    assert [c.action for c in calls if c.signature_ok] == ["CompleteLifecycleAction"]


def test_no_ca_bundle_is_a_clear_error(static_build, tmp_path):
    """No option, no SSL_CERT_FILE and none of the distributions' bundle paths: the lifecycle call fails
    with a message that says so, and no request left the process."""
    r, _, calls, _ = _lifecycle_run(tmp_path, static_build, ca=None, name="root-none")
    res = json.loads(r.stdout)
    assert r.returncode == 20 and res["verdict"] == "lifecycle_failed", (r.returncode, r.stdout, r.stderr)
    assert re.search(r"CA|certificate", json.dumps(res) + r.stderr), (r.stdout, r.stderr)
    assert calls == []


# ------------------------------------------------------------------------- the same JSON as dynamic

VOLATILE = {"elapsed_ms", "pid", "time", "timestamp", "ms"}


def normalise(v, key=None):
    """A result with what differs between two runs masked: times, pids, chunk ids, S3 keys, numbers in
    messages. Counts (chunks, workers), verdicts, evidence, field order stay as they are."""
    if isinstance(v, dict):
        return [(k, normalise(x, k)) for k, x in v.items()]
    if isinstance(v, list):
        return [normalise(x, key) for x in v]
    if key in VOLATILE or (key or "").endswith("_ms"):
        return "<n>" if isinstance(v, (int, float)) else v
    if isinstance(v, str):
        v = re.sub(r"[0-9a-f]{32}", "<id>", v)
        v = re.sub(r"\d+(\.\d+)?", "<n>", v)
        return re.sub(r"<n> (ms|s|min)\b", "<duration>", v)     # "412 ms" or "1.2 s"
    return v


# ------------------------------------------------------------------ a full flush against the test bed

# Inside the bed (its mount namespace, through nsenter): a private mount namespace, /proc, and the
# agent's pid file, log and buffer directories bound into the otherwise empty root; then chroot.
BED_CHROOT_SH = r'''set -e
r=$0
mount -t proc proc "$r/proc"
for d in /run/td-agent /var/log/td-agent /var/lib/td-agent; do
    if [ -d "$d" ]; then mount --bind "$d" "$r$d"; fi    # /run/td-agent goes when the unit stops
done
exec chroot "$r" "$@"
'''


def bed_root(tmp_path, static_build):
    root = empty_root(tmp_path, static_build, "bedroot")
    for d in ("run/td-agent", "var/log/td-agent", "var/lib/td-agent"):
        (root / d).mkdir(parents=True)
    os.symlink("../run", root / "var" / "run")      # /var/run/td-agent/td-agent.pid, as on a host
    return root


def test_full_flush_in_the_bed_by_pid_file(static_build, tmp_path):
    """The dynamic and the static build flush the same simulated td-agent (real systemd, file buffer,
    monitor_agent, S3 on loopback) by --pid-file; the static one from a chroot holding only itself,
    /proc and the agent's files. Same exit code, same JSON (times, ids and pids masked), every record
    in S3 — then the same again with the agent stopped."""
    from integration.instance import Instance, Result

    root = bed_root(tmp_path, static_build)
    pid_file = "/var/run/td-agent/td-agent.pid"
    with Instance(tmp_path, name="pkg") as inst:      # tmp_path (and so the root) is visible in the bed
        args = inst.argv(unit=False)[1:] + ["--pid-file", pid_file]
        assert "--buffer-path" in args and "--monitor-url" in args, args

        def dynamic():
            return Result(inst.bed.run([helper_binary(), *args], timeout=90))

        def static():
            return Result(inst.bed.run(["unshare", "--mount", "--propagation", "private", "sh", "-c",
                                        BED_CHROOT_SH, root, "/fluent-flush", *args], timeout=90))

        ids = inst.emit(300)
        d = dynamic()
        assert d.rc == 0 and d["verdict"] == "confirmed" and d["nothing_buffered"] is False, d
        ids2 = inst.emit(300)
        s = static()
        assert s.rc == 0, s
        assert normalise(s.result) == normalise(d.result), (d, s)
        assert s["chunks"] == d["chunks"] and s["workers"] == d["workers"] and s["evidence"] == d["evidence"]
        assert s["agent"]["unit"] in (None, "") and s["agent"]["via"] == "signal"
        got = inst.s3.record_ids()
        assert ids <= got and ids2 <= got, f"{len((ids | ids2) - got)} records missing from S3"
        assert inst.chunk_files() == []

        r = inst.stop_agent()
        assert r.returncode == 0, r.stderr
        d, s = dynamic(), static()
        assert d.rc == s.rc == 7 and d["verdict"] == s["verdict"] == "not_running", (d, s)
        assert normalise(s.result) == normalise(d.result), (d, s)
