"""A local EC2 instance metadata service (IMDSv2) on 127.0.0.1, scriptable from a test.

    with ImdsServer(region="us-east-1", instance_id="i-0123456789abcdef0") as imds:
        imds.set_credentials("AKID", "SECRET", "TOKEN", expires_in=3600)
        imds.tags["aws:autoscaling:groupName"] = "my-asg"     # instance tags in metadata (None: disabled)
        ... run the helper with --imds-url imds.url ...
        imds.set_lifecycle_state("Terminated")                  # mid-test: the next poll sees it
        imds.set_spot_action("terminate", in_seconds=120)
        imds.expire_tokens()                                    # every token handed out so far → 401
        imds.requests                                           # [(method, path, status)], in order

Behaves like the real service where the helper depends on it:
- PUT /latest/api/token with X-aws-ec2-metadata-token-ttl-seconds 1..21600 → a token; a missing or bad TTL
  → 400; a PUT carrying X-Forwarded-For → 403 (IMDS refuses proxied token requests).
- Every GET needs X-aws-ec2-metadata-token: missing, unknown or expired (TTL passed, or expire_tokens())
  → 401 (IMDSv2 required). max_ttl caps the TTL actually granted, to test renewal without long waits.
- /latest/meta-data/autoscaling/target-lifecycle-state → 404 until set_lifecycle_state().
- /latest/meta-data/spot/instance-action → 404 until set_spot_action(): {"action": …, "time": …}.
- /latest/meta-data/iam/security-credentials/ → the role name (404 without one);
  …/<role> → {Code, LastUpdated, Type, AccessKeyId, SecretAccessKey, Token, Expiration}.
- /latest/meta-data/tags/instance/<key> → the value; 404 for a missing key or when tags is None
  (instance tags in metadata not enabled).
- fail_next(n, status) makes the next n requests (any path) answer status (e.g. 500, 503), and
  drop_next(n) closes the connection of the next n requests without an answer.
"""
import datetime
import json
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler

from aws.loopback import LoopbackServer

MAX_TTL = 21600


