"""`fluent-flush watch`: the real binary polling a local IMDSv2 (tests/aws/imds_server.py) and completing the
lifecycle action at a local Auto Scaling endpoint that checks every signature (tests/aws/asg_endpoint.py).

The first group uses a stand-in agent (nothing to flush, or a chunk that never goes) to test the watching:
the state flip, token expiry, IMDS outages, spot notices and SIGTERM. The second group runs end to end in the
test bed — real systemd, the Fluentd simulator as td-agent.service, an S3 server — including the packaged
systemd unit (packaging/fluent-flush-watch.service)."""
import os
import re
import shutil
import signal
import time

import pytest

from aws.onhost import GROUP, HOOK, OnHost, collect, stop, wait_for
from ffpaths import REPO, helper_binary
from instance import Instance, result_of

STATE = "/latest/meta-data/autoscaling/target-lifecycle-state"
SPOT = "/latest/meta-data/spot/instance-action"
POLL = "0.2"


def polls(h):
    return h.imds.count(STATE)


def start_watch(h, *extra, agent=None, poll=POLL, min_polls=2):
    p = h.popen("--lifecycle-hook", HOOK, "--poll-interval", poll, "--verbose", *extra, command="watch",
                agent=agent)
    try:
        wait_for(lambda: polls(h) >= min_polls or p.poll() is not None, 20, "the watch to poll IMDS")
        assert p.poll() is None, collect(p)
    except BaseException:
        if p.poll() is None:
            p.kill()
            p.communicate()
        raise
    return p


# ------------------------------------------------------------------ watching (stand-in agent)

def test_terminated_flushes_and_completes_once(tmp_path):
    with OnHost(tmp_path) as h:
        p = start_watch(h)
        try:
            h.imds.set_lifecycle_state("InService")
            n = polls(h)
            wait_for(lambda: polls(h) >= n + 2, 20, "polls of InService")
            assert h.asg.calls == []                      # nothing happens before Terminated
            assert p.poll() is None
            h.imds.set_lifecycle_state("Terminated")
            r = collect(p, timeout=60)
        finally:
            if p.poll() is None:
                p.kill()
        assert r.rc == 0, r
        assert r["verdict"] == "confirmed"
        assert r["watch"]["trigger"] == "target_lifecycle_state" and r["watch"]["last_state"] == "Terminated"
        [c] = h.asg.calls_to("CompleteLifecycleAction")
        assert c.signature_ok, c.signature_error
        assert c.params["LifecycleActionResult"] == "CONTINUE"
        assert c.params["AutoScalingGroupName"] == GROUP and c.params["InstanceId"] == h.imds.instance_id
        assert h.action.result == "CONTINUE"
        assert "target lifecycle state: none yet" in r.stderr and "target lifecycle state: InService" in r.stderr
        h.assert_no_secrets(r)


def test_token_expiry_and_imds_outage_mid_watch(tmp_path):
    with OnHost(tmp_path) as h:
        p = start_watch(h)
        try:
            h.imds.expire_tokens()                        # every token so far → 401
            n = polls(h)
            wait_for(lambda: polls(h) >= n + 3, 20, "polls after the token expired")
            assert any(s == 401 for _, _, s in h.imds.requests)
            assert h.imds.tokens_issued >= 2              # renewed, not given up
            h.imds.fail_next(6, 503)                      # an outage of a few polls
            h.imds.drop_next(2)
            n = polls(h)
            wait_for(lambda: h.imds.count(STATE, 404) >= n + 2, 30, "polls after the outage")
            assert p.poll() is None                       # a watch survives a metadata outage
            h.imds.set_lifecycle_state("Terminated")
            r = collect(p, timeout=60)
        finally:
            if p.poll() is None:
                p.kill()
        assert r.rc == 0, r
        assert len(h.asg.calls_to("CompleteLifecycleAction")) == 1
        h.assert_no_secrets(r)


def test_short_token_ttl_is_renewed(tmp_path):
    """IMDS grants a shorter TTL than asked: the first 401 brings a new token at once (no failed poll)."""
    with OnHost(tmp_path) as h:
        h.imds.max_ttl = 1
        p = start_watch(h)
        try:
            wait_for(lambda: h.imds.tokens_issued >= 3, 30, "token renewals")
            assert p.poll() is None
            h.imds.set_lifecycle_state("Terminated")
            r = collect(p, timeout=60)
        finally:
            if p.poll() is None:
                p.kill()
        assert r.rc == 0, r
        assert "instance metadata poll failed" not in r.stderr
        assert len(h.asg.calls_to("CompleteLifecycleAction")) == 1


