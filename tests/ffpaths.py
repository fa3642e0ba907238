"""Paths the tests share: the repository, the tests dir, and the real fluent-flush binary they drive.
(A module of its own: `conftest` is not importable by name once several conftest.py files exist.)"""
import os

TESTS = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(TESTS)


def helper_binary():
    """The real fluent-flush binary the tests drive (built by `make`, or FF_BINARY)."""
    path = os.environ.get("FF_BINARY", os.path.join(REPO, "build", "fluent-flush"))
    if not os.access(path, os.X_OK):
        raise RuntimeError(f"fluent-flush binary not found at {path}: run `make` first (or `make test`)")
    return path
