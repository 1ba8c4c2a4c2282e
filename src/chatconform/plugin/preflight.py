"""The pre-flight: one cheap exchange before any test, so an outage is one line, not 300 failures.

A closed port, a static HTML server, a typo in the key or a base URL without its ``/v1`` would
otherwise run the whole suite and bury the cause in the first of hundreds of tracebacks. Before the
first test (on the controller only, and only when conformance tests were collected) the target
gets:

1. nothing at all when the profile requires a header the run does not send (``--header``);
2. ``GET /models`` where the profile has the ``models`` capability: free, and it settles
   reachability, "is this an API" and the key when it answers 2xx JSON or 401/403;
3. otherwise (no model list, a 404, HTML, a list without the model) one tiny completion: the
   suite's own minimal request, handed to the ``completion`` fixture so it is billed once.

Each outcome that makes every test meaningless ends the run with one line and its own exit code
(``EXIT_CODES``; pytest's 0-5 stay for test results). The run record still gets written, with a
``preflight`` field, so ``report compare`` and ``report diff`` show the outage.

Skipped with ``--no-preflight``, for the embedded reference server (its start-up is checked by
starting it: exit 3), for ``--collect-only`` and for sessions without conformance tests.
pytest-base-url's ``--verify-base-url`` (a bare GET of the base URL before every test, retried,
erroring every test on failure) is superseded: it is accepted and means this pre-flight.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from .. import payloads
from ..client import Auth, Client, ClientSettings, Exchange
from ..redaction import Redactor
from ..target import Target
from . import budget, options
from .markers import requirement_ids

# One code per cause, documented in the README ("Pre-flight"); 10+ so they never read as pytest's.
EXIT_CODES = {
    "unreachable": 10,
    "not_an_api": 11,
    "key_rejected": 12,
    "wrong_path": 13,
    "unknown_model": 14,
    "missing_header": 15,
    "answer_broken": 16,
}
OUTCOME: pytest.StashKey[Outcome] = pytest.StashKey()
CONNECT_TIMEOUT = 5.0  # a black-holed host should cost seconds, not the client's 10 s default
_MODEL_WORDS = re.compile(r"not found|does not exist|doesn't exist|unknown|invalid|not available|no such|"
                          r"not supported|unsupported|deployment", re.I)


@dataclass
class Outcome:
    """What the pre-flight found: ``ok``, ``skipped`` or one of EXIT_CODES' causes."""

    status: str
    message: str = ""  # one line: what is wrong
    hint: str = ""  # one line: what to try
    url: str | None = None
    http_status: int | None = None
    seconds: float = 0.0
    completion: Exchange | None = field(default=None, repr=False)  # the suite may reuse it
    exchanges: list[Exchange] = field(default_factory=list, repr=False)

    @property
    def failed(self) -> bool:
        return self.status in EXIT_CODES

    @property
    def exit_code(self) -> int | None:
        return EXIT_CODES.get(self.status)

    def line(self) -> str:
        return f"chatconform pre-flight: {self.status.replace('_', ' ')}: {self.message}" + (
            f" Try: {self.hint}" if self.hint else "")

    def as_dict(self) -> dict[str, Any]:
        """The run record's ``preflight`` field (specs/run-record.schema.json)."""
        return {"status": self.status, "message": self.message, "hint": self.hint, "exit_code": self.exit_code,
                "url": self.url, "http_status": self.http_status, "seconds": round(self.seconds, 3)}


# -- classifying one target ------------------------------------------------------------------------
def check(target: Target, client: Client) -> Outcome:
    """Classify the target with at most one GET /models and at most one billed completion."""
    started = time.monotonic()
    outcome = _check(target, client)
    outcome.seconds = time.monotonic() - started
    return outcome