def test_sigterm_stops_cleanly(tmp_path):
    with OnHost(tmp_path) as h:
        p = start_watch(h, poll="30", min_polls=1)                     # a long poll interval: SIGTERM must not wait for it
        t0 = time.monotonic()
        r = stop(p, signal.SIGTERM, timeout=10)
        assert time.monotonic() - t0 < 3
        assert r.rc == 0, r
        assert r["verdict"] == "stopped" and r["exit_code"] == 0
        assert h.asg.calls == []


def test_spot_notice_flushes_within_budget(tmp_path):
    """A notice 20 s ahead and a chunk that never uploads: the flush gives up in time (≥ 15 s margin)."""
    with OnHost(tmp_path) as h:
        a = h.agent(chunks=1)
        p = start_watch(h, "--ack-timeout", "0", agent=a)
        try:
            h.imds.set_spot_action("terminate", in_seconds=20)
            t0 = time.monotonic()
            r = collect(p, timeout=60)
            took = time.monotonic() - t0
        finally:
            if p.poll() is None:
                p.kill()
        assert r.rc != 0, r                               # not confirmed: the chunk is still there
        assert r["watch"]["trigger"] == "spot_interruption" and r["watch"]["spot_action"] == "terminate"
        assert r["watch"]["timeout_ms"] <= 5000
        assert took < 20 - 5, took                        # done before the instance goes
        assert h.asg.calls == []                          # spot interruptions do not wait for hooks


def test_spot_notice_nothing_buffered(tmp_path):
    with OnHost(tmp_path) as h:
        p = start_watch(h)
        try:
            h.imds.set_spot_action("terminate", in_seconds=120)
            r = collect(p, timeout=60)
        finally:
            if p.poll() is None:
                p.kill()
        assert r.rc == 0, r
        assert r["watch"]["trigger"] == "spot_interruption"
        assert 90000 <= r["watch"]["timeout_ms"] <= 105000


def test_no_group_tag_is_a_usage_error(tmp_path):
    with OnHost(tmp_path, tags=False) as h:
        r = h.run("--lifecycle-hook", HOOK, "--poll-interval", POLL, command="watch", timeout=30)
        assert r.rc == 2, r
        assert "--asg" in r["message"]
        assert h.imds.count(STATE) == 0                   # refused before watching


def test_imds_down_at_start_fails_for_a_restart(tmp_path):
    with OnHost(tmp_path) as h:
        h.imds.fail_next(100, 500)
        r = h.run("--lifecycle-hook", HOOK, command="watch", timeout=60)
        assert r.rc == 21, r                              # systemd's Restart=on-failure tries again
        assert r["verdict"] == "metadata_failed"


# ------------------------------------------------------------------ end to end in the test bed

def watch_argv(inst, h, *extra, timeout=30):
    a = inst.argv("--lifecycle-hook", HOOK, "--poll-interval", "0.5", *h.endpoints(), *extra, timeout=timeout)
    return [a[0], "watch"] + a[1:]


def bed_watch(inst, h, *extra, timeout=30):
    p = inst.bed.popen(watch_argv(inst, h, *extra, timeout=timeout))
    try:
        wait_for(lambda: polls(h) >= 2 or p.poll() is not None, 30, "the watch to poll IMDS")
        assert p.poll() is None, result_of(p)
    except BaseException:
        p.kill_all()
        raise
    return p


@pytest.mark.slow
def test_e2e_terminated_slow_upload_heartbeats(tmp_path):
    with OnHost(tmp_path / "aws") as h, Instance(tmp_path) as inst:
        ids = inst.emit(200)
        inst.faults(s3_delay_ms=4000)                     # the upload takes ~4 s
        p = bed_watch(inst, h, "--heartbeat", "1", "--verbose", timeout=60)
        try:
            h.imds.set_lifecycle_state("Terminated")
            r = result_of(p, timeout=120)
        finally:
            p.kill_all()
        assert r.rc == 0, r
        assert r["verdict"] == "confirmed" and r["chunks"]["committed"] == 1
        assert ids <= inst.s3.record_ids()
        beats = h.asg.calls_to("RecordLifecycleActionHeartbeat")
        completes = h.asg.calls_to("CompleteLifecycleAction")
        assert len(completes) == 1 and completes[0].params["LifecycleActionResult"] == "CONTINUE"
        assert len(beats) >= 2, [(c.action, c.time) for c in h.asg.calls]
        assert all(c.signature_ok for c in h.asg.calls)
        assert max(b.time for b in beats) < completes[0].time
        assert r["lifecycle"]["heartbeats"] == len(beats)
        h.assert_no_secrets(r)


