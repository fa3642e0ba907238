# pytest root for fluent-flush: makes tests/ importable (bed.*, aws.*) and finds the built binary.
import os
import sys

TESTS = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(TESTS)
if TESTS not in sys.path:
    sys.path.insert(0, TESTS)

if sys.executable != "/usr/bin/python3" and not os.environ.get("FF_ANY_PYTHON"):
    raise SystemExit("tests must run under Debian's /usr/bin/python3 (boto3/botocore come from Debian): "
                     "use `make test`")


def helper_binary():
    """The real fluent-flush binary the tests drive (built by `make`, or FF_BINARY)."""
    path = os.environ.get("FF_BINARY", os.path.join(REPO, "build", "fluent-flush"))
    if not os.access(path, os.X_OK):
        raise RuntimeError(f"fluent-flush binary not found at {path}: run `make` first (or `make test`)")
    return path