def _check(target: Target, client: Client) -> Outcome:
    missing = missing_headers(target)
    if missing:
        name = missing[0]
        why = target.profile.required_headers.get(name, "")
        return Outcome("missing_header",
                       f"profile {target.profile.name} requires the header {name}"
                       + (f" ({why.rstrip('.')})" if why else "") + ", and this run does not send it.",
                       f"--header '{name}: <value>' (or --profile generic if the target is not behind it).")
    exchanges: list[Exchange] = []
    if target.has("models"):
        listing = client.request("GET", "/models", retry=False)
        exchanges.append(listing)
        settled = _judge_listing(target, listing)
        if settled is not None:
            settled.exchanges = exchanges
            return settled
    completion = client.chat(payloads.minimal(target.model))
    exchanges.append(completion)
    outcome = _judge_completion(target, completion)
    outcome.exchanges = exchanges
    if outcome.status == "ok":
        outcome.completion = completion
    return outcome


def missing_headers(target: Target) -> list[str]:
    sent = {k.lower() for k in target.headers}
    return [name for name in target.profile.required_headers if name.lower() not in sent]


def _judge_listing(target: Target, e: Exchange) -> Outcome | None:
    """A verdict from the model list when it settles the question; None to ask for a completion."""
    if e.status is None:
        return _unreachable(target, e)
    if e.status in (401, 403):
        return _auth_refused(target, e)
    if 200 <= e.status < 300 and _json(e) is not None:
        ids = _listed_models(_json(e))
        if ids is None or target.model in ids or any(target.model.endswith("/" + i) for i in ids):
            return Outcome("ok", f"GET {e.url} listed the models", url=e.url, http_status=e.status)
    return None  # absent, HTML, a server error or the model not listed: the completion decides


def _judge_completion(target: Target, e: Exchange) -> Outcome:
    url, status = e.url, e.status
    if status is None:
        return _unreachable(target, e)
    if e.problem is not None:  # a status line, then the answer broke off: every test would say the same
        return Outcome("answer_broken", f"POST {url} answered HTTP {status}, then the answer broke off: "
                       f"{_one_line(e.problem)} ({len(e.body)} bytes read).",
                       "the target cuts, stalls or overfills even the smallest completion: check the server "
                       "(or a proxy in front of it) with the curl line of one request.", url=url, http_status=status)
    body = _json(e)
    if body is None and (_looks_like_html(e) or 200 <= status < 300 or status in (405, 501)):
        return Outcome("not_an_api",
                       f"POST {url} answered HTTP {status} {e.media_type or '(no content-type)'}, "
                       f"not JSON: {_snippet(e)}.",
                       "point --base-url at the API itself (the base that /chat/completions is appended to), "
                       "not a website or a proxy's landing page.", url=url, http_status=status)
    header = _named_header(target, e)
    if header and status in (400, 401, 403, 412, 422):
        return Outcome("missing_header", f"POST {url} answered HTTP {status} naming the header {header}: "
                       f"{_error_text(e)}.", f"--header '{header}: <value>'.", url=url, http_status=status)
    if status in (401, 403):
        return _auth_refused(target, e)
    if _about_the_model(target, e) and status in (400, 404, 422):
        return Outcome("unknown_model", f"POST {url} refused model {target.model!r} (HTTP {status}: "
                       f"{_error_text(e)}).",
                       "--model with an id the target serves" + (" (GET /models lists them)."
                                                                 if target.has("models") else "."),
                       url=url, http_status=status)
    if status == 404:
        return Outcome("wrong_path", f"POST {url} is HTTP 404: nothing answers on the completions path.",
                       f"check --base-url: it is the base /chat/completions is appended to, usually ending "
                       f"in a version prefix such as {target.profile.base_path or '/v1'}"
                       + ("" if target.profile.name != "generic" else "; or choose the vendor's --profile")
                       + ".", url=url, http_status=status)
    # anything else is an answer: the suite judges it (a 400 here is a finding, not an outage)
    return Outcome("ok", f"POST {url} answered HTTP {status}", url=url, http_status=status)


