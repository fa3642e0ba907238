"""RE2, the regular-expression engine SSM Agent validates `allowedPattern` with (Go's regexp is RE2).

Python's `re` is not a stand-in: it accepts look-arounds and back-references, and its `$` also matches before
a final newline ("abc\\n" matches ^[a-z]+$), which RE2 and Go do not. So the checks go through the real RE2
library (Debian's libre2-dev) behind a ten-line C shim, built once into the repository's .cache/ directory.

    match(pattern, value) -> bool      like Go's regexp.MustCompile(pattern).MatchString(value) (unanchored)
    compile_error(pattern) -> str|None the error RE2 gives, or None when the pattern compiles
"""
import ctypes
import os
import subprocess
import tempfile

_REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_CACHE = os.path.join(_REPO, ".cache", "re2")

_SHIM = r"""
#include <re2/re2.h>
#include <cstdio>
#include <cstring>
/* -1: the pattern does not compile (message in err); 0: no match; 1: match anywhere in value (Go MatchString). */
extern "C" int ff_re2_match(const char *pattern, size_t plen, const char *value, size_t vlen, char *err, size_t errlen) {
        RE2::Options o;
        o.set_log_errors(false);
        RE2 re(re2::StringPiece(pattern, plen), o);
        if (!re.ok()) {
                snprintf(err, errlen, "%s", re.error().c_str());
                return -1;
        }
        return RE2::PartialMatch(re2::StringPiece(value, vlen), re) ? 1 : 0;
}
"""

_lib = None


class PatternError(ValueError):
    pass


def _load():
    global _lib
    if _lib is not None:
        return _lib
    os.makedirs(_CACHE, exist_ok=True)
    so = os.path.join(_CACHE, "libffre2.so")
    src = os.path.join(_CACHE, "ffre2.cc")
    if not os.path.exists(so) or not os.path.exists(src) or open(src).read() != _SHIM:
        fd, tmp_src = tempfile.mkstemp(suffix=".cc", dir=_CACHE)
        with os.fdopen(fd, "w") as f:
            f.write(_SHIM)
        tmp_so = tmp_src[:-3] + ".so"
        try:
            r = subprocess.run(["g++", "-shared", "-fPIC", "-O1", "-o", tmp_so, tmp_src, "-lre2"],
                               capture_output=True, text=True, timeout=120)
            if r.returncode != 0:
                raise RuntimeError("cannot build the RE2 shim (needs Debian's g++ and libre2-dev, see tests/deps.sh):\n"
                                   + r.stderr)
            os.replace(tmp_so, so)          # atomic: parallel test runs never load a half-written library
            os.replace(tmp_src, src)
        finally:
            for p in (tmp_src, tmp_so):
                if os.path.exists(p):
                    os.unlink(p)
    lib = ctypes.CDLL(so)
    lib.ff_re2_match.restype = ctypes.c_int
    lib.ff_re2_match.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_char_p, ctypes.c_size_t,
                                 ctypes.c_char_p, ctypes.c_size_t]
    _lib = lib
    return lib


def _call(pattern, value):
    lib = _load()
    p = pattern.encode()
    v = value.encode()
    err = ctypes.create_string_buffer(512)
    r = lib.ff_re2_match(p, len(p), v, len(v), err, len(err))
    return r, err.value.decode(errors="replace")


def compile_error(pattern):
    r, err = _call(pattern, "")
    return err if r < 0 else None


def match(pattern, value):
    r, err = _call(pattern, value)
    if r < 0:
        raise PatternError(f"allowedPattern /{pattern}/ does not compile in RE2: {err}")
    return r == 1
