# The Command document: schema, parameters, injection-safe patterns, timeout wiring, exit-code pass-through.
import json
import os
import re

import pytest

from aws import re2, ssm_agent
from orchestration_support import COMMAND_DOC, METACHARACTERS, is_exec_0700

LOOKAROUND_OR_BACKREF = re.compile(r"\(\?[=!<]|\\[1-9]|\\k<")


def test_schema_precondition_and_single_shell_step(command_doc):
    assert command_doc["schemaVersion"] == "2.2"
    (step,) = command_doc["mainSteps"]
    assert step["action"] == "aws:runShellScript"
    assert step["precondition"] == {"StringEquals": ["platformType", "Linux"]}
    assert re.fullmatch(r"[a-zA-Z0-9_.-]+", step["name"])
    assert step["inputs"]["timeoutSeconds"] == "{{ ExecutionTimeout }}"


def test_every_parameter_is_named_typed_described_defaulted_and_patterned(command_doc):
    params = command_doc["parameters"]
    assert {"ExecutionTimeout", "Unit", "PluginIds", "Via", "MonitorUrl", "LogFile"} <= set(params)
    for name, spec in params.items():
        assert re2.match(r"^[a-zA-Z0-9]+$", name), name
        assert spec["type"] == "String", name          # a StringList pasted into a line becomes JSON text
        assert spec["description"].strip(), name
        assert "default" in spec, name
        assert spec["allowedPattern"].startswith("^") and spec["allowedPattern"].endswith("$"), name
        assert re2.match(spec["allowedPattern"], spec["default"]), f"{name}: default fails its own pattern"
        for v in spec.get("allowedValues", []):
            assert re2.match(spec["allowedPattern"], v), (name, v)


def test_patterns_are_re2_without_lookarounds_or_backreferences(command_doc, runbook_doc):
    for doc in (command_doc, runbook_doc):
        for name, spec in doc["parameters"].items():
            pattern = spec.get("allowedPattern")
            assert pattern, f"{name} has no allowedPattern"
            assert re2.compile_error(pattern) is None, (name, re2.compile_error(pattern))
            assert not LOOKAROUND_OR_BACKREF.search(pattern), name
    # the checker itself tells RE2 from Python's re
    assert re2.compile_error(r"^(?=a)a$") and re2.compile_error(r"^(a)\1$")
    assert not re2.match(r"^[a-z]+$", "abc\n") and re.search(r"^[a-z]+$", "abc\n")


@pytest.mark.parametrize("doc_name", ["command", "runbook"])
def test_every_parameter_rejects_every_shell_metacharacter(doc_name, command_doc, runbook_doc):
    doc = command_doc if doc_name == "command" else runbook_doc
    for name, spec in doc["parameters"].items():
        base = spec.get("default") or {"AutomationAssumeRole": "arn:aws:iam::123456789012:role/r",
                                        "AutoScalingGroupName": "g", "LifecycleHookName": "h",
                                        "InstanceId": "i-0123456789abcdef0"}.get(name, "x")
        for meta in METACHARACTERS:
            for value in (meta, base + meta, meta + base, base + meta + "reboot", base + meta + base):
                with pytest.raises(ssm_agent.InvalidParameters):
                    ssm_agent.check_value(name, spec, value)


def test_injection_never_reaches_the_shell(tmp_path, command_doc, stand_in):
    """SendCommand-style calls with hostile values are refused before any script is written."""
    agent = stand_in.agent(tmp_path / "orch")
    marker = tmp_path / "pwned"
    for name in command_doc["parameters"]:
        for payload in (f"x; touch {marker}", f"$(touch {marker})", f"`touch {marker}`", f"x\ntouch {marker}",
                        f"x' ; touch {marker} ; '", f"x | touch {marker}", f"x && touch {marker}"):
            with pytest.raises(ssm_agent.InvalidParameters):
                agent.send_command(COMMAND_DOC, {name: [payload]})
    assert not marker.exists()
    assert not (tmp_path / "orch").exists() or not any((tmp_path / "orch").iterdir())


def test_values_arrive_as_single_arguments(tmp_path, stand_in):
    agent = stand_in.agent(tmp_path / "orch")
    inv = agent.send_command(COMMAND_DOC, {
        "Unit": ["td-agent.service"], "PluginIds": ["out_s3,out_s3_backup"], "Via": ["rpc"],
        "RpcUrl": ["http://127.0.0.1:24444"], "MonitorUrl": ["none"], "LogFile": ["/var/log/td-agent/td-agent.log"],
        "BufferPaths": ["/var/lib/td-agent/buffer/a,/var/lib/td-agent/buffer/b"], "Workers": ["2"],
        "AckTimeout": ["30"], "Verbosity": ["verbose"], "LogFormat": ["json"], "PidFile": ["/run/td-agent.pid"]})
    assert inv.status == "Success", inv.output
    (argv,) = stand_in.argv()
    assert argv.split(" ") == [
        "flush", "--timeout", "300", "--ack-timeout", "30", "--via", "rpc", "--log-format", "json",
        "--unit", "td-agent.service", "--pid-file", "/run/td-agent.pid", "--rpc-url", "http://127.0.0.1:24444",
        "--no-monitor", "--log-file", "/var/log/td-agent/td-agent.log", "--workers", "2",
        "--plugin-id", "out_s3", "--plugin-id", "out_s3_backup",
        "--buffer-path", "/var/lib/td-agent/buffer/a", "--buffer-path", "/var/lib/td-agent/buffer/b", "--verbose"]