@pytest.mark.slow
def test_e2e_s3_down_past_deadline_abandons(tmp_path):
    with OnHost(tmp_path / "aws") as h, Instance(tmp_path) as inst:
        inst.emit(100)
        inst.s3.stop()
        p = bed_watch(inst, h, "--on-failure", "ABANDON", timeout=8)
        try:
            h.imds.set_lifecycle_state("Terminated")
            r = result_of(p, timeout=90)
        finally:
            p.kill_all()
        assert r.rc == 11, r
        assert r["verdict"] == "upload_failing"
        [c] = h.asg.calls_to("CompleteLifecycleAction")
        assert c.params["LifecycleActionResult"] == "ABANDON" and c.signature_ok
        assert r["lifecycle"]["result"] == "ABANDON" and r["lifecycle"]["completed"] is True
        assert len(inst.chunk_files()) == 1               # still on disk: nothing claimed as uploaded


@pytest.mark.slow
def test_e2e_spot_notice_within_two_minutes(tmp_path):
    with OnHost(tmp_path / "aws") as h, Instance(tmp_path) as inst:
        ids = inst.emit(200)
        inst.faults(s3_delay_ms=2000)
        p = bed_watch(inst, h, timeout=300)
        try:
            h.imds.set_spot_action("terminate", in_seconds=120)
            t0 = time.monotonic()
            r = result_of(p, timeout=150)
            took = time.monotonic() - t0
        finally:
            p.kill_all()
        assert r.rc == 0, r
        assert took < 120 and r["elapsed_ms"] < 120000
        assert r["watch"]["trigger"] == "spot_interruption" and r["watch"]["timeout_ms"] <= 105000
        assert ids <= inst.s3.record_ids()
        assert h.asg.calls == []


def unit_text(inst, h, *extra):
    """The packaged unit, pointed at this build and the local endpoints (its hardening left as shipped)."""
    with open(os.path.join(REPO, "packaging", "fluent-flush-watch.service")) as f:
        text = f.read()
    argv = watch_argv(inst, h, *extra)
    opts = " ".join(argv[2:])
    assert "ExecStart=/usr/bin/fluent-flush watch $FLUENT_FLUSH_WATCH_OPTS" in text
    # The unit's PrivateTmp/ProtectHome would hide a binary built under /tmp or /root: run a copy placed
    # in the bed's /var/lib, which its hardening leaves visible (read-only), like /usr/bin is.
    inside = "/var/lib/fluent-flush-test/fluent-flush"
    host = inst.bed.host_path(inside)
    os.makedirs(os.path.dirname(host), exist_ok=True)
    shutil.copy2(helper_binary(), host)
    text = text.replace("ExecStart=/usr/bin/fluent-flush", f"ExecStart={inside}")
    # A sanitizer build (make SAN=1): LeakSanitizer needs ptrace at exit, which the unit's syscall filter
    # forbids; a normal build ignores the variable.
    env = 'Environment="ASAN_OPTIONS=detect_leaks=0"\n'
    return text.replace("[Service]\n", f'[Service]\n{env}Environment="FLUENT_FLUSH_WATCH_OPTS={opts}"\n', 1)


@pytest.mark.slow
def test_e2e_packaged_unit(tmp_path):
    """The shipped unit, with its hardening, runs the watch under the bed's systemd: it signals the agent
    through systemd, reads its log and buffer, completes the action, and ends inactive (exit 0)."""
    with OnHost(tmp_path / "aws") as h, Instance(tmp_path) as inst:
        ids = inst.emit(100)
        inst.bed.install_unit("fluent-flush-watch.service", unit_text(inst, h, "--heartbeat", "1"))
        r = inst.bed.systemctl("start", "fluent-flush-watch.service")
        assert r.returncode == 0, r.stderr
        wait_for(lambda: polls(h) >= 2, 30, "the unit to poll IMDS")
        assert inst.bed.systemctl("is-active", "fluent-flush-watch.service").stdout.strip() == "active", \
            inst.bed.journal("fluent-flush-watch.service", 50)
        h.imds.set_lifecycle_state("Terminated")
        wait_for(lambda: inst.bed.systemctl("is-active", "fluent-flush-watch.service").stdout.strip() != "active",
                 90, "the watch unit to finish")
        show = inst.bed.systemctl("show", "-p", "ExecMainStatus", "-p", "ActiveState", "-p", "NRestarts",
                                  "fluent-flush-watch.service").stdout
        journal = inst.bed.journal("fluent-flush-watch.service", 100)
        assert "ExecMainStatus=0" in show, show + journal
        assert "NRestarts=0" in show, show
        assert re.search(r'"verdict": ?"confirmed"', journal), journal
        [c] = h.asg.calls_to("CompleteLifecycleAction")
        assert c.params["LifecycleActionResult"] == "CONTINUE" and c.signature_ok
        assert ids <= inst.s3.record_ids()
        for sec in h.secrets():
            assert sec not in journal
