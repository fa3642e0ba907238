"""An emulator of SSM Agent running a Command document (schemaVersion 2.2, aws:runShellScript) on Linux.

It follows amazon-ssm-agent's code path, step by step:
- parameters (docparser): names ^[a-zA-Z0-9]+$; unknown names rejected; defaults filled in; a String takes one
  value, a StringList a list; allowedValues, allowedPattern (Go regexp = RE2, MatchString = unanchored search),
  minChars/maxChars checked on every value;
- `{{ name }}` substitution (parameters.ReplaceParameters): a string that is exactly one `{{ name }}` becomes the
  value itself (a list stays a list); otherwise plain text replacement with Go's Regexp.ReplaceAllString, whose
  replacement expands `$name`/`${name}` (so a `$` in a value is mangled, and nothing is ever shell-quoted);
- the precondition {"StringEquals": ["platformType", "Linux"]};
- runCommand lines joined with "\\n" (plus a final "\\n") into <orchestration>/<command-id>/<step>/_script.sh,
  mode 0700, run as `sh -c <path>` in its own process group (Setpgid), stdout/stderr into files beside it;
- timeoutSeconds (pluginutil.ValidateExecutionTimeout): int, numeric string or float; below 5, above 172800 or
  unparsable -> 3600. On timeout or cancel: SIGKILL to the whole process group, exit code 137, TimedOut/Cancelled;
- exit code -> status: 0 Success, 168 Success (later steps skipped), 169 Failed (later steps skipped), 194 Success
  and reboot requested, anything else Failed; a process killed by a signal it was not sent by us: -1, Failed;
- output: GetCommandInvocation keeps 24,000 characters of stdout and 8,000 of stderr; the console's and an
  Automation aws:runCommand step's `Output` is iohandler.TruncateOutput(stdout, stderr, 2500).

The script runs through an optional command prefix (e.g. ["nsenter", "-t", pid, "-a"]), so it can run inside the
test bed's namespaces; the orchestration directory must then be a path visible there (the bed binds the pytest
tmp_path at the same path).
"""
import itertools
import json
import os
import re
import signal
import subprocess
import threading
import time
import uuid
from dataclasses import dataclass, field

from . import re2

PARAM_NAME = r"^[a-zA-Z0-9]+$"
DEFAULT_TIMEOUT, MIN_TIMEOUT, MAX_TIMEOUT = 3600, 5, 172800
MAX_STDOUT, MAX_STDERR, MAX_OUTPUT = 24000, 8000, 2500
EXIT_KILLED = 137
EXIT_SUCCESS_SKIP_REST, EXIT_FAILURE_SKIP_REST, EXIT_REBOOT = 168, 169, 194
_TRUNCATE_OUT = "\n---Output truncated---"
_TRUNCATE_ERR = "\n---Error truncated----"
_ERROR_TITLE = "\n----------ERROR-------\n"


class InvalidParameters(ValueError):
    """What SendCommand (and the agent's docparser) answer for a parameter that does not validate."""


def load_document(path):
    """A Command or Automation document from a .json or .yaml file."""
    with open(path) as f:
        text = f.read()
    if path.endswith((".yaml", ".yml")):
        import yaml
        return yaml.safe_load(text)
    return json.loads(text)


# ---------------------------------------------------------------- parameters


def resolve_parameters(doc, given):
    """Validate `given` ({name: str | [str]}, as SendCommand/StartAutomationExecution carry them) against the
    document's `parameters` and return {name: value} with defaults filled in (String -> str, StringList -> list)."""
    declared = doc.get("parameters") or {}
    given = dict(given or {})
    for name in given:
        if name not in declared:
            raise InvalidParameters(f"parameter {name!r} is not defined in the document")
    out = {}
    for name, spec in declared.items():
        if not re2.match(PARAM_NAME, name):
            raise InvalidParameters(f"invalid parameter name {name!r}")
        ptype = spec.get("type", "String")
        if name in given:
            value = given[name]
        elif "default" in spec:
            value = spec["default"]
        else:
            raise InvalidParameters(f"missing required parameter {name!r}")
        if ptype == "String":
            if isinstance(value, list):
                if len(value) != 1:
                    raise InvalidParameters(f"parameter {name!r} is a String and takes exactly one value, got {value!r}")
                value = value[0]
            if not isinstance(value, str):
                raise InvalidParameters(f"parameter {name!r} must be a string, got {value!r}")
            values = [value]
        elif ptype == "StringList":
            if isinstance(value, str):
                value = [value]
            if not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
                raise InvalidParameters(f"parameter {name!r} must be a list of strings, got {value!r}")
            values = value
        else:
            values = [value]
        for v in values:
            check_value(name, spec, v)
        out[name] = value
    return out


