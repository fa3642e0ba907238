"""The RPM of `make rpm`: its file list and modes, its requirements (installable on Amazon Linux 2023 and
RHEL 9), an install into a scratch root (scriptlets run, files verify, the binary runs, removal is clean),
the same layout as `make install`, rpmlint, and a .src.rpm that rebuilds on its own."""
import glob
import os
import re
import shutil
import subprocess

import pytest

from pkgbuild import REPO, WATCH_UNIT, make, need, rpm_build, run  # noqa: F401  (rpm_build is a fixture)

# The oldest glibc among the RPM targets: Amazon Linux 2023 and RHEL 9 ship 2.34.
MAX_GLIBC = (2, 34)
# documents/*.py are development tools (render_cloudformation.py writes into the source tree); the
# spec leaves them out. The Makefile's install rule still copies every file of documents/.
NOT_PACKAGED = re.compile(r"^/usr/share/fluent-flush/documents/[^/]+\.py$")


def data_files(sub):
    return sorted(f for f in os.listdir(os.path.join(REPO, sub))
                  if os.path.isfile(os.path.join(REPO, sub, f)) and not f.endswith(".py"))


def expected_files():
    files = {"/usr/bin/fluent-flush", "/usr/share/man/man1/fluent-flush.1.gz",
             "/usr/share/doc/fluent-flush/README.md", "/usr/share/licenses/fluent-flush/LICENSE"}
    files |= {f"/usr/share/fluent-flush/documents/{f}" for f in data_files("documents")}
    files |= {f"/usr/share/fluent-flush/iam/{f}" for f in data_files("iam")}
    if os.path.exists(WATCH_UNIT):
        files.add("/usr/lib/systemd/system/fluent-flush-watch.service")
    return files


def query(rpm, *args):
    r = run(["rpm", "-qp", *args, rpm])
    assert r.returncode == 0, r.stderr
    return r.stdout


def test_file_list(rpm_build):
    listed = set(query(rpm_build["rpm"], "-l").split())
    dirs = {"/usr/share/fluent-flush", "/usr/share/fluent-flush/documents", "/usr/share/fluent-flush/iam"}
    want = expected_files() | dirs
    assert listed == want, f"missing {sorted(want - listed)}, unexpected {sorted(listed - want)}"
    assert len(data_files("documents")) >= 3 and len(data_files("iam")) >= 3


def test_modes_and_owners(rpm_build):
    out = query(rpm_build["rpm"], "--qf", r"[%{FILEMODES:perms} %{FILEUSERNAME} %{FILEGROUPNAME} %{FILENAMES}\n]")
    seen = 0
    for line in out.splitlines():
        perms, user, group, path = line.split(" ", 3)
        assert (user, group) == ("root", "root"), line
        if path == "/usr/bin/fluent-flush":
            assert perms == "-rwxr-xr-x", line
        elif perms.startswith("d"):
            assert perms == "drwxr-xr-x", line
        else:
            assert perms == "-rw-r--r--", line
        seen += 1
    assert seen == len(expected_files()) + 3


def test_doc_and_license_flags(rpm_build):
    rpm = rpm_build["rpm"]
    assert query(rpm, "-d").split() == ["/usr/share/doc/fluent-flush/README.md",
                                        "/usr/share/man/man1/fluent-flush.1.gz"]
    assert query(rpm, "-L").split() == ["/usr/share/licenses/fluent-flush/LICENSE"]


def test_requirements(rpm_build):
    reqs = query(rpm_build["rpm"], "-R").splitlines()
    for r in ("libcurl(x86-64) >= 7.75", "jansson(x86-64)", "systemd-libs(x86-64)",
              "libcurl.so.4()(64bit)", "libjansson.so.4()(64bit)", "libsystemd.so.0()(64bit)"):
        assert r in reqs, f"{r!r} not in {reqs}"
    # Debian's symbol version of libcurl exists on no RPM distribution: it must have been filtered.
    assert not [r for r in reqs if "CURL_OPENSSL" in r], reqs
    glibc = [tuple(int(x) for x in m.group(1).split(".")) for r in reqs
             if (m := re.match(r"libc\.so\.6\(GLIBC_([\d.]+)\)", r))]
    assert glibc, reqs
    assert max(glibc) <= MAX_GLIBC, (f"needs glibc {'.'.join(map(str, max(glibc)))}, newer than Amazon Linux "
                                     f"2023 / RHEL 9 ({'.'.join(map(str, MAX_GLIBC))}): {reqs}")
    # nothing else sneaks in (a library the spec does not name)
    allowed = re.compile(r"^(libc\.so\.6|libcurl|libjansson|libsystemd|jansson|systemd-libs|rpmlib\(|rtld\(|/bin/sh)")
    assert [r for r in reqs if not allowed.match(r)] == [], reqs


