"""Fluentd's logger as the simulator needs it: text and JSON formats, worker prefix, plugin header,
caller segment in debug mode, backtraces (with "suppressed same stacktrace"), re-open on signal.

Mirrors lib/fluent/log.rb: a line is
  <time> [<level>]: [#<worker> ][<file>.rb:<line>:<meth>: ][[<plugin id>] ]<message>[ key=value...]
and `format json` writes {"time","level","message"[,"worker_id"]} per line.
"""
import datetime
import json
import os
import re
import threading
import time

LEVELS = ["trace", "debug", "info", "warn", "error", "fatal"]
LEVEL_NUM = {name: i for i, name in enumerate(LEVELS)}


class Symbol(str):
    """A Ruby symbol: inspected as :name."""


class Raw(str):
    """A value logged as-is (e.g. Ruby's inspect of a Struct)."""


class RubyTime:
    """A Ruby Time value: inspected as `2026-12-04 19:13:59 +0000` (fraction only when non-zero)."""

    def __init__(self, t):
        self.t = t

    def __str__(self):
        return ruby_time_str(self.t)


def ruby_time_str(t, fraction=True):
    lt = time.localtime(int(t // 1))
    s = time.strftime("%Y-%m-%d %H:%M:%S", lt)
    frac = t - int(t // 1)
    if fraction and frac > 0:
        digits = ("%.9f" % frac)[2:].rstrip("0")
        if digits:
            s += "." + digits
    return s + " " + time.strftime("%z", lt)


def ruby_inspect(v):
    if v is None:
        return "nil"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, Raw):
        return str(v)
    if isinstance(v, Symbol):
        return ":" + str(v)
    if isinstance(v, RubyTime):
        return str(v)
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(ruby_inspect(x) for x in v) + "]"
    s = str(v)
    out = ['"']
    for ch in s:
        o = ord(ch)
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\x1b":
            out.append("\\e")
        elif ch == "#":
            out.append("#")
        elif o < 0x20 or o == 0x7F:
            out.append("\\x%02X" % o)
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


_NFRAC = re.compile(r"%(\d*)N")


def strftime_fluent(fmt, t):
    """strftime with Ruby's %N / %3N / %6N / %9N extension (Fluentd's time_format)."""
    frac = t - int(t // 1)
    ns = int(frac * 1e9)

    def repl(m):
        width = int(m.group(1) or 9)
        digits = "%09d" % ns
        return digits[:width] if width <= 9 else digits + "0" * (width - 9)

    fmt2 = _NFRAC.sub(lambda m: repl(m).replace("%", "%%"), fmt)
    return datetime.datetime.fromtimestamp(t).astimezone().strftime(fmt2)


class PluginLog:
    """What a plugin logs through: its @id header and its own @log_level (None = global)."""

    def __init__(self, plugin_id=None, log_level=None):
        self.plugin_id = plugin_id
        self.log_level = log_level

    @property
    def own_logger(self):
        # Fluentd gives a plugin its own PluginLogger only with an explicit @id or @log_level
        return self.plugin_id is not None or self.log_level is not None


class Logger:
    def __init__(self, path, cfg, texts, worker_id=None):
        self.path = path
        self.level = LEVEL_NUM[cfg["log_level"]]
        self.debug_mode = self.level <= LEVEL_NUM["debug"]
        self.format = cfg["log_format"]
        self.time_format = cfg["time_format"]
        self.texts = texts
        self.worker_id = worker_id
        self.suppress = cfg.get("suppress_repeated_stacktrace", texts["suppress_stacktrace"])
        self.lock = threading.Lock()
        self.local = threading.local()
        self.fd = None
        self.open()

    def open(self):
        if self.path is None:
            self.fd = 1
            return
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
        with self.lock:
            old, self.fd = self.fd, fd
        if old is not None and old > 2:
            os.close(old)

    def reopen(self):
        if self.path is not None:
            self.open()

    def enabled(self, level, plugin=None):
        lv = self.level
        if plugin is not None and plugin.log_level is not None:
            lv = LEVEL_NUM[plugin.log_level]
        return LEVEL_NUM[level] >= lv

    def _write(self, text):
        data = (text + "\n").encode("utf-8", "replace")
        with self.lock:
            try:
                os.write(self.fd, data)
            except OSError:
                pass

    def _prefix(self, t, level, worker_part, caller):
        s = "%s [%s]: " % (strftime_fluent(self.time_format, t), level)
        if worker_part and self.worker_id is not None:
            s += "#%d " % self.worker_id
        if caller and self.debug_mode:
            s += "fluent/log.rb:%d:%s: " % (self.texts["caller"][level], level)
        return s

    def log(self, level, message, kv=None, plugin=None, worker_part=True):
        """One log event.  worker_part=False for lines Fluentd logs with a non-default type
        (e.g. `adding match`, logged by worker 0 only, without the #N prefix)."""
        if not self.enabled(level, plugin):
            return
        t = time.time()
        msg = ""
        if plugin is not None and plugin.plugin_id is not None:
            msg = "[%s] " % plugin.plugin_id
        msg += message
        for k, v in (kv or {}).items():
            if k == "error" and isinstance(v, SimError):
                msg += " error_class=%s error=%s" % (v.error_class, ruby_inspect(v.message))
            else:
                msg += " %s=%s" % (k, ruby_inspect(v))
        caller = plugin is None or not plugin.own_logger
        if self.format == "json":
            r = {"time": strftime_fluent(self.time_format, t), "level": level, "message": msg}
            if worker_part and self.worker_id is not None:
                r["worker_id"] = self.worker_id
            self._write(json.dumps(r, ensure_ascii=False, separators=(",", ":")))
        else:
            self._write(self._prefix(t, level, worker_part, caller) + msg)

    def backtrace(self, level, frames, plugin=None):
        if not self.enabled(level, plugin):
            return
        t = time.time()
        frames = list(frames)
        last = getattr(self.local, "last", None)
        suppressed = self.suppress and last == frames
        if self.suppress:
            self.local.last = frames
        if self.format == "json":
            r = {"time": strftime_fluent(self.time_format, t), "level": level}
            if self.worker_id is not None:
                r["worker_id"] = self.worker_id
            r["message"] = "suppressed same stacktrace" if suppressed else "\n".join(frames)
            self._write(json.dumps(r, ensure_ascii=False, separators=(",", ":")))
            return
        line = "  " + self._prefix(t, level, True, False)
        if suppressed:
            self._write(line + "suppressed same stacktrace")
        else:
            self._write("\n".join(line + f for f in frames))

    def __getattr__(self, name):
        if name in LEVEL_NUM:
            return lambda message, kv=None, plugin=None, worker_part=True: self.log(
                name, message, kv, plugin, worker_part)
        raise AttributeError(name)


class SimError(Exception):
    """An error as Fluentd logs it: error_class=<Ruby class> error="<message>" + backtrace frames."""

    def __init__(self, error_class, message, frames, unrecoverable=False):
        super().__init__(message)
        self.error_class = error_class
        self.message = message
        self.frames = frames
        self.unrecoverable = unrecoverable