def check_value(name, spec, value):
    """One value against allowedValues, allowedPattern (RE2, unanchored like Go's MatchString), min/maxChars."""
    allowed = spec.get("allowedValues")
    if allowed is not None and value not in allowed:
        raise InvalidParameters(f"parameter {name!r}: value {value!r} is not one of {allowed}")
    pattern = spec.get("allowedPattern")
    if pattern and not re2.match(pattern, value):
        raise InvalidParameters(f"parameter value /{value}/ does not match the allowed pattern /{pattern}/")
    if "minChars" in spec and len(value) < int(spec["minChars"]):
        raise InvalidParameters(f"parameter {name!r}: fewer than {spec['minChars']} characters")
    if "maxChars" in spec and len(value) > int(spec["maxChars"]):
        raise InvalidParameters(f"parameter {name!r}: more than {spec['maxChars']} characters")


def _go_expand(template, match_text):
    """Go's Regexp.ReplaceAllString expands the replacement: $$ -> $, $0/${0} -> the match, any other
    $name/${name} -> "" (the substitution pattern has no capture groups)."""
    out = []
    i = 0
    while i < len(template):
        c = template[i]
        if c != "$" or i + 1 >= len(template):
            out.append(c)
            i += 1
            continue
        nxt = template[i + 1]
        if nxt == "$":
            out.append("$")
            i += 2
            continue
        if nxt == "{":
            end = template.find("}", i + 2)
            name = template[i + 2:end] if end > 0 else ""
            if end < 0 or not re.fullmatch(r"[A-Za-z0-9_]+", name):
                out.append(c)           # not a valid reference: kept literally
                i += 1
                continue
            i = end + 1
        else:
            m = re.match(r"[A-Za-z0-9_]+", template[i + 1:])
            if not m:
                out.append(c)
                i += 1
                continue
            name = m.group(0)
            i += 1 + len(name)
        if name == "0":
            out.append(match_text)
    return "".join(out)


def _to_string(value):
    return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))


def substitute(obj, values):
    """parameters.ReplaceParameters over any JSON-like object."""
    if isinstance(obj, str):
        for name, value in values.items():
            if re.fullmatch(r"\{\{\s*" + re.escape(name) + r"\s*\}\}", obj):
                return value
        for name, value in values.items():
            text = _to_string(value)
            obj = re.sub(r"\{\{\s*" + re.escape(name) + r"\s*\}\}", lambda m: _go_expand(text, m.group(0)), obj)
        return obj
    if isinstance(obj, list):
        return [substitute(v, values) for v in obj]
    if isinstance(obj, dict):
        return {k: substitute(v, values) for k, v in obj.items()}
    return obj


def execution_timeout(value):
    """pluginutil.ValidateExecutionTimeout."""
    if isinstance(value, bool) or value is None:
        num = DEFAULT_TIMEOUT
    elif isinstance(value, int):
        num = value
    elif isinstance(value, float):
        num = int(value)
    elif isinstance(value, str):
        try:
            num = int(value, 10)
        except ValueError:
            try:
                num = int(float(value))
            except ValueError:
                num = DEFAULT_TIMEOUT
    else:
        num = DEFAULT_TIMEOUT
    if num < MIN_TIMEOUT or num > MAX_TIMEOUT:
        num = DEFAULT_TIMEOUT
    return num


def _flatten(cmds, out):
    """pluginutil.ParseRunCommand."""
    if isinstance(cmds, str):
        out.append(cmds)
    elif isinstance(cmds, list):
        for c in cmds:
            _flatten(c, out)
    return out


# ---------------------------------------------------------------- output


