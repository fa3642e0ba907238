"""The lifecycle action completed by the real binary: IMDSv2 (tests/aws/imds_server.py) for the region, instance
id, group tag and role credentials, and a local Auto Scaling endpoint (tests/aws/asg_endpoint.py) that checks
every request's SigV4 signature with botocore. A stand-in agent process keeps the flush itself trivial (nothing
buffered → confirmed; no agent → not_running; a chunk that never goes → the deadline), so these runs test the
lifecycle path alone; the end-to-end runs with real Fluentd behaviour are in test_watch.py."""
import uuid

from aws.onhost import GROUP, HOOK, OnHost, SECRET_KEY

TOKEN_PATH = "/latest/api/token"


def completes(h):
    return h.asg.calls_to("CompleteLifecycleAction")


def assert_signed(h):
    assert h.asg.calls, "the endpoint got no request"
    for c in h.asg.calls:
        assert c.signature_ok, c.signature_error


def test_confirmed_completes_continue(tmp_path):
    with OnHost(tmp_path) as h:
        r = h.run("--lifecycle-hook", HOOK, "--verbose")
        assert r.rc == 0, r
        assert r["verdict"] == "confirmed" and r["nothing_buffered"] is True
        assert_signed(h)
        [c] = completes(h)
        assert c.params["AutoScalingGroupName"] == GROUP          # from the instance tag
        assert c.params["LifecycleHookName"] == HOOK
        assert c.params["InstanceId"] == h.imds.instance_id      # from IMDS
        assert c.params["LifecycleActionResult"] == "CONTINUE"
        assert "LifecycleActionToken" not in c.params
        assert c.headers.get("x-amz-security-token") == h.token
        assert h.action.result == "CONTINUE"
        lc = r["lifecycle"]
        assert lc["completed"] is True and lc["already_done"] is False and lc["error"] is None
        assert lc["group"] == GROUP and lc["group_from"] == "instance_tag" and lc["result"] == "CONTINUE"
        # IMDSv2: the token first, every GET with it (none refused), one token for the whole run
        assert h.imds.requests[0] == ("PUT", TOKEN_PATH, 200)
        assert all(s == 200 for _, _, s in h.imds.requests), h.imds.requests
        assert h.imds.tokens_issued == 1
        h.assert_no_secrets(r)


def test_flush_failure_completes_abandon(tmp_path):
    with OnHost(tmp_path) as h:
        a = h.agent()
        a.stop()                                                 # the "agent" is gone: not_running
        r = h.run("--lifecycle-hook", HOOK, agent=a)
        assert r.rc == 7, r
        [c] = completes(h)
        assert c.params["LifecycleActionResult"] == "ABANDON"
        assert r["lifecycle"]["result"] == "ABANDON" and r["lifecycle"]["completed"] is True
        assert r["verdict"] == "not_running"                     # the flush verdict is kept


def test_on_failure_continue(tmp_path):
    with OnHost(tmp_path) as h:
        a = h.agent()
        a.stop()
        r = h.run("--lifecycle-hook", HOOK, "--on-failure", "CONTINUE", agent=a)
        assert r.rc == 7, r
        assert [c.params["LifecycleActionResult"] for c in completes(h)] == ["CONTINUE"]


def test_explicit_options_and_action_token(tmp_path):
    with OnHost(tmp_path, strict_actions=False, tags=False) as h:
        token = str(uuid.uuid4())
        h.asg.add_lifecycle_action("other-asg", "other-hook", "i-00000000000000000", token=token)
        r = h.run("--lifecycle-hook", "other-hook", "--asg", "other-asg", "--token", token, "--region",
                  h.imds.region)
        assert r.rc == 0, r
        assert_signed(h)
        [c] = completes(h)
        assert c.params["LifecycleActionToken"] == token and "InstanceId" not in c.params
        assert c.params["AutoScalingGroupName"] == "other-asg"
        assert r["lifecycle"]["group_from"] == "option" and "instance_id" not in r["lifecycle"]
        assert token not in r.stdout and token not in r.stderr
        # given on the command line: region, group and instance id are not read from IMDS
        paths = h.imds.paths()
        assert not any(p.endswith(("placement/region", "instance-id")) or "/tags/" in p for p in paths), paths


def test_no_tags_needs_asg(tmp_path):
    with OnHost(tmp_path, tags=False) as h:
        r = h.run("--lifecycle-hook", HOOK)
        assert r.rc == 2, r
        assert "--asg" in r.stderr
        assert h.asg.calls == []
        r = h.run("--lifecycle-hook", HOOK, "--asg", GROUP)
        assert r.rc == 0, r
        assert len(completes(h)) == 1


def test_already_done(tmp_path):
    with OnHost(tmp_path) as h:
        h.asg.script("validation")        # "No active Lifecycle Action found with instance ID …"
        r = h.run("--lifecycle-hook", HOOK)
        assert r.rc == 0, r
        assert len(completes(h)) == 1     # not retried
        assert r["lifecycle"]["already_done"] is True and r["lifecycle"]["completed"] is True


def test_throttling_is_retried(tmp_path):
    with OnHost(tmp_path) as h:
        h.asg.script("throttle", "throttle")
        r = h.run("--lifecycle-hook", HOOK)
        assert r.rc == 0, r
        assert [c.answer for c in completes(h)] == ["throttle", "throttle", "ok"]
        assert h.action.result == "CONTINUE"
        assert_signed(h)


