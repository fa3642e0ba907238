# The emulators themselves: SSM Agent's runShellScript and the Auto Scaling endpoint behave like the real things.
import os
import subprocess
import time

import botocore.config
import botocore.exceptions
import botocore.session
import pytest

from aws import ssm_agent
from aws.asg_endpoint import AutoScalingEndpoint


def shell_doc(*lines, timeout="10", params=None):
    return {"schemaVersion": "2.2", "description": "t", "parameters": params or {},
            "mainSteps": [{"action": "aws:runShellScript", "name": "run", "precondition":
                           {"StringEquals": ["platformType", "Linux"]},
                           "inputs": {"timeoutSeconds": timeout, "runCommand": list(lines)}}]}


def test_substitution_is_plain_text_and_go_expands_dollar(tmp_path):
    doc = shell_doc("echo '{{ A }}'", params={"A": {"type": "String"}, "L": {"type": "StringList", "default": ["x", "y"]}})
    assert ssm_agent.substitute("a{{A}}b{{ A }}", {"A": "1"}) == "a1b1"
    assert ssm_agent.substitute("{{ L }}", {"L": ["x", "y"]}) == ["x", "y"]           # whole string: the value
    assert ssm_agent.substitute("echo {{ L }}", {"L": ["x", "y"]}) == 'echo ["x","y"]'  # embedded: JSON text
    assert ssm_agent.substitute("v={{A}}", {"A": "$$x${1}$0"}) == "v=$x{{A}}"            # Go ReplaceAllString
    inv = ssm_agent.SsmAgent(tmp_path).send_command(doc, {"A": ["it's"]})
    assert inv.response_code != 0            # nothing is quoted: a quote in a value breaks the line


def test_parameters_validated_like_the_agent(tmp_path):
    doc = shell_doc("true", params={"A": {"type": "String", "allowedPattern": "^[a-z]+$", "maxChars": 5},
                                    "B": {"type": "String", "default": "d", "allowedValues": ["d", "e"]}})
    agent = ssm_agent.SsmAgent(tmp_path)
    for bad in ({}, {"A": ["abc\n"]}, {"A": ["toolong"]}, {"A": ["a", "b"]}, {"A": ["a"], "B": ["f"]},
                {"A": ["a"], "C": ["x"]}):
        with pytest.raises(ssm_agent.InvalidParameters):
            agent.send_command(doc, bad)
    assert agent.send_command(doc, {"A": ["abc"]}).status == "Success"
    with pytest.raises(ssm_agent.InvalidParameters):
        ssm_agent.resolve_parameters({"parameters": {"bad_name": {"type": "String", "default": ""}}}, {})


@pytest.mark.parametrize("code,status", [(0, "Success"), (1, "Failed"), (168, "Success"), (169, "Failed"),
                                         (194, "Success"), (137, "Failed")])
def test_exit_code_to_status(tmp_path, code, status):
    inv = ssm_agent.SsmAgent(tmp_path).send_command(shell_doc(f"exit {code}"))
    assert (inv.response_code, inv.status) == (code, status)
    assert inv.steps[0].reboot_requested == (code == 194)


@pytest.mark.parametrize("value,expected", [("30", 30), (45, 45), (12.7, 12), ("9.9", 9), ("4", 3600),
                                            ("172801", 3600), ("abc", 3600), (None, 3600), ("172800", 172800)])
def test_timeout_seconds_validation(value, expected):
    assert ssm_agent.execution_timeout(value) == expected


