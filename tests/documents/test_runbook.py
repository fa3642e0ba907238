# The lifecycle runbook, run by the Automation emulator against the SSM Agent emulator (with a stand-in helper)
# and the local Auto Scaling endpoint: which calls reach Auto Scaling for each verdict.
import pytest

from aws import runbook, ssm_agent
from orchestration_support import COMMAND_DOC, INSTANCE, PLACEHOLDERS

GROUP, HOOK = PLACEHOLDERS["AutoScalingGroupName"], PLACEHOLDERS["LifecycleHookName"]


def params(**extra):
    p = {"AutomationAssumeRole": ["arn:aws:iam::123456789012:role/fluent-flush-automation"],
         "AutoScalingGroupName": [GROUP], "LifecycleHookName": [HOOK], "InstanceId": [INSTANCE],
         "LifecycleActionToken": ["87654321-4321-4321-4321-210987654321"]}
    p.update({k: [v] for k, v in extra.items()})
    return p


def run(tmp_path, runbook_doc, stand_in, asg, codes, **extra):
    stand_in.set_codes(*codes)
    rb = runbook.Runbook(runbook_doc, agents={INSTANCE: stand_in.agent(tmp_path / "orch")},
                         command_documents={"fluent-flush": ssm_agent.load_document(COMMAND_DOC)},
                         endpoints={"autoscaling": asg.url}, region=PLACEHOLDERS["Region"])
    return rb.start(params(**extra))


def calls(asg):
    return [(c.action, c.params.get("LifecycleActionResult"), c.answer) for c in asg.calls]


def test_confirmed_completes_once_with_continue(tmp_path, runbook_doc, stand_in, asg):
    ex = run(tmp_path, runbook_doc, stand_in, asg, [0])
    assert ex.status == "Success", ex.failure_message
    assert ex.path == ["RunFlush1", "Decide1", "CompleteWithContinue"]
    assert calls(asg) == [("CompleteLifecycleAction", "CONTINUE", "ok")]
    assert ex.outputs["RunFlush1.ResponseCode"] == 0 and ex.outputs["CompleteWithContinue.HTTPStatusCode"] == 200
    assert '"exit_code":0' in ex.outputs["RunFlush1.Output"]
    assert asg.actions[0].result == "CONTINUE"
    assert stand_in.argv() == ["flush --timeout 300 --ack-timeout 15 --via signal --log-format auto --quiet"]


@pytest.mark.parametrize("first", [11, 14])
def test_keep_waiting_heartbeats_then_runs_again(tmp_path, runbook_doc, stand_in, asg, first):
    ex = run(tmp_path, runbook_doc, stand_in, asg, [first, 0])
    assert ex.status == "Success"
    assert ex.path == ["RunFlush1", "Decide1", "Heartbeat1", "RunFlush2", "Decide2", "CompleteWithContinue"]
    assert calls(asg) == [("RecordLifecycleActionHeartbeat", None, "ok"), ("CompleteLifecycleAction", "CONTINUE", "ok")]
    assert ex.outputs["RunFlush1.ResponseCode"] == first and ex.outputs["RunFlush2.ResponseCode"] == 0


def test_still_uploading_three_times_is_bounded_and_fails_visibly(tmp_path, runbook_doc, stand_in, asg):
    ex = run(tmp_path, runbook_doc, stand_in, asg, [14, 11, 14], FailureResult="ABANDON")
    assert ex.status == "Failed"
    assert ex.path[-3:] == ["Decide3", "CompleteWithFailureResult", "ReportFailure"]
    assert [c[0] for c in calls(asg)] == ["RecordLifecycleActionHeartbeat"] * 2 + ["CompleteLifecycleAction"]
    assert calls(asg)[-1] == ("CompleteLifecycleAction", "ABANDON", "ok")
    assert len(stand_in.argv()) == 3
    assert "did not confirm" in ex.failure_message and "ABANDON" in ex.failure_message
    assert [ex.outputs[f"RunFlush{i}.ResponseCode"] for i in (1, 2, 3)] == [14, 11, 14]


@pytest.mark.parametrize("code", [1, 2, 3, 4, 5, 7, 10, 12, 13, 15, 16, 20, 21, 30, 137])
def test_any_other_verdict_completes_with_the_failure_result_at_once(tmp_path, runbook_doc, stand_in, asg, code):
    ex = run(tmp_path, runbook_doc, stand_in, asg, [code])
    assert ex.status == "Failed"
    assert ex.path == ["RunFlush1", "Decide1", "CompleteWithFailureResult", "ReportFailure"]
    assert calls(asg) == [("CompleteLifecycleAction", "CONTINUE", "ok")]      # default FailureResult
    assert ex.outputs["RunFlush1.ResponseCode"] == code
    assert "CompleteWithContinue.HTTPStatusCode" not in ex.outputs


def test_helper_not_installed_completes_the_hook(tmp_path, runbook_doc, asg):
    rb = runbook.Runbook(runbook_doc, agents={INSTANCE: ssm_agent.SsmAgent(tmp_path / "orch", instance_id=INSTANCE)},
                         command_documents={"fluent-flush": ssm_agent.load_document(COMMAND_DOC)},
                         endpoints={"autoscaling": asg.url}, region=PLACEHOLDERS["Region"])
    ex = rb.start(params(FailureResult="ABANDON"))
    assert ex.status == "Failed" and ex.outputs["RunFlush1.ResponseCode"] == 30
    assert "not_installed" in ex.outputs["RunFlush1.Output"]
    assert calls(asg) == [("CompleteLifecycleAction", "ABANDON", "ok")]


