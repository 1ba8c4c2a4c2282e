#!/usr/bin/env python3
"""Harness overhead: the conformance suite against the reference server vs a raw replay of
exactly the same requests, side by side in one run.

The suite runs with a recorder plugin (benchmarks/_recorder.py) that logs every request at the
httpx transport; then a plain httpx loop replays those requests, in order, against a fresh
`chatconform serve` configured like the run's server. The ratio suite wall / replay wall is the
harness overhead (start-up, collection, checks, reporting). Next to it, the floor under any pytest
suite: a bare pytest process (no plugin of ours) running as many trivial tests as the suite ran,
the same requests shared out among them, start-up included.

Measured (each is one pytest run; --repeat N runs each N times, interleaved with nothing else,
and keeps the run with the median wall, its replays with it):
  collect      `pytest --collect-only -q` wall time (and pytest's own figure), next to the time
               to start Python and import pytest
  embedded     the full suite with no --base-url (the embedded server), serial
  serve        the full suite with --base-url at a `chatconform serve --api-key K` we start
  hand         the hand-written suites alone (everything but test_property_based.py and
               test_stateful.py), embedded, serial

  python benchmarks/harness_overhead.py                 # everything (a few minutes on 2 cores)
  python benchmarks/harness_overhead.py --quick         # suites/test_responses.py only
  python benchmarks/harness_overhead.py --profile       # also cProfile collection and the hand-written run
"""

from __future__ import annotations

import argparse
import os
import pstats
import sys
import tempfile
from pathlib import Path
from typing import Any

import _common as c

TARGETS = {
    "embedded": "wall < 8 s serial",
    "hand": "suite <= 2x its raw replay",
    "collect": "collection < 1 s",
}


