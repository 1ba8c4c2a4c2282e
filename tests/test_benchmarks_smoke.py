"""The benchmark scripts run (benchmarks/, each in its --quick mode) and print what they promise.

Not a benchmark: nothing here asserts a time or a rate (timings flake on a shared machine). Each
test runs one script in a child process with a hard timeout and checks the structure of its
output and JSON, that it sent requests, and that a suite and its replay sent the same number.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"
RATIO = re.compile(r"^ratio (?P<name>.+): (?P<value>[0-9]+\.[0-9]{2}x|n/a)(  \[target .+\])?$", re.M)
MACHINE = re.compile(r"^machine: .+, nproc \d+, .+, Python \d+\.\d+", re.M)


def run_script(name: str, tmp_path: Path, *args: str, timeout: float = 240) -> tuple[str, dict]:
    out = tmp_path / f"{name}.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "CHATCONFORM_", "PYTEST_"))}
    proc = subprocess.run([sys.executable, str(BENCH / f"{name}.py"), "--quick", "--json", str(out), *args],
                          cwd=BENCH.parent, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          timeout=timeout, start_new_session=True)
    assert proc.returncode == 0, f"{name} exited {proc.returncode}:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    assert MACHINE.search(proc.stdout), proc.stdout
    assert out.exists()
    data = json.loads(out.read_text(encoding="utf-8"))
    assert data["benchmark"] == name
    assert set(data["machine"]) >= {"date", "nproc", "cpu", "python"}
    return proc.stdout, data


def ratios(stdout: str) -> dict[str, str]:
    return {m["name"]: m["value"] for m in RATIO.finditer(stdout)}


def test_harness_overhead_quick(tmp_path):
    stdout, data = run_script("harness_overhead", tmp_path)
    found = ratios(stdout)
    assert {"suite/replay embedded", "suite/replay serve"} <= set(found), stdout
    assert all(v.endswith("x") for v in found.values()), found
    assert data["collect"]["items"] > 0 and data["collect"]["wall"] > 0
    for mode in ("embedded", "serve"):
        r = data["modes"][mode]
        assert r["requests"] > 0
        assert r["replay_requests"] == r["requests"], r  # the replay sent exactly the suite's requests
        assert r["cost_requests"] == r["requests"], r  # the recorder saw what the suite counted
        assert r["replay_errors"] == 0
        assert f"requests {mode}: suite {r['requests']}, replay {r['requests']}" in stdout
        # the floor: a bare pytest as many tests long, every request sent (its last test checks)
        assert r["pytest_replay_tests"] == sum(r["outcomes"].values()) and r["pytest_replay_wall"] > 0, r
        assert f"suite/bare-pytest {mode}" in found, stdout


def test_slow_target_quick(tmp_path):
    stdout, data = run_script("slow_target", tmp_path, "--latency-ms", "20", "--modes", "serial,n2,concurrent")
    modes = {r["mode"]: r for r in data["modes"]}
    serial = next(r for name, r in modes.items() if name.startswith("serial"))
    assert "-n 2" in modes
    for r in modes.values():
        assert r["problem"] is None, r["problem"]
        assert r["requests"] > 0 and r["billed"] > 0
        assert r["cost_requests"] == r["requests"], r  # the proxy forwarded what the suite counted
    assert serial["max_in_flight"] == 1
    assert "wall -n 2/serial" in ratios(stdout), stdout
    assert "requests -n 2/serial" in ratios(stdout), stdout
    assert "in-run concurrency option:" in stdout


def test_server_throughput_quick(tmp_path):
    stdout, data = run_script("server_throughput", tmp_path, "--requests", "60", "--seconds", "2")
    rows = {(r["server"], r["stream"]): r for r in data["rows"]}
    for stream in (False, True):
        r = rows[("reference", stream)]
        assert r["valid"] and r["ok"] > 0 and r["rps"] > 0, r
        assert r["ok"] <= 60
    assert rows[("reference", True)]["streams_ok"] == rows[("reference", True)]["ok"]  # real streams, [DONE] and all
    assert "reference non-streamed/streamed" in ratios(stdout), stdout


def test_cost_per_profile_quick(tmp_path):
    stdout, data = run_script("cost_per_profile", tmp_path)
    assert data["fault"], data.get("fault_note")  # the catalogue has a fault that ignores the cap
    assert len(data["rows"]) == 2
    for r in data["rows"]:
        assert r["problem"] is None, r["problem"]
        assert r["requests"] > 0 and r["billed"] > 0 and r["tokens"] > 0
        assert r["requests"] == r["cost_requests"], r
        assert r["billed"] <= r["requests"]
    found = ratios(stdout)
    assert any(name.startswith("requests/250 ") for name in found), stdout
    assert any(name.startswith("tokens/5000 ") for name in found), stdout


def test_run_all_lists_every_benchmark():
    text = (BENCH / "run_all.py").read_text(encoding="utf-8")
    scripts = sorted(p.stem for p in BENCH.glob("*.py") if not p.name.startswith("_") and p.stem != "run_all")
    for name in scripts:
        assert f'"{name}"' in text, f"run_all.py does not run {name}"
    readme = (BENCH / "README.md").read_text(encoding="utf-8")
    for name in scripts:
        assert f"{name}.py" in readme, f"benchmarks/README.md does not describe {name}.py"


@pytest.mark.parametrize("name", ["harness_overhead", "slow_target", "server_throughput", "cost_per_profile",
                                  "run_all"])
def test_scripts_have_help(name):
    proc = subprocess.run([sys.executable, str(BENCH / f"{name}.py"), "--help"], capture_output=True, text=True,
                          timeout=60, cwd=BENCH.parent)
    assert proc.returncode == 0 and "--json" in proc.stdout and "--quick" in proc.stdout


def test_slow_target_finds_a_concurrency_option():
    sys.path.insert(0, str(BENCH))
    try:
        import _common
        import slow_target
    finally:
        sys.path.remove(str(BENCH))
    help_text = ("chatconform conformance run:\n  --concurrency=N       requests in flight at once (default 8)\n"
                 "  --strict              SHOULD violations fail\n")
    option = _common.concurrency_option(help_text)
    assert option == "--concurrency"
    serial, modes = slow_target.concurrency_modes(option, help_text, 8)
    assert serial == ["--concurrency=1"]
    assert [args for _, args in modes] == [[], ["--concurrency=8"]]
    assert _common.concurrency_option("  --strict   SHOULD violations fail\n") is None
    flag = "  --concurrent          send independent probes at once\n"
    assert slow_target.concurrency_modes(_common.concurrency_option(flag), flag, 8) == ([], [("concurrent", ["--concurrent"])])
