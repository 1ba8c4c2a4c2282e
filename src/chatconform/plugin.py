"""The pytest plugin: options, the target, markers, verdict grading, attachments, the run summary.

Activated by the repository's root conftest.py (``pytest_plugins = ["chatconform.plugin"]``).
"""

from __future__ import annotations

import json
from urllib.parse import urlsplit
from dataclasses import replace
import os
import secrets
import warnings
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

import pytest

from . import __version__, spec
from .client import Auth, Client, ClientSettings, Exchange
from .embedded import EmbeddedServer
from .failures import ConformanceFailure, ConformanceWarning, HarnessProblem, Unsupported
from .redaction import Redactor
from .requirements import Level, catalogue
from .target import AUTH_STYLES, Target, load_profile

PROPERTY = "chatconform"  # user_properties key carrying verdict records to the controller
DEFAULT_MODEL = "chatconform-reference"


# -- options ------------------------------------------------------------------------------------
# (name, ini key, environment fallbacks, default, help)
OPTIONS: list[tuple[str, str, tuple[str, ...], str | None, str]] = [
    ("api_key", "chatconform_api_key", ("OPENAI_API_KEY",), None, "API key (never printed or recorded)"),
    ("auth_style", "chatconform_auth_style", ("CHATCONFORM_AUTH_STYLE",), None, "bearer | api-key (default: profile)"),
    ("model", "chatconform_model", ("CHATCONFORM_MODEL", "OPENAI_MODEL"), None, "model id to request"),
    ("profile", "chatconform_profile", ("CHATCONFORM_PROFILE",), None, "provider profile in specs/profiles"),
    ("request_timeout", "chatconform_request_timeout", ("CHATCONFORM_REQUEST_TIMEOUT",), "60",
     "seconds of silence allowed while reading a response (total per exchange: twice that)"),
    ("restricted_api_key", "chatconform_restricted_api_key", ("CHATCONFORM_RESTRICTED_API_KEY",), None,
     "a key that authenticates but lacks permission, to provoke 403 (never printed or recorded)"),
    ("rate_limit_probe", "chatconform_rate_limit_probe", ("CHATCONFORM_RATE_LIMIT_PROBE",), None,
     "a key limited to fewer than 10 requests/minute: lets the 429 checks burst up to 10 tiny requests "
     "(never printed or recorded; without it the 429 checks are unsupported)"),
    ("capabilities", "chatconform_capabilities", ("CHATCONFORM_CAPABILITIES",), None,
     "comma-separated capabilities the target has (replaces the profile's list)"),
]


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("chatconform", "chatconform conformance run")
    for name, ini, envs, default, help_text in OPTIONS:
        flag = "--" + name.replace("_", "-")
        env_note = f" [env {' / '.join(envs)}]" if envs else ""
        group.addoption(flag, dest=f"cc_{name}", default=None, metavar=name.upper(), help=help_text + env_note)
        parser.addini(ini, help=help_text, default=default)
    group.addoption("--reference-fault", dest="cc_reference_faults", action="append", default=[],
                    help="start the embedded reference server with this fault injected (repeatable)")
    group.addoption("--reference-variation", dest="cc_reference_variations", action="append", default=[],
                    help="start the embedded reference server with this legal variation (repeatable)")
    group.addoption("--results-json", dest="cc_results_json", default=None, metavar="PATH",
                    help="write every test's outcome, cited requirements and verdict records as JSON")
    parser.addini("chatconform_strict", type="bool", default=False,
                  help="SHOULD-level violations fail the run, as pytest's --strict does (default: warnings)")


def _setting(config: pytest.Config, name: str) -> str | None:
    value = config.getoption(f"cc_{name}")
    if value:
        return value
    _, ini, envs, default, _ = next(o for o in OPTIONS if o[0] == name)
    for env in envs:
        if os.environ.get(env):
            return os.environ[env]
    return config.getini(ini) or default


