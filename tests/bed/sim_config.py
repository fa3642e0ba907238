"""The simulator's JSON config: defaults (Fluentd's and out_s3's), validation, and the `<ROOT>` dump
Fluentd writes after `using configuration file:`."""
import copy
import json

import sim_texts

DEFAULTS = {
    "workers": 1,
    "version": "1.14",
    "log_level": "info",
    "log_format": "text",
    "time_format": "%Y-%m-%d %H:%M:%S %z",
    "suppress_repeated_stacktrace": None,     # None = as the release does (see sim_texts.VERSIONS)
    "root_dir": None,                         # <system> root_dir; backups go to <root_dir|/tmp/fluent>/backup
    "rpc_endpoint": None,
    "monitor_agent": None,
    "input": None,
    "outputs": [],
    "faults_file": None,
}
MONITOR_DEFAULTS = {"port": 24220, "bind": "127.0.0.1", "id": "in_monitor_agent"}
INPUT_DEFAULTS = {"type": "forward", "port": 24224, "bind": "127.0.0.1", "id": "in_forward"}
OUTPUT_DEFAULTS = {
    "id": "out_s3",
    "match": "app.**",
    "log_level": None,
    "bucket": None,
    "endpoint": None,
    "region": "us-east-1",
    "access_key": None,
    "secret_key": None,
    "force_path_style": False,
    "path": "",
    "key_format": None,          # None = out_s3's default %{path}%{time_slice}_%{index}.%{file_extension}
    "check_object": True,
    "store_as": "gzip",
    "hex_random_length": 4,
    "sdk_retry_limit": 3,        # aws-sdk's own retries of a networking error inside one attempt
    "buffer": None,
}
BUFFER_DEFAULTS = {
    "type": "memory",            # out_s3's default buffer
    "path": None,
    "timekey": 3600,
    "timekey_wait": 600,
    "chunk_limit_size": 8 * 1024 * 1024,
    "total_limit_size": None,    # None = 64 GiB (file) / 512 MiB (memory)
    "flush_thread_count": 1,
    "flush_thread_interval": 1.0,
    "flush_thread_burst_interval": 1.0,
    "flush_at_shutdown": None,   # None = false for file buffers, true for memory buffers
    "retry_wait": 1,
    "retry_max_times": None,
    "retry_timeout": 72 * 3600,
    "retry_forever": False,
    "retry_exponential_backoff_base": 2,
    "retry_max_interval": None,
    "retry_randomize": True,
    "disable_chunk_backup": False,
}
LEVELS = ("trace", "debug", "info", "warn", "error", "fatal")


class ConfigError(Exception):
    pass


def _merge(defaults, given, where):
    if given is None:
        given = {}
    if not isinstance(given, dict):
        raise ConfigError(f"{where} must be an object")
    unknown = set(given) - set(defaults)
    if unknown:
        raise ConfigError(f"unknown field(s) in {where}: {', '.join(sorted(unknown))}")
    out = copy.deepcopy(defaults)
    out.update(given)
    return out


def normalize(raw):
    cfg = _merge(DEFAULTS, raw, "config")
    if cfg["version"] not in sim_texts.VERSIONS:
        raise ConfigError(f"version must be one of {', '.join(sim_texts.VERSIONS)}")
    if cfg["log_level"] not in LEVELS:
        raise ConfigError("log_level must be one of " + ", ".join(LEVELS))
    if cfg["log_format"] not in ("text", "json"):
        raise ConfigError("log_format must be text or json")
    if not isinstance(cfg["workers"], int) or cfg["workers"] < 1:
        raise ConfigError("workers must be a positive integer")
    if cfg["monitor_agent"] is not None:
        cfg["monitor_agent"] = _merge(MONITOR_DEFAULTS, cfg["monitor_agent"], "monitor_agent")
    if cfg["input"] is not None:
        cfg["input"] = _merge(INPUT_DEFAULTS, cfg["input"], "input")
        if cfg["input"]["type"] != "forward":
            raise ConfigError("input.type must be forward")
    outs = []
    for i, o in enumerate(cfg["outputs"]):
        o = _merge(OUTPUT_DEFAULTS, o, f"outputs[{i}]")
        o["buffer"] = _merge(BUFFER_DEFAULTS, o["buffer"], f"outputs[{i}].buffer")
        if o["bucket"] is None:
            raise ConfigError(f"outputs[{i}].bucket is required")
        if o["buffer"]["type"] not in ("file", "memory"):
            raise ConfigError(f"outputs[{i}].buffer.type must be file or memory")
        if o["buffer"]["type"] == "file" and not o["buffer"]["path"]:
            raise ConfigError(f"outputs[{i}].buffer.path is required for a file buffer")
        if o["log_level"] is not None and o["log_level"] not in LEVELS:
            raise ConfigError(f"outputs[{i}].log_level must be one of " + ", ".join(LEVELS))
        outs.append(o)
    cfg["outputs"] = outs
    if cfg["suppress_repeated_stacktrace"] is None:
        cfg["suppress_repeated_stacktrace"] = sim_texts.VERSIONS[cfg["version"]]["suppress_stacktrace"]
    return cfg


