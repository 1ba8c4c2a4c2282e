"""API keys: accepted as `Authorization: Bearer` (and as `api-key` where the profile says so);
missing, wrong or malformed keys get 401.

The rejected requests are error cases shared with the errors and headers suites
(``chatconform.payloads.errors``), which judge their envelope and headers.
"""

import pytest

from chatconform import payloads
from chatconform.checks import auth
from chatconform.client import Auth
from chatconform.plugin.concurrency import uses

requirement = pytest.mark.requirement
capability = pytest.mark.capability


def _with_key(style, cases):
    """The shared completion when the run already authenticates this way, else one request."""
    key = cases.key()
    if cases.target.auth_style == style:
        return cases.shared("completion")
    return cases.shared(f"auth:{style}", lambda: cases.client.chat(payloads.minimal(cases.target.model),
                                                                     auth=Auth(style, key)))


@requirement("auth.bearer-accepted")
@uses("completion")
def test_bearer_key_is_accepted(cases):
    auth.bearer_accepted(_with_key("bearer", cases))


@requirement("auth.api-key-header-accepted")
@capability("api_key_header")
def test_api_key_header_is_accepted(cases):
    auth.api_key_header_accepted(_with_key("api-key", cases))


@requirement("auth.api-key-header-accepted")
@capability("api_key_header")
def test_wrong_key_in_api_key_header_is_rejected(error_case):
    auth.wrong_api_key_rejected(error_case("wrong-api-key"))


@requirement("auth.missing-key-401")
@pytest.mark.parametrize("name", [
    "missing-key",
    pytest.param("missing-key-retrieve", marks=capability("store")),
    pytest.param("missing-key-messages", marks=capability("store")),
])
def test_missing_key_is_rejected(name, error_case):
    auth.missing_key_rejected(error_case(name))


@requirement("auth.wrong-key-401")
def test_wrong_bearer_key_is_rejected(error_case):
    auth.wrong_key_rejected(error_case("wrong-key"))


@requirement("auth.malformed-header-401")
@pytest.mark.parametrize("name", ["other-scheme", "bearer-without-token"])
def test_malformed_authorization_is_rejected(name, error_case):
    auth.malformed_header_rejected(error_case(name))