def test_dropped_connection_is_retried(tmp_path):
    with OnHost(tmp_path) as h:
        h.asg.script("drop")
        r = h.run("--lifecycle-hook", HOOK)
        assert r.rc == 0, r
        assert [c.answer for c in completes(h)] == ["drop", "ok"]


def test_server_error_is_retried(tmp_path):
    with OnHost(tmp_path) as h:
        h.asg.script(("error", 503, "ServiceUnavailable", "try again"))
        r = h.run("--lifecycle-hook", HOOK)
        assert r.rc == 0, r
        assert len(completes(h)) == 2


def test_validation_error_fails_with_message(tmp_path):
    with OnHost(tmp_path) as h:
        h.asg.script(("error", 400, "ValidationError", "No Lifecycle Hook found with name fluent-flush-terminate"))
        r = h.run("--lifecycle-hook", HOOK)
        assert r.rc == 20, r
        assert r["verdict"] == "lifecycle_failed" and r["flush_verdict"] == "confirmed"
        assert len(completes(h)) == 1     # not retried: it would not help
        err = r["lifecycle"]["error"]
        assert err["code"] == "ValidationError" and "No Lifecycle Hook found" in err["message"]
        assert err["http_status"] == 400
        assert r["lifecycle"]["completed"] is False


def test_throttled_forever_gives_up(tmp_path):
    with OnHost(tmp_path) as h:
        h.asg.default_answer = "throttle"
        r = h.run("--lifecycle-hook", HOOK, timeout=90)
        assert r.rc == 20, r
        assert 2 <= len(completes(h)) <= 10                      # bounded
        assert r["lifecycle"]["error"]["code"] == "Throttling"


def test_wrong_signature_is_reported_without_secrets(tmp_path):
    """The service quotes the canonical request (with the session token) in SignatureDoesNotMatch."""
    with OnHost(tmp_path) as h:
        h.asg.secret_key = SECRET_KEY + "x"                      # the endpoint expects another secret
        r = h.run("--lifecycle-hook", HOOK, "--verbose")
        assert r.rc == 20, r
        assert completes(h) and not completes(h)[0].signature_ok
        assert r["lifecycle"]["error"]["code"] == "SignatureDoesNotMatch"
        h.assert_no_secrets(r)


def test_imds_faults_are_retried(tmp_path):
    with OnHost(tmp_path) as h:
        h.imds.fail_next(1, 500)
        h.imds.drop_next(1)
        r = h.run("--lifecycle-hook", HOOK)
        assert r.rc == 0, r
        assert len(completes(h)) == 1


def test_imds_down_is_metadata_failed(tmp_path):
    with OnHost(tmp_path) as h:
        h.imds.fail_next(100, 503)
        r = h.run("--lifecycle-hook", HOOK)
        assert r.rc == 21, r
        assert r["verdict"] == "metadata_failed"
        assert h.asg.calls == []
        assert len(h.imds.requests) <= 8                         # bounded retries, not a loop


def test_no_role_is_metadata_failed(tmp_path):
    with OnHost(tmp_path) as h:
        h.imds.role = None
        r = h.run("--lifecycle-hook", HOOK)
        assert r.rc == 21, r
        assert "IAM role" in r.stderr
        assert h.asg.calls == []


def test_credentials_about_to_expire_are_refreshed(tmp_path):
    with OnHost(tmp_path) as h:
        h.imds.set_credentials("ASIAFLUENTFLUSHTESTK", SECRET_KEY, h.token, expires_in=200)   # < 5 min left
        r = h.run("--lifecycle-hook", HOOK)
        assert r.rc == 0, r
        assert h.imds.credential_fetches >= 2                     # read at start, read again before the call
        assert_signed(h)


def test_heartbeats_while_waiting_then_deadline(tmp_path):
    """A chunk that never goes away: heartbeats every second until the deadline, then one ABANDON."""
    with OnHost(tmp_path) as h:
        a = h.agent(chunks=1)
        r = h.run("--lifecycle-hook", HOOK, "--heartbeat", "1", "--timeout", "4", "--ack-timeout", "0",
                  "--verbose", agent=a)
        assert r.rc in (10, 14, 15), r                            # no_ack / deadline / unconfirmed: not confirmed
        beats = h.asg.calls_to("RecordLifecycleActionHeartbeat")
        assert 2 <= len(beats) <= 5, [c.time for c in h.asg.calls]
        assert all(b.params["InstanceId"] == h.imds.instance_id for b in beats)
        assert h.action.heartbeats == len(beats)
        [c] = completes(h)
        assert c.params["LifecycleActionResult"] == "ABANDON"
        assert max(b.time for b in beats) <= c.time               # no heartbeat after the completion
        assert r["lifecycle"]["heartbeats"] == len(beats)
        assert_signed(h)
        h.assert_no_secrets(r)


def test_no_session_token(tmp_path):
    """Long-term keys (no Token in the document): no x-amz-security-token header at all."""
    with OnHost(tmp_path, token="") as h:
        h.asg.session_token = None
        r = h.run("--lifecycle-hook", HOOK)
        assert r.rc == 0, r
        [c] = completes(h)
        assert "x-amz-security-token" not in {k.lower() for k in c.headers}
        assert_signed(h)