def _unreachable(target: Target, e: Exchange) -> Outcome:
    problem = e.problem or "no response"
    low = problem.lower()
    if "ssl" in low or "certificate" in low or "tls" in low:
        hint = ("the TLS handshake failed: http:// for a plain-HTTP server, or a certificate the system trusts "
                "(SSL_CERT_FILE).")
    elif "name or service" in low or "nodename" in low or "getaddrinfo" in low or "name resolution" in low:
        hint = "the host name does not resolve: check its spelling in --base-url."
    elif "refused" in low:
        hint = "nothing listens there: check the host and port in --base-url, and that the server runs."
    elif e.problem_kind == "timeout":
        hint = ("the host did not answer in time: check it is reachable from here (firewall, VPN, proxy), "
                "or raise --request-timeout for a slow target.")
    else:
        hint = "check --base-url and that the server runs."
    return Outcome("unreachable", f"{e.method} {e.url} got no response ({_one_line(problem)}).", hint, url=e.url)


def _auth_refused(target: Target, e: Exchange) -> Outcome:
    given = "no key was given" if not target.api_key else f"the key given was refused ({target.auth_style} style)"
    if not target.api_key:
        hint = "--api-key KEY (or OPENAI_API_KEY)."
    elif len(target.profile.auth_styles) > 1 or target.auth_style != "bearer":
        hint = f"check the key, and --auth-style ({', '.join(target.profile.auth_styles)})."
    else:
        hint = "check the key (OPENAI_API_KEY or --api-key), and --auth-style api-key if the vendor wants that header."
    return Outcome("key_rejected", f"{e.method} {e.url} answered HTTP {e.status}: {given}: {_error_text(e)}.",
                   hint, url=e.url, http_status=e.status)


# -- reading a reply ------------------------------------------------------------------------------
def _json(e: Exchange) -> Any:
    try:
        return e.json()
    except ValueError:
        return None


def _looks_like_html(e: Exchange) -> bool:
    return "html" in e.media_type or e.body.lstrip()[:1] == b"<"


def _listed_models(payload: Any) -> set[str] | None:
    data = payload.get("data") if isinstance(payload, dict) else None
    if not isinstance(data, list):
        return None  # not a list we understand: no reason to doubt the model
    ids = {m.get("id") for m in data if isinstance(m, dict) and isinstance(m.get("id"), str)}
    return ids or None


def _error_text(e: Exchange) -> str:
    body = _json(e)
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        return _one_line(error["message"], 160)
    if isinstance(error, str):
        return _one_line(error, 160)
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        return _one_line(body["message"], 160)
    return _snippet(e)


def _about_the_model(target: Target, e: Exchange) -> bool:
    body = _json(e)
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        fields = " ".join(str(error.get(k) or "") for k in ("code", "param", "type"))
        if "model" in fields.lower() or "deployment" in fields.lower():
            return True
    text = _error_text(e)
    return (target.model in text or "model" in text.lower()) and bool(_MODEL_WORDS.search(text))


def _named_header(target: Target, e: Exchange) -> str | None:
    text = _error_text(e).lower()
    return next((name for name in target.profile.required_headers if name.lower() in text), None)


def _snippet(e: Exchange, limit: int = 80) -> str:
    text = _one_line(e.text, limit)
    return repr(text) if text else "an empty body"