def load(path):
    with open(path) as f:
        try:
            raw = json.load(f)
        except ValueError as e:
            raise ConfigError(f"{path}: {e}")
    return normalize(raw)


def _q(v):
    """Fluentd's config dump quotes string-typed values."""
    return '"' + str(v).replace("\\", "\\\\").replace('"', '\\"') + '"'


def _duration(sec):
    """A time parameter the way a person writes it (600 -> 10m)."""
    sec = int(sec)
    for unit, n in (("d", 86400), ("h", 3600), ("m", 60)):
        if sec and sec % n == 0:
            return "%d%s" % (sec // n, unit)
    return "%ds" % sec


def dump(cfg):
    """The config as `fluentd` prints it (`<ROOT>` … `</ROOT>`), secrets masked."""
    L = ["<ROOT>"]
    sysl = []
    if cfg["rpc_endpoint"]:
        sysl.append("    rpc_endpoint %s" % _q(cfg["rpc_endpoint"]))
    if cfg["workers"] != 1:
        sysl.append("    workers %d" % cfg["workers"])
    if cfg["log_level"] != "info":
        sysl.append("    log_level %s" % cfg["log_level"])
    if cfg["root_dir"]:
        sysl.append("    root_dir %s" % _q(cfg["root_dir"]))
    logl = []
    if cfg["time_format"] != DEFAULTS["time_format"]:
        logl.append("      time_format %s" % _q(cfg["time_format"]))
    if cfg["log_format"] != "text":
        logl.append("      format json")
    if logl:
        sysl += ["    <log>"] + logl + ["    </log>"]
    if sysl:
        L += ["  <system>"] + sysl + ["  </system>"]
    if cfg["input"]:
        i = cfg["input"]
        L += ["  <source>", "    @type forward", "    @id %s" % i["id"], "    bind %s" % _q(i["bind"]),
              "    port %d" % int(i["port"]), "  </source>"]
    if cfg["monitor_agent"]:
        m = cfg["monitor_agent"]
        L += ["  <source>", "    @type monitor_agent", "    @id %s" % m["id"], "    bind %s" % _q(m["bind"]),
              "    port %d" % int(m["port"]), "  </source>"]
    for o in cfg["outputs"]:
        b = o["buffer"]
        L.append("  <match %s>" % o["match"])
        L.append("    @type s3")
        if o["id"] is not None:
            L.append("    @id %s" % o["id"])
        if o["log_level"] is not None:
            L.append("    @log_level %s" % _q(o["log_level"]))
        if o["access_key"]:
            L += ["    aws_key_id xxxxxx", "    aws_sec_key xxxxxx"]
        L.append("    s3_bucket %s" % _q(o["bucket"]))
        L.append("    s3_region %s" % _q(o["region"]))
        if o["endpoint"]:
            L.append("    s3_endpoint %s" % _q(o["endpoint"]))
        if o["force_path_style"]:
            L.append("    force_path_style true")
        L.append("    path %s" % _q(o["path"]))
        if o["key_format"] is not None:
            L.append("    s3_object_key_format %s" % _q(o["key_format"]))
        if not o["check_object"]:
            L.append("    check_object false")
        if o["store_as"] != "gzip":
            L.append("    store_as %s" % _q(o["store_as"]))
        L.append("    <buffer time>")
        L.append("      @type %s" % _q(b["type"]))
        if b["path"]:
            L.append("      path %s" % _q(b["path"]))
        L.append("      timekey %s" % b["timekey"])
        L.append("      timekey_wait %s" % _duration(b["timekey_wait"]))
        for k in ("chunk_limit_size", "total_limit_size", "flush_thread_count", "flush_thread_interval",
                  "flush_thread_burst_interval", "flush_at_shutdown", "retry_wait", "retry_max_times",
                  "retry_timeout", "retry_forever", "retry_exponential_backoff_base", "retry_max_interval",
                  "retry_randomize", "disable_chunk_backup"):
            if b[k] != BUFFER_DEFAULTS[k] and b[k] is not None:
                v = b[k]
                L.append("      %s %s" % (k, str(v).lower() if isinstance(v, bool) else v))
        L.append("    </buffer>")
        L.append("  </match>")
    L.append("</ROOT>")
    return "\n".join(L)