def test_metadata(rpm_build):
    out = query(rpm_build["rpm"], "--qf", "%{NAME}|%{VERSION}|%{RELEASE}|%{ARCH}|%{LICENSE}|%{SUMMARY}")
    name, ver, rel, arch, lic, summary = out.split("|")
    assert (name, ver, rel, arch, lic) == ("fluent-flush", rpm_build["version"], "1", "x86_64", "MIT")
    assert "Fluentd" in summary


def test_scriptlets_match_the_watch_unit(rpm_build):
    scripts = query(rpm_build["rpm"], "--scripts")
    if os.path.exists(WATCH_UNIT):
        for s in ("postinstall", "preuninstall", "postuninstall"):
            assert s in scripts, scripts
        assert "disable --now fluent-flush-watch.service" in scripts
    else:
        assert scripts.strip() == "", scripts


def _minimal_shell(root):
    """/bin/sh in the scratch root (dash and the libraries it needs), for the scriptlets rpm runs there."""
    dash = os.path.realpath(shutil.which("dash"))
    out = run(["ldd", dash]).stdout
    libs = re.findall(r"(/\S+\.so[.\d]*)", out)
    for p in [dash] + libs:
        dst = os.path.join(root, p.lstrip("/"))
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        shutil.copy2(p, dst)
    os.makedirs(os.path.join(root, "bin"), exist_ok=True)
    if not os.path.exists(os.path.join(root, "bin", "sh")):
        os.symlink(dash, os.path.join(root, "bin", "sh"))


def test_install_into_scratch_root(rpm_build, tmp_path):
    assert os.geteuid() == 0, "rpm --root needs root (chroot for the scriptlets)"
    root = str(tmp_path / "root")
    os.makedirs(root)
    _minimal_shell(root)
    db = ["--root", root, "--dbpath", "/var/lib/rpm"]
    r = run(["rpm", *db, "--initdb"])
    assert r.returncode == 0, r.stderr
    # --nodeps: the scratch root has no libcurl/jansson/systemd-libs RPMs; the binary runs with the host's.
    r = run(["rpm", *db, "-i", "--nodeps", rpm_build["rpm"]])
    assert r.returncode == 0 and "scriptlet" not in r.stderr, r.stderr
    assert run(["rpm", *db, "-q", "fluent-flush"]).stdout.strip() == f"fluent-flush-{rpm_build['version']}-1.x86_64"
    r = run(["rpm", *db, "-V", "--nodeps", "fluent-flush"])
    assert r.returncode == 0, f"rpm -V: {r.stdout}{r.stderr}"
    for f in expected_files():
        assert os.path.isfile(root + f), f
    binary = root + "/usr/bin/fluent-flush"
    r = run([binary, "--version"])
    assert r.returncode == 0 and r.stdout.strip() == f"fluent-flush {rpm_build['version']}", (r.returncode, r.stdout, r.stderr)
    r = run(["man", "-l", root + "/usr/share/man/man1/fluent-flush.1.gz"], env=dict(os.environ, MANWIDTH="80"))
    assert r.returncode == 0 and "EXIT STATUS" in r.stdout, r.stderr
    r = run(["rpm", *db, "-e", "fluent-flush"])
    assert r.returncode == 0 and "scriptlet" not in r.stderr, r.stderr
    left = [f for f in expected_files() if os.path.exists(root + f)]
    assert left == [] and not os.path.exists(root + "/usr/share/fluent-flush"), left


def test_same_layout_as_make_install(rpm_build, tmp_path):
    dest = str(tmp_path / "dest")
    make("install", "PREFIX=/usr", f"DESTDIR={dest}")
    installed = set()
    for dirpath, _, files in os.walk(dest):
        for f in files:
            p = os.path.join(dirpath, f)[len(dest):]
            installed.add(p + ".gz" if p.startswith("/usr/share/man/") else p)   # rpm gzips man pages
    installed = {p for p in installed if not NOT_PACKAGED.match(p)}
    packaged = {p for p in query(rpm_build["rpm"], "-l").split()
                if not os.path.isdir(os.path.join(dest, p.lstrip("/")))}
    assert installed == packaged, f"only make install: {sorted(installed - packaged)}, only rpm: {sorted(packaged - installed)}"
    assert os.access(dest + "/usr/bin/fluent-flush", os.X_OK)


