"""An emulator of Systems Manager Automation running a runbook (schemaVersion 0.3), step by step.

    rb = Runbook(load_document("documents/fluent-flush-lifecycle.yaml"),
                 agents={"i-0123…": SsmAgent(...)}, command_documents={"fluent-flush": command_doc},
                 endpoints={"autoscaling": asg.url}, credentials=("AKID", "SECRET", None), region="us-east-1")
    ex = rb.start({"InstanceId": ["i-0123…"], …})     # StartAutomationExecution's map of lists
    ex.status, ex.outputs["RunFlush1.ResponseCode"], ex.step("Decide1").status

Actions:
- aws:runCommand: the inputs are checked against botocore's SendCommand input shape, then the Command document
  runs through the SsmAgent emulator of the instance (parameter validation, `_script.sh`, exit code -> status).
  Outputs CommandId, Status, ResponseCode, Output (the 2,500-character cut). A command that does not end in
  Success fails the step; its outputs are kept, so a later aws:branch can read ResponseCode.
- aws:branch: Choices in order (NumericEquals/Greater/Lesser[Equals], StringEquals, BooleanEquals, Contains,
  And/Or/Not), else Default; a Variable that cannot be resolved fails the step, as does no match without Default.
- aws:executeAwsApi: a real botocore client call to the endpoint configured for the Service (signed with the
  configured credentials; no SDK retries, so every attempt is one request); outputs by Selector ($.A.B[0]).
- aws:executeScript: the Python Script's Handler(events=InputPayload, context) run in-process; an exception fails
  the step with its message.
- Shared step properties: maxAttempts, onFailure (Abort | Continue | step:Name), isCritical (default true),
  nextStep, isEnd. The execution is Failed when it aborted or a critical step failed.

Assumption (not checkable offline): an aws:runCommand step that fails still publishes its outputs. If it did
not, the runbook's aws:branch would fail on the unresolved variable and its onFailure would still complete the
lifecycle action with the failure result (tests/documents cover that path too).
"""
import json
import re
import time
from dataclasses import dataclass, field

import botocore.config
import botocore.exceptions
import botocore.session
import botocore.validate

from .ssm_agent import InvalidParameters, resolve_parameters

_session = botocore.session.get_session()
_ssm_model = _session.get_service_model("ssm")
_VAR = re.compile(r"\{\{\s*([A-Za-z0-9_.:]+)\s*\}\}")
MAX_STEP_EXECUTIONS = 100


class Unresolved(Exception):
    pass


class StepFailed(Exception):
    pass


@dataclass
class StepExecution:
    name: str
    action: str
    status: str = "Pending"
    outputs: dict = field(default_factory=dict)
    failure_message: str = ""
    attempts: int = 0
    inputs: dict = field(default_factory=dict)


@dataclass
class Execution:
    document: dict
    parameters: dict
    status: str = "InProgress"
    steps: list = field(default_factory=list)
    outputs: dict = field(default_factory=dict)
    failure_message: str = ""

    def step(self, name):
        """The last execution of step `name` (a step can run more than once when a runbook loops)."""
        for s in reversed(self.steps):
            if s.name == name:
                return s
        raise KeyError(f"step {name} did not run; ran: {[s.name for s in self.steps]}")

    @property
    def path(self):
        return [s.name for s in self.steps]


def _json_path(obj, selector):
    """The subset of JSONPath Automation selectors use here: $.a.b[0].c"""
    if not selector.startswith("$"):
        raise StepFailed(f"bad selector {selector!r}")
    for name, index in re.findall(r"\.([A-Za-z0-9_]+)|\[(\d+)\]", selector[1:]):
        if name:
            if not isinstance(obj, dict) or name not in obj:
                raise StepFailed(f"selector {selector} matches nothing")
            obj = obj[name]
        else:
            obj = obj[int(index)]
    return obj


def _typed(value, type_):
    if type_ == "Integer":
        return int(value)
    if type_ == "Boolean":
        return bool(value)
    if type_ == "String":
        return value if isinstance(value, str) else json.dumps(value)
    return value


