#!/usr/bin/env python3
"""Cost per profile: requests, billed completions and tokens of one vendor-style run (the suite
with --base-url at a `chatconform serve` we start) for each provider profile in specs/profiles/,
and against a server that ignores the token cap (`chatconform serve --fault max-tokens-ignored`),
side by side in one run.

A billed completion is a POST .../chat/completions answered with a 2xx (counted by the recorder
plugin at the transport); tokens are the run's cost block (prompt + completion, as the target
reports them).

  python benchmarks/cost_per_profile.py                 # every profile, serial, plus the cap-ignored run
  python benchmarks/cost_per_profile.py --xdist         # also -n 2 for the default profile and the cap-ignored run
  python benchmarks/cost_per_profile.py --quick         # generic profile and cap-ignored, suites/test_responses.py
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
from pathlib import Path
from typing import Any

import _common as c

TARGET_REQUESTS, TARGET_BILLED, TARGET_TOKENS = 250, 40, 5000


def cap_ignoring_fault() -> tuple[str | None, str]:
    """The fault that makes the server ignore max_completion_tokens, from `serve --list-faults`."""
    done = c.run([c.PYTHON, "-m", "chatconform", "serve", "--list-faults"], timeout=120,
                 env=c.clean_env())
    candidates = []
    for line in done.stdout.splitlines():
        match = re.match(r"^\s+([a-z0-9-]+)\s+(.*)$", line)
        if not match:
            continue
        name, text = match.groups()
        if "max_completion_tokens" in text and "ignored" in text.lower():
            candidates.append(name)
    if "max-tokens-ignored" in candidates:
        return "max-tokens-ignored", "listed by chatconform serve --list-faults"
    if candidates:
        return candidates[0], "listed by chatconform serve --list-faults"
    return None, "no fault in `chatconform serve --list-faults` ignores max_completion_tokens"


def required_headers(profile: str) -> list[str]:
    """`--header NAME: EXAMPLE` values for the headers a profile requires (its YAML's
    headers.required), so the suite can reach a server emulating that profile."""
    import yaml

    try:
        data = yaml.safe_load((c.REPO / "specs" / "profiles" / f"{profile}.yaml").read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError):
        return []
    required = (data.get("headers") or {}).get("required") or {}
    return [f"{name}: {(spec or {}).get('example') or 'chatconform-bench'}" for name, spec in required.items()]


def not_judged(results: dict[str, Any]) -> int:
    return sum(1 for t in results.get("tests") or [] if "not judged" in json.dumps(t).lower())


def profile_model(profile: str | None) -> str:
    """The model id to ask for under a profile: vendor/model where the profile's ids carry the
    vendor (conventions.model_vendor, as seed 004 requires), else the benchmark's model."""
    if not profile:
        return c.MODEL
    import yaml

    data = yaml.safe_load((c.REPO / "specs" / "profiles" / f"{profile}.yaml").read_text(encoding="utf-8")) or {}
    conventions = data.get("conventions") or {}
    vendor = conventions.get("model_vendor")
    return f"{vendor}/{c.MODEL}" if vendor and conventions.get("model_id") == "vendor/model" else c.MODEL


def profiles() -> list[str]:
    return sorted(p.stem for p in (c.REPO / "specs" / "profiles").glob("*.yaml"))