def _one_line(text: str, limit: int = 200) -> str:
    # printable only: a hostile body must not move the terminal's cursor or ring its bell
    text = " ".join("".join(c if c.isprintable() else " " for c in text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


# -- when it runs -----------------------------------------------------------------------------------
def pytest_addoption(parser: pytest.Parser) -> None:
    parser.getgroup("chatconform").addoption(
        "--no-preflight", dest="cc_no_preflight", action="store_true", default=False,
        help="skip the pre-flight exchange that ends the run early on an unreachable target, a non-API, "
             "a refused key, a wrong path, an unknown model or a missing required header")


def pytest_configure(config: pytest.Config) -> None:
    # pytest-base-url's own check errors every test after a bare, retried GET of the base URL;
    # the pre-flight does that job with one classified line, so --verify-base-url means it
    if getattr(config.option, "verify_base_url", False):
        config.option.verify_base_url = False
        config.option.cc_verify_base_url = True


def wanted(config: pytest.Config) -> bool:
    if config.getoption("cc_no_preflight") and not getattr(config.option, "cc_verify_base_url", False):
        return False
    return not (hasattr(config, "workerinput") or config.option.collectonly)


@pytest.hookimpl(tryfirst=True)  # before the prefetcher (plugin.concurrency) sends shared exchanges
def pytest_collection_finish(session: pytest.Session) -> None:
    """Without xdist: after collection, before the first test."""
    if wanted(session.config) and any(requirement_ids(item) for item in session.items):
        run(session.config)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_node_collection_finished(node: Any, ids: list[str]) -> None:
    """Under xdist the controller collects nothing; the first worker's collection tells it whether
    conformance tests are there, before any is scheduled."""
    config = node.config
    if OUTCOME in config.stash or not wanted(config):
        return
    if cites_requirements(config.rootpath, ids):
        run(config)
    else:
        config.stash[OUTCOME] = Outcome("skipped", "no conformance test collected")


def cites_requirements(root: Path, ids: Iterable[str]) -> bool:
    """Whether any of these test files marks a test with a requirement (read, not imported)."""
    for file in sorted({i.split("::", 1)[0] for i in ids}):
        try:
            if "mark.requirement" in (root / file).read_text(encoding="utf-8", errors="replace"):
                return True
        except OSError:
            continue
    return False


def run(config: pytest.Config) -> Outcome:
    """Run the pre-flight once; on an outage end the session with its line and exit code."""
    from .session import configured_target, state

    if OUTCOME in config.stash:
        return config.stash[OUTCOME]
    target = configured_target(config)
    if target.embedded:
        outcome = Outcome("skipped", "the embedded reference server (checked as it starts)")
        config.stash[OUTCOME] = outcome
        return outcome
    client = preflight_client(config, target)
    try:
        outcome = check(target, client)
    finally:
        client.close()
    config.stash[OUTCOME] = outcome
    session = state(config)
    session.preflight_cost = client.cost
    if outcome.completion is not None:
        session.preflight_completion = outcome.completion
    if outcome.failed:
        pytest.exit(outcome.line(), returncode=outcome.exit_code)
    return outcome


def preflight_client(config: pytest.Config, target: Target) -> Client:
    """A client like the session's, but quick to give up connecting and without retries:
    an outage should cost seconds. It spends from the run's budget (budget.ledger)."""
    timeout = options.number(config, "request_timeout")
    settings = ClientSettings(connect_timeout=min(CONNECT_TIMEOUT, timeout), read_timeout=timeout,
                              total_timeout=2 * timeout, max_retries=1, max_retry_wait=5.0)
    auth = Auth(target.auth_style, target.api_key) if target.api_key else None
    secrets = [target.api_key, target.restricted_api_key, target.rate_limit_probe, *target.secret_header_values()]
    # the run's one budget: the pre-flight's requests count, before they are sent, like the suite's
    return Client(target.base_url, auth, settings, Redactor(secrets), extra_headers=target.headers,
                  url_for=target.url_for, ledger=budget.ledger(config, target.embedded))


def outcome_of(config: pytest.Config) -> Outcome | None:
    return config.stash.get(OUTCOME, None)


def record_field(config: pytest.Config) -> dict[str, Any]:
    """The run record's ``preflight``: what it found, or why it did not run."""
    outcome = outcome_of(config)
    if outcome is not None:
        return outcome.as_dict()
    why = "--no-preflight" if config.getoption("cc_no_preflight") else "not run"
    return Outcome("skipped", why).as_dict()

