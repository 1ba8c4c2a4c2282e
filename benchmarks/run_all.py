#!/usr/bin/env python3
"""Run every benchmark (each in its own process, one after the other) and print one table of the
figures against the issue's targets.

  python benchmarks/run_all.py                    # everything: about 10 minutes on 2 cores
  python benchmarks/run_all.py --quick            # each script's tiny mode (under a minute or two)
  python benchmarks/run_all.py --only harness_overhead,cost_per_profile --json figures.json
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

import _common as c

SCRIPTS = ["harness_overhead", "slow_target", "server_throughput", "cost_per_profile"]


def met(value: float | None, limit: float, below: bool = True) -> str:
    if value is None:
        return "n/a"
    return "yes" if (value <= limit if below else value >= limit) else "NO"


def summarize(name: str, data: dict[str, Any], quick: bool) -> list[list[str]]:
    rows: list[list[str]] = []
    t = (lambda s: "" if quick else s)  # targets apply to full runs only

    def add(measure: str, value: str, target: str = "", ok: str = "") -> None:
        rows.append([name, measure, value, t(target), t(ok)])

    if name == "harness_overhead":
        col = data.get("collect")
        if col:
            walls = col.get("walls") or [col["wall"]]
            add(f"collection wall (--collect-only -q), median of {len(walls)}",
                f"{col['wall']:.2f} s ({', '.join(f'{w:.2f}' for w in walls)})", "< 1 s", met(col["wall"], 1.0))
            if col.get("wall_cold") is not None:
                add("collection, cold (nothing cached)", f"{col['wall_cold']:.2f} s")
        for mode, r in data.get("modes", {}).items():
            walls = r.get("walls") or [r["wall"]]
            add(f"{mode}: suite wall (median of {len(walls)}; each, first cold) / requests",
                f"{r['wall']:.2f} s ({', '.join(f'{w:.2f}' for w in walls)}) / {r['requests']}",
                "< 8 s" if mode == "embedded" else "", met(r["wall"], 8.0) if mode == "embedded" else "")
            add(f"{mode}: raw replay wall", f"{r['replay_wall']:.2f} s")
            add(f"{mode}: suite / replay", c.fmt_ratio(r["ratio"]), "<= 2x" if mode == "hand" else "",
                met(r["ratio"], 2.0) if mode == "hand" else "")
            if r.get("pytest_replay_wall") is not None:
                add(f"{mode}: bare pytest ({r['pytest_replay_tests']} tests, same requests) / replay",
                    f"{r['pytest_replay_wall']:.2f} s: {c.fmt_ratio(r['pytest_replay_to_replay'])}")
                add(f"{mode}: suite / bare pytest", c.fmt_ratio(r["ratio_to_pytest_replay"]))
    elif name == "slow_target":
        for r in data.get("modes", []):
            if r.get("problem"):
                add(f"{r['mode']} at {data['latency_ms']:g} ms", "FAILED: " + r["problem"].splitlines()[0][:60])
                continue
            add(f"{r['mode']} at {data['latency_ms']:g} ms: wall / requests", f"{r['wall']:.1f} s / {r['requests']}",
                "< 30 s" if data["latency_ms"] == 250 and not data.get("suites") else "",
                met(r["wall"], 30.0) if data["latency_ms"] == 250 and not data.get("suites") else "")
            if r.get("requests_ratio") is not None and not r["mode"].startswith("serial"):
                add(f"{r['mode']}: requests / serial", c.fmt_ratio(r["requests_ratio"]), "<= 1x",
                    met(r["requests_ratio"], 1.0))
        if not data.get("concurrency_option"):
            add("in-run concurrency", "no option in pytest --help yet")
    elif name == "server_throughput":
        for r in data.get("rows", []):
            add(f"{r['server']} {'streamed' if r['stream'] else 'non-streamed'}",
                f"{r['rps']:.0f} req/s" + ("" if r["valid"] else f" ({r['note']})"))
        for server, why in data.get("skipped", {}).items():
            add(f"{server}", f"skipped: {why[:70]}")
        ratios = data.get("ratios", {})
        add("reference / prism non-streamed", c.fmt_ratio(ratios.get("reference/prism non-streamed")), ">= 3x",
            met(ratios.get("reference/prism non-streamed"), 3.0, below=False))
        add("reference non-streamed / streamed", c.fmt_ratio(ratios.get("reference non-streamed/streamed")),
            "<= 1.5x", met(ratios.get("reference non-streamed/streamed"), 1.5))
    elif name == "cost_per_profile":
        tg = data.get("targets", {})
        for r in data.get("rows", []):
            if r.get("problem"):
                add(r["run"], "FAILED: " + r["problem"].splitlines()[0][:60])
                continue
            ok = all(v <= tg.get(k, 1e12) for k, v in (("requests", r["requests"]), ("billed", r["billed"]),
                                                         ("tokens", r["tokens"])))
            add(f"{r['run']}: requests / billed / tokens", f"{r['requests']} / {r['billed']} / {r['tokens']}",
                "<= 250 / 40 / 5000", "yes" if ok else "NO")
        if not data.get("fault"):
            add("cap-ignoring server", data.get("fault_note", "none"))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    c.add_common_args(parser)
    parser.add_argument("--quick", action="store_true", help="each script's --quick mode")
    parser.add_argument("--only", default=",".join(SCRIPTS), help=f"comma-separated, of {', '.join(SCRIPTS)}")
    parser.add_argument("--timeout", type=float, default=2400.0, help="longest one script may take (s)")
    parser.add_argument("--show-output", action="store_true", help="print each script's own output too")
    args = parser.parse_args(argv)
    chosen = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = set(chosen) - set(SCRIPTS)
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(sorted(unknown))}")

    c.print_machine()
    table_rows: list[list[str]] = []
    collected: dict[str, Any] = {}
    failed = []
    with tempfile.TemporaryDirectory(prefix="chatconform-bench-all-") as tmp:
        for name in chosen:
            out = Path(tmp) / f"{name}.json"
            cmd = [c.PYTHON, str(c.BENCH_DIR / f"{name}.py"), "--json", str(out)]
            cmd += ["--quick"] if args.quick else []
            cmd += ["--repo", args.repo] if args.repo else []
            print(f"running {name} ...", flush=True)
            done = c.run(cmd, timeout=args.timeout, cwd=c.BENCH_DIR.parent)
            if args.show_output:
                print(done.stdout)
            if done.returncode != 0:
                failed.append(name)
                table_rows.append([name, "FAILED (see its output)", f"exit {done.returncode}", "", ""])
                print(done.tail(20))
            if not out.exists():
                continue
            data = json.loads(out.read_text(encoding="utf-8"))
            collected[name] = data
            table_rows += summarize(name, data, args.quick)
            print(f"  done in {done.wall:.0f} s", flush=True)
    print()
    print(c.table(["benchmark", "measure", "value", "target", "met"], table_rows))
    c.write_json(args.json, {"benchmark": "run_all", "quick": args.quick, "results": collected})
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