def measure_collect(suites: list[str], timeout: float, cold: bool = True, repeat: int = 1) -> dict[str, Any]:
    env = c.clean_env(PYTHONHASHSEED="0")
    floor = c.run([c.PYTHON, "-c", "import pytest"], timeout=60, env=env)
    c.run(c.pytest_cmd("--collect-only", "-q", *suites), timeout=timeout, env=env)  # warm-up: pyc caches
    runs = [c.run(c.pytest_cmd("--collect-only", "-q", *suites), timeout=timeout, env=env) for _ in range(repeat)]
    collect = sorted(runs, key=lambda r: r.wall)[len(runs) // 2]  # the median: one start is noisy here
    # cold: nothing cached (an empty pycache prefix, nothing written). With PYTHONDONTWRITEBYTECODE=1
    # (set in some shells and CI images) and no earlier run without it, every start is like this for
    # pytest's assertion rewriting: it rewrites every module of every pytest11 plugin's distribution
    # (schemathesis, hypothesis, anyio, ...) from source. An upper bound: the prefix also hides the
    # ordinary .pyc files pip wrote at install time.
    cold_wall = None
    if cold:
        with tempfile.TemporaryDirectory(prefix="chatconform-bench-pycache-") as empty:
            cold_wall = c.run(c.pytest_cmd("--collect-only", "-q", *suites), timeout=timeout,
                              env=dict(env, PYTHONDONTWRITEBYTECODE="1", PYTHONPYCACHEPREFIX=empty)).wall
    items = 0
    for line in collect.stdout.splitlines():
        if "::" in line:
            items += 1
    return {"wall": collect.wall, "walls": [r.wall for r in runs], "reported": collect.reported_seconds, "items": items,
            "python_import_pytest": floor.wall, "returncode": collect.returncode,
            "wall_cold": cold_wall,
            "tail": collect.tail(3)}


def measure_suite(label: str, args: list[str], work: Path, timeout: float, replay_timeout: float) -> dict[str, Any]:
    server: c.Server | None = None
    run_args = list(args)
    if label.startswith("serve"):
        server = c.reference_server()
        server.start()
        run_args += [f"--base-url={server.url}", f"--api-key={c.API_KEY}", f"--model={c.MODEL}"]
    try:
        # the boundary test's cases are kept between runs (chatconform.fuzz.plan_cache): a cache of
        # the benchmark's own, so the first run of each mode is cold and the repeats are warm
        suite = c.run_suite(label, run_args, timeout=timeout, workdir=work / label,
                            extra_env={"CHATCONFORM_CACHE_DIR": str(work / "cache" / label)})
    finally:
        if server is not None:
            server.stop()
    problem = c.check_suite(suite)
    if problem:
        raise SystemExit(f"harness_overhead: {problem}")
    # a fresh server for the replay, configured as the run's was (the embedded one's keys, rate
    # limit and model, or our own key), so every request gets the same kind of answer
    replay_args = c.replay_server_args(suite) if not label.startswith("serve") else []
    replay_server = c.reference_server(replay_args, api_key=None if replay_args else c.API_KEY)
    origin = c.origin_of(suite)
    with replay_server:
        target = replay_server.url.split("/v1")[0]
        replayed = c.replay(suite.requests, origin, target, deadline=replay_timeout)
    # the floor: a bare pytest process running as many tests, sharing out the same requests
    tests = sum(suite.outcomes.values()) or 1
    floor_server = c.reference_server(replay_args, api_key=None if replay_args else c.API_KEY)
    with floor_server:
        floor = c.pytest_replay(suite.requests, origin, floor_server.url.split("/v1")[0], tests,
                                work / f"{label}-pytest-replay", timeout=replay_timeout)
    if floor["returncode"] != 0:
        raise SystemExit(f"harness_overhead: the bare pytest replay failed (exit {floor['returncode']}):\n{floor['tail']}")
    return {
        "label": label,
        "wall": suite.wall,
        "reported": suite.completed.reported_seconds,
        "requests": len(suite.requests),
        "cost_requests": suite.cost.get("requests"),
        "billed": suite.billed,
        "tokens": suite.tokens,
        "http_seconds": suite.http_seconds,
        "outcomes": suite.outcomes,
        "replay_wall": replayed["wall"],
        "replay_requests": replayed["requests"],
        "replay_status_matched": replayed["status_matched"],
        "replay_errors": replayed["errors"],
        "replay_status_differences": replayed["status_differences"],
        "ratio": c.ratio(suite.wall, replayed["wall"]),
        "pytest_replay_wall": floor["wall"],
        "pytest_replay_tests": floor["tests"],
        "ratio_to_pytest_replay": c.ratio(suite.wall, floor["wall"]),
        "pytest_replay_to_replay": c.ratio(floor["wall"], replayed["wall"]),
        "ratio_in_session": c.ratio(suite.completed.reported_seconds, replayed["wall"]),
    }


def profile(suites: list[str], hand: list[str], work: Path, timeout: float, top: int) -> None:
    env = c.clean_env(PYTHONHASHSEED="0")
    for name, args in (("collection", ["--collect-only", "-q", *suites]),
                       ("hand-written run (embedded)", ["-q", f"--reports-dir={work / 'prof-reports'}", *hand])):
        out = work / f"{name.split()[0]}.prof"
        cmd = c.pytest_cmd(*args)  # [python, -m, pytest, ...]
        done = c.run([c.PYTHON, "-m", "cProfile", "-o", str(out), *cmd[1:]], timeout=timeout, env=env)
        print(f"\nprofile: {name} ({done.wall:.2f}s wall under cProfile, exit {done.returncode}; top {top} "
              f"by cumulative time, then by own time)")
        if not out.exists():
            print(f"  no profile written (exit {done.returncode}):\n{done.tail()}")
            continue
        stats = pstats.Stats(str(out), stream=sys.stdout)
        stats.strip_dirs().sort_stats("cumulative").print_stats(top)
        stats.sort_stats("tottime").print_stats(top)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    c.add_common_args(parser)
    parser.add_argument("--quick", action="store_true", help="a tiny run: suites/test_responses.py only")
    parser.add_argument("--modes", default="collect,embedded,serve,hand",
                        help="comma-separated: collect, embedded, serve, hand (default: all)")
    parser.add_argument("--timeout", type=float, default=600.0, help="longest one pytest run may take (s)")
    parser.add_argument("--repeat", type=int, default=None,
                        help="runs of each suite mode, the median kept (default 3, collection 5; --quick 1)")
    parser.add_argument("--profile", action="store_true", help="also profile collection and the hand-written run")
    parser.add_argument("--profile-top", type=int, default=25)
    args = parser.parse_args(argv)
    c.use_repo(args.repo)

    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    suites = ["suites/test_responses.py"] if args.quick else []
    hand = suites or c.hand_written_suites()
    if args.quick:
        modes = [m for m in modes if m != "hand"]  # the quick subset is hand-written already
    print("harness overhead: the suite vs a raw httpx replay of the same requests"
          + (" (quick: suites/test_responses.py)" if args.quick else ""))
    c.print_machine()
    print(f"repo: {c.REPO}")

    results: dict[str, Any] = {"quick": args.quick, "modes": {}}
    with tempfile.TemporaryDirectory(prefix="chatconform-bench-overhead-") as tmp:
        work = Path(tmp)
        if "collect" in modes:
            results["collect"] = measure_collect(suites, args.timeout, cold=not args.quick,
                                                 repeat=args.repeat or (1 if args.quick else 5))
        for mode in ("embedded", "serve", "hand"):
            if mode not in modes:
                continue
            selection = hand if mode == "hand" else suites
            repeat = args.repeat or (1 if args.quick else 3)
            runs = [measure_suite(mode, selection, work, args.timeout, args.timeout) for _ in range(repeat)]
            median = sorted(runs, key=lambda r: r["wall"])[len(runs) // 2]
            results["modes"][mode] = dict(median, walls=[r["wall"] for r in runs])  # in run order
        if args.profile:
            profile(suites, hand, work, args.timeout, args.profile_top)

    rows = []
    for mode, r in results["modes"].items():
        rows.append([mode, f"{r['wall']:.2f}", f"{r['reported'] or 0:.2f}", r["requests"], r["cost_requests"],
                     f"{r['http_seconds']:.2f}", f"{r['replay_wall']:.2f}", r["replay_requests"],
                     f"{r['replay_status_matched']}/{r['replay_requests']}", c.fmt_ratio(r["ratio"]),
                     f"{r['pytest_replay_wall']:.2f}", c.fmt_ratio(r["ratio_to_pytest_replay"])])
    print()
    if rows:
        print(c.table(["run", "suite wall s", "pytest s", "requests", "cost.requests", "in-HTTP s",
                       "replay s", "replayed", "same status", "suite/replay", "bare pytest s",
                       "suite/bare pytest"], rows))
    col = results.get("collect")
    if col:
        print(f"\ncollection: {col['wall']:.2f}s wall (median of {', '.join(f'{w:.2f}' for w in col['walls'])}) "
              f"for {col['items']} items (pytest says "
              f"{col['reported'] if col['reported'] is not None else '?'}s); "
              f"'python -c import pytest' alone: {col['python_import_pytest']:.2f}s"
              + (f"; cold (nothing cached, no bytecode written): {col['wall_cold']:.2f}s wall"
                 if col["wall_cold"] is not None else ""))
        if col["returncode"] not in (0,):
            print(f"  collect-only exited {col['returncode']}: {col['tail']}")
    for mode, r in results["modes"].items():
        if r["replay_status_differences"]:
            top = ", ".join(f"{k} x{n}" for k, n in list(r["replay_status_differences"].items())[:6])
            print(f"{mode}: replayed answers whose status differs from the run's (state, rate limits, ids): {top}")
    print()
    for mode, r in results["modes"].items():
        print(c.ratio_line(f"suite/replay {mode}", r["ratio"], "" if args.quick else TARGETS.get(mode, "")))
        print(f"requests {mode}: suite {r['requests']}, replay {r['replay_requests']}; suite wall of each run, in order "
              f"(the first with the boundary cases not cached yet): " + ", ".join(f"{w:.2f}s" for w in r["walls"]))
        print(c.ratio_line(f"bare-pytest/replay {mode} (pytest alone: {r['pytest_replay_tests']} tests, "
                           f"the same requests)", r["pytest_replay_to_replay"]))
        print(c.ratio_line(f"suite/bare-pytest {mode}", r["ratio_to_pytest_replay"]))
    if col and not args.quick:
        print(c.ratio_line("collection/target-1s", col["wall"] / 1.0, "< 1x"))
    e = results["modes"].get("embedded")
    if e and not args.quick:
        print(c.ratio_line("embedded-wall/target-8s", e["wall"] / 8.0, "< 1x"))
    c.write_json(args.json, {"benchmark": "harness_overhead", **results})
    return 0


if __name__ == "__main__":
    sys.exit(main())