class Runbook:
    def __init__(self, document, agents=None, command_documents=None, endpoints=None, credentials=None,
                 region="us-east-1"):
        if document.get("schemaVersion") != "0.3":
            raise ValueError("not an Automation runbook (schemaVersion 0.3)")
        self.doc = document
        self.agents = agents or {}
        self.command_documents = command_documents or {}
        self.endpoints = endpoints or {}
        self.credentials = credentials or ("AKIDFLUENTFLUSHTEST", "fluent-flush-test-secret", None)
        self.region = region
        self._clients = {}

    # ------------------------------------------------------------ variables

    def _resolve(self, obj, ex):
        if isinstance(obj, str):
            whole = _VAR.fullmatch(obj)
            if whole:
                return self._lookup(whole.group(1), ex)

            def text(m):
                v = self._lookup(m.group(1), ex)
                return v if isinstance(v, str) else json.dumps(v)
            return _VAR.sub(text, obj)
        if isinstance(obj, list):
            return [self._resolve(v, ex) for v in obj]
        if isinstance(obj, dict):
            return {k: self._resolve(v, ex) for k, v in obj.items()}
        return obj

    def _lookup(self, name, ex):
        if name in ex.parameters:
            return ex.parameters[name]
        if name == "global:REGION":
            return self.region
        if "." in name:
            step, _, out = name.partition(".")
            for s in reversed(ex.steps):
                if s.name == step and out in s.outputs:
                    return s.outputs[out]
        raise Unresolved(f"variable {{{{ {name} }}}} cannot be resolved")

    # ------------------------------------------------------------ running

    def start(self, parameters):
        """StartAutomationExecution + run to the end. `parameters`: {name: [values]}."""
        botocore.validate.validate_parameters(
            {"DocumentName": "fluent-flush-lifecycle", "Parameters": parameters},
            _ssm_model.operation_model("StartAutomationExecution").input_shape)
        values = resolve_parameters(self.doc, parameters)    # raises InvalidParameters like the API
        ex = Execution(self.doc, values)
        steps = self.doc["mainSteps"]
        index = {s["name"]: i for i, s in enumerate(steps)}
        i = 0
        critical_failed = False
        while 0 <= i < len(steps):
            if len(ex.steps) >= MAX_STEP_EXECUTIONS:
                ex.status, ex.failure_message = "Failed", "too many step executions"
                break
            spec = steps[i]
            se = StepExecution(spec["name"], spec["action"])
            ex.steps.append(se)
            next_name = None
            for attempt in range(1, int(spec.get("maxAttempts", 1)) + 1):
                se.attempts = attempt
                try:
                    se.inputs = self._resolve(spec.get("inputs", {}), ex)
                    next_name = self._run_step(spec, se, ex)
                    se.status = "Success"
                    break
                except (StepFailed, Unresolved, InvalidParameters) as e:
                    se.status, se.failure_message = "Failed", str(e)
            if se.status == "Success":
                if spec.get("isEnd"):
                    break
                target = next_name or spec.get("nextStep")
                i = index[target] if target else i + 1
                continue
            on_failure = spec.get("onFailure", "Abort")
            if spec.get("isCritical", True) in (True, "true", "True"):
                critical_failed = True
            if on_failure == "Abort":
                ex.status = "Failed"
                ex.failure_message = f"Step {se.name} failed: {se.failure_message}"
                break
            if on_failure == "Continue":
                if spec.get("isEnd"):
                    break
                i += 1
            elif on_failure.startswith("step:"):
                i = index[on_failure[5:]]
            else:
                raise ValueError(f"bad onFailure {on_failure!r}")
        if ex.status == "InProgress":
            ex.status = "Failed" if critical_failed else "Success"
            if critical_failed:
                ex.failure_message = next(f"Step {s.name} failed: {s.failure_message}"
                                          for s in ex.steps if s.status == "Failed")
        for ref in self.doc.get("outputs", []):
            step, _, out = ref.partition(".")
            for s in reversed(ex.steps):
                if s.name == step and out in s.outputs:
                    ex.outputs[ref] = s.outputs[out]
                    break
        return ex

    def _run_step(self, spec, se, ex):
        action = spec["action"]
        if action == "aws:runCommand":
            return self._run_command(spec, se)
        if action == "aws:branch":
            return self._branch(se.inputs, ex)
        if action == "aws:executeAwsApi":
            return self._execute_api(spec, se)
        if action == "aws:executeScript":
            return self._execute_script(spec, se)
        if action == "aws:sleep":
            time.sleep(min(float(se.inputs.get("Duration", "PT0S").strip("PTS") or 0), 5))
            return None
        raise NotImplementedError(f"action {action} is not emulated")

    def _run_command(self, spec, se):
        inputs = se.inputs
        request = {k: inputs[k] for k in ("DocumentName", "InstanceIds", "Parameters", "Comment") if k in inputs}
        try:
            botocore.validate.validate_parameters(request, _ssm_model.operation_model("SendCommand").input_shape)
        except botocore.exceptions.ParamValidationError as e:
            raise StepFailed(f"SendCommand rejected the inputs: {e}")
        doc = self.command_documents.get(inputs["DocumentName"])
        if doc is None:
            raise StepFailed(f"InvalidDocument: document {inputs['DocumentName']} does not exist")
        (instance,) = inputs["InstanceIds"]
        agent = self.agents.get(instance)
        if agent is None:
            raise StepFailed(f"InvalidInstanceId: {instance} is not a managed instance")
        deadline = time.monotonic() + int(spec.get("timeoutSeconds", 3600))
        inv = agent.send_command(doc, inputs.get("Parameters", {}), deadline=deadline)
        se.outputs = {"CommandId": inv.command_id, "Status": inv.status, "ResponseCode": inv.response_code,
                      "Output": inv.output}
        if inv.status != "Success":
            raise StepFailed(f"Command {inv.command_id} returns unexpected invocation result: "
                             f"{{Status=[{inv.status}], ResponseCode=[{inv.response_code}], Output=[{inv.output[:200]}]}}")
        return None

    def _branch(self, inputs, ex):
        for choice in inputs.get("Choices", []):
            if self._holds(choice):
                return choice["NextStep"]
        if "Default" in inputs:
            return inputs["Default"]
        raise StepFailed("no choice matched and there is no Default")

    def _holds(self, cond):
        if "And" in cond:
            return all(self._holds(c) for c in cond["And"])
        if "Or" in cond:
            return any(self._holds(c) for c in cond["Or"])
        if "Not" in cond:
            return not self._holds(cond["Not"][0] if isinstance(cond["Not"], list) else cond["Not"])
        value = cond["Variable"]
        ops = {"NumericEquals": lambda a, b: float(a) == float(b),
               "NumericGreater": lambda a, b: float(a) > float(b),
               "NumericLesser": lambda a, b: float(a) < float(b),
               "NumericGreaterOrEquals": lambda a, b: float(a) >= float(b),
               "NumericLesserOrEquals": lambda a, b: float(a) <= float(b),
               "StringEquals": lambda a, b: str(a) == str(b),
               "EqualsIgnoreCase": lambda a, b: str(a).lower() == str(b).lower(),
               "BooleanEquals": lambda a, b: str(a).lower() == str(b).lower(),
               "Contains": lambda a, b: b in a}
        for op, fn in ops.items():
            if op in cond:
                try:
                    return fn(value, cond[op])
                except (TypeError, ValueError):
                    raise StepFailed(f"{op}: cannot compare {value!r} with {cond[op]!r}")
        raise StepFailed(f"no operator in choice {cond!r}")

    def _client(self, service):
        if service not in self._clients:
            akid, secret, token = self.credentials
            self._clients[service] = _session.create_client(
                service, region_name=self.region, endpoint_url=self.endpoints.get(service),
                aws_access_key_id=akid, aws_secret_access_key=secret, aws_session_token=token,
                config=botocore.config.Config(retries={"total_max_attempts": 1}, connect_timeout=5, read_timeout=25))
        return self._clients[service]

    def _execute_api(self, spec, se):
        params = dict(se.inputs)
        service, api = params.pop("Service"), params.pop("Api")
        if service not in self.endpoints:
            raise StepFailed(f"no endpoint configured for service {service}")
        client = self._client(service)
        try:
            response = getattr(client, botocore.xform_name(api))(**params)
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
            raise StepFailed(f"{api} failed: {e}")
        for out in spec.get("outputs", []):
            se.outputs[out["Name"]] = _typed(_json_path(response, out["Selector"]), out.get("Type", "String"))
        return None

    def _execute_script(self, spec, se):
        inputs = se.inputs
        if not str(inputs.get("Runtime", "")).startswith("python3"):
            raise StepFailed(f"runtime {inputs.get('Runtime')} is not emulated")
        namespace = {"__name__": "automation_script"}
        try:
            exec(compile(inputs["Script"], f"<{se.name}>", "exec"), namespace)
            payload = namespace[inputs["Handler"]](inputs.get("InputPayload", {}), None)
        except Exception as e:  # an exception in the script fails the step with its message
            raise StepFailed(f"{type(e).__name__}: {e}")
        for out in spec.get("outputs", []):
            se.outputs[out["Name"]] = _typed(_json_path({"Payload": payload}, out["Selector"]), out.get("Type", "String"))
        return None