def test_defaults_pass_only_what_the_user_chose(tmp_path, stand_in):
    inv = stand_in.agent(tmp_path / "orch").send_command(COMMAND_DOC, {})
    assert inv.status == "Success"
    assert stand_in.argv() == ["flush --timeout 300 --ack-timeout 15 --via signal --log-format auto"]


@pytest.mark.parametrize("execution_timeout", ["70", "360", "3600", "172800"])
def test_helper_deadline_is_60s_below_the_step_timeout(tmp_path, stand_in, execution_timeout):
    inv = stand_in.agent(tmp_path / "orch").send_command(COMMAND_DOC, {"ExecutionTimeout": [execution_timeout]})
    step = inv.steps[0]
    assert step.timeout_seconds == int(execution_timeout)          # the agent's SIGKILL limit
    helper_timeout = int(stand_in.argv()[0].split()[2])
    assert helper_timeout == int(execution_timeout) - 60 and helper_timeout >= 10


@pytest.mark.parametrize("bad", ["69", "0360", "172801", "4", "-1", "1e3", "360 ", ""])
def test_execution_timeout_outside_the_agents_range_is_refused(command_doc, bad):
    # below 70 the helper would get < 10 s; the agent itself turns <5 or >172800 into 3600 silently
    with pytest.raises(ssm_agent.InvalidParameters):
        ssm_agent.check_value("ExecutionTimeout", command_doc["parameters"]["ExecutionTimeout"], bad)


@pytest.mark.parametrize("code,status", [(0, "Success"), (2, "Failed"), (11, "Failed"), (12, "Failed"),
                                         (14, "Failed"), (21, "Failed")])
def test_exit_code_is_passed_through_unchanged(tmp_path, stand_in, code, status):
    stand_in.set_codes(code)
    inv = stand_in.agent(tmp_path / "orch").send_command(COMMAND_DOC, {})
    assert (inv.response_code, inv.status) == (code, status)
    assert json.loads(inv.stdout.splitlines()[0])["exit_code"] == code


def test_script_file_is_0700_and_joined_with_newlines(tmp_path, stand_in, command_doc):
    inv = stand_in.agent(tmp_path / "orch").send_command(COMMAND_DOC, {"Unit": ["fluentd.service"]})
    path = inv.steps[0].script_path
    assert path.endswith(os.path.join(inv.command_id, "FluentFlush", "_script.sh"))
    assert is_exec_0700(path)
    text = open(path).read()
    lines = command_doc["mainSteps"][0]["inputs"]["runCommand"]
    assert text == "\n".join(lines).replace("{{ Unit }}", "fluentd.service") \
        .replace("{{ ExecutionTimeout }}", "360").replace("{{ AckTimeout }}", "15").replace("{{ Via }}", "signal") \
        .replace("{{ LogFormat }}", "auto").replace("{{ Verbosity }}", "normal") \
        .replace("{{ PidFile }}", "").replace("{{ RpcUrl }}", "").replace("{{ MonitorUrl }}", "") \
        .replace("{{ LogFile }}", "").replace("{{ Workers }}", "").replace("{{ PluginIds }}", "") \
        .replace("{{ BufferPaths }}", "") + "\n"
    assert "{{" not in text


def test_not_installed_gives_a_clear_message_and_exit_30(tmp_path):
    agent = ssm_agent.SsmAgent(tmp_path / "orch")        # the host has no /usr/{local/,}bin/fluent-flush
    assert not os.path.exists("/usr/bin/fluent-flush") and not os.path.exists("/usr/local/bin/fluent-flush")
    inv = agent.send_command(COMMAND_DOC, {})
    assert (inv.status, inv.response_code) == ("Failed", 30)
    result = json.loads(inv.stdout)
    assert result["verdict"] == "not_installed" and result["exit_code"] == 30
    assert "not installed" in inv.stderr and "/usr/local/bin/fluent-flush" in inv.stderr
    assert inv.output.startswith('{"verdict":"not_installed"')


def test_document_exit_codes_avoid_reserved_ones(command_doc):
    text = "\n".join(command_doc["mainSteps"][0]["inputs"]["runCommand"])
    codes = {int(c) for c in re.findall(r"\bexit (\d+)", text)}
    assert codes == {30}
    assert not codes & {126, 127, 137, 168, 169, 194} and all(c < 126 for c in codes)
    assert text.rstrip().endswith('exec "$bin" "$@"')      # exec: the helper's status is the script's


def test_script_parses_under_dash_and_bash(tmp_path, command_doc):
    script = tmp_path / "s.sh"
    script.write_text("\n".join(command_doc["mainSteps"][0]["inputs"]["runCommand"]) + "\n")
    for sh in ("dash", "bash"):
        r = __import__("subprocess").run([sh, "-n", str(script)], capture_output=True, text=True)
        assert r.returncode == 0, (sh, r.stderr)


def test_document_size_under_64kb():
    assert os.path.getsize(COMMAND_DOC) < 64 * 1024
