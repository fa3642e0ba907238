# Scale-in end to end: the lifecycle event -> the rule's input transformer -> the runbook (Automation emulator)
# -> the Command document (SSM Agent emulator, nsenter'ed into a real systemd bed) -> the REAL fluent-flush ->
# the Fluentd simulator -> S3 (s3rver) -> CompleteLifecycleAction on the local Auto Scaling endpoint.
import glob
import json
import os
import shutil
import time

import pytest

from aws import eventbridge, runbook, ssm_agent
from aws.asg_endpoint import AutoScalingEndpoint
from bed.nsbed import SystemdBed
from bed.s3 import S3Server
from bed.sim import FluentdSim, sim_config
from orchestration_support import COMMAND_DOC, INSTANCE, PLACEHOLDERS, RULE, fill, helper_binary

BUFFER = "/var/lib/td-agent/buffer"


class Scene:
    pass


@pytest.fixture
def scene(tmp_path, event):
    sc = Scene()
    bindir = tmp_path / "bin"
    bindir.mkdir()
    shutil.copy(helper_binary(), bindir / "fluent-flush")       # what the RPM would put in /usr/bin
    with S3Server(workdir=str(tmp_path / "s3")) as s3, AutoScalingEndpoint(region=PLACEHOLDERS["Region"]) as asg:
        s3.create_bucket()
        asg.add_lifecycle_action(event["detail"]["AutoScalingGroupName"], event["detail"]["LifecycleHookName"],
                                 event["detail"]["EC2InstanceId"], token=event["detail"]["LifecycleActionToken"])
        cfg = sim_config(str(tmp_path / "sim"), s3, workers=1, buffer={"path": BUFFER},
                         root_dir="/var/lib/td-agent/root")
        os.makedirs(tmp_path / "sim", exist_ok=True)
        cfg_path = tmp_path / "sim" / "agent.json"
        cfg_path.write_text(json.dumps(cfg))
        with SystemdBed(tmp_path, name="docs-e2e") as bed:
            unit = bed.install_agent("td-agent", str(cfg_path), flavor="td-agent4", user="root")
            r = bed.systemctl("start", "td-agent")
            assert r.returncode == 0, r.stderr + bed.journal("td-agent.service")
            fd = FluentdSim(cfg, str(tmp_path / "simapi"))
            fd.log_path = bed.host_path(unit["log_file"])
            fd.wait_for_log(r"fluentd worker is now running worker=0", timeout=30)
            agent = ssm_agent.SsmAgent(
                tmp_path / "orch", instance_id=INSTANCE, region=PLACEHOLDERS["Region"],
                prefix=ssm_agent.installed_at_usr_local_bin(bindir, ["nsenter", "-t", str(bed.init_pid), "-a"]))
            sc.s3, sc.asg, sc.bed, sc.fd, sc.cfg, sc.agent, sc.event = s3, asg, bed, fd, cfg, agent, event
            sc.runbook = runbook.Runbook(ssm_agent.load_document(os.path.join(os.path.dirname(COMMAND_DOC),
                                                                              "fluent-flush-lifecycle.yaml")),
                                         agents={INSTANCE: agent},
                                         command_documents={"fluent-flush": ssm_agent.load_document(COMMAND_DOC)},
                                         endpoints={"autoscaling": asg.url}, region=PLACEHOLDERS["Region"])
            yield sc


def buffered(sc, ids, timeout=20):
    """Emit records and wait until they sit in a file-buffer chunk (and are not in S3)."""
    deadline = time.monotonic() + timeout
    host_buffer = sc.bed.host_path(BUFFER)
    while not glob.glob(os.path.join(host_buffer, "**", "buffer.b*.log"), recursive=True):
        assert time.monotonic() < deadline, "no buffer chunk appeared"
        time.sleep(0.1)
    assert not ids & sc.s3.record_ids(), "records reached S3 before the flush"


def parameters(sc, **extra):
    with open(RULE) as f:
        rule = fill(json.load(f), {**PLACEHOLDERS, **{k: v for k, v in extra.items() if k in PLACEHOLDERS}})
    assert eventbridge.matches(rule["EventPattern"], sc.event)
    params = eventbridge.automation_parameters(eventbridge.transform(rule["Target"]["InputTransformer"], sc.event))
    params["MonitorUrl"] = ["http://127.0.0.1:%d" % sc.cfg["monitor_agent"]["port"]]
    params["BufferPaths"] = [BUFFER]
    return params


def test_scale_in_flushes_every_record_then_completes_once_with_continue(scene):
    ids = scene.fd.emit(scene.fd.records(300), worker=0)
    buffered(scene, ids)
    ex = scene.runbook.start(parameters(scene, ExecutionTimeout="120"))
    out = ex.outputs.get("RunFlush1.Output", "")
    assert ex.status == "Success", (ex.failure_message, out, scene.agent.invocations[-1].stderr[-3000:])
    assert ex.path == ["RunFlush1", "Decide1", "CompleteWithContinue"]
    result = json.loads(scene.agent.invocations[0].stdout)
    assert result["verdict"] == "confirmed" and result["exit_code"] == 0
    assert ids <= scene.s3.record_ids()
    completes = scene.asg.calls_to("CompleteLifecycleAction")
    assert [(c.params["LifecycleActionResult"], c.params["InstanceId"], c.signature_ok) for c in completes] == \
        [("CONTINUE", INSTANCE, True)]
    assert scene.asg.calls_to("RecordLifecycleActionHeartbeat") == []
    assert scene.asg.actions[0].result == "CONTINUE"
    assert out.startswith("{") and '"verdict": "confirmed"' in out.replace('":"', '": "')


def test_s3_down_past_the_deadline_heartbeats_then_fails_visibly_with_the_failure_result(scene):
    ids = scene.fd.emit(scene.fd.records(100), worker=0)
    buffered(scene, ids)
    scene.s3.stop()
    ex = scene.runbook.start(parameters(scene, ExecutionTimeout="70", FailureResult="ABANDON"))
    codes = [ex.outputs.get(f"RunFlush{i}.ResponseCode") for i in (1, 2, 3)]
    assert ex.status == "Failed", (codes, ex.path)
    assert set(codes) <= {11, 14} and len(codes) == 3, (codes, scene.agent.invocations[-1].stdout[:2000])
    assert [c.action for c in scene.asg.calls] == ["RecordLifecycleActionHeartbeat"] * 2 + ["CompleteLifecycleAction"]
    assert scene.asg.calls[-1].params["LifecycleActionResult"] == "ABANDON"
    assert "did not confirm" in ex.failure_message
    for inv in scene.agent.invocations:
        assert inv.steps[0].elapsed < 70, "the helper, not the agent's SIGKILL, must end each run"
        assert json.loads(inv.stdout)["verdict"] in ("upload_failing", "deadline")
    # nothing was lost or pretended: the chunk is still in the buffer, waiting for S3
    assert glob.glob(os.path.join(scene.bed.host_path(BUFFER), "**", "buffer.[bq]*.log"), recursive=True)
