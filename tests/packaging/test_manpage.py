"""fluent-flush(1) against the contract (README.md) and the binary: every option of --help, every option
of the README, every exit code and verdict of the README's table (and no other), the JSON summary fields,
the version; and it renders without a single groff or man warning."""
import gzip
import json
import os
import re
import subprocess

from ffpaths import helper_binary
from pkgbuild import REPO, need, run, version

MANPAGE = os.path.join(REPO, "helper", "fluent-flush.1")
README = os.path.join(REPO, "README.md")


def rendered(path=MANPAGE):
    """The page as plain text: tbl + man macros, ASCII, no bold/underline, long lines, no hyphenation
    (so that an option name is never split over two lines)."""
    need("groff")
    src = open(path, "rb").read()
    if path.endswith(".gz"):
        src = gzip.decompress(src)
    r = subprocess.run(["groff", "-t", "-man", "-Tascii", "-P-cbou", "-rLL=250n", "-rHY=0"], input=src,
                       capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr.decode()
    return r.stdout.decode("ascii")


def section(text, name):
    m = re.search(rf"^{name}\n(.*?)(?=^[A-Z][A-Z ]+\n|\Z)", text, re.M | re.S)
    assert m, f"no {name} section in the man page"
    return m.group(1)


def readme():
    with open(README) as f:
        return f.read()


def readme_exit_codes():
    rows = re.findall(r"^\|\s*(\d+)\s*\|\s*`([a-z_]+)`\s*\|", readme(), re.M)
    assert len(rows) >= 10, f"README's exit-code table not found ({rows})"
    return {int(c): v for c, v in rows}


def help_text():
    r = run([helper_binary(), "--help"])
    assert r.returncode == 0, f"--help exited {r.returncode}: {r.stderr}"
    assert "--help" in r.stdout, f"--help printed no option list:\n{r.stdout}"
    return r.stdout


def options_in(text):
    return set(re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*[a-z0-9])", text))


def test_every_help_option_is_in_the_man_page():
    opts = options_in(help_text())
    assert len(opts) >= 25, sorted(opts)
    man = section(rendered(), "OPTIONS")
    missing = sorted(o for o in opts if not re.search(rf"^\s+(-[a-zA-Z], )?{re.escape(o)}\b", man, re.M))
    assert not missing, f"options of --help without an entry in OPTIONS of fluent-flush(1): {missing}"
    # and the short forms --help shows
    for short in re.findall(r"^\s+(-[a-zA-Z]),", help_text(), re.M):
        assert re.search(rf"^\s+{short}, --", man, re.M), f"{short} missing from the man page"


def test_no_option_in_the_man_page_that_the_binary_lacks():
    man_opts = set(re.findall(r"^\s+(?:-[a-zA-Z], )?(--[a-z][a-z0-9-]*)", section(rendered(), "OPTIONS"), re.M))
    extra = sorted(man_opts - options_in(help_text()))
    assert not extra, f"fluent-flush(1) documents options --help does not know: {extra}"


def test_every_readme_option_is_in_the_man_page():
    opts = options_in(readme())
    assert "--pid-file" in opts and "--ca-file" in opts, sorted(opts)
    man = section(rendered(), "OPTIONS")
    missing = sorted(o for o in opts if not re.search(rf"^\s+(-[a-zA-Z], )?{re.escape(o)}\b", man, re.M))
    assert not missing, f"README options missing from fluent-flush(1): {missing}"


def test_exit_codes_are_the_readme_table():
    want = readme_exit_codes()
    table = section(rendered(), "EXIT STATUS")
    got = {int(c): v for c, v in re.findall(r"^\s+(\d+)\s+([a-z_]+)\s+\S", table, re.M)}
    assert got == want, f"man page {got} != README {want}"
    for bad in (126, 127, 137, 168, 169, 194):
        assert bad not in got
    # the "never" sentence is there too
    assert re.search(r"Never 126, 127, 137, 168, 169, 194", table)


def test_json_summary_fields_in_order():
    m = re.search(r"```json\n(\{.*?\n\})\n```", readme(), re.S)
    assert m, "no JSON example in README"
    fields = [k for k in json.loads(m.group(1)) if k != "..."]
    assert fields[:2] == ["verdict", "exit_code"], fields
    out = section(rendered(), "OUTPUT")
    tags = re.findall(r"^ {7}([a-z_]+)\b", out, re.M)
    assert tags[:len(fields)] == fields, f"OUTPUT lists {tags}, README {fields}"


def test_commands_and_files():
    text = rendered()
    cmds = section(text, "COMMANDS")
    for c in ("flush", "status", "watch"):
        assert re.search(rf"^ {{7}}{c}\b", cmds, re.M), c
    files = section(text, "FILES")
    for p in ("/var/run/fluent/fluentd.pid", "/var/log/td-agent/td-agent.log",
              "/etc/pki/tls/certs/ca-bundle.crt", "/etc/ssl/certs/ca-certificates.crt", "/etc/ssl/ca-bundle.pem",
              "/usr/share/fluent-flush/documents/", "/usr/share/fluent-flush/iam/"):
        assert p in files, p
    assert "SSL_CERT_FILE" in section(text, "ENVIRONMENT")
    assert "fluent-flush --pid-file" in section(text, "EXAMPLES")


def test_version_is_the_makefile_version():
    v = version()
    head = open(MANPAGE).read()
    m = re.search(r'^\.TH FLUENT\\-FLUSH 1 \S+ "fluent-flush (\S+)"', head, re.M)
    assert m and m.group(1) == v, f".TH says {m and m.group(1)}, the Makefile {v}"
    r = run([helper_binary(), "--version"])
    assert r.returncode == 0 and r.stdout.strip() == f"fluent-flush {v}", (r.returncode, r.stdout)


def test_groff_renders_without_warnings():
    need("groff")
    r = run(["groff", "-t", "-man", "-Tutf8", "-ww", "-z", MANPAGE])
    assert r.returncode == 0 and r.stderr == "", r.stderr


def test_man_renders_without_warnings():
    need("man")
    env = dict(os.environ, MANWIDTH="80", LC_ALL="C.UTF-8", MAN_DISABLE_SECCOMP="1")
    r = run(["man", "--warnings", "-E", "UTF-8", "-l", MANPAGE], env=env)
    assert r.returncode == 0, r.stderr
    assert r.stderr == "", r.stderr
    assert "EXIT STATUS" in r.stdout and "fluent-flush" in r.stdout


def test_source_is_ascii():
    """Non-ASCII input makes man(1) warn on hosts without preconv; escapes (\\(em) are used instead."""
    data = open(MANPAGE, "rb").read()
    bad = [i for i, b in enumerate(data) if b > 0x7f]
    assert not bad, f"non-ASCII bytes at offsets {bad[:5]}"