# -- the target ---------------------------------------------------------------------------------
def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "requirement(*ids): the requirement IDs (specs/requirements.yaml) a test enforces")
    config.addinivalue_line("markers", "capability(name): the optional capability a test depends on")
    if config.getoption("base_url") or any(config.getoption(f"cc_{o[0]}") for o in OPTIONS):
        # an option given on the command line is checked now: one usage error, not one per test
        # (settings that only come from the environment are checked when a test needs the target)
        configured_target(config)
    state = RunState(config)
    config.stash[STATE] = state
    config.pluginmanager.register(state, "chatconform-state")


STATE: pytest.StashKey[RunState] = pytest.StashKey()


class RunState:
    """Per-process run state; the controller also owns the embedded server and the summary."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.is_worker = hasattr(config, "workerinput")
        # pytest's own --strict (pytest 9: "be strict about everything") also makes SHOULD fail
        self.strict = bool(config.getoption("strict", False) or config.getini("chatconform_strict"))
        self.server: EmbeddedServer | None = None
        self.target: Target | None = None
        self.client: Client | None = None
        self.records: list[dict[str, Any]] = []
        self.outcomes: dict[str, list[tuple[str, str]]] = defaultdict(list)  # requirement -> [(nodeid, outcome)]
        self.cost = {"requests": 0, "prompt_tokens": 0, "completion_tokens": 0}
        self.current_exchanges: list[Exchange] | None = None
        self.tests: dict[str, dict[str, Any]] = {}

    # -- target resolution --------------------------------------------------------------
    # Resolved lazily: a run that never asks for the target (the self-tests) starts no server,
    # and each xdist worker starts its own embedded server, which keeps workers independent.
    def get_target(self) -> Target:
        if self.target is None:
            try:
                self.target = self._resolve_target(self.config)
            except RuntimeError as exc:  # the embedded server did not start: no test can run
                pytest.exit(f"chatconform: {exc}", returncode=3)
        return self.target

    def _resolve_target(self, config: pytest.Config) -> Target:
        target = configured_target(config)
        if not target.embedded:
            return target
        # the embedded server gets fresh throwaway keys for each role the suites need
        api_key = "cc-ref-" + secrets.token_urlsafe(18)
        restricted_key = "cc-ref-restricted-" + secrets.token_urlsafe(12)
        probe_key = "cc-ref-limited-" + secrets.token_urlsafe(12)
        extra = [f"--restricted-api-key={restricted_key}", f"--rate-limited-api-key={probe_key}", "--rate-limit=3"]
        extra += [f"--fault={f}" for f in config.getoption("cc_reference_faults")]
        extra += [f"--variation={v}" for v in config.getoption("cc_reference_variations")]
        self.server = EmbeddedServer(api_key, models=[target.model], extra_args=extra)
        base_url = self.server.start()
        return replace(target, base_url=base_url.rstrip("/"), api_key=api_key,
                       restricted_api_key=restricted_key, rate_limit_probe=probe_key)

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        self._write_results()
        if self.client is not None:
            self.client.close()
        if self.server is not None:
            self.server.stop()

    # -- client -------------------------------------------------------------------------
    def get_client(self) -> Client:
        if self.client is None:
            timeout = float(_setting(self.config, "request_timeout") or 60)
            settings = ClientSettings(read_timeout=timeout, total_timeout=2 * timeout)
            t = self.get_target()
            auth = Auth(t.auth_style, t.api_key) if t.api_key else None
            self.client = Client(t.base_url, auth, settings, Redactor([t.api_key, t.restricted_api_key, t.rate_limit_probe]))
            self.client.observers.append(self._observe)
        return self.client

    def _observe(self, exchange: Exchange) -> None:
        if self.current_exchanges is not None:
            self.current_exchanges.append(exchange)

    def used(self, exchange: Any) -> None:
        """A cached exchange a test reuses: attach it to that test too, not only to the first."""
        if isinstance(exchange, Exchange) and self.current_exchanges is not None and exchange not in self.current_exchanges:
            self.current_exchanges.append(exchange)

    def exchanges_of(self, item: pytest.Item) -> list[Exchange]:
        """What a test relied on: exchanges sent or reused during it, and exchange fixtures it took."""
        found = list(self.current_exchanges or [])
        for value in getattr(item, "funcargs", {}).values():
            if isinstance(value, Exchange) and value not in found:
                found.append(value)
        return found

    def forget(self, exchange: Exchange) -> None:
        """Leave an exchange out of the current test's attachments (a property test sends hundreds;
        only the failing one is worth attaching, and a failure attaches its own)."""
        if self.current_exchanges and exchange in self.current_exchanges:
            self.current_exchanges.remove(exchange)

    # -- markers ------------------------------------------------------------------------
    def pytest_collection_modifyitems(self, config: pytest.Config, items: list[pytest.Item]) -> None:
        cat = catalogue()
        unknown = []
        for item in items:
            for rid in requirement_ids(item):
                if rid not in cat:
                    unknown.append(f"{item.nodeid}: {rid!r}")
        if unknown:
            raise pytest.UsageError("unknown requirement IDs (not in specs/requirements.yaml):\n  " + "\n  ".join(unknown))

    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        self.current_exchanges = []
        item.user_properties.append(("chatconform-requirements", requirement_ids(item)))
        marker = item.get_closest_marker("capability")
        if marker:
            target = self.get_target()
            for cap in marker.args:
                if not target.has(cap):
                    reason = f"not declared by profile {target.profile.name} / --capabilities"
                    _record(item, "unsupported", capability=cap, reason=reason)
                    pytest.skip(f"UNSUPPORTED capability {cap!r}: {reason}")

    @pytest.hookimpl(wrapper=True, specname="pytest_runtest_setup")
    def unsupported_in_fixtures(self, item: pytest.Item) -> Iterator[None]:
        # a fixture may find the capability missing while it builds a shared exchange
        try:
            return (yield)
        except Unsupported as exc:
            _record(item, "unsupported", capability=exc.capability, reason=exc.reason)
            pytest.skip(f"UNSUPPORTED capability {exc.capability!r}: {exc.reason}")

    # -- grading ------------------------------------------------------------------------
    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_call(self, item: pytest.Item) -> Iterator[None]:
        _allure_labels(item, self.target)  # the target is known by now if the test used it
        failure: BaseException | None = None
        try:
            return (yield)
        except ConformanceFailure as exc:
            failure = exc
            cited = requirement_ids(item)
            if exc.requirement not in cited:
                raise AssertionError(
                    f"{item.nodeid} raised a failure for {exc.requirement!r} but cites {cited}: "
                    "add the ID to its requirement marker"
                ) from exc
            level = catalogue()[exc.requirement].level
            if level is Level.MUST or self.strict:
                _record(item, "fail", requirement=exc.requirement, level=level.value, message=str(exc))
                raise
            _record(item, "warning", requirement=exc.requirement, level=level.value, message=str(exc))
            warnings.warn(ConformanceWarning(str(exc)), stacklevel=1)
            return None
        except Unsupported as exc:
            _record(item, "unsupported", capability=exc.capability, reason=exc.reason)
            pytest.skip(f"UNSUPPORTED capability {exc.capability!r}: {exc.reason}")
        except HarnessProblem as exc:
            failure = exc
            _record(item, "harness", message=str(exc))
            raise
        finally:
            _attach(item, self.exchanges_of(item), failure)

    def pytest_runtest_teardown(self, item: pytest.Item) -> None:
        self.current_exchanges = None

    # -- summary ------------------------------------------------------------------------
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if self.is_worker:
            return
        entry = self.tests.setdefault(report.nodeid, {"nodeid": report.nodeid, "outcome": "passed", "requirements": []})
        for key, value in report.user_properties:
            if key == "chatconform-requirements":
                entry["requirements"] = value
        if report.failed:
            entry["outcome"] = "failed" if report.when == "call" else "error"
            entry.setdefault("message", str(report.longrepr)[-4000:])
        elif report.skipped:
            entry["outcome"] = "skipped"
            entry["message"] = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        for key, value in report.user_properties:
            if key == PROPERTY and isinstance(value, dict):
                record = dict(value, nodeid=report.nodeid)
                if record not in self.records:  # every phase's report repeats the item's properties
                    self.records.append(record)

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if self.client is not None:
            own = self.client.cost
            self.cost["requests"] += own.requests
            self.cost["prompt_tokens"] += own.prompt_tokens
            self.cost["completion_tokens"] += own.completion_tokens
        if self.is_worker:
            self.config.workeroutput["chatconform_cost"] = self.cost  # type: ignore[attr-defined]

    def _write_results(self) -> None:
        path = self.config.getoption("cc_results_json")
        if not path or self.is_worker:
            return
        payload = {"tests": list(self.tests.values()), "records": self.records, "cost": self.cost}
        with open(path, "w", encoding="utf-8") as fh:
            json.dump(payload, fh, indent=1)

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        cost = getattr(node, "workeroutput", {}).get("chatconform_cost")
        if cost:
            for key in self.cost:
                self.cost[key] += cost.get(key, 0)

    def pytest_report_header(self, config: pytest.Config) -> list[str]:
        try:
            t = configured_target(config)
        except pytest.UsageError:
            return []  # reported when a test first needs the target
        where = t.base_url or "the embedded reference server (started on first use)"
        return [
            f"chatconform {__version__}: target {where}, model {t.model}, profile {t.profile.name}, auth {t.auth_style}",
            f"chatconform: spec {spec.version()}, {len(list(catalogue()))} requirements, "
            f"{'strict (SHOULD fails)' if self.strict else 'SHOULD violations are warnings'}",
        ]

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.is_worker:
            return
        if not self.records and not self.cost["requests"]:
            return  # nothing was sent to a target (a self-test run): nothing to summarise
        write = terminalreporter.write_line
        by_kind: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for record in self.records:
            by_kind[record["kind"]].append(record)
        terminalreporter.section("chatconform")
        if by_kind["warning"]:
            write(f"SHOULD/MAY warnings ({len(by_kind['warning'])}):")
            for r in by_kind["warning"]:
                received = [ln.strip() for ln in r["message"].splitlines() if ln.strip().startswith("received:")]
                detail = f" ({received[0][:160]}{'…' if len(received[0]) > 160 else ''})" if received else ""
                write(f"  [{r['requirement']}] {r['nodeid']}{detail}")
        if by_kind["unsupported"]:
            grouped: dict[str, list[dict[str, Any]]] = defaultdict(list)
            for r in by_kind["unsupported"]:
                grouped[r["capability"]].append(r)
            write(f"unsupported capabilities ({len(grouped)}, {len(by_kind['unsupported'])} tests):")
            for capability, rs in sorted(grouped.items()):
                write(f"  {capability}: {len(rs)} test{'s' if len(rs) > 1 else ''} ({rs[0]['reason']})")
        if by_kind["info"]:
            write("informational verdicts:")
            for r in by_kind["info"]:
                write(f"  [{r['requirement']}] {r['message']}")
        if by_kind["support"]:
            write("per-parameter support:")
            rows = sorted(by_kind["support"], key=lambda r: (r["parameter"], r["case"]))
            width = max(len(r["parameter"]) for r in rows)
            cwidth = max(len(r["case"]) for r in rows)
            for r in rows:
                write(f"  {r['parameter']:<{width}}  {r['case']:<{cwidth}}  {r['verdict']}")
        c = self.cost
        write(
            f"chatconform cost: {c['requests']} requests, {c['prompt_tokens'] + c['completion_tokens']} tokens "
            f"reported by the target (prompt {c['prompt_tokens']}, completion {c['completion_tokens']})"
        )


# -- helpers used by fixtures and tests ---------------------------------------------------------
def configured_target(config: pytest.Config) -> Target:
    """The target as the options describe it, starting nothing: an embedded target has no
    base URL until its server runs (RunState.get_target)."""
    base_url = config.getoption("base_url") or os.environ.get("OPENAI_BASE_URL")
    embedded = not base_url
    profile = load_profile(_setting(config, "profile") or ("reference" if embedded else "generic"))
    auth_style = _setting(config, "auth_style") or profile.auth_style
    if auth_style not in AUTH_STYLES:
        raise pytest.UsageError(f"--auth-style must be one of {', '.join(AUTH_STYLES)}, not {auth_style!r}")
    model = _setting(config, "model") or (DEFAULT_MODEL if embedded else None)
    if not model:
        raise pytest.UsageError("--model is required with --base-url (or set CHATCONFORM_MODEL)")
    caps = _setting(config, "capabilities")
    capabilities = frozenset(c.strip() for c in caps.split(",") if c.strip()) if caps else profile.capabilities
    base_url = (base_url or "").rstrip("/")
    if base_url and urlsplit(base_url).path in ("", "/"):
        base_url += profile.base_path  # a bare host: the profile knows the API's path prefix
    return Target(
        base_url=base_url,
        model=model,
        profile=profile,
        auth_style=auth_style,
        api_key=_setting(config, "api_key"),
        restricted_api_key=_setting(config, "restricted_api_key"),
        rate_limit_probe=_setting(config, "rate_limit_probe"),
        embedded=embedded,
        capabilities=capabilities,
    )


def user_secrets(config: pytest.Config) -> list[str | None]:
    """Every key given to the run, for redaction (the embedded server's keys are added when made)."""
    return [_setting(config, name) for name in ("api_key", "restricted_api_key", "rate_limit_probe")]

def requirement_ids(item: pytest.Item) -> list[str]:
    ids: list[str] = []
    for marker in item.iter_markers("requirement"):
        ids += [a for a in marker.args if a not in ids]
    return ids


def _record(item: pytest.Item, kind: str, **fields: Any) -> None:
    item.user_properties.append((PROPERTY, dict(kind=kind, **fields)))


def record_info(item: pytest.Item, requirement: str, message: str) -> None:
    _record(item, "info", requirement=requirement, message=message)


def record_support(item: pytest.Item, parameter: str, case: str, verdict: str) -> None:
    _record(item, "support", parameter=parameter, case=case, verdict=verdict)


# -- Allure -------------------------------------------------------------------------------------
def _allure() -> Any:
    try:
        import allure
    except ImportError:  # pragma: no cover - allure-pytest is a dependency
        return None
    return allure


def _allure_labels(item: pytest.Item, target: Target | None) -> None:
    # epic / feature / story / severity / links / description are set as markers at collection
    # (chatconform.report.pytest_plugin), so skipped tests carry them too; only the target is
    # known no earlier than here.
    allure = _allure()
    if allure is None or not item.config.pluginmanager.hasplugin("allure_listener"):
        return
    from .report.allure import dynamic_parameters

    dynamic_parameters(allure, target)


def _attach(item: pytest.Item, exchanges: list[Exchange], failure: BaseException | None) -> None:
    from .report import evidence
    from .report.allure import attach_exchanges

    evidence.keep(item, failure)  # the failure's wire log, for reports/<run>/run.json
    allure = _allure()
    if allure is None or not item.config.pluginmanager.hasplugin("allure_listener"):
        return
    attach_exchanges(allure, exchanges, failure)


# -- fixtures -----------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def target(pytestconfig: pytest.Config) -> Target:
    return pytestconfig.stash[STATE].get_target()


@pytest.fixture(scope="session")
def client(pytestconfig: pytest.Config) -> Client:
    return pytestconfig.stash[STATE].get_client()


@pytest.fixture(scope="session")
def shared(pytestconfig: pytest.Config) -> Any:
    """``shared(key, make)``: one exchange per key per session, reused by every test that asks.

    Vendors bill each request, so parametrized tests that judge one response share it.
    """
    cache: dict[str, Any] = {}

    state = pytestconfig.stash[STATE]

    def get(key: str, make: Any) -> Any:
        if key not in cache:
            cache[key] = make()
        state.used(cache[key])
        return cache[key]

    return get


@pytest.fixture
def record(request: pytest.FixtureRequest) -> Any:
    """Informational verdicts and support-table rows for this test."""

    class Recorder:
        def info(self, requirement: str, message: str) -> None:
            record_info(request.node, requirement, message)

        def support(self, parameter: str, case: str, verdict: str) -> None:
            record_support(request.node, parameter, case, verdict)

    return Recorder()


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)
