"""Command line: ``python -m peers install|start|suite`` (see peers/__init__.py)."""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
import time

from peers import PEERS, PeerUnavailable
from peers.servers import REPO

DEFAULT_KEY = "sk-chatconform-peer-local"


def _terminate_politely(signum, frame):  # SIGTERM -> KeyboardInterrupt, so the server is stopped
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m peers", description="real servers on loopback")
    sub = parser.add_subparsers(dest="action", required=True)
    install = sub.add_parser("install", help="install peers into the cache (skips what is there)")
    install.add_argument("names", nargs="*", metavar="NAME", help=f"any of {', '.join(PEERS)} (default: all)")
    install.add_argument("--force", action="store_true", help="reinstall even when cached")
    for action, text in (("start", "start a peer and keep it until Ctrl-C or SIGTERM"),
                         ("suite", "start a peer, run the conformance suite against it, stop it")):
        cmd = sub.add_parser(action, help=text)
        cmd.add_argument("name", choices=list(PEERS))
        cmd.add_argument("--api-key", default=DEFAULT_KEY)
        cmd.add_argument("--model", default=None, help="the model to request (default: the peer's)")
        if action == "suite":
            cmd.add_argument("pytest_args", nargs=argparse.REMAINDER, help="extra pytest arguments")
    args = parser.parse_args(argv)

    try:
        if args.action == "install":
            unknown = set(args.names) - set(PEERS)
            if unknown:
                parser.error(f"unknown peer(s): {', '.join(sorted(unknown))}")
            for name in args.names or list(PEERS):
                seconds = PEERS[name].install(force=args.force)
                print(f"{name}: {'installed in %.0f s' % seconds if seconds else 'already installed'}")
            return 0
        peer = PEERS[args.name]
        peer.install(quiet=False)
        signal.signal(signal.SIGTERM, _terminate_politely)
        with peer.running(api_key=args.api_key, model=args.model) as server:
            if args.action == "start":
                print(server.base_url, flush=True)
                print(f"model={server.model} pid={server.pid} log={server.log}", file=sys.stderr, flush=True)
                try:
                    while True:
                        time.sleep(3600)
                except KeyboardInterrupt:
                    return 0
            cmd = [sys.executable, "-m", "pytest", "suites", *server.suite_args(), "-p", "no:cacheprovider",
                   "-q", *[a for a in args.pytest_args if a != "--"]]
            started = time.monotonic()
            code = subprocess.run(cmd, cwd=REPO).returncode
            print(f"peers: suite against {peer.name} took {time.monotonic() - started:.0f} s, exit {code}",
                  file=sys.stderr)
            return code
    except PeerUnavailable as error:
        print(f"peers: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
