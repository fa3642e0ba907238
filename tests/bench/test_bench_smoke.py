"""CI smoke of the benchmark harness (bench/bench.py --smoke): it runs end to end at tiny sizes and writes
well-formed results. Timings are never asserted here; `make bench` measures them."""
import json
import os
import subprocess
import sys

from ffpaths import REPO, helper_binary

SCENARIO_KEYS = ["time_to_safe_ms", "floor_ms", "verdict_latency_ms", "cpu_ms", "cpu_pct", "maxrss_kib"]


def build_tools():
    """The bench tools (bench/bench.mk), whether or not the top-level Makefile includes it yet."""
    with open(os.path.join(REPO, "Makefile")) as f:
        included = "bench/bench.mk" in f.read()
    cmd = ["make", "-C", REPO, "--no-print-directory"] + ([] if included else ["-f", "Makefile", "-f", "bench/bench.mk"])
    p = subprocess.run(cmd + ["bench-tools"], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, f"building the bench tools failed:\n{p.stdout}\n{p.stderr}"
    return os.path.join(REPO, "build", "bench")


def is_stats(s):
    return isinstance(s, dict) and all(isinstance(s[k], (int, float)) for k in ("median", "p95", "min", "max", "n")) \
        and s["min"] <= s["median"] <= s["max"] and s["min"] <= s["p95"] <= s["max"]


def test_bench_smoke(tmp_path):
    tools = build_tools()
    out = tmp_path / "out"
    p = subprocess.run([sys.executable, os.path.join(REPO, "bench", "bench.py"), "--smoke", "--binary", helper_binary(),
                        "--tools", tools, "--out", str(out)], capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, f"bench.py --smoke failed ({p.returncode}):\n{p.stderr[-4000:]}"

    res = json.loads((out / "results.json").read_text())
    assert res["profile"] == "smoke" and res["errors"] == []
    assert res["machine"]["cores"] >= 1 and res["machine"]["cpu"]
    assert is_stats(res["verdict_latency_ms"])
    assert res["verdict_latency_ms"]["n"] == len([r for r in res["runs"] if r["binary"] == "dynamic"])

    # every run: the helper confirmed exactly the snapshot, and the witness saw every chunk go
    assert res["runs"]
    for r in res["runs"]:
        assert r["rc"] == 0 and r["verdict"] == "confirmed", r
        assert r["helper_chunks"] == r["chunks"] >= 1, r
        assert r["signal_source"] == "helper stderr", r
        assert all(isinstance(r[k], (int, float)) for k in SCENARIO_KEYS), r
        assert r["baseline_ms"] == 300000

    names = [s["name"] for s in res["scenarios"]]
    assert any(n.startswith("chunks ") for n in names) and any(n.startswith("bytes ") for n in names)
    assert any(n.startswith("default burst") for n in names)
    for s in res["scenarios"]:
        assert s["errors"] == 0, s
        assert all(is_stats(s[k]) for k in SCENARIO_KEYS), s
        assert s["baseline_over_helper"] > 0 and isinstance(s["baseline_safe"], bool)
    size = {s["name"]: s for s in res["scenarios"]}
    assert size["bytes 1 MB"]["bytes"] == 1000 * 1000 and size["bytes 1 MB"]["chunks"] == 1

    lt = res["log_throughput"]
    assert lt["bytes"] >= 4 * 1000 * 1000 and lt["lines"] > 0
    assert lt["counts_agree"] and lt["parsed_completed"] > 0, lt     # the parser finds what grep finds
    assert lt["rejected_lines"] == 0, lt                               # generated from real lines only
    assert lt["parse_mb_per_s"] > 0 and lt["grep_mb_per_s"] > 0

    su = res["startup_size"]
    assert su["dynamic"]["bytes"] > 0 and is_stats(su["dynamic"]["version_wall_ms"])
    assert "skipped" in su["static"] or su["static"]["bytes"] > 0

    assert res["footprint"]["sizes"]["flush_chunk"] > 0
    assert {t["target"] for t in res["targets"]} >= {"verdict latency median ≤ 20 ms", "log-follow ≥ 50 % of grep's speed"}
    assert all(isinstance(t["met"], bool) for t in res["targets"])

    md = (out / "results.md").read_text()
    assert "| scenario | chunks | buffered |" in md and "**Verdict latency**" in md
    for n in names:
        assert f"| {n} |" in md
    png = (out / "time_to_safe.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10000
    # the smoke run never touches the committed results
    assert not os.path.samefile(out, os.path.join(REPO, "bench"))
