"""The run's target and client, and the exchanges each test relied on.

Resolved lazily: a run that never asks for the target (the self-tests) starts no server, and each
xdist worker resolves its own (an embedded target: its own server, which keeps workers apart). A
run of the conformance suites against the embedded server starts it while collecting
(``Session.start_early``), since the pre-flight and the prefetcher ask for it once collection ends.
"""

from __future__ import annotations

import gc
import os
import threading
import time
from typing import Any
from urllib.parse import urlsplit

import pytest


def _defer_httpx_cli() -> None:
    """``import httpx`` also imports its command-line client (``httpx._main``: rich and click,
    about 0.14 s, half of what this plugin costs pytest's start-up); nothing in a run calls it.
    Before httpx is first imported, its place is taken by a module whose ``main`` imports the real
    one when called (``python -m httpx``, the ``httpx`` script and httpx itself only ask for ``main``)."""
    import sys
    import types

    if "httpx" in sys.modules or "httpx._main" in sys.modules:
        return
    stand_in = types.ModuleType("httpx._main", "httpx's command-line client, imported on first use")

    def main(*args: Any, **kwargs: Any) -> Any:
        import importlib

        if sys.modules.get("httpx._main") is stand_in:
            del sys.modules["httpx._main"]
        return importlib.import_module("httpx._main").main(*args, **kwargs)

    stand_in.main = main  # type: ignore[attr-defined]
    sys.modules["httpx._main"] = stand_in


_defer_httpx_cli()

from ..client import Auth, Client, ClientSettings, Exchange  # noqa: E402
from ..redaction import Redactor  # noqa: E402
from ..requirements import catalogue  # noqa: E402
from ..target import AUTH_STYLES, Target, load_profile  # noqa: E402
from . import budget, options  # noqa: E402

DEFAULT_MODEL = "chatconform-reference"
STATE: pytest.StashKey[Session] = pytest.StashKey()


def configured_target(config: pytest.Config) -> Target:
    """The target as the options describe it, starting nothing: an embedded target has no base URL
    until its server runs (Session.target). Every problem is one pytest.UsageError line."""
    base_url = config.getoption("base_url") or os.environ.get("OPENAI_BASE_URL")
    embedded = not base_url
    try:
        profile = load_profile(options.setting(config, "profile") or ("reference" if embedded else "generic"))
    except ValueError as exc:
        raise pytest.UsageError(f"--profile: {exc}") from None
    auth_style = options.setting(config, "auth_style") or profile.auth_style
    if auth_style not in AUTH_STYLES:
        raise pytest.UsageError(f"--auth-style must be one of {', '.join(AUTH_STYLES)}, not {auth_style!r}")
    model = options.setting(config, "model") or (default_model(profile) if embedded else None)
    if not model:
        raise pytest.UsageError("--model is required with --base-url (or set CHATCONFORM_MODEL)")
    caps = options.setting(config, "capabilities")
    if caps:
        capabilities = frozenset(c.strip() for c in caps.split(",") if c.strip())
        known = catalogue().capabilities
        unknown = sorted(capabilities - set(known))
        if unknown:
            raise pytest.UsageError(f"--capabilities: unknown {', '.join(map(repr, unknown))}; "
                                    f"known: {', '.join(sorted(known))}")
    else:
        capabilities = profile.capabilities
    base_url = (base_url or "").rstrip("/")
    if base_url:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise pytest.UsageError(f"--base-url {base_url!r}: give an http:// or https:// URL with a host")
        try:
            parts.port  # noqa: B018 - raises on a port that is not a number in range
        except ValueError:
            raise pytest.UsageError(f"--base-url {base_url!r}: the port is not a number from 1 to 65535") from None
        if parts.path in ("", "/"):
            base_url = base_url.split("?", 1)[0].rstrip("/") + profile.base_path + (
                f"?{parts.query}" if parts.query else "")  # a bare host: the profile knows the API's prefix
    return Target(
        base_url=base_url,
        model=model,
        profile=profile,
        auth_style=auth_style,
        api_key=options.setting(config, "api_key"),
        restricted_api_key=options.setting(config, "restricted_api_key"),
        rate_limit_probe=options.setting(config, "rate_limit_probe"),
        embedded=embedded,
        capabilities=capabilities,
        headers=options.headers(config),
        url_parameters=_url_parameters(config, profile, model),
    )


def default_model(profile: Any) -> str:
    """The embedded server's model: named the way the profile's vendor names models (seed 004:
    ``model_vendor/model``)."""
    vendor = (profile.conventions or {}).get("model_vendor")
    return f"{vendor}/{DEFAULT_MODEL}" if vendor else DEFAULT_MODEL


def _url_parameters(config: pytest.Config, profile: Any, model: str) -> dict[str, str]:
    params = {"model": model}
    deployment = options.setting(config, "deployment")
    api_version = options.setting(config, "api_version")
    if deployment:
        params["deployment"] = deployment
    if api_version:
        params["api_version"] = api_version
    return params