def test_unreachable_instance_still_completes_the_hook(tmp_path, runbook_doc, asg):
    rb = runbook.Runbook(runbook_doc, agents={}, command_documents={"fluent-flush": ssm_agent.load_document(COMMAND_DOC)},
                         endpoints={"autoscaling": asg.url}, region=PLACEHOLDERS["Region"])
    ex = rb.start(params())
    # RunFlush1 has no outputs: Decide1 cannot resolve its variable and its onFailure completes the hook
    assert ex.path == ["RunFlush1", "Decide1", "CompleteWithFailureResult", "ReportFailure"]
    assert ex.step("Decide1").status == "Failed" and "cannot be resolved" in ex.step("Decide1").failure_message
    assert calls(asg) == [("CompleteLifecycleAction", "CONTINUE", "ok")] and ex.status == "Failed"


def test_throttled_calls_are_retried_by_max_attempts(tmp_path, runbook_doc, stand_in, asg):
    asg.script("throttle", "ok", "throttle", "throttle", "ok")
    ex = run(tmp_path, runbook_doc, stand_in, asg, [14, 0])
    assert ex.status == "Success"
    assert calls(asg) == [("RecordLifecycleActionHeartbeat", None, "throttle"), ("RecordLifecycleActionHeartbeat", None, "ok"),
                          ("CompleteLifecycleAction", "CONTINUE", "throttle"), ("CompleteLifecycleAction", "CONTINUE", "throttle"),
                          ("CompleteLifecycleAction", "CONTINUE", "ok")]
    assert ex.step("CompleteWithContinue").attempts == 3


def test_failed_heartbeat_completes_with_the_failure_result(tmp_path, runbook_doc, stand_in, asg):
    asg.script("drop", "drop", "drop")
    ex = run(tmp_path, runbook_doc, stand_in, asg, [11, 0])
    assert ex.path == ["RunFlush1", "Decide1", "Heartbeat1", "CompleteWithFailureResult", "ReportFailure"]
    assert [c[2] for c in calls(asg)] == ["drop", "drop", "drop", "ok"]
    assert len(stand_in.argv()) == 1 and ex.status == "Failed"


def test_completion_refused_is_a_failed_execution(tmp_path, runbook_doc, stand_in, asg):
    asg.script("validation", "validation", "validation")
    ex = run(tmp_path, runbook_doc, stand_in, asg, [0])
    assert ex.status == "Failed" and ex.path[-1] == "CompleteWithContinue"
    assert "No active Lifecycle Action found" in ex.failure_message
    assert len(asg.calls_to("CompleteLifecycleAction")) == 3


def test_every_path_completes_the_lifecycle_action(runbook_doc):
    """Static: from the first step, every success, failure and branch edge leads to a completion step; only the
    completion steps may Abort; the loop is unrolled (no edge goes backwards)."""
    steps = {s["name"]: s for s in runbook_doc["mainSteps"]}
    order = [s["name"] for s in runbook_doc["mainSteps"]]
    completions = {n for n, s in steps.items() if s["inputs"].get("Api") == "CompleteLifecycleAction"}
    assert completions == {"CompleteWithContinue", "CompleteWithFailureResult"}

    def edges(name):
        s = steps[name]
        out = set()
        if s["action"] == "aws:branch":
            out |= {c["NextStep"] for c in s["inputs"]["Choices"]} | {s["inputs"]["Default"]}
        elif not s.get("isEnd"):
            out.add(s.get("nextStep") or order[order.index(name) + 1])
        fail = s.get("onFailure", "Abort")
        if fail.startswith("step:"):
            out.add(fail[5:])
        else:
            assert name in completions or name == "ReportFailure", f"{name} can abort before completing the hook"
        return out

    for name in order:
        for target in edges(name):
            assert target in steps, (name, target)
            assert order.index(target) > order.index(name), f"{name} -> {target} goes backwards"
    # every maximal path from the start passes a completion step
    def paths(name, seen=()):
        if name in completions:
            return [seen + (name,)]
        if not edges(name):
            return [seen + (name,)]
        out = [p for t in edges(name) for p in paths(t, seen + (name,))]
        return out
    for p in paths(order[0]):
        assert set(p) & completions, p
    run_steps = [s for s in runbook_doc["mainSteps"] if s["action"] == "aws:runCommand"]
    assert len(run_steps) == 3 and all(s["maxAttempts"] == 1 for s in run_steps)
    assert all(s["timeoutSeconds"] > 3600 + 60 for s in run_steps)   # above the largest ExecutionTimeout


def test_runbook_parameters(runbook_doc):
    p = runbook_doc["parameters"]
    assert runbook_doc["schemaVersion"] == "0.3" and runbook_doc["assumeRole"] == "{{ AutomationAssumeRole }}"
    assert {"AutoScalingGroupName", "LifecycleHookName", "InstanceId", "LifecycleActionToken",
            "AutomationAssumeRole", "FailureResult"} <= set(p)
    assert p["FailureResult"]["allowedValues"] == ["CONTINUE", "ABANDON"]
    with pytest.raises(ssm_agent.InvalidParameters):
        runbook.Runbook(runbook_doc).start(params(InstanceId="i-0123456789abcdef0; reboot"))
    with pytest.raises(ssm_agent.InvalidParameters):      # lists of one, as EventBridge sends them
        runbook.Runbook(runbook_doc).start({**params(), "InstanceId": [INSTANCE, INSTANCE]})
    for name in ("RunFlush1.ResponseCode", "RunFlush1.Output", "CompleteWithContinue.HTTPStatusCode",
                 "CompleteWithFailureResult.HTTPStatusCode"):
        assert name in runbook_doc["outputs"]
