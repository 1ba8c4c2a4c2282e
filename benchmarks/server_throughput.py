#!/usr/bin/env python3
"""Server throughput: requests per second of the reference server, non-streamed and streamed,
side by side in one run with Prism (mocking specs/openapi.yaml) and LiteLLM's mock model, with a
closed-loop load generator at a fixed concurrency (8), bounded in count and time.

Prism (`@stoplight/prism-cli` from npm) is installed into a cache directory
($CHATCONFORM_BENCH_CACHE or ~/.cache/chatconform-benchmarks) when npm is present; LiteLLM is used
only when peers/ (the LiteLLM peer) has it installed in its cache (`python -m peers install
litellm`). Either is skipped with the reason when it cannot be had.

  python benchmarks/server_throughput.py                 # 3000 requests or 10 s per measurement, best of 3 rounds
  python benchmarks/server_throughput.py --quick         # 150 requests or 3 s, reference server only
  python benchmarks/server_throughput.py --servers reference,prism
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import _common as c
from _loadgen import LoadResult, load, loop_name

PRISM_VERSION = "5"
PROMPT = "Repeat exactly, nothing else: alpha beta gamma delta"


def cache_root() -> Path:
    return Path(os.environ.get("CHATCONFORM_BENCH_CACHE") or Path.home() / ".cache" / "chatconform-benchmarks")


def prism_binary(install: bool, timeout: float = 600.0) -> tuple[Path | None, str]:
    home = cache_root() / "prism"
    binary = home / "node_modules" / ".bin" / "prism"
    if binary.exists():
        return binary, f"cached in {home}"
    if not install:
        return None, "not installed and --no-install given"
    if not shutil.which("npm") or not shutil.which("npx"):
        return None, "npm/npx not found"
    home.mkdir(parents=True, exist_ok=True)
    done = c.run(["npm", "install", "--no-audit", "--no-fund", "--loglevel=error", "--prefix", str(home),
                  f"@stoplight/prism-cli@{PRISM_VERSION}"], timeout=timeout, cwd=home)
    if done.returncode != 0 or not binary.exists():
        return None, f"npm install failed (exit {done.returncode}): {done.tail(5)}"
    return binary, f"installed into {home} in {done.wall:.0f}s"


@contextmanager
def reference() -> Iterator[dict[str, Any]]:
    with c.reference_server() as server:
        yield {"url": server.url + "/chat/completions", "key": c.API_KEY, "model": c.MODEL}


@contextmanager
def prism(binary: Path) -> Iterator[dict[str, Any]]:
    port = c.free_port()
    server = c.Server([str(binary), "mock", "-h", "127.0.0.1", "-p", str(port), str(c.REPO / "specs" / "openapi.yaml")],
                      "prism", port=port, env=dict(os.environ, NO_COLOR="1", FORCE_COLOR="0"))
    with server:
        # Prism serves the spec's paths without the servers' /v1 prefix
        yield {"url": f"http://127.0.0.1:{port}/chat/completions", "key": c.API_KEY, "model": c.MODEL}


@contextmanager
def litellm() -> Iterator[dict[str, Any]]:
    sys.path.insert(0, str(c.BENCH_DIR.parent))
    try:
        from peers import PEERS  # noqa: PLC0415  (the LiteLLM peer, another part of the repo)
    except Exception as exc:  # noqa: BLE001
        raise Skip(f"no peers/ helper to start LiteLLM ({exc.__class__.__name__}: {exc})") from None
    finally:
        sys.path.pop(0)
    peer = PEERS.get("litellm")
    if peer is None:
        raise Skip("peers/ has no 'litellm' peer")
    if not peer.installed():
        raise Skip("LiteLLM is not installed in the peers cache (python -m peers install litellm)")
    try:
        with peer.running(api_key="sk-bench-0123456789") as running:
            yield {"url": running.base_url + "/chat/completions", "key": running.api_key, "model": running.model}
    except Exception as exc:  # PeerUnavailable and friends
        if exc.__class__.__name__ == "PeerUnavailable":
            raise Skip(f"LiteLLM did not start: {str(exc)[:300]}") from None
        raise


class Skip(Exception):
    pass


def body(model: str, stream: bool) -> bytes:
    payload: dict[str, Any] = {"model": model, "messages": [{"role": "user", "content": PROMPT}],
                               "max_completion_tokens": 16}
    if stream:
        payload["stream"] = True
    return json.dumps(payload).encode()


def measure(target: dict[str, Any], stream: bool, args: argparse.Namespace) -> LoadResult:
    headers = {"Authorization": f"Bearer {target['key']}", "Content-Type": "application/json",
               "Accept": "text/event-stream" if stream else "application/json"}
    try:
        return load(target["url"], body(target["model"], stream), headers, concurrency=args.concurrency,
                    max_requests=args.requests, max_seconds=args.seconds, warmup=args.warmup)
    except (asyncio.TimeoutError, OSError) as exc:  # the whole measurement overran its bound
        return LoadResult(errors=1, seconds=args.seconds, sample_error=f"gave up: {exc!r}")


def describe(r: LoadResult, stream: bool) -> str:
    if not r.ok:
        return f"no 2xx ({r.statuses or 'no response'}, {r.errors} errors): {r.sample_error[:110]}"
    note = []
    if stream and r.streams_ok < r.ok:
        note.append(f"not a stream: {r.ok - r.streams_ok} of {r.ok} 2xx without [DONE] ({r.content_types})")
    bad = sum(n for s, n in r.statuses.items() if not 200 <= s < 300)
    if bad or r.errors:
        note.append(f"{bad} non-2xx, {r.errors} errors")
    return "; ".join(note)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    c.add_common_args(parser)
    parser.add_argument("--quick", action="store_true", help="150 requests or 3 s per measurement, reference only")
    parser.add_argument("--servers", default=None, help="comma-separated: reference, prism, litellm (default all; quick: reference)")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--requests", type=int, default=None, help="per measurement (default 3000; quick 150)")
    parser.add_argument("--seconds", type=float, default=None, help="per measurement (default 10; quick 3)")
    parser.add_argument("--warmup", type=int, default=None, help="requests before each measurement (default 200; quick 20)")
    parser.add_argument("--rounds", type=int, default=None,
                        help="measure every server this many times, interleaved, and keep the best (default 3; quick 1)")
    parser.add_argument("--no-install", action="store_true", help="do not npm-install Prism into the cache")
    args = parser.parse_args(argv)
    c.use_repo(args.repo)
    args.requests = args.requests or (150 if args.quick else 3000)
    args.seconds = args.seconds or (3.0 if args.quick else 10.0)
    args.warmup = args.warmup if args.warmup is not None else (20 if args.quick else 200)
    args.rounds = max(1, args.rounds or (1 if args.quick else 3))
    servers = [s.strip() for s in (args.servers or ("reference" if args.quick else "reference,prism,litellm")).split(",")
               if s.strip()]

    print(f"server throughput: closed loop ({loop_name()} event loop), concurrency {args.concurrency}, up to {args.requests} requests "
          f"or {args.seconds:g} s per measurement after {args.warmup} warm-up requests, best of {args.rounds} "
          f"interleaved round(s); POST /chat/completions (max_completion_tokens 16)")
    c.print_machine()
    rows: list[dict[str, Any]] = []
    skipped: dict[str, str] = {}
    targets: dict[str, dict[str, Any]] = {}
    with ExitStack() as stack:
        for name in servers:  # every server up at once: the rounds interleave them
            try:
                if name == "reference":
                    ctx = reference()
                elif name == "prism":
                    binary, how = prism_binary(install=not args.no_install)
                    if binary is None:
                        raise Skip(f"Prism unavailable: {how}")
                    print(f"prism: {how}")
                    ctx = prism(binary)
                elif name == "litellm":
                    ctx = litellm()
                else:
                    raise Skip("unknown server")
                targets[name] = stack.enter_context(ctx)
            except Skip as exc:
                skipped[name] = str(exc)
            except RuntimeError as exc:  # a server that did not start
                skipped[name] = str(exc).splitlines()[0]
        results: dict[tuple[str, bool], list[LoadResult]] = {}
        for _ in range(args.rounds):  # round-robin, so a burst of load elsewhere hits every server alike
            for name, target in targets.items():
                for stream in (False, True):
                    results.setdefault((name, stream), []).append(measure(target, stream, args))
    for (name, stream), runs in results.items():
        r = max(runs, key=lambda x: x.rps)  # best of the rounds: the least disturbed
        p50 = r.percentile(0.5)
        rows.append({"server": name, "stream": stream, "rps": r.rps, "ok": r.ok, "completed": r.completed,
                     "errors": r.errors, "seconds": r.seconds, "statuses": r.statuses,
                     "streams_ok": r.streams_ok, "p50_ms": p50 * 1000 if p50 else None,
                     "rounds_rps": [round(x.rps, 1) for x in runs],
                     "note": describe(r, stream),
                     "valid": r.ok > 0 and (not stream or r.streams_ok == r.ok)})
    print()
    print(c.table(["server", "mode", "req/s (best)", "each round", "2xx", "seconds", "p50 ms", "note"],
                  [[r["server"], "streamed" if r["stream"] else "non-streamed", f"{r['rps']:.0f}",
                    " ".join(f"{x:.0f}" for x in r["rounds_rps"]), r["ok"],
                    f"{r['seconds']:.1f}", f"{r['p50_ms']:.1f}" if r["p50_ms"] else "-", r["note"]] for r in rows]))
    for name, why in skipped.items():
        print(f"skipped {name}: {why}")
    print()

    def rps(server: str, stream: bool) -> float | None:
        for r in rows:
            if r["server"] == server and r["stream"] == stream and r["valid"]:
                return r["rps"]
        return None

    ratios = {
        "reference/prism non-streamed": (c.ratio(rps("reference", False), rps("prism", False)), ">= 3x"),
        "reference/litellm non-streamed": (c.ratio(rps("reference", False), rps("litellm", False)), ""),
        "reference/litellm streamed": (c.ratio(rps("reference", True), rps("litellm", True)), ""),
        "reference non-streamed/streamed": (c.ratio(rps("reference", False), rps("reference", True)), "<= 1.5x"),
    }
    for name, (value, target) in ratios.items():
        if value is None and not name.startswith("reference non"):
            server = name.split("/")[1].split()[0]
            if server not in servers or server in skipped:
                continue  # not measured in this run: say so once, above
        print(c.ratio_line(name, value, target))
    c.write_json(args.json, {"benchmark": "server_throughput", "concurrency": args.concurrency, "rows": rows,
                             "skipped": skipped, "ratios": {k: v for k, (v, _) in ratios.items()}})
    return 0 if any(r["server"] == "reference" and r["valid"] for r in rows) or "reference" not in servers else 1


if __name__ == "__main__":
    sys.exit(main())