def one_run(label: str, profile: str | None, fault: str | None, extra: list[str], selection: list[str],
            work: Path, timeout: float, features: dict[str, bool]) -> dict[str, Any]:
    serve_args = [f"--fault={fault}"] if fault else []
    if profile and features["serve_profile"]:
        serve_args.append(f"--profile={profile}")  # the server emulates the profile's paths, auth, headers
    server = c.reference_server(serve_args)
    with server:
        # a bare host: the profile's base_path completes it (/v1 for most, another layout for some)
        base = server.url.rsplit("/v1", 1)[0] if features["serve_profile"] else server.url
        args = [f"--base-url={base}", f"--api-key={c.API_KEY}", f"--model={profile_model(profile)}"]
        if profile:
            args.append(f"--profile={profile}")
            if features["header_option"]:
                args += [f"--header={h}" for h in required_headers(profile)]
        suite = c.run_suite(label, args + extra + selection, timeout=timeout, workdir=work)
    cost = suite.cost
    return {
        "run": label, "profile": profile or "(default)", "fault": fault, "extra": extra,
        "requests": len(suite.requests), "cost_requests": cost.get("requests"), "billed": suite.billed,
        "prompt_tokens": cost.get("prompt_tokens"), "completion_tokens": cost.get("completion_tokens"),
        "tokens": suite.tokens, "wall": suite.wall, "outcomes": suite.outcomes,
        "not_judged": not_judged(suite.results),
        "problem": c.check_suite(suite),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    c.add_common_args(parser)
    parser.add_argument("--quick", action="store_true", help="generic profile and cap-ignored, suites/test_responses.py")
    parser.add_argument("--profiles", default=None, help="comma-separated profile names (default: every specs/profiles/*.yaml)")
    parser.add_argument("--xdist", action="store_true", help="also run -n 2 for the default profile and the cap-ignored run")
    parser.add_argument("--timeout", type=float, default=600.0, help="longest one pytest run may take (s)")
    parser.add_argument("suites", nargs="*", help="suite files (default: all)")
    args = parser.parse_args(argv)
    c.use_repo(args.repo)

    selection = args.suites or (["suites/test_responses.py"] if args.quick else [])
    names = [p.strip() for p in args.profiles.split(",")] if args.profiles else (["generic"] if args.quick else profiles())
    fault, why = cap_ignoring_fault()
    serve_help = c.run([c.PYTHON, "-m", "chatconform", "serve", "--help"], timeout=120, env=c.clean_env()).stdout
    pytest_help = c.pytest_help()
    features = {"serve_profile": "--profile" in serve_help, "header_option": "--header" in pytest_help}
    budget = [o for o in ("--max-requests", "--max-billed", "--max-tokens") if o in pytest_help]
    print("cost per profile: one vendor-style run (--base-url at chatconform serve) per profile"
          + (f" ({' '.join(selection)})" if selection else " (full suite)"))
    c.print_machine()
    print(f"repo: {c.REPO}")
    print(f"cap-ignoring server: {'--fault ' + fault if fault else 'none'} ({why})")
    print(f"budget options: {' '.join(budget) or 'none in pytest --help'}; serve --profile: "
          f"{'yes' if features['serve_profile'] else 'no'}")

    plan: list[tuple[str, str | None, str | None, list[str]]] = [(f"profile {p}", p, None, []) for p in names]
    if fault:
        plan.append((f"{fault} (default profile)", None, fault, []))
    if budget and not args.quick:  # what the run would cost without the run's budget: what the budget saves
        unlimited = [f"{o}=0" for o in budget]
        plan.append(("default profile, no budget", None, None, unlimited))
        if fault:
            plan.append((f"{fault}, no budget", None, fault, unlimited))
    if args.xdist:
        plan.append(("default profile -n 2", None, None, ["-n", "2"]))
        if fault:
            plan.append((f"{fault} -n 2", None, fault, ["-n", "2"]))
    rows = []
    with tempfile.TemporaryDirectory(prefix="chatconform-bench-cost-") as tmp:
        for i, (label, profile, f, extra) in enumerate(plan):
            row = one_run(label, profile, f, extra, selection, Path(tmp) / f"r{i}", args.timeout, features)
            rows.append(row)
            if row["problem"]:
                print(f"  {row['problem']}")

    def mark(value: int | None, limit: int) -> str:
        return "-" if value is None else f"{value}{'' if value <= limit else ' (over)'}"

    print()
    print(c.table(["run", "requests", "cost.requests", "billed completions", "prompt tok", "completion tok",
                   "tokens", "not judged", "wall s"],
                  [[r["run"], mark(r["requests"], TARGET_REQUESTS), r["cost_requests"], mark(r["billed"], TARGET_BILLED),
                    r["prompt_tokens"], r["completion_tokens"], mark(r["tokens"], TARGET_TOKENS), r["not_judged"], f"{r['wall']:.1f}"]
                   for r in rows]))
    print(f"\ntargets per run: <= {TARGET_REQUESTS} requests, <= {TARGET_BILLED} billed completions, "
          f"<= {TARGET_TOKENS} tokens" + (" (for a full run; this one is a subset)" if selection else ""))
    for r in rows:
        tag = r["run"]
        print(c.ratio_line(f"requests/{TARGET_REQUESTS} {tag}", r["requests"] / TARGET_REQUESTS, "<= 1x"))
        print(c.ratio_line(f"billed/{TARGET_BILLED} {tag}", r["billed"] / TARGET_BILLED, "<= 1x"))
        print(c.ratio_line(f"tokens/{TARGET_TOKENS} {tag}", r["tokens"] / TARGET_TOKENS, "<= 1x"))
    c.write_json(args.json, {"benchmark": "cost_per_profile", "suites": selection, "fault": fault, "fault_note": why,
                             "targets": {"requests": TARGET_REQUESTS, "billed": TARGET_BILLED, "tokens": TARGET_TOKENS},
                             "rows": rows})
    return 1 if any(r["problem"] for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
