"""Command-line options, ini keys and environment fallbacks; every one checked once at start-up."""

from __future__ import annotations

import os
from dataclasses import dataclass

import pytest

# (name, ini key, environment fallbacks, default, metavar, help)
@dataclass(frozen=True)
class Option:
    name: str
    ini: str
    envs: tuple[str, ...]
    default: str | None
    metavar: str
    help: str

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")


OPTIONS = [
    Option("api_key", "chatconform_api_key", ("OPENAI_API_KEY",), None, "KEY",
           "API key (never printed or recorded)"),
    Option("auth_style", "chatconform_auth_style", ("CHATCONFORM_AUTH_STYLE",), None, "STYLE",
           "bearer | api-key (default: the profile's)"),
    Option("model", "chatconform_model", ("CHATCONFORM_MODEL", "OPENAI_MODEL"), None, "MODEL", "model id to request"),
    Option("profile", "chatconform_profile", ("CHATCONFORM_PROFILE",), None, "NAME",
           "provider profile in specs/profiles"),
    Option("request_timeout", "chatconform_request_timeout", ("CHATCONFORM_REQUEST_TIMEOUT",), "60", "SECONDS",
           "seconds of silence allowed while reading a response (total per exchange: twice that)"),
    Option("restricted_api_key", "chatconform_restricted_api_key", ("CHATCONFORM_RESTRICTED_API_KEY",), None, "KEY",
           "a key that authenticates but lacks permission, to provoke 403 (never printed or recorded)"),
    Option("rate_limit_probe", "chatconform_rate_limit_probe", ("CHATCONFORM_RATE_LIMIT_PROBE",), None, "KEY",
           "a key limited to fewer than 10 requests/minute: lets the 429 checks burst up to 10 tiny requests "
           "(never printed or recorded; without it the 429 checks are unsupported)"),
    Option("capabilities", "chatconform_capabilities", ("CHATCONFORM_CAPABILITIES",), None, "LIST",
           "comma-separated capabilities the target has (replaces the profile's list)"),
    Option("deployment", "chatconform_deployment", ("CHATCONFORM_DEPLOYMENT",), None, "NAME",
           "deployment name, for profiles whose URL names one (azure; default: the model id)"),
    Option("api_version", "chatconform_api_version", ("CHATCONFORM_API_VERSION", "OPENAI_API_VERSION"), None,
           "VERSION", "api-version query value, for profiles that send one (default: the profile's)"),
]
BY_NAME = {o.name: o for o in OPTIONS}
NUMBERS = ("request_timeout",)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("chatconform", "chatconform conformance run")
    for o in OPTIONS:
        env_note = f" [env {' / '.join(o.envs)}]" if o.envs else ""
        group.addoption(o.flag, dest=f"cc_{o.name}", default=None, metavar=o.metavar, help=o.help + env_note)
        parser.addini(o.ini, help=o.help, default=o.default)
    group.addoption("--header", dest="cc_headers", action="append", default=[], metavar="'NAME: VALUE'",
                    help="a header sent on every request (repeatable; ini chatconform_headers, one per line; "
                         "env CHATCONFORM_HEADERS, separated by newlines). Secret-looking values are redacted.")
    parser.addini("chatconform_headers", type="linelist", default=[], help="headers sent on every request")
    group.addoption("--reference-fault", dest="cc_reference_faults", action="append", default=[], metavar="NAME",
                    help="start the embedded reference server with this fault injected (repeatable)")
    group.addoption("--reference-variation", dest="cc_reference_variations", action="append", default=[],
                    metavar="NAME", help="start the embedded reference server with this legal variation (repeatable)")
    group.addoption("--results-json", dest="cc_results_json", default=None, metavar="PATH",
                    help="write every test's outcome, cited requirements and verdict records as JSON")
    parser.addini("chatconform_strict", type="bool", default=False,
                  help="SHOULD-level violations fail the run, as pytest's --strict does (default: warnings)")


def setting(config: pytest.Config, name: str) -> str | None:
    """An option's value: the command line, then the environment, then the ini file, then the default."""
    value = config.getoption(f"cc_{name}")
    if value:
        return value
    o = BY_NAME[name]
    for env in o.envs:
        if os.environ.get(env):
            return os.environ[env]
    return config.getini(o.ini) or o.default


def number(config: pytest.Config, name: str) -> float:
    raw = setting(config, name)
    try:
        value = float(raw)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise pytest.UsageError(f"{BY_NAME[name].flag} must be a positive number of seconds, not {raw!r}") from None
    if not value > 0:
        raise pytest.UsageError(f"{BY_NAME[name].flag} must be a positive number of seconds, not {raw!r}")
    return value


def headers(config: pytest.Config) -> dict[str, str]:
    """The extra headers, as ``Name: value`` lines from the command line, environment and ini file."""
    lines = list(config.getoption("cc_headers") or [])
    lines += [ln for ln in os.environ.get("CHATCONFORM_HEADERS", "").splitlines() if ln.strip()]
    lines += [ln for ln in config.getini("chatconform_headers") if ln.strip()]
    out: dict[str, str] = {}
    for line in lines:
        name, sep, value = line.partition(":")
        if not sep or not name.strip() or any(c.isspace() for c in name.strip()):
            raise pytest.UsageError(f"--header {line!r}: write it as 'Name: value'")
        out.setdefault(name.strip(), value.strip())
    return out


def strict(config: pytest.Config) -> bool:
    # pytest's own --strict (pytest 9: "be strict about everything") also makes SHOULD fail
    return bool(config.getoption("strict", False) or config.getini("chatconform_strict"))


def targets_something(config: pytest.Config) -> bool:
    """Whether the command line names a target setting: then it is checked now, as one usage
    error, rather than in every test (settings only in the environment are checked on first use)."""
    return bool(config.getoption("base_url") or config.getoption("cc_headers")
                or any(config.getoption(f"cc_{o.name}") for o in OPTIONS))


@pytest.hookimpl(trylast=True)
def pytest_configure(config: pytest.Config) -> None:
    from .session import configured_target

    if targets_something(config):
        for name in NUMBERS:
            number(config, name)
        configured_target(config)
