"""Builds the packaging artefacts for the tests (once per session) and small helpers shared by them.

`make rpm` / `make static` run from the repository root, so what is tested is what the current tree
builds. packaging/packaging.mk is named with -f as well as the Makefile: that works whether or not the
Makefile includes it (it has an include guard)."""
import os
import re
import shutil
import subprocess

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
MAKE = ["make", "--no-print-directory", "-f", "Makefile", "-f", "packaging/packaging.mk"]
WATCH_UNIT = os.path.join(REPO, "packaging", "fluent-flush-watch.service")


def version():
    with open(os.path.join(REPO, "Makefile")) as f:
        m = re.search(r"^VERSION\s*:?=\s*(\S+)", f.read(), re.M)
    assert m, "no VERSION in the Makefile"
    return m.group(1)


def need(*tools):
    missing = [t for t in tools if shutil.which(t) is None]
    if missing:
        raise AssertionError(f"missing tools {missing}: run `make deps` (tests/deps.sh installs them)")


def make(*targets, timeout=900, **env):
    # Not the variables of a make that runs these tests (`make test SAN=1` must not build a
    # sanitized static binary), nor its jobserver.
    e = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES")}
    e.update(env)
    r = subprocess.run(MAKE + list(targets), cwd=REPO, capture_output=True, text=True, timeout=timeout, env=e)
    if r.returncode != 0:
        raise AssertionError(f"make {' '.join(targets)} failed ({r.returncode}):\n"
                             f"{r.stdout[-4000:]}\n{r.stderr[-6000:]}")
    return r


def run(argv, **kw):
    kw.setdefault("capture_output", True)
    kw.setdefault("text", True)
    kw.setdefault("timeout", 120)
    return subprocess.run([str(a) for a in argv], **kw)


@pytest.fixture(scope="session")
def rpm_build():
    """build/rpm/fluent-flush-V-1.x86_64.rpm and the .src.rpm, fresh from `make rpm`."""
    need("rpmbuild", "rpm", "git")
    make("rpm")
    d = os.path.join(REPO, "build", "rpm")
    v = version()
    rpm = os.path.join(d, f"fluent-flush-{v}-1.x86_64.rpm")
    srpm = os.path.join(d, f"fluent-flush-{v}-1.src.rpm")
    for p in (rpm, srpm):
        assert os.path.isfile(p), f"make rpm did not produce {p}: {sorted(os.listdir(d))}"
    return {"rpm": rpm, "srpm": srpm, "version": v}


@pytest.fixture(scope="session")
def static_build():
    """build/static/fluent-flush, fresh from `make static` (libcurl.a comes from .cache/static/)."""
    need("apt-get", "dpkg-source", "patch", "nm", "strip")
    r = make("static", timeout=1200)
    d = os.path.join(REPO, "build", "static")
    binary = os.path.join(d, "fluent-flush")
    assert os.access(binary, os.X_OK), f"make static did not produce {binary}"
    return {"binary": binary, "unstripped": binary + ".unstripped", "link_log": os.path.join(d, "link.log"),
            "objs": os.path.join(d, "tree", "obj"), "make": r, "version": version(),
            "libcurl": os.path.join(REPO, ".cache", "static", "curl", "lib", "libcurl.a")}
