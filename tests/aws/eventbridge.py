"""EventBridge, the two parts a rule applies to an event: the event pattern and the input transformer.

- matches(pattern, event): exact-value lists, nested objects, and the {"prefix": …}, {"anything-but": …} and
  {"exists": bool} filters; every key of the pattern must match (arrays in the event match when any element does).
- transform(transformer, event): InputPathsMap values are JSON paths into the event ($.detail.X, [n]); in the
  InputTemplate a placeholder <name> outside a JSON string is replaced by the JSON value (a string gets quotes),
  inside a JSON string by the escaped text; a missing path gives null / "". The result must be valid JSON when
  the template is a JSON object, which this checks.
- automation_parameters(target_input): an Automation target's input must be a JSON object of lists of strings
  (StartAutomationExecution's Parameters).
"""
import json
import re

_PLACEHOLDER = re.compile(r"<([A-Za-z0-9_.\-]+)>")


def _match_value(rule, value):
    if isinstance(rule, dict):
        if "prefix" in rule:
            return isinstance(value, str) and value.startswith(rule["prefix"])
        if "anything-but" in rule:
            ab = rule["anything-but"]
            return value not in (ab if isinstance(ab, list) else [ab])
        if "exists" in rule:
            return (value is not _MISSING) == bool(rule["exists"])
        raise NotImplementedError(f"filter {rule!r}")
    return value == rule


_MISSING = object()


def matches(pattern, event):
    for key, rule in pattern.items():
        value = event.get(key, _MISSING) if isinstance(event, dict) else _MISSING
        if isinstance(rule, dict):
            if value is _MISSING or not isinstance(value, dict):
                return False
            if not matches(rule, value):
                return False
            continue
        if not isinstance(rule, list):
            raise ValueError(f"pattern value for {key!r} must be a list or an object")
        if any(isinstance(r, dict) and "exists" in r for r in rule):
            if not any(_match_value(r, value) for r in rule):
                return False
            continue
        if value is _MISSING:
            return False
        candidates = value if isinstance(value, list) else [value]
        if not any(_match_value(r, v) for r in rule for v in candidates):
            return False
    return True


def _path(event, path):
    if not path.startswith("$"):
        raise ValueError(f"InputPathsMap value {path!r} is not a JSON path")
    obj = event
    for name, index in re.findall(r"\.([A-Za-z0-9_\-]+)|\[(\d+)\]", path[1:]):
        try:
            obj = obj[name] if name else obj[int(index)]
        except (KeyError, IndexError, TypeError):
            return None
    return obj


def transform(transformer, event):
    values = {k: _path(event, p) for k, p in transformer.get("InputPathsMap", {}).items()}
    values["aws.events.event.json"] = event
    template = transformer["InputTemplate"]
    out = []
    in_string = False
    i = 0
    while i < len(template):
        c = template[i]
        m = _PLACEHOLDER.match(template, i) if c == "<" else None
        if m and m.group(1) in values:
            v = values[m.group(1)]
            if in_string:
                text = v if isinstance(v, str) else ("" if v is None else json.dumps(v))
                out.append(json.dumps(text)[1:-1])
            else:
                out.append(json.dumps(v))
            i = m.end()
            continue
        if c == '"':
            in_string = not in_string
        elif c == "\\" and in_string and i + 1 < len(template):
            out.append(template[i:i + 2])
            i += 2
            continue
        out.append(c)
        i += 1
    text = "".join(out)
    if template.lstrip().startswith("{"):
        return json.loads(text)
    return text


def automation_parameters(target_input):
    if not isinstance(target_input, dict):
        raise ValueError("an Automation target needs a JSON object")
    for k, v in target_input.items():
        if not (isinstance(v, list) and all(isinstance(x, str) for x in v)):
            raise ValueError(f"Automation parameter {k!r} must be a list of strings, got {v!r}")
    return target_input
