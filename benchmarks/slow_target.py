#!/usr/bin/env python3
"""A slow target: the reference server behind a proxy that adds a fixed delay to every request
(default 250 ms, like a real vendor), and the full suite run against it in several modes, side by
side in one run: serial, `-n 2`, and in-run concurrency once the plugin has an option for it
(detected from `pytest --help`). Prints wall time and request counts per mode and ratios to serial.

  python benchmarks/slow_target.py                   # full suite, 250 ms (several minutes)
  python benchmarks/slow_target.py --latency-ms 100 --modes serial,concurrent
  python benchmarks/slow_target.py --quick           # suites/test_responses.py, 50 ms
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
from pathlib import Path
from typing import Any

import _common as c
from _proxy import DelayProxy


def concurrency_modes(option: str | None, help_text: str, value: int) -> tuple[list[str] | None, list[tuple[str, list[str]]]]:
    """(the arguments of a truly serial run, the concurrent modes) for the plugin's option."""
    if not option:
        return None, []
    takes_value = re.search(re.escape(option) + r"[= ][A-Z_]+", help_text) is not None
    if not takes_value:  # a flag: off by default, so a run without it is serial
        return [], [("concurrent", [option])]
    # a limit: its default may already be concurrent, so serial is an explicit limit of 1
    return [f"{option}=1"], [("default (no option)", []), (f"{option.lstrip('-')}={value}", [f"{option}={value}"])]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    c.add_common_args(parser)
    parser.add_argument("--quick", action="store_true", help="suites/test_responses.py only, 50 ms")
    parser.add_argument("--latency-ms", type=float, default=None, help="added to every request (default 250; quick 50)")
    parser.add_argument("--modes", default="serial,n2,concurrent",
                        help="comma-separated: serial, n2, n2-loadfile, concurrent (default serial,n2,concurrent)")
    parser.add_argument("--concurrency-value", type=int, default=8,
                        help="the in-flight limit to try when the plugin has a concurrency option (default 8)")
    parser.add_argument("--timeout", type=float, default=900.0, help="longest one pytest run may take (s)")
    parser.add_argument("suites", nargs="*", help="suite files (default: all; quick: suites/test_responses.py)")
    args = parser.parse_args(argv)
    c.use_repo(args.repo)

    latency = args.latency_ms if args.latency_ms is not None else (50.0 if args.quick else 250.0)
    selection = args.suites or (["suites/test_responses.py"] if args.quick else [])
    wanted = [m.strip() for m in args.modes.split(",") if m.strip()]

    help_text = c.pytest_help() if "concurrent" in wanted else ""
    option = c.concurrency_option(help_text)
    serial_args, concurrent = (concurrency_modes(option, help_text, args.concurrency_value)
                               if "concurrent" in wanted else (None, []))
    modes: list[tuple[str, list[str]]] = []
    if "serial" in wanted:
        modes.append(("serial", serial_args or []))
    if "n2" in wanted:
        modes.append(("-n 2", ["-n", "2"]))
    if "n2-loadfile" in wanted:
        modes.append(("-n 2 --dist loadfile", ["-n", "2", "--dist", "loadfile"]))
    modes += concurrent

    print(f"slow target: the reference server behind a proxy adding {latency:g} ms to every request"
          + (f" ({' '.join(selection)})" if selection else " (full suite)"))
    c.print_machine()
    print(f"repo: {c.REPO}")
    if "concurrent" in wanted:
        print(f"in-run concurrency option: {option or 'none found in pytest --help (mode skipped)'}"
              + (f"; serial runs with {' '.join(serial_args)}" if serial_args else ""))

    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="chatconform-bench-slow-") as tmp, c.reference_server() as server:
        origin = server.url.split("/v1")[0]
        with DelayProxy(origin, latency / 1000.0) as proxy:
            base = proxy.url + "/v1"
            for i, (label, extra) in enumerate(modes):
                proxy.stats.reset()
                suite = c.run_suite(label, [f"--base-url={base}", f"--api-key={c.API_KEY}", f"--model={c.MODEL}",
                                            *extra, *selection],
                                    timeout=args.timeout, workdir=Path(tmp) / f"m{i}", record=False)
                seen = proxy.stats.snapshot()
                problem = c.check_suite(suite)
                if not problem and not seen["requests"]:
                    problem = f"{label}: the proxy forwarded no request:\n{suite.completed.tail()}"
                if not problem and seen["errors"]:
                    problem = f"{label}: the proxy failed {seen['errors']} exchanges"
                rows.append({"mode": label, "wall": suite.wall, "requests": seen["requests"],
                             "billed": seen["billed"], "max_in_flight": seen["max_in_flight"],
                             "cost_requests": suite.cost.get("requests"), "tokens": suite.tokens,
                             "outcomes": suite.outcomes, "problem": problem})
                if problem:
                    print(f"  {problem}")
    serial = rows[0] if rows and rows[0]["mode"] == "serial" and not rows[0]["problem"] else None
    for r in rows:  # a failed run is no measurement: no ratio from or to it
        r["wall_ratio"] = c.ratio(r["wall"], serial["wall"]) if serial and not r["problem"] else None
        r["requests_ratio"] = c.ratio(r["requests"], serial["requests"]) if serial and not r["problem"] else None
    print()
    for r in rows:
        if r["problem"]:
            r["mode_shown"] = r["mode"] + " (FAILED)"
    print(c.table(["mode", "wall s", "requests (proxy)", "cost.requests", "billed", "max in flight", "tokens",
                   "wall / serial", "requests / serial"],
                  [[r.get("mode_shown", r["mode"]), f"{r['wall']:.1f}", r["requests"], r["cost_requests"], r["billed"], r["max_in_flight"],
                    r["tokens"], c.fmt_ratio(r["wall_ratio"]), c.fmt_ratio(r["requests_ratio"])] for r in rows]))
    print()
    for r in rows:
        if r is serial:
            continue
        print(c.ratio_line(f"wall {r['mode']}/serial", r["wall_ratio"]))
        print(c.ratio_line(f"requests {r['mode']}/serial", r["requests_ratio"], "<= 1x"))
    if serial and not selection and latency == 250.0:
        best = min((r for r in rows if not r["problem"]), key=lambda r: r["wall"])
        print(c.ratio_line("best-wall/target-30s", best["wall"] / 30.0, "< 1x, serial command line"))
    c.write_json(args.json, {"benchmark": "slow_target", "latency_ms": latency, "suites": selection,
                             "concurrency_option": option, "modes": rows})
    return 1 if any(r["problem"] for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
