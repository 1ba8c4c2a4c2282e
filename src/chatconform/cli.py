"""The `chatconform` command. Subcommands: serve (more are added as subparsers)."""

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
    serve.add_argument("--log-level", default="warning",
                       choices=["critical", "error", "warning", "info", "debug", "trace"])
    serve.set_defaults(handler=_run_serve)


def _run_serve(args: argparse.Namespace) -> int:
    from chatconform.reference.config import ServerConfig
    from chatconform.reference.server import serve

    if args.rate_limited_api_key and args.rate_limit is None:
        print("chatconform serve: --rate-limited-api-key needs --rate-limit RPM", file=sys.stderr)
        return 2
    config = ServerConfig(api_key=args.api_key, restricted_api_key=args.restricted_api_key, models=args.models,
                          rate_limit_rpm=args.rate_limit, rate_limited_api_key=args.rate_limited_api_key,
                          max_body_bytes=args.max_body_bytes)
    return serve(config, host=args.host, port=args.port, log_level=args.log_level)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="chatconform",
                                     description="Conformance tests for OpenAI-compatible Chat Completions endpoints.")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    _add_serve(subparsers)
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
