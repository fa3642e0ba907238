# Paths, placeholder values and helpers shared by the tests of documents/, iam/ and tests/aws/.
import json
import os
import re
import stat

from aws import ssm_agent

TESTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REPO = os.path.dirname(TESTS)
DOCS = os.path.join(REPO, "documents")
IAM = os.path.join(REPO, "iam")
COMMAND_DOC = os.path.join(DOCS, "fluent-flush-command.json")
RUNBOOK = os.path.join(DOCS, "fluent-flush-lifecycle.yaml")
RULE = os.path.join(DOCS, "eventbridge-rule.json")
TEMPLATE = os.path.join(DOCS, "cloudformation.yaml")


from ffpaths import helper_binary  # noqa: E402  the real binary, built by `make`
EVENT = os.path.join(os.path.dirname(REPO), "shared", "fixtures", "events", "terminate-lifecycle-action.json")

# What the fixture event's rule is deployed with (docs/ORCHESTRATION.md shows the same substitution).
PLACEHOLDERS = {
    "Partition": "aws", "Region": "ap-northeast-1", "AccountId": "123456789012",
    "AutoScalingGroupName": "TEST-wordpress-asg", "LifecycleHookName": "on-terminate",
    "RunbookName": "fluent-flush-lifecycle", "CommandDocumentName": "fluent-flush",
    "AutomationRoleName": "fluent-flush-automation", "EventBridgeRoleName": "fluent-flush-events",
    "RuleName": "fluent-flush", "FailureResult": "CONTINUE", "ExecutionTimeout": "360",
    "LogBucket": "fluentd-logs", "LogPrefix": "app/",
}
INSTANCE = "i-0123456789abcdef0"
METACHARACTERS = [";", "$(", ")", "`", "|", "&", ">", "<", "'", '"', "\n", "$", "\\", "*", "?", "{", "}", " "]


def fill(obj, values=PLACEHOLDERS):
    """Replace ${Name} placeholders in a JSON-like object (documents/eventbridge-rule.json, iam/*.json)."""
    text = json.dumps(obj)
    missing = set(re.findall(r"\$\{(\w+)\}", text)) - set(values)
    assert not missing, f"placeholders without a value: {missing}"
    return json.loads(re.sub(r"\$\{(\w+)\}", lambda m: values[m.group(1)], text))


STAND_IN = """#!/bin/sh
# Stand-in for fluent-flush: prints a JSON result with its argv, exits with the next code from codes.txt
# (one per line; the last one repeats), after sleeping FF_SLEEP seconds.
dir=$(dirname "$0")
n=$(cat "$dir/runs" 2>/dev/null || echo 0); n=$((n + 1)); echo "$n" > "$dir/runs"
code=$(sed -n "${n}p" "$dir/codes.txt"); [ -n "$code" ] || code=$(tail -n 1 "$dir/codes.txt")
printf '%s\\n' "$*" >> "$dir/argv.log"
[ -z "${FF_SLEEP:-}" ] || sleep "$FF_SLEEP"
printf '{"verdict":"stand-in","exit_code":%s,"run":%s}\\n' "$code" "$n"
echo "stand-in progress line" >&2
exit "$code"
"""


class StandIn:
    """A directory holding an executable `fluent-flush` stand-in, mounted at /usr/local/bin for the script."""

    def __init__(self, path, codes=(0,)):
        self.dir = str(path)
        os.makedirs(self.dir, exist_ok=True)
        self.bin = os.path.join(self.dir, "fluent-flush")
        with open(self.bin, "w") as f:
            f.write(STAND_IN)
        os.chmod(self.bin, 0o755)
        self.set_codes(*codes)

    def set_codes(self, *codes):
        with open(os.path.join(self.dir, "codes.txt"), "w") as f:
            f.write("".join(f"{c}\n" for c in codes))

    def argv(self):
        p = os.path.join(self.dir, "argv.log")
        return open(p).read().splitlines() if os.path.exists(p) else []

    def agent(self, orchestration_dir, env=None):
        return ssm_agent.SsmAgent(orchestration_dir, prefix=ssm_agent.installed_at_usr_local_bin(self.dir),
                                  instance_id=INSTANCE, env=env)


def is_exec_0700(path):
    return stat.S_IMODE(os.stat(path).st_mode) == 0o700
