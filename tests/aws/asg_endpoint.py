"""A local EC2 Auto Scaling Query API endpoint on 127.0.0.1 that records every call and checks its SigV4 signature.

    with AutoScalingEndpoint(access_key="AKID", secret_key="SECRET", session_token="TOKEN") as ep:
        ep.add_lifecycle_action("my-asg", "my-hook", "i-0123456789abcdef0", token="…")   # optional: be strict
        ep.script("throttle", "ok")         # the next two answers; afterwards the default ("ok")
        ... client posts to ep.url ...
        ep.calls[0].action, .params, .signature_ok, .answer

What it checks, for every request (POST, application/x-www-form-urlencoded body, as the Query API wants):
- Authorization is AWS4-HMAC-SHA256 for this access key, scope <date>/<region>/autoscaling/aws4_request, the date
  matching X-Amz-Date, which is within 15 minutes of now;
- the signature, recomputed with botocore's SigV4 code over exactly the headers the client listed in
  SignedHeaders (so both botocore and curl's CURLOPT_AWS_SIGV4 are judged by the same rules);
- with a session token configured: an `x-amz-security-token` header equal to it, and signed;
- `Action` and `Version=2011-01-01` in the body; the operation exists in botocore's autoscaling model and
  its required members are present, and LifecycleActionResult is CONTINUE or ABANDON.
A failed check answers 403 (SignatureDoesNotMatch, InvalidClientTokenId, IncompleteSignature) or 400
(MissingParameter, ValidationError, InvalidAction) like the service. Scripted answers apply only to requests
that pass the checks: "ok", "validation" (ValidationError), "throttle" (Throttling), "drop" (close the connection
without an answer), ("delay", seconds, answer), or ("error", status, code, message).

Lifecycle state: after add_lifecycle_action(), CompleteLifecycleAction and RecordLifecycleActionHeartbeat must
name an active action (by instance id or token) or get the service's ValidationError; a completion ends it.
"""
import datetime
import threading
import time
import urllib.parse
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from xml.sax.saxutils import escape

from aws.loopback import LoopbackServer

import botocore.auth
import botocore.awsrequest
import botocore.credentials
import botocore.session

NS = "http://autoscaling.amazonaws.com/doc/2011-01-01/"
VERSION = "2011-01-01"
MAX_SKEW = datetime.timedelta(minutes=15)

_model = botocore.session.get_session().get_service_model("autoscaling")


@dataclass
class Call:
    action: str
    params: dict
    headers: dict
    body: str
    signature_ok: bool
    signature_error: str
    answer: str
    status: int
    time: float = field(default_factory=time.time)


@dataclass
class LifecycleAction:
    group: str
    hook: str
    instance_id: str
    token: str
    heartbeats: int = 0
    result: str = ""