def truncate_output(stdout, stderr, capacity=MAX_OUTPUT):
    """iohandler.TruncateOutput: the `Output` an Automation aws:runCommand step and the console show."""
    title = _ERROR_TITLE if stderr else ""
    available = capacity - len(title)
    if len(stdout) + len(stderr) < available:
        return stdout + title + stderr
    if len(stdout) > available // 2 and len(stderr) > available // 2:
        size = available - len(_TRUNCATE_ERR) - len(_TRUNCATE_OUT)
        return stdout[:size // 2] + _TRUNCATE_OUT + title + stderr[:size // 2] + _TRUNCATE_ERR
    if len(stdout) < available // 2:
        size = available - len(_TRUNCATE_ERR)
        return stdout + title + stderr[:size - len(stdout)] + _TRUNCATE_ERR
    size = available - len(_TRUNCATE_OUT)
    return stdout[:size - len(stderr)] + _TRUNCATE_OUT + title + stderr


def status_for(code, killed_by=None):
    """Exit code -> (status, skip_later_steps, reboot_requested)."""
    if killed_by == "timeout":
        return "TimedOut", True, False
    if killed_by == "cancel":
        return "Cancelled", True, False
    if code == 0:
        return "Success", False, False
    if code == EXIT_SUCCESS_SKIP_REST:
        return "Success", True, False
    if code == EXIT_FAILURE_SKIP_REST:
        return "Failed", True, False
    if code == EXIT_REBOOT:
        return "Success", True, True
    return "Failed", False, False


# ---------------------------------------------------------------- running


@dataclass
class StepResult:
    name: str
    status: str
    response_code: int
    stdout: str = ""
    stderr: str = ""
    script_path: str = ""
    timeout_seconds: int = 0
    elapsed: float = 0.0
    reboot_requested: bool = False

    @property
    def output(self):
        # exit 168 clears stderr from the Output (iohandler.String)
        return truncate_output(self.stdout, "" if self.response_code == EXIT_SUCCESS_SKIP_REST else self.stderr)


@dataclass
class Invocation:
    command_id: str
    instance_id: str
    parameters: dict
    steps: list = field(default_factory=list)

    def _last(self):
        ran = [s for s in self.steps if s.status != "Skipped"]
        return ran[-1] if ran else None

    @property
    def status(self):
        statuses = [s.status for s in self.steps if s.status != "Skipped"]
        for worst in ("TimedOut", "Cancelled", "Failed"):
            if worst in statuses:
                return worst
        return "Success"

    @property
    def response_code(self):
        last = self._last()
        return last.response_code if last else 0

    @property
    def stdout(self):
        return "\n".join(s.stdout for s in self.steps if s.stdout)

    @property
    def stderr(self):
        return "\n".join(s.stderr for s in self.steps if s.stderr)

    @property
    def standard_output_content(self):
        return self.stdout[:MAX_STDOUT]

    @property
    def standard_error_content(self):
        return self.stderr[:MAX_STDERR]

    @property
    def output(self):
        last = self._last()
        return last.output if last else ""


class SsmAgent:
    """One managed instance's agent. `prefix` runs the script elsewhere (nsenter into the test bed)."""

    _ids = itertools.count(1)

    def __init__(self, orchestration_dir, prefix=(), instance_id="i-0123456789abcdef0", region="us-east-1",
                 env=None):
        self.orchestration_dir = str(orchestration_dir)
        self.prefix = list(prefix)
        self.instance_id = instance_id
        self.region = region
        self.env = env
        self.invocations = []
        self._cancel = threading.Event()
        self._lock = threading.Lock()

    def cancel(self):
        """CancelCommand: SIGKILL the running script's process group."""
        self._cancel.set()

    def send_command(self, document, parameters=None, command_id=None, deadline=None):
        """Run `document` (a dict, or a path) with SendCommand-style `parameters`; returns an Invocation.
        `deadline` (monotonic time) lets a caller such as an Automation step with its own timeoutSeconds
        cancel the command. Raises InvalidParameters as SendCommand would, before anything runs."""
        if isinstance(document, (str, os.PathLike)):
            document = load_document(str(document))
        if document.get("schemaVersion") != "2.2":
            raise InvalidParameters(f"unsupported schemaVersion {document.get('schemaVersion')!r}")
        values = resolve_parameters(document, parameters)
        inv = Invocation(command_id or str(uuid.uuid4()), self.instance_id, values)
        self._cancel.clear()
        skip = False
        for step in document["mainSteps"]:
            name = step["name"]
            if skip or not self._precondition_holds(step.get("precondition")):
                inv.steps.append(StepResult(name, "Skipped", 0))
                continue
            if step["action"] != "aws:runShellScript":
                raise NotImplementedError(f"action {step['action']} is not emulated")
            inputs = substitute(step.get("inputs", {}), values)
            result = self._run_shell(inv.command_id, name, inputs, deadline)
            inv.steps.append(result)
            _, skip_rest, reboot = status_for(result.response_code,
                                              {"TimedOut": "timeout", "Cancelled": "cancel"}.get(result.status))
            skip = skip or skip_rest
        with self._lock:
            self.invocations.append(inv)
        return inv

    @staticmethod
    def _precondition_holds(pre):
        if not pre:
            return True
        for op, args in pre.items():
            if op != "StringEquals" or len(args) != 2:
                raise NotImplementedError(f"precondition {pre!r}")
            a, b = args
            values = {"platformType": "Linux"}
            if values.get(a, a) != values.get(b, b):
                return False
        return True

    def _run_shell(self, command_id, step_name, inputs, deadline):
        lines = _flatten(inputs.get("runCommand", []), [])
        timeout = execution_timeout(inputs.get("timeoutSeconds"))
        step_dir = os.path.join(self.orchestration_dir, command_id, step_name)
        os.makedirs(step_dir, mode=0o750, exist_ok=True)
        script = os.path.join(step_dir, "_script.sh")
        fd = os.open(script, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o700)
        with os.fdopen(fd, "w") as f:
            f.write("\n".join(lines) + "\n")
        os.chmod(script, 0o700)
        env = dict(self.env if self.env is not None else
                   {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME": "/root",
                    "LANG": "C.UTF-8"})
        env.update(AWS_SSM_INSTANCE_ID=self.instance_id, AWS_SSM_REGION_NAME=self.region, SSM_COMMAND_ID=command_id)
        workdir = inputs.get("workingDirectory") or step_dir
        out_path, err_path = os.path.join(step_dir, "stdout"), os.path.join(step_dir, "stderr")
        start = time.monotonic()
        killed_by = None
        with open(out_path, "wb") as out, open(err_path, "wb") as err:
            proc = subprocess.Popen(self.prefix + ["sh", "-c", script], cwd=workdir, env=env, stdin=subprocess.DEVNULL,
                                    stdout=out, stderr=err, process_group=0)
            limit = start + timeout
            try:
                while True:
                    now = time.monotonic()
                    stop = min(limit, deadline) if deadline else limit
                    try:
                        proc.wait(timeout=max(0.0, min(0.05, stop - now)))
                        break
                    except subprocess.TimeoutExpired:
                        pass
                    if self._cancel.is_set() or (deadline and time.monotonic() >= deadline):
                        killed_by = "cancel"
                    elif time.monotonic() >= limit:
                        killed_by = "timeout"
                    if killed_by:
                        _killpg(proc.pid)
                        proc.wait()
                        break
            finally:
                if proc.poll() is None:
                    _killpg(proc.pid)
                    proc.wait()
        elapsed = time.monotonic() - start
        if killed_by:
            code = EXIT_KILLED
        else:
            code = proc.returncode if proc.returncode >= 0 else -1
        status, _, reboot = status_for(code, killed_by)
        with open(out_path, "rb") as f:
            stdout = f.read().decode(errors="replace")
        with open(err_path, "rb") as f:
            stderr = f.read().decode(errors="replace")
        if code != 0 and status == "Failed" and not killed_by:
            # the agent appends the exec error to stderr for a failed script
            stderr += ("\n" if stderr else "") + f"failed to run commands: exit status {code}"
        return StepResult(step_name, status, code, stdout, stderr, script, timeout, elapsed, reboot)


def _killpg(pgid):
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def installed_at_usr_local_bin(bin_dir, prefix=()):
    """A command prefix under which the files of `bin_dir` appear as /usr/local/bin (a private mount namespace
    for that one command): how the tests 'install' the helper where the document looks for it."""
    return list(prefix) + ["unshare", "--mount", "--propagation", "private", "sh", "-c",
                           'mount --bind "$0" /usr/local/bin && exec "$@"', str(bin_dir)]