def user_secrets(config: pytest.Config) -> list[str | None]:
    """Every key given to the run, for redaction (the embedded server's keys are added when made)."""
    return [options.setting(config, name) for name in ("api_key", "restricted_api_key", "rate_limit_probe")]


class Session:
    """Per process: the target, the client, the embedded server, the current test's exchanges."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.is_worker = hasattr(config, "workerinput")
        self.strict = options.strict(config)
        self._target: Target | None = None
        self._profile: Any = None  # the configured profile, before the target is resolved
        self._client: Client | None = None
        self.server: Any = None
        self.current_exchanges: list[Exchange] | None = None
        self.started = time.monotonic()  # the run deadline counts from here
        from .concurrency import Memo

        self.memo = Memo(self)  # the session's shared exchanges (``shared``, the conftest fixtures)
        # the pre-flight's own client's cost, and its completion for the suite to reuse
        self.preflight_cost: Any = None
        self.preflight_completion: Exchange | None = None
        # the embedded server being started while the suites are collected (start_early)
        self._early: tuple[threading.Thread, dict[str, Any]] | None = None
        self._stopping: threading.Thread | None = None  # the embedded server stopping (sessionfinish)
        self._frozen = False  # a conformance run: the collector leaves the long-lived objects alone

    @property
    def resolved_target(self) -> Target | None:
        return self._target

    @property
    def profile(self) -> Any:
        """The target's profile: the resolved target's, else the one the options name, read once
        (no server is started for it); None when the options are unusable (reported elsewhere)."""
        if self._target is not None:
            return self._target.profile
        if self._profile is None:
            try:
                self._profile = configured_target(self.config).profile
            except pytest.UsageError:
                return None
        return self._profile

    def target(self) -> Target:
        if self._target is None:
            from .embedded import start_embedded

            target = configured_target(self.config)
            if target.embedded:
                try:
                    self.server, target = self._started_early() or start_embedded(self.config, target)
                except RuntimeError as exc:  # the embedded server did not start: no test can run
                    pytest.exit(f"chatconform: {exc}", returncode=3)
            self._target = target
        return self._target

    def start_early(self) -> None:
        """Start the embedded server in the background while the suites are collected, for a run
        that will ask for it right after (the pre-flight and the prefetcher do, at the end of
        collection): its start-up (a Python process) overlaps the test modules' imports. Only for
        a run that collects the conformance suites, runs tests in this process and names a usable
        embedded target; the server is still the run's only once ``target()`` is asked for, and
        stopped at the end if nothing asked."""
        config = self.config
        if self._target is not None or self._early is not None or config.option.collectonly:
            return
        if not hasattr(config, "workerinput") and getattr(config.option, "dist", "no") != "no":
            return  # the xdist controller: each worker starts its own
        if not any("suites" in str(a) for a in config.args):
            return
        try:
            target = configured_target(config)
        except pytest.UsageError:
            return  # reported when a test first needs the target
        if not target.embedded:
            return
        from .embedded import start_embedded

        outcome: dict[str, Any] = {}

        def start() -> None:
            try:
                outcome["started"] = start_embedded(config, target)
            except BaseException as exc:  # noqa: BLE001 - raised again where the target is asked for
                outcome["error"] = exc

        thread = threading.Thread(target=start, name="chatconform-embedded-start", daemon=True)
        thread.start()
        self._early = (thread, outcome)

    def _started_early(self) -> tuple[Any, Target] | None:
        if self._early is None:
            return None
        thread, outcome = self._early
        self._early = None
        thread.join()
        if "error" in outcome:
            raise outcome["error"]
        return outcome["started"]

    def client(self) -> Client:
        if self._client is None:
            timeout = options.number(self.config, "request_timeout")
            t = self.target()
            limits = budget.limits(self.config, embedded=t.embedded)
            deadline = limits["run_deadline"]
            if deadline is not None:  # counted from the start of the run, not from the first request
                deadline = max(deadline - (time.monotonic() - self.started), 0.001)
            settings = ClientSettings(
                read_timeout=timeout, total_timeout=2 * timeout, give_up_after_seconds=2 * timeout,
                max_in_flight=int(limits["concurrency"] or 1),
                max_requests=_int(limits["max_requests"]), max_billed=_int(limits["max_billed"]),
                max_tokens=_int(limits["max_tokens"]), run_deadline=deadline,
                model_in_url=bool(getattr(t.profile, "model_in_path", False)))
            auth = Auth(t.auth_style, t.api_key) if t.api_key else None
            secrets = [t.api_key, t.restricted_api_key, t.rate_limit_probe, *t.secret_header_values()]
            self._client = Client(t.base_url, auth, settings, Redactor(secrets), extra_headers=t.headers,
                                  url_for=t.url_for, ledger=budget.ledger(self.config, t.embedded))
            self._client.observers.append(self._observe)
        return self._client

    def reuse_preflight(self, body: Any) -> Exchange | None:
        """The pre-flight's completion, once, when ``body`` is the request it sent (the suite's
        minimal request): the target is billed once for it."""
        e = self.preflight_completion
        if e is None or e.request_json != body:
            return None
        self.preflight_completion = None
        self.used(e)
        return e

    @property
    def existing_client(self) -> Client | None:
        """The client if one was made (asking for it would start the target)."""
        return self._client

    @property
    def cost(self) -> Any:
        return self._client.cost if self._client is not None else None

    def secrets(self) -> list[str | None]:
        t = self._target
        made = [t.api_key, t.restricted_api_key, t.rate_limit_probe, *t.secret_header_values()] if t else []
        return made + user_secrets(self.config)

    # -- what each test relied on ------------------------------------------------------------
    def _observe(self, exchange: Exchange) -> None:
        captured = self.memo.capture()
        if captured is not None:  # sent ahead of time by a pool thread: the first test to use it gets it
            captured.append(exchange)
        elif self.current_exchanges is not None and threading.current_thread() is threading.main_thread():
            self.current_exchanges.append(exchange)

    def used(self, exchange: Any) -> None:
        """A cached exchange a test reuses: attach it to that test too, not only to the first."""
        if isinstance(exchange, Exchange) and self.current_exchanges is not None and exchange not in self.current_exchanges:
            self.current_exchanges.append(exchange)

    def forget(self, exchange: Exchange) -> None:
        """Leave an exchange out of the current test's evidence (a property test sends hundreds;
        only the failing one is worth keeping, and a failure names its own)."""
        if self.current_exchanges and exchange in self.current_exchanges:
            self.current_exchanges.remove(exchange)

    def exchanges_of(self, item: pytest.Item) -> list[Exchange]:
        found = list(self.current_exchanges or [])
        for value in getattr(item, "funcargs", {}).values():
            if isinstance(value, Exchange) and value not in found:
                found.append(value)
        return found

    # -- hooks -------------------------------------------------------------------------------
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        self.current_exchanges = []

    def pytest_runtest_teardown(self, item: pytest.Item) -> None:
        self.current_exchanges = None

    @pytest.hookimpl(trylast=True)
    def pytest_sessionstart(self, session: pytest.Session) -> None:
        self.start_early()

    @pytest.hookimpl(trylast=True)
    def pytest_collection_finish(self, session: pytest.Session) -> None:
        # A conformance run: what is alive now (modules, the parsed specs, the collected items)
        # lives until the end of the run. Moved out of the collector's reach, it is no longer
        # traversed by every full collection, including the ones pytest forces at the end to find
        # unraisable exceptions (a quarter of a second each for the suites' ~180,000 objects).
        from .markers import requirement_ids

        if any(requirement_ids(item) for item in session.items):
            gc.freeze()
            self._frozen = True

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        # the tests are over and nothing after them asks the embedded server anything: it shuts
        # down (a quarter of a second) while the summary and the run record are written
        if self.server is not None and self._stopping is None:
            self._stopping = threading.Thread(target=self.server.stop, name="chatconform-embedded-stop", daemon=True)
            self._stopping.start()
        if self._frozen:
            # What the tests imported (hypothesis, schemathesis, openai: several hundred thousand
            # objects) lives to the end too. One collection finds the run's garbage, and any
            # unraisable exception in it, as pytest's own would; frozen after it, the rest is not
            # traversed again by pytest's forced collections nor at interpreter exit (half a second).
            gc.collect()
            gc.freeze()

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        if self._client is not None:
            self._client.close()
        self.memo.close()
        if self._stopping is not None:
            self._stopping.join()
        elif self.server is not None:
            self.server.stop()
        try:  # started early, never asked for (nothing collected needed it)
            unused = self._started_early()
        except BaseException:  # noqa: BLE001 - it did not start: nothing to stop
            unused = None
        if unused is not None:
            unused[0].stop()


def _int(value: float | None) -> int | None:
    return None if value is None else int(value)


def state(config: pytest.Config) -> Session:
    return config.stash[STATE]


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    session = Session(config)
    config.stash[STATE] = session
    config.pluginmanager.register(session, "chatconform-session")


def pytest_report_header(config: pytest.Config) -> list[str]:
    from .. import __version__, spec

    # the self-tests (pytest tests) name no target: no header for them
    if not (options.targets_something(config) or any("suites" in str(a) for a in config.args)):
        return []
    try:
        t = configured_target(config)
    except pytest.UsageError:
        return []  # reported when a test first needs the target
    where = t.base_url or "the embedded reference server (started on first use)"
    return [
        f"chatconform {__version__}: target {where}, model {t.model}, profile {t.profile.name}, auth {t.auth_style}",
        f"chatconform: spec {spec.version()}, {len(list(catalogue()))} requirements, "
        f"{'strict (SHOULD fails)' if options.strict(config) else 'SHOULD violations are warnings'}",
    ]
