"""The `chatconform` command. Subcommands: serve, report (compare, diff), selfcheck, catalogue."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence


def _port(text: str) -> int:
    value = int(text)
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError("port must be 0..65535 (0 picks a free port)")
    return value


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be a positive integer")
    return value


def _models(text: str) -> tuple[str, ...]:
    models = tuple(m.strip() for m in text.split(",") if m.strip())
    if not models:
        raise argparse.ArgumentTypeError("give at least one model id")
    return models


def _add_serve(subparsers: argparse._SubParsersAction) -> None:
    serve = subparsers.add_parser(
        "serve", help="run the strict, deterministic reference server",
        description="Run chatconform's reference Chat Completions server under /v1. Once it accepts "
                    "connections it prints 'chatconform reference server listening on <url>' to stdout.")
    serve.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=_port, default=8765, help="port; 0 picks a free one (default 8765)")
    serve.add_argument("--api-key", help="accept only this key (default: any non-empty key)")
    serve.add_argument("--restricted-api-key", help="a key that authenticates but is refused with 403")
    serve.add_argument("--models", type=_models, help="comma-separated model ids to accept (default: any)")
    serve.add_argument("--rate-limit", type=_positive, metavar="RPM", help="requests per minute per key")
    serve.add_argument("--rate-limited-api-key", metavar="KEY",
                       help="a further key that authenticates; with it, --rate-limit applies to this key alone")
    serve.add_argument("--max-body-bytes", type=_positive, default=1 << 20, help="request body cap (default 1 MiB)")
    serve.add_argument("--context-tokens", type=_positive, default=4096,
                       help="the model's context window in (word) tokens: a longer prompt is refused with 400 "
                            "context_length_exceeded (default 4096)")
    serve.add_argument("--log-level", default="warning",
                       choices=["critical", "error", "warning", "info", "debug", "trace"])
    serve.add_argument("--fault", action="append", default=[], metavar="NAME",
                       help="deviate from the spec in this named way (repeatable; see --list-faults): for testing "
                            "the suite, or any OpenAI client, against a misbehaving server")
    serve.add_argument("--variation", action="append", default=[], metavar="NAME",
                       help="behave in this legal but unusual way (repeatable; see --list-faults)")
    serve.add_argument("--list-faults", action="store_true",
                       help="print the catalogue of faults, variations and hostile behaviours, and exit")
    serve.add_argument("--markdown", action="store_true", help="with --list-faults: as Markdown tables")
    serve.add_argument("--profile", default="reference", metavar="NAME",
                       help="emulate a provider profile from specs/profiles (paths, auth, required headers, "
                            "error types, vendor fields); default reference")
    serve.set_defaults(handler=_run_serve)


def _run_serve(args: argparse.Namespace) -> int:
    from chatconform.reference.config import ServerConfig
    from chatconform.reference.injection import Faults, UnknownFault, listing
    from chatconform.reference.server import serve

    if args.list_faults:
        print(listing(markdown=args.markdown))
        return 0
    try:
        Faults(args.fault, args.variation)
    except UnknownFault as exc:
        print(f"chatconform serve: {exc}", file=sys.stderr)
        return 2
    if args.rate_limited_api_key and args.rate_limit is None:
        print("chatconform serve: --rate-limited-api-key needs --rate-limit RPM", file=sys.stderr)
        return 2
    from chatconform.profiles import load_profile

    try:
        load_profile(args.profile)
    except ValueError as exc:
        print(f"chatconform serve: {exc}", file=sys.stderr)
        return 2
    config = ServerConfig(api_key=args.api_key, restricted_api_key=args.restricted_api_key, models=args.models,
                          rate_limit_rpm=args.rate_limit, rate_limited_api_key=args.rate_limited_api_key,
                          max_body_bytes=args.max_body_bytes, context_tokens=args.context_tokens, faults=tuple(args.fault),
                          variations=tuple(args.variation), profile=args.profile)
    return serve(config, host=args.host, port=args.port, log_level=args.log_level)


def _add_report(subparsers: argparse._SubParsersAction) -> None:
    report = subparsers.add_parser(
        "report", help="compare and diff run records (reports/<run>/run.json)",
        description="Work with run records, the run.json files a conformance run writes to reports/<run-name>/. "
                    "A RUN is a run.json, the directory holding it, or a directory of such directories.")
    commands = report.add_subparsers(dest="report_command", metavar="SUBCOMMAND")
    compare = commands.add_parser(
        "compare", help="runs side by side: a self-contained HTML matrix and/or Markdown",
        description="Build a requirement-by-run matrix from run records. Without --html or --markdown the "
                    "Markdown is printed. Exit status 0, or 2 when a RUN is not a usable run record.")
    compare.add_argument("runs", nargs="+", metavar="RUN", help="a run.json, its directory, or a directory of runs")
    compare.add_argument("--html", metavar="PATH", help="write the HTML comparison here (opens without network)")
    compare.add_argument("--markdown", metavar="PATH",
                         help="write the Markdown comparison here ('-' for stdout), e.g. >> $GITHUB_STEP_SUMMARY")
    compare.add_argument("--title", help="page title (default: the run names)")
    compare.set_defaults(handler=_run_compare)
    diff = commands.add_parser(
        "diff", help="what changed from BASELINE to CURRENT; exit 1 on a regression",
        description="List regressions (passed, now fail), fixes, newly unsupported and newly supported "
                    "requirements, new and resolved warnings. Exit status: 1 if anything regressed, "
                    "0 otherwise, 2 when an input is not a usable run record, 3 when the current run could "
                    "not judge the target (its pre-flight found an outage, or most judged MUST requirements "
                    "are harness errors).")
    diff.add_argument("baseline", metavar="BASELINE", help="the earlier run (a run.json or its directory)")
    diff.add_argument("current", metavar="CURRENT", help="the run to judge (a run.json or its directory)")
    diff.add_argument("--markdown", metavar="PATH", help="also write the diff as Markdown ('-' for stdout)")
    diff.set_defaults(handler=_run_diff)

    def usage(args: argparse.Namespace) -> int:
        report.print_help(sys.stderr)
        return 2

    report.set_defaults(handler=usage)


def _expand_runs(paths: Sequence[str]) -> list[str]:
    from pathlib import Path

    from chatconform.report.record import RUN_FILE

    expanded: list[str] = []
    for path in paths:
        p = Path(path)
        if p.is_dir() and not (p / RUN_FILE).is_file():
            found = sorted(str(child) for child in p.iterdir() if (child / RUN_FILE).is_file())
            expanded += found or [path]  # an empty directory fails to load with a clear message
        else:
            expanded.append(path)
    return expanded


def _write(text: str, target: str) -> None:
    if target == "-":
        sys.stdout.write(text)
    else:
        with open(target, "w", encoding="utf-8") as fh:
            fh.write(text)


def _run_compare(args: argparse.Namespace) -> int:
    from chatconform.report import compare, record

    try:
        runs = [record.load(path) for path in _expand_runs(args.runs)]
    except record.RunRecordError as exc:
        print(f"chatconform report compare: {exc}", file=sys.stderr)
        return 2
    comparison = compare.build(runs)
    if args.html:
        _write(compare.render_html(comparison, args.title), args.html)
        print(f"wrote {args.html}: {len(runs)} runs x {len(comparison.rows)} requirements", file=sys.stderr)
    if args.markdown or not args.html:
        _write(compare.render_markdown(comparison), args.markdown or "-")
    return 0


def _run_diff(args: argparse.Namespace) -> int:
    from chatconform.report import diff, record

    try:
        baseline, current = record.load(args.baseline), record.load(args.current)
    except record.RunRecordError as exc:
        print(f"chatconform report diff: {exc}", file=sys.stderr)
        return 2
    result = diff.diff(baseline, current)
    sys.stdout.write(diff.render_text(result))
    if args.markdown:
        _write(diff.render_markdown(result), args.markdown)
    return result.exit_code


def _add_selfcheck(subparsers: argparse._SubParsersAction) -> None:
    selfcheck = subparsers.add_parser(
        "selfcheck", help="prove the suite has teeth: run it against every fault, variation and hostile behaviour",
        description="Run the conformance suites against the reference server once per entry of the fault "
                    "catalogue (chatconform serve --list-faults) and print the detection matrix: every fault must "
                    "fail a test citing one of its requirements, every legal variation must pass without a "
                    "warning, every hostile behaviour must end in failures within its time bound. Needs a "
                    "chatconform checkout (it runs suites/). Exit status 0 when all of that holds, 1 otherwise.")
    selfcheck.add_argument("--jobs", "-j", type=_positive, default=2, help="rows run in parallel (default 2)")
    selfcheck.add_argument("--only", nargs="+", metavar="NAME", default=[], help="run only these entries")
    selfcheck.add_argument("--kind", choices=["fault", "variation", "hostile"], action="append",
                           help="run only entries of this kind (repeatable)")
    selfcheck.add_argument("--verbose", "-v", action="store_true", help="print the output of rows that are wrong")
    selfcheck.set_defaults(handler=_run_selfcheck)


def _run_selfcheck(args: argparse.Namespace) -> int:
    from chatconform import selfcheck

    try:
        entries = selfcheck.select(args.only, args.kind or ("fault", "variation", "hostile"))
        selfcheck.repository()
    except (KeyError, FileNotFoundError) as exc:
        print(f"chatconform selfcheck: {exc.args[0]}", file=sys.stderr)
        return 2
    done = [0]

    def progress(row: selfcheck.Row) -> None:
        done[0] += 1
        mark = "ok" if row.ok else "PROBLEM"
        print(f"[{done[0]}/{len(entries)}] {row.entry.kind} {row.entry.name}: {mark} ({row.seconds:.1f}s)",
              file=sys.stderr, flush=True)

    rows = selfcheck.run_matrix(entries, jobs=args.jobs, progress=progress)
    print(selfcheck.render(rows))
    print()
    print(selfcheck.render_score(rows))
    if args.verbose:
        for row in rows:
            if not row.ok:
                print("\n" + row.summary())
    return 0 if all(row.ok for row in rows) else 1


def _add_catalogue(subparsers: argparse._SubParsersAction) -> None:
    cat = subparsers.add_parser(
        "catalogue", help="the requirement catalogue: a tab-separated list, or one HTML page with an anchor each",
        description="Print every requirement (ID, level, area, statement), or write the catalogue as one "
                    "self-contained HTML page: level, statement, sources named by document title, notes, and an "
                    "anchor per requirement (catalogue.html#stream.done-terminates), which Allure links to.")
    cat.add_argument("--html", metavar="PATH", help="write the HTML page here ('-' for stdout)")
    cat.set_defaults(handler=_run_catalogue)


def _run_catalogue(args: argparse.Namespace) -> int:
    from chatconform.report import catalogue

    if args.html:
        _write(catalogue.render_html(), args.html)
    else:
        sys.stdout.write(catalogue.render_text())
    return 0


def _add_probe(subparsers: argparse._SubParsersAction) -> None:
    probe = subparsers.add_parser(
        "probe", help="measure a new vendor in at most 12 requests (3 billed) and draft its profile",
        description="Send a handful of cheap requests (GET /models with each auth style, the minimal completion, "
                    "the same streamed with usage, one unknown stored id: at most 12 requests, at most 3 billed "
                    "completions of 16 tokens) and write a profile draft: the path and auth style that work, the "
                    "capabilities seen, the vendor fields seen. Complete it from the vendor's documents, save it "
                    "as specs/profiles/NAME.yaml and run the suite with --profile NAME.")
    probe.add_argument("--base-url", required=True, help="the endpoint, as for the suite (a bare host tries each layout the profiles know)")
    probe.add_argument("--model", required=True, help="a model id to request")
    probe.add_argument("--api-key", default=None, help="the key (default: $OPENAI_API_KEY); never written anywhere")
    probe.add_argument("--name", default="draft", help="the profile's name (default: draft)")
    probe.add_argument("--output", default="-", metavar="PATH", help="where to write the draft ('-': stdout)")
    probe.set_defaults(handler=_run_probe)


def _run_probe(args: argparse.Namespace) -> int:
    import os

    from chatconform.probe import probe

    text, found = probe(args.base_url, args.api_key or os.environ.get("OPENAI_API_KEY"), args.model, args.name)
    _write(text, args.output)
    print(f"chatconform probe: {found.requests} requests, {found.billed} billed completions", file=sys.stderr)
    return 0


def build_parser() -> argparse.ArgumentParser:
    from chatconform import __version__

    parser = argparse.ArgumentParser(prog="chatconform",
                                     description="Conformance tests for OpenAI-compatible Chat Completions endpoints.")
    parser.add_argument("--version", action="version", version=f"chatconform {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    _add_serve(subparsers)
    _add_report(subparsers)
    _add_selfcheck(subparsers)
    _add_catalogue(subparsers)
    _add_probe(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "handler", None) is None:
        parser.print_help(sys.stderr)
        return 2
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
