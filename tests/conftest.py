# pytest root for fluent-flush: makes tests/ importable (bed.*, aws.*, ffpaths).
import os
import sys

TESTS = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(TESTS)
if TESTS not in sys.path:
    sys.path.insert(0, TESTS)

if sys.executable != "/usr/bin/python3" and not os.environ.get("FF_ANY_PYTHON"):
    raise SystemExit("tests must run under Debian's /usr/bin/python3 (boto3/botocore come from Debian): "
                     "use `make test`")

# Shared helpers live in ffpaths.py (`from ffpaths import helper_binary`): with several conftest.py files,
# `import conftest` names whichever pytest loaded first.