def dead_or_zombie(pid, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{pid}/stat") as f:
                if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                    return True
        except FileNotFoundError:
            return True
        time.sleep(0.05)
    return False


def test_timeout_kills_the_whole_process_group_with_137(tmp_path):
    pidfile = tmp_path / "grandchild.pid"
    doc = shell_doc(f"sleep 60 & echo $! > {pidfile}", "echo started", "sleep 60", timeout="5")
    t0 = time.monotonic()
    inv = ssm_agent.SsmAgent(tmp_path / "o").send_command(doc)
    elapsed = time.monotonic() - t0
    assert (inv.status, inv.response_code) == ("TimedOut", 137)
    assert 5 <= elapsed < 15
    assert inv.stdout == "started\n"
    grandchild = int(pidfile.read_text())
    assert dead_or_zombie(grandchild, 3), "the background child survived the timeout"   # killed with its group


def test_script_runs_in_its_own_process_group_with_ssm_environment(tmp_path):
    doc = shell_doc("ps -o pgid= -p $$ | tr -d ' '", "echo $PPID", "echo $AWS_SSM_INSTANCE_ID $AWS_SSM_REGION_NAME",
                    "test -n \"$SSM_COMMAND_ID\" && echo ok")
    inv = ssm_agent.SsmAgent(tmp_path, instance_id="i-0abcdef1234567890", region="eu-west-1").send_command(doc)
    pgid, pid, ids, ok = inv.stdout.split("\n")[:4]
    assert pgid == pid and pgid != str(os.getpgid(0))
    assert ids == "i-0abcdef1234567890 eu-west-1" and ok == "ok"


def test_output_cuts(tmp_path):
    doc = shell_doc("head -c 30000 /dev/zero | tr '\\0' o", "head -c 9000 /dev/zero | tr '\\0' e >&2")
    inv = ssm_agent.SsmAgent(tmp_path).send_command(doc)
    assert len(inv.stdout) == 30000 and len(inv.standard_output_content) == 24000
    assert len(inv.standard_error_content) == 8000
    assert len(inv.output) <= 2500 and "---Output truncated---" in inv.output and "---Error truncated----" in inv.output
    # short stderr: stdout keeps all the room it leaves
    out = ssm_agent.truncate_output("o" * 3000, "e" * 100)
    assert out.startswith("o" * 2300) and out.endswith("\n----------ERROR-------\n" + "e" * 100)
    assert len(out) <= 2500
    assert ssm_agent.truncate_output("abc", "") == "abc"


def test_cancel_and_caller_deadline(tmp_path):
    agent = ssm_agent.SsmAgent(tmp_path)
    inv = agent.send_command(shell_doc("sleep 30"), deadline=time.monotonic() + 0.5)
    assert (inv.status, inv.response_code) == ("Cancelled", 137)


# ---------------------------------------------------------------- the Auto Scaling endpoint

def client(ep, secret=None, token=None, region=None):
    return botocore.session.get_session().create_client(
        "autoscaling", region_name=region or ep.region, endpoint_url=ep.url, aws_access_key_id=ep.access_key,
        aws_secret_access_key=secret or ep.secret_key, aws_session_token=token,
        config=botocore.config.Config(retries={"total_max_attempts": 1}))


ARGS = dict(AutoScalingGroupName="g", LifecycleHookName="h", InstanceId="i-0123456789abcdef0")


def test_endpoint_records_signed_calls_and_scripted_answers():
    with AutoScalingEndpoint(session_token="TOKEN") as ep:
        c = client(ep, token="TOKEN")
        ep.script("throttle", "validation", "drop", ("error", 500, "InternalFailure", "boom"))
        errors = []
        for _ in range(4):
            try:
                c.complete_lifecycle_action(LifecycleActionResult="CONTINUE", **ARGS)
            except (botocore.exceptions.ClientError, botocore.exceptions.ConnectionClosedError) as e:
                errors.append(e.response["Error"]["Code"] if getattr(e, "response", None) else "closed")
        assert errors == ["Throttling", "ValidationError", "closed", "InternalFailure"]
        assert c.record_lifecycle_action_heartbeat(**ARGS)["ResponseMetadata"]["HTTPStatusCode"] == 200
        assert [x.answer for x in ep.calls] == ["throttle", "validation", "drop", "error", "ok"]
        assert all(x.signature_ok for x in ep.calls)
        assert ep.calls[-1].params == dict(Action="RecordLifecycleActionHeartbeat", Version="2011-01-01", **ARGS)
        assert ep.calls[-1].headers.get("X-Amz-Security-Token") == "TOKEN"


@pytest.mark.parametrize("bad", ["secret", "no-token", "wrong-token", "region"])
def test_endpoint_refuses_bad_signatures(bad):
    with AutoScalingEndpoint(session_token="TOKEN") as ep:
        c = client(ep, secret="nope" if bad == "secret" else None,
                   token={"no-token": None, "wrong-token": "OTHER"}.get(bad, "TOKEN"),
                   region="eu-west-1" if bad == "region" else None)
        with pytest.raises(botocore.exceptions.ClientError) as e:
            c.record_lifecycle_action_heartbeat(**ARGS)
        assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
        assert ep.calls and not ep.calls[0].signature_ok


def test_endpoint_accepts_curls_sigv4_in_a_form_body():
    """curl --aws-sigv4 is the same code as libcurl's CURLOPT_AWS_SIGV4, which the helper uses."""
    with AutoScalingEndpoint(session_token="TOKEN", region="eu-west-1") as ep:
        body = ("Action=CompleteLifecycleAction&Version=2011-01-01&AutoScalingGroupName=my%20group"
                "&LifecycleHookName=h&InstanceId=i-0123456789abcdef0&LifecycleActionResult=ABANDON")
        def curl(secret):
            return subprocess.run(["curl", "-sS", "--aws-sigv4", "aws:amz:eu-west-1:autoscaling", "--user",
                                   f"{ep.access_key}:{secret}", "-H", "x-amz-security-token: TOKEN", "-H",
                                   "Content-Type: application/x-www-form-urlencoded; charset=utf-8",
                                   "--data", body, ep.url], capture_output=True, text=True, timeout=30)
        r = curl(ep.secret_key)
        assert "<CompleteLifecycleActionResponse" in r.stdout, r.stdout + r.stderr
        r = curl("wrong")
        assert "SignatureDoesNotMatch" in r.stdout
        assert [(x.signature_ok, x.params.get("AutoScalingGroupName")) for x in ep.calls] == \
            [(True, "my group"), (False, "my group")]


def test_endpoint_tracks_lifecycle_actions_and_validates_the_query():
    with AutoScalingEndpoint() as ep:
        a = ep.add_lifecycle_action("g", "h", "i-0123456789abcdef0")
        c = client(ep)
        c.record_lifecycle_action_heartbeat(AutoScalingGroupName="g", LifecycleHookName="h", LifecycleActionToken=a.token)
        c.complete_lifecycle_action(LifecycleActionResult="ABANDON", **ARGS)
        assert (a.heartbeats, a.result) == (1, "ABANDON")
        with pytest.raises(botocore.exceptions.ClientError) as e:      # late / duplicate completion
            c.complete_lifecycle_action(LifecycleActionResult="CONTINUE", **ARGS)
        assert "No active Lifecycle Action found with instance ID i-0123456789abcdef0" in str(e.value)
        import urllib.request
        for data, code in ((b"Action=CompleteLifecycleAction&Version=2011-01-01", "IncompleteSignature"),):
            req = urllib.request.Request(ep.url, data=data, headers={"Content-Type": "application/x-www-form-urlencoded"})
            with pytest.raises(urllib.error.HTTPError) as he:
                urllib.request.urlopen(req, timeout=10)
            assert he.value.code == 403 and code in he.value.read().decode()
    assert ep._server is None
