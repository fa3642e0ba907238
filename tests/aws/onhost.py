"""Helpers for the on-host lifecycle tests: a local IMDS and Auto Scaling endpoint that agree on the instance
role's credentials, a stand-in agent process for runs that need no Fluentd, and the secrets check.

    with OnHost(tmp_path) as h:              # h.imds (ImdsServer), h.asg (AutoScalingEndpoint)
        r = h.run("--lifecycle-hook", "hook") # the real binary as `flush`, with a stand-in agent (nothing buffered)
        h.assert_no_secrets(r)                # no key, token or signature in stdout / stderr
"""
import contextlib
import os
import re
import signal
import subprocess
import sys
import time

from aws.asg_endpoint import AutoScalingEndpoint
from aws.imds_server import ImdsServer
from ffpaths import Result, helper_binary

GROUP = "fluent-flush-asg"
HOOK = "fluent-flush-terminate"
ACCESS_KEY = "ASIAFLUENTFLUSHTESTK"
SECRET_KEY = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYFLUSHSECRET"
SESSION_TOKEN = "IQoJb3JpZ2luX2VjEFLUSHSESSIONTOKENaCXVzLWVhc3QtMSJHMEUCIQDexample/+=="


Run = Result


class FakeAgent:
    """A process that stands in for the Fluentd supervisor (--pid): it holds its log open as Fluentd does,
    ignores SIGUSR1 and never logs, so with an empty buffer directory the flush has nothing to do, and with
    a chunk file it never finishes."""

    def __init__(self, workdir, chunks=0):
        self.workdir = workdir
        self.log = os.path.join(workdir, "fluentd.log")
        self.buffer = os.path.join(workdir, "buffer")
        os.makedirs(self.buffer, exist_ok=True)
        open(self.log, "a").close()
        for i in range(chunks):
            with open(os.path.join(self.buffer, "buffer.b%032x.log" % (0x5f0a + i)), "wb") as f:
                f.write(b"x" * 1000)
        self.proc = subprocess.Popen([sys.executable, "-c",
                                      "import signal, sys, time\n"
                                      "log = open(sys.argv[1], 'a')\n"
                                      "signal.signal(signal.SIGUSR1, signal.SIG_IGN)\n"
                                      "print('ready', flush=True)\n"
                                      "time.sleep(600)\n", self.log], stdout=subprocess.PIPE, text=True)
        if self.proc.stdout.readline().strip() != "ready":       # SIGUSR1 is ignored from now on
            raise AssertionError("the stand-in agent did not start")

    def argv(self):
        return ["--pid", str(self.proc.pid), "--log-file", self.log, "--buffer-path", self.buffer, "--no-monitor"]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)
        self.proc.stdout.close()


class OnHost:
    def __init__(self, tmp_path, *, token=SESSION_TOKEN, strict_actions=True, tags=True):
        self.tmp = str(tmp_path)
        self.stack = contextlib.ExitStack()
        self.token = token
        self.strict = strict_actions
        self.with_tags = tags

    def __enter__(self):
        try:
            self.imds = self.stack.enter_context(ImdsServer())
            self.imds.set_credentials(ACCESS_KEY, SECRET_KEY, self.token, expires_in=6 * 3600)
            self.imds.tags = {"aws:autoscaling:groupName": GROUP, "Name": "web"} if self.with_tags else None
            self.asg = self.stack.enter_context(AutoScalingEndpoint(ACCESS_KEY, SECRET_KEY, self.token,
                                                                    region=self.imds.region))
            if self.strict:
                self.action = self.asg.add_lifecycle_action(GROUP, HOOK, self.imds.instance_id)
            self.agents = []
            self.stack.callback(self._stop_agents)
            return self
        except BaseException:
            self.stack.close()
            raise

    def __exit__(self, *exc):
        self.stack.close()

    def _stop_agents(self):
        for a in self.agents:
            a.stop()

    def agent(self, chunks=0, name=None):
        d = os.path.join(self.tmp, name or f"agent{len(self.agents)}")
        os.makedirs(d, exist_ok=True)
        a = FakeAgent(d, chunks)
        self.agents.append(a)
        return a

    def endpoints(self):
        return ["--imds-url", self.imds.url, "--autoscaling-url", self.asg.url]

    def argv(self, *extra, command=None, agent=None, endpoints=True):
        a = [helper_binary()]
        if command:
            a.append(command)
        if agent is None:
            agent = self.agent()
        if agent:
            a += agent.argv()
        if endpoints:
            a += self.endpoints()
        return a + list(extra)

    def run(self, *extra, timeout=60, **kw):
        proc = subprocess.run(self.argv(*extra, **kw), capture_output=True, text=True, timeout=timeout)
        return Run(proc)

    def popen(self, *extra, **kw):
        return subprocess.Popen(self.argv(*extra, **kw), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    # -- checks
    def secrets(self):
        """Every value that must never be printed: keys, session token, IMDS tokens, request signatures."""
        s = {SECRET_KEY, self.token} if self.token else {SECRET_KEY}
        s |= set(self.imds.issued_tokens)
        for c in self.asg.calls:
            auth = {k.lower(): v for k, v in c.headers.items()}.get("authorization", "")
            m = re.search(r"Signature=([0-9a-f]+)", auth)
            if m:
                s.add(m.group(1))
        return {x for x in s if x}

    def assert_no_secrets(self, *runs):
        secrets = self.secrets()
        assert secrets, "nothing to look for: the test did not reach IMDS or the endpoint"
        for r in runs:
            for name, text in (("stdout", r.stdout), ("stderr", r.stderr)):
                for sec in secrets:
                    # the whole value, and any 12-character piece of it (a cut or wrapped copy)
                    pieces = {sec} | {sec[i:i + 12] for i in range(0, max(len(sec) - 11, 1), 6)}
                    for p in pieces:
                        assert p not in text, f"a secret ({sec[:4]}…) appears in {name}"


def wait_for(pred, timeout=30, what="condition"):
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def stop(proc, sig=signal.SIGTERM, timeout=30):
    """Signal a helper started with popen() and collect its Run."""
    if proc.poll() is None:
        proc.send_signal(sig)
    out, err = proc.communicate(timeout=timeout)
    return Run(subprocess.CompletedProcess(proc.args, proc.returncode, out, err))


def collect(proc, timeout=60):
    out, err = proc.communicate(timeout=timeout)
    return Run(subprocess.CompletedProcess(proc.args, proc.returncode, out, err))