class AutoScalingEndpoint(LoopbackServer):
    def __init__(self, access_key="AKIDFLUENTFLUSHTEST", secret_key="fluent-flush-test-secret", session_token=None,
                 region="us-east-1", host="127.0.0.1"):
        self.access_key = access_key
        self.secret_key = secret_key
        self.session_token = session_token
        self.region = region
        self.host = host
        self.calls = []
        self.actions = []
        self.default_answer = "ok"
        self._answers = []
        self._lock = threading.Lock()
        self._server = None
        self._thread = None

    # ------------------------------------------------------------ lifecycle of the server

    thread_name = "asg-endpoint"

    def handler_class(self):
        endpoint = self

        class Handler(_Handler):
            ep = endpoint

        return Handler

    @property
    def url(self):
        return f"http://{self.host}:{self.port}/"

    # ------------------------------------------------------------ scripting

    def script(self, *answers):
        """Queue the answers to the next requests that pass the checks."""
        with self._lock:
            self._answers.extend(answers)

    def add_lifecycle_action(self, group, hook, instance_id, token=None):
        a = LifecycleAction(group, hook, instance_id, token or str(uuid.uuid4()))
        with self._lock:
            self.actions.append(a)
        return a

    def calls_to(self, action):
        return [c for c in self.calls if c.action == action]

    def _next_answer(self):
        with self._lock:
            return self._answers.pop(0) if self._answers else self.default_answer

    # ------------------------------------------------------------ checks

    def verify(self, method, path, headers, body):
        """'' when the request is signed right for this endpoint's credentials, else (http status, code, why)."""
        h = {k.lower(): v for k, v in headers.items()}
        auth = h.get("authorization", "")
        if not auth.startswith("AWS4-HMAC-SHA256 "):
            return 403, "IncompleteSignature", f"Authorization header is not AWS4-HMAC-SHA256: {auth[:40]!r}"
        fields = {}
        for part in auth[len("AWS4-HMAC-SHA256 "):].split(","):
            k, _, v = part.strip().partition("=")
            fields[k] = v
        try:
            akid, date, region, service, term = fields["Credential"].split("/")
            signed = fields["SignedHeaders"].split(";")
            signature = fields["Signature"]
        except (KeyError, ValueError):
            return 403, "IncompleteSignature", f"malformed Authorization: {auth!r}"
        amz_date = h.get("x-amz-date", "")
        if akid != self.access_key:
            return 403, "InvalidClientTokenId", "The security token included in the request is invalid."
        if (region, service, term) != (self.region, "autoscaling", "aws4_request"):
            return 403, "SignatureDoesNotMatch", f"Credential should be scoped to {self.region}/autoscaling, got {region}/{service}"
        try:
            when = datetime.datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=datetime.timezone.utc)
        except ValueError:
            return 403, "IncompleteSignature", f"missing or malformed X-Amz-Date {amz_date!r}"
        if date != amz_date[:8]:
            return 403, "SignatureDoesNotMatch", "Credential date does not match X-Amz-Date"
        if abs(datetime.datetime.now(datetime.timezone.utc) - when) > MAX_SKEW:
            return 403, "SignatureDoesNotMatch", "Signature expired: X-Amz-Date is more than 15 minutes away"
        if "host" not in signed:
            return 403, "SignatureDoesNotMatch", "the host header is not signed"
        if self.session_token is not None:
            if h.get("x-amz-security-token") != self.session_token:
                return 403, "InvalidClientTokenId", "The security token included in the request is invalid."
            if "x-amz-security-token" not in signed:
                return 403, "SignatureDoesNotMatch", "x-amz-security-token is not signed"
        for name in signed:
            if name not in h:
                return 403, "SignatureDoesNotMatch", f"signed header {name!r} is missing"
        # Recompute with botocore over exactly the signed headers.
        request = botocore.awsrequest.AWSRequest(method=method, url=f"http://{h['host']}{path}", data=body,
                                                 headers={n: h[n] for n in signed if n != "host"})
        request.headers["host"] = h["host"]
        request.context["timestamp"] = amz_date
        creds = botocore.credentials.Credentials(self.access_key, self.secret_key, self.session_token)
        signer = botocore.auth.SigV4Auth(creds, "autoscaling", self.region)
        canonical = signer.canonical_request(request)
        ours = signer.signed_headers(signer.headers_to_sign(request))
        if ours != fields["SignedHeaders"]:
            return 403, "SignatureDoesNotMatch", (f"SignedHeaders {fields['SignedHeaders']!r} are not canonical "
                                                  f"(expected {ours!r})")
        expected = signer.signature(signer.string_to_sign(request, canonical), request)
        if expected != signature:
            return 403, "SignatureDoesNotMatch", ("The request signature we calculated does not match the signature "
                                                  "you provided. Canonical request:\n" + canonical)
        return ""

    def validate(self, params):
        """'' or (400, code, message), as the service answers a malformed Query API request."""
        action = params.get("Action", "")
        if not action:
            return 400, "MissingAction", "Action is missing"
        if params.get("Version") != VERSION:
            return 400, "InvalidParameterValue", f"Version must be {VERSION}, got {params.get('Version')!r}"
        if action not in _model.operation_names:
            return 400, "InvalidAction", f"Could not find operation {action} for version {VERSION}"
        shape = _model.operation_model(action).input_shape
        for member in (shape.required_members if shape else []):
            if member not in params:
                return 400, "MissingParameter", f"The request must contain the parameter {member}"
        result = params.get("LifecycleActionResult")
        if action == "CompleteLifecycleAction" and result not in ("CONTINUE", "ABANDON"):
            return 400, "ValidationError", f"Invalid LifecycleActionResult {result!r}: must be CONTINUE or ABANDON"
        if action in ("CompleteLifecycleAction", "RecordLifecycleActionHeartbeat"):
            if not params.get("InstanceId") and not params.get("LifecycleActionToken"):
                return 400, "ValidationError", "Either InstanceId or LifecycleActionToken must be specified"
        return ""

    def _lifecycle(self, params):
        action = params["Action"]
        if action not in ("CompleteLifecycleAction", "RecordLifecycleActionHeartbeat"):
            return ""
        with self._lock:
            if not self.actions:
                return ""       # not tracking: any identifiers are accepted
            for a in self.actions:
                if a.result or a.group != params.get("AutoScalingGroupName") or a.hook != params.get("LifecycleHookName"):
                    continue
                if params.get("InstanceId") not in (None, a.instance_id):
                    continue
                if params.get("LifecycleActionToken") not in (None, a.token):
                    continue
                if action == "CompleteLifecycleAction":
                    a.result = params["LifecycleActionResult"]
                else:
                    a.heartbeats += 1
                return ""
        who = params.get("InstanceId") or params.get("LifecycleActionToken")
        return 400, "ValidationError", f"No active Lifecycle Action found with instance ID {who}"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    ep = None

    def log_message(self, *args):
        pass

    def do_GET(self):
        self._error(400, "InvalidAction", "send Query API requests as a POST with a form body", "GET", {}, "")

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        body = raw.decode("utf-8", errors="replace")
        headers = {k: v for k, v in self.headers.items()}
        params = dict(urllib.parse.parse_qsl(body, keep_blank_values=True))
        action = params.get("Action", "")
        ctype = self.headers.get("Content-Type", "")
        if not ctype.startswith("application/x-www-form-urlencoded"):
            return self._error(400, "InvalidParameterValue", f"unsupported Content-Type {ctype!r}", action, params, body)
        bad = self.ep.verify("POST", self.path, headers, raw)
        if bad:
            return self._error(*bad, action, params, body, signature_ok=False, signature_error=bad[2])
        bad = self.ep.validate(params)
        if bad:
            return self._error(*bad, action, params, body)
        answer = self.ep._next_answer()
        if isinstance(answer, tuple) and answer[0] == "delay":
            time.sleep(answer[1])
            answer = answer[2]
        if answer == "drop":
            self._record(action, params, headers, body, True, "", "drop", 0)
            self.close_connection = True
            return
        if answer == "throttle":
            return self._error(400, "Throttling", "Rate exceeded", action, params, body, answer="throttle")
        if answer == "validation":
            who = params.get("InstanceId") or params.get("LifecycleActionToken")
            return self._error(400, "ValidationError", f"No active Lifecycle Action found with instance ID {who}",
                               action, params, body, answer="validation")
        if isinstance(answer, tuple) and answer[0] == "error":
            return self._error(answer[1], answer[2], answer[3], action, params, body, answer="error")
        bad = self.ep._lifecycle(params)
        if bad:
            return self._error(*bad, action, params, body)
        self._record(action, params, headers, body, True, "", "ok", 200)
        xml = (f'<{action}Response xmlns="{NS}"><{action}Result/>'
               f"<ResponseMetadata><RequestId>{uuid.uuid4()}</RequestId></ResponseMetadata></{action}Response>")
        self._send(200, xml)

    def _record(self, action, params, headers, body, ok, why, answer, status):
        call = Call(action, params, {k: v for k, v in headers.items()}, body, ok, why, answer, status)
        with self.ep._lock:
            self.ep.calls.append(call)

    def _error(self, status, code, message, action, params, body, signature_ok=True, signature_error="", answer=None):
        self._record(action, params, dict(self.headers.items()), body, signature_ok, signature_error,
                     answer or code, status)
        kind = "Receiver" if status >= 500 else "Sender"
        xml = (f'<ErrorResponse xmlns="{NS}"><Error><Type>{kind}</Type><Code>{escape(code)}</Code>'
               f"<Message>{escape(message)}</Message></Error><RequestId>{uuid.uuid4()}</RequestId></ErrorResponse>")
        self._send(status, xml)

    def _send(self, status, xml):
        data = xml.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/xml")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
        self.end_headers()
        self.wfile.write(data)