def _iso(t):
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class ImdsServer(LoopbackServer):
    def __init__(self, region="us-east-1", instance_id="i-0123456789abcdef0", role="fluent-flush-instance",
                 host="127.0.0.1", max_ttl=MAX_TTL):
        self.region = region
        self.instance_id = instance_id
        self.role = role
        self.host = host
        self.max_ttl = max_ttl
        self.tags = {}                  # None: instance tags are not in the metadata
        self.lifecycle_state = None
        self.spot = None
        self.credentials = None
        self.requests = []              # (method, path, status)
        self.tokens_issued = 0
        self.issued_tokens = []         # every token handed out (tests grep outputs for them)
        self.credential_fetches = 0
        self._tokens = {}               # token → expiry (monotonic)
        self._fail = []                 # statuses (int) or "drop" for the next requests
        self._lock = threading.Lock()
        self._server = None
        self._thread = None
        self.set_credentials("AKIDFLUENTFLUSHTEST", "fluent-flush-test-secret", "FwoGZXIvYXdzEBYaDFAKESESSIONTOKEN",
                             expires_in=6 * 3600)

    # ------------------------------------------------------------ lifecycle of the server

    thread_name = "imds"

    def handler_class(self):
        imds = self

        class Handler(_Handler):
            server_state = imds

        return Handler

    @property
    def url(self):
        return f"http://{self.host}:{self.port}"

    # ------------------------------------------------------------ scripting

    def set_lifecycle_state(self, state):
        with self._lock:
            self.lifecycle_state = state

    def set_spot_action(self, action="terminate", in_seconds=120, when=None):
        with self._lock:
            self.spot = None if action is None else {"action": action,
                                                     "time": _iso(when if when is not None else time.time() + in_seconds)}

    def set_credentials(self, access_key, secret_key, token, expires_in=3600, code="Success"):
        with self._lock:
            self.credentials = {
                "Code": code,
                "LastUpdated": _iso(time.time()),
                "Type": "AWS-HMAC",
                "AccessKeyId": access_key,
                "SecretAccessKey": secret_key,
                "Token": token,
                "Expiration": _iso(time.time() + expires_in),
            }

    def expire_tokens(self):
        with self._lock:
            self._tokens.clear()

    def fail_next(self, n, status=500):
        with self._lock:
            self._fail.extend([status] * n)

    def drop_next(self, n):
        with self._lock:
            self._fail.extend(["drop"] * n)

    def paths(self, method="GET"):
        with self._lock:
            return [p for m, p, _ in self.requests if m == method]

    def count(self, path, status=None):
        with self._lock:
            return sum(1 for _, p, s in self.requests if p == path and (status is None or s == status))

    # ------------------------------------------------------------ answers

    def _issue(self, ttl):
        token = secrets.token_urlsafe(42)
        with self._lock:
            self._tokens[token] = time.monotonic() + min(ttl, self.max_ttl)
            self.tokens_issued += 1
            self.issued_tokens.append(token)
        return token

    def _token_ok(self, token):
        with self._lock:
            exp = self._tokens.get(token or "")
            if exp is None:
                return False
            if time.monotonic() >= exp:
                del self._tokens[token]
                return False
            return True

    def _take_failure(self):
        with self._lock:
            return self._fail.pop(0) if self._fail else None

    def answer(self, path):
        """(status, content type, body) for a GET with a valid token."""
        base = "/latest/meta-data/"
        if not path.startswith(base):
            return 404, "text/plain", "Not Found"
        item = path[len(base):]
        with self._lock:
            if item == "instance-id":
                return 200, "text/plain", self.instance_id
            if item == "placement/region":
                return 200, "text/plain", self.region
            if item == "autoscaling/target-lifecycle-state":
                if self.lifecycle_state is None:
                    return 404, "text/plain", "Not Found"
                return 200, "text/plain", self.lifecycle_state
            if item == "spot/instance-action":
                if self.spot is None:
                    return 404, "text/plain", "Not Found"
                return 200, "text/plain", json.dumps(self.spot)
            if item == "iam/security-credentials/":
                if not self.role:
                    return 404, "text/plain", "Not Found"
                return 200, "text/plain", self.role
            if self.role and item == f"iam/security-credentials/{self.role}":
                self.credential_fetches += 1
                return 200, "text/plain", json.dumps(self.credentials, indent=2)
            if item.startswith("tags/instance/"):
                key = item[len("tags/instance/"):]
                if self.tags is None:
                    return 404, "text/plain", "Not Found"
                if key == "":
                    return 200, "text/plain", "\n".join(self.tags)
                if key in self.tags:
                    return 200, "text/plain", self.tags[key]
                return 404, "text/plain", "Not Found"
        return 404, "text/plain", "Not Found"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_state = None

    def log_message(self, *args):
        pass

    def _send(self, status, body, ctype="text/plain", method="GET"):
        s = self.server_state
        with s._lock:
            s.requests.append((method, self.path, status))
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Server", "EC2ws")
        self.end_headers()
        self.wfile.write(data)

    def _failure(self, method):
        f = self.server_state._take_failure()
        if f is None:
            return False
        if f == "drop":
            with self.server_state._lock:
                self.server_state.requests.append((method, self.path, 0))
            self.close_connection = True
            return True
        self._send(f, "Internal Server Error" if f >= 500 else "Error", method=method)
        return True

    def do_PUT(self):
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        if self._failure("PUT"):
            return
        if self.path != "/latest/api/token":
            return self._send(404 if self.path.startswith("/latest/") else 400, "Not Found", method="PUT")
        if self.headers.get("X-Forwarded-For"):
            return self._send(403, "Forbidden", method="PUT")
        ttl = self.headers.get("X-aws-ec2-metadata-token-ttl-seconds", "")
        if not ttl.isdigit() or not 1 <= int(ttl) <= MAX_TTL:
            return self._send(400, "Bad Request", method="PUT")
        token = self.server_state._issue(int(ttl))
        self._send(200, token, method="PUT")

    def do_GET(self):
        if self._failure("GET"):
            return
        if not self.server_state._token_ok(self.headers.get("X-aws-ec2-metadata-token")):
            return self._send(401, "Unauthorized")
        status, ctype, body = self.server_state.answer(self.path)
        self._send(status, body, ctype)


if __name__ == "__main__":      # by hand: cd tests && /usr/bin/python3 -m aws.imds_server [group]
    import sys
    with ImdsServer() as s:
        s.tags["aws:autoscaling:groupName"] = sys.argv[1] if len(sys.argv) > 1 else "test-asg"
        print(s.url, flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