def test_rpmlint_clean(rpm_build):
    need("rpmlint")
    r = run(["rpmlint", "-c", os.path.join(REPO, "packaging", "rpmlint.toml"), rpm_build["rpm"], rpm_build["srpm"]])
    assert r.returncode == 0, r.stdout + r.stderr
    assert re.search(r"\b0 errors, 0 warnings\b", r.stdout), r.stdout


def test_srpm_rebuilds_on_its_own(rpm_build, tmp_path):
    """The .src.rpm carries the version and the unit decision: `rpmbuild --rebuild` with no --define
    (as on Amazon Linux 2023 / RHEL / mock) gives the same package contents."""
    top = str(tmp_path / "top")
    # Debian's brp-compress needs bash (see packaging.mk); everything else is rpmbuild's default.
    r = run(["rpmbuild", "--rebuild", "--nodeps", "--quiet", "--define", f"_topdir {top}",
             "--define", "__brp_compress bash %{_rpmconfigdir}/brp-compress %{?_prefix}", rpm_build["srpm"]],
            timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    rebuilt = glob.glob(os.path.join(top, "RPMS", "x86_64", "*.rpm"))
    assert [os.path.basename(p) for p in rebuilt] == [os.path.basename(rpm_build["rpm"])]
    assert set(query(rebuilt[0], "-l").split()) == set(query(rpm_build["rpm"], "-l").split())
    assert query(rebuilt[0], "-R") == query(rpm_build["rpm"], "-R")


def test_built_with_the_distribution_flags(rpm_build, tmp_path):
    """%set_build_flags: the spec's %build exports the distribution's CFLAGS/LDFLAGS and the Makefile
    keeps them (it adds its own with override +=). rpm records them as OPTFLAGS."""
    opt = query(rpm_build["rpm"], "--qf", "%{OPTFLAGS}")
    spec = open(os.path.join(REPO, "packaging", "fluent-flush.spec")).read()
    assert "%set_build_flags" in spec and "%make_build" in spec and "%make_install" in spec
    assert opt.strip() == run(["rpm", "--eval", "%{optflags}"]).stdout.strip()
    # the binary is PIE with full RELRO (the Makefile's hardening on top of the distribution's flags)
    binary = tmp_path / "fluent-flush"
    binary.write_bytes(_payload_binary(rpm_build["rpm"]))
    out = run(["readelf", "-hld", "--wide", binary]).stdout
    assert "DYN (Position-Independent Executable file)" in out, out[:500]
    assert "GNU_RELRO" in out and re.search(r"FLAGS\S*\s+.*\bNOW\b", out), out


def _payload_binary(rpm):
    need("rpm2cpio", "cpio")
    cpio = subprocess.run(["rpm2cpio", rpm], capture_output=True, check=True).stdout
    r = subprocess.run(["cpio", "-i", "--to-stdout", "./usr/bin/fluent-flush"], input=cpio, capture_output=True)
    assert r.returncode == 0 and r.stdout[:4] == b"\x7fELF", r.stderr
    return r.stdout


@pytest.mark.parametrize("tool", ["rpmbuild", "rpm", "rpmlint", "rpm2cpio", "cpio", "groff", "man"])
def test_deps_script_installs_the_tools(tool):
    """tests/deps.sh must bring every tool these tests and `make rpm` use to a fresh machine."""
    deps = open(os.path.join(REPO, "tests", "deps.sh")).read()
    pkgs = set(re.search(r'PKGS="([^"]*)"', deps, re.S).group(1).split())
    path = shutil.which(tool)
    assert path, f"{tool} not installed: run `make deps`"
    name = os.path.basename(os.path.realpath(path))
    # usrmerge: dpkg knows a file under the path its package ships it at
    candidates = [os.path.realpath(path), f"/usr/bin/{name}", f"/bin/{name}"]
    owner = next((r.stdout.split(":")[0] for c in candidates if (r := run(["dpkg-query", "-S", c])).returncode == 0), None)
    assert owner in pkgs, f"{tool} comes from the Debian package {owner!r}, which tests/deps.sh does not install"
