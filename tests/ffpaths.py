"""What the tests share: the repository, the tests dir, the real fluent-flush binary they drive, and the
wrapper of one run's result. (A module of its own: `conftest` is not importable by name once several
conftest.py files exist.)"""
import json
import os

TESTS = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(TESTS)


def helper_binary():
    """The real fluent-flush binary the tests drive (built by `make`, or FF_BINARY)."""
    path = os.environ.get("FF_BINARY", os.path.join(REPO, "build", "fluent-flush"))
    if not os.access(path, os.X_OK):
        raise RuntimeError(f"fluent-flush binary not found at {path}: run `make` first (or `make test`)")
    return path


class Result:
    """One run of the helper: exit code, stdout parsed as the one JSON document it must be, stderr."""

    def __init__(self, proc):
        self.rc = proc.returncode
        self.stdout = proc.stdout
        self.stderr = proc.stderr
        try:
            self.result = json.loads(proc.stdout) if proc.stdout.strip() else None
        except ValueError as e:
            raise AssertionError(f"stdout is not one JSON document ({e}):\n{proc.stdout}\nstderr:\n{proc.stderr}")

    def __getitem__(self, k):
        return self.result[k]

    def __repr__(self):
        return f"<rc={self.rc} result={json.dumps(self.result, indent=1)[:3000]}\nstderr:\n{self.stderr[-3000:]}>"
