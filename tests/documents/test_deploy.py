# EventBridge rule, IAM policies and the CloudFormation template: valid, least privilege, consistent.
import glob
import json
import os
import re
import subprocess
import sys

import botocore.session
import pytest
import yaml

from aws import eventbridge
from orchestration_support import COMMAND_DOC, DOCS, IAM, RULE, RUNBOOK, TEMPLATE, fill

# Actions that are permissions only, with no API operation of the same name in botocore's models.
PERMISSION_ONLY = {"iam:PassRole": "hands the automation role to SSM",
                   "s3:ListBucket": "the permission behind ListObjects(V2), which out_s3's check_bucket uses"}
# Actions without resource-level permissions: "*" is the only resource they take.
RESOURCE_STAR_OK = {"ssm:ListCommands", "ssm:ListCommandInvocations", "ssm:GetCommandInvocation",
                    "ssm:DescribeInstanceInformation"}


@pytest.fixture(scope="module")
def rule():
    with open(RULE) as f:
        return fill(json.load(f))


@pytest.fixture(scope="module")
def template():
    with open(TEMPLATE) as f:
        return yaml.safe_load(f)


def test_rule_matches_the_terminate_event_of_its_group_and_hook_only(rule, event):
    pattern = rule["EventPattern"]
    assert eventbridge.matches(pattern, event)
    for path, value in ((("detail", "LifecycleHookName"), "another-hook"),
                        (("detail", "AutoScalingGroupName"), "another-group"),
                        (("detail", "LifecycleTransition"), "autoscaling:EC2_INSTANCE_LAUNCHING"),
                        (("detail-type",), "EC2 Instance-launch Lifecycle Action"),
                        (("source",), "aws.ec2")):
        other = json.loads(json.dumps(event))
        d = other
        for k in path[:-1]:
            d = d[k]
        d[path[-1]] = value
        assert not eventbridge.matches(pattern, other), path


def test_input_transformer_gives_the_runbook_lists(rule, event, runbook_doc):
    target = rule["Target"]
    assert target["Arn"] == "arn:aws:ssm:ap-northeast-1:123456789012:automation-definition/fluent-flush-lifecycle:$DEFAULT"
    params = eventbridge.automation_parameters(eventbridge.transform(target["InputTransformer"], event))
    assert params == {"AutoScalingGroupName": ["TEST-wordpress-asg"], "LifecycleHookName": ["on-terminate"],
                      "InstanceId": ["i-0123456789abcdef0"],
                      "LifecycleActionToken": ["87654321-4321-4321-4321-210987654321"],
                      "AutomationAssumeRole": ["arn:aws:iam::123456789012:role/fluent-flush-automation"],
                      "CommandDocument": ["fluent-flush"], "FailureResult": ["CONTINUE"], "ExecutionTimeout": ["360"]}
    assert set(params) <= set(runbook_doc["parameters"])
    # a hostile value in the event stays one JSON string (and the runbook's patterns refuse it)
    evil = json.loads(json.dumps(event))
    evil["detail"]["EC2InstanceId"] = 'i-1"],"FailureResult":["ABANDON'
    p = eventbridge.transform(target["InputTransformer"], evil)
    assert p["InstanceId"] == ['i-1"],"FailureResult":["ABANDON'] and p["FailureResult"] == ["CONTINUE"]


def _iam_files():
    return sorted(glob.glob(os.path.join(IAM, "*.json")))


def _statements(doc):
    st = doc["Statement"]
    return st if isinstance(st, list) else [st]


def _as_list(v):
    return v if isinstance(v, list) else [v]


@pytest.fixture(scope="module")
def iam_actions():
    s = botocore.session.get_session()
    known = {}
    for service in ("ssm", "autoscaling", "s3", "iam", "sts", "events", "ec2"):
        m = s.get_service_model(service)
        prefix = m.signing_name if service != "autoscaling" else "autoscaling"
        known.setdefault(prefix, set()).update(m.operation_names)
    return known


def test_iam_policies_are_valid_least_privilege_and_real(iam_actions):
    files = _iam_files()
    assert {os.path.basename(f) for f in files} >= {
        "instance-trust.json", "instance-policy.json", "instance-lifecycle-policy.json", "automation-trust.json",
        "automation-policy.json", "eventbridge-trust.json", "eventbridge-policy.json"}
    for path in files:
        with open(path) as f:
            doc = fill(json.load(f))
        assert doc["Version"] == "2012-10-17", path
        for st in _statements(doc):
            assert st["Effect"] == "Allow" and "NotAction" not in st and "NotResource" not in st, path
            for action in _as_list(st["Action"]):
                assert "*" not in action, (path, action)
                prefix, _, op = action.partition(":")
                if action in PERMISSION_ONLY:
                    continue
                assert op in iam_actions.get(prefix, set()), f"{path}: {action} is not an API in botocore's models"
            if "Principal" in st:            # trust policy
                assert list(st["Principal"]) == ["Service"] and st["Action"] == "sts:AssumeRole"
                continue
            for res in _as_list(st["Resource"]):
                if res == "*":
                    assert set(_as_list(st["Action"])) <= RESOURCE_STAR_OK, (path, st)
                else:
                    assert res.startswith("arn:aws:") and not res.endswith(":*"), (path, res)


def test_iam_scoping_conditions():
    def load(name):
        with open(os.path.join(IAM, name)) as f:
            return fill(json.load(f))
    auto = load("automation-policy.json")
    send = [st for st in _statements(auto) if "ssm:SendCommand" in _as_list(st["Action"])]
    assert {st["Resource"] for st in send} == {"arn:aws:ssm:ap-northeast-1:123456789012:document/fluent-flush",
                                               "arn:aws:ec2:ap-northeast-1:123456789012:instance/*"}
    inst = next(st for st in send if "instance/*" in st["Resource"])
    assert inst["Condition"] == {"StringEquals": {"ssm:resourceTag/aws:autoscaling:groupName": "TEST-wordpress-asg"}}
    lifecycle = [st for st in _statements(auto) if st["Resource"].startswith("arn:aws:autoscaling")]
    assert lifecycle[0]["Resource"].endswith(":autoScalingGroupName/TEST-wordpress-asg")
    for name, service in (("automation-trust.json", "ssm.amazonaws.com"), ("eventbridge-trust.json", "events.amazonaws.com"),
                          ("instance-trust.json", "ec2.amazonaws.com")):
        (st,) = _statements(load(name))
        assert st["Principal"] == {"Service": service}
        if service != "ec2.amazonaws.com":
            assert st["Condition"]["StringEquals"]["aws:SourceAccount"] == "123456789012"
            assert st["Condition"]["ArnLike"]["aws:SourceArn"].startswith(f"arn:aws:{service.split('.')[0]}:")
    ev = load("eventbridge-policy.json")
    pass_role = next(st for st in _statements(ev) if st["Action"] == ["iam:PassRole"])
    assert pass_role["Condition"] == {"StringEquals": {"iam:PassedToService": "ssm.amazonaws.com"}}


def test_template_is_rendered_from_the_sources():
    r = subprocess.run([sys.executable, os.path.join(DOCS, "render_cloudformation.py"), "--check"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr


PSEUDO = {"AWS::AccountId", "AWS::Region", "AWS::Partition", "AWS::StackName", "AWS::StackId", "AWS::URLSuffix",
          "AWS::NoValue", "AWS::NotificationARNs"}
GETATT = {"AWS::IAM::Role": {"Arn", "RoleId"}, "AWS::Events::Rule": {"Arn"}}


def _walk(obj):
    yield obj
    if isinstance(obj, dict):
        for v in obj.values():
            yield from _walk(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from _walk(v)


def test_template_references_resolve(template):
    params, resources = set(template["Parameters"]), template["Resources"]
    conditions = set(template.get("Conditions", {}))
    names = params | set(resources) | PSEUDO
    seen = {"Ref": 0, "Fn::GetAtt": 0, "Fn::Sub": 0}
    for node in _walk(template):
        if not isinstance(node, dict):
            continue
        if "Ref" in node:
            seen["Ref"] += 1
            assert node["Ref"] in names, node
        if "Fn::GetAtt" in node:
            seen["Fn::GetAtt"] += 1
            res, attr = node["Fn::GetAtt"]
            assert attr in GETATT[resources[res]["Type"]], node
        if "Fn::Sub" in node:
            seen["Fn::Sub"] += 1
            text = node["Fn::Sub"] if isinstance(node["Fn::Sub"], str) else node["Fn::Sub"][0]
            for ref in re.findall(r"\$\{([^}!][^}]*)\}", text):
                base = ref.split(".")[0]
                assert ref in names or (base in resources and "." in ref), (ref, text)
        if "Condition" in node and isinstance(node["Condition"], str):
            assert node["Condition"] in conditions
    for res in resources.values():
        for dep in _as_list(res.get("DependsOn", [])):
            assert dep in resources
    assert all(seen.values()), seen


def test_template_deploys_the_same_documents_rule_and_policies(template):
    res = template["Resources"]
    with open(COMMAND_DOC) as f:
        assert res["CommandDocument"]["Properties"]["Content"] == json.load(f)
    with open(RUNBOOK) as f:
        assert res["Runbook"]["Properties"]["Content"] == yaml.safe_load(f)
    assert res["CommandDocument"]["Properties"]["DocumentType"] == "Command"
    assert res["Runbook"]["Properties"]["DocumentType"] == "Automation"
    for doc in ("CommandDocument", "Runbook"):
        assert len(json.dumps(res[doc]["Properties"]["Content"])) < 64 * 1024
    hook = res["LifecycleHook"]
    assert hook["Condition"] == "CreateHook" and hook["Properties"]["LifecycleTransition"] == "autoscaling:EC2_INSTANCE_TERMINATING"
    assert hook["DependsOn"] == "LifecycleRule"
    (target,) = res["LifecycleRule"]["Properties"]["Targets"]
    assert target["RoleArn"] == {"Fn::GetAtt": ["EventBridgeRole", "Arn"]}
    assert "<instance>" in target["InputTransformer"]["InputTemplate"]["Fn::Sub"]


def test_every_document_is_under_64kb():
    for path in (COMMAND_DOC, RUNBOOK, RULE, TEMPLATE):
        assert os.path.getsize(path) < 64 * 1024, path
