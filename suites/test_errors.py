"""Errors: each documented status, and the JSON envelope on every error.

The requests are the error cases of ``chatconform.payloads.errors``, each sent once per session and
shared with the headers and auth suites: a status test judges the status a case must get, and
the envelope tests run over every case. 403 and 429 are provoked only with a key the user
supplies for the purpose (--restricted-api-key, --rate-limit-probe); otherwise unsupported.
"""

import pytest

from chatconform.payloads import errors as error_cases
from chatconform.checks import errors

requirement = pytest.mark.requirement
every_case = pytest.mark.parametrize("name", error_cases.params())


@pytest.fixture
def error_response(error_case):
    return lambda name: error_cases.error_response(error_case(name))


# -- the status each case must get ---------------------------------------------------------------
@requirement("error.status-400-invalid")
@pytest.mark.parametrize("name", ["invalid-value", "invalid-value-streamed", "invalid-json"])
def test_invalid_request_gets_400(name, error_case):
    errors.status_400(error_case(name))


@requirement("error.param-names-parameter")
@pytest.mark.parametrize("name", ["invalid-value", "invalid-value-streamed"])
def test_invalid_parameter_is_named(name, error_response):
    errors.param_names(error_response(name), "temperature")


@requirement("error.status-401-auth")
@pytest.mark.parametrize("name", ["missing-key", "wrong-key"])
def test_authentication_failure_gets_401(name, error_case):
    errors.status_401(error_case(name))


@requirement("error.status-403-permission")
def test_restricted_key_gets_403(error_case):
    errors.status_403(error_case("restricted-key"))


@requirement("error.unknown-model")
def test_unknown_model_is_rejected(error_case):
    errors.unknown_model(error_case("unknown-model"))


@requirement("error.status-429-rate-limit")
def test_rate_limit_gets_429(cases):
    errors.rate_limited(error_cases.probe(cases))


@requirement("error.unknown-path-404")
def test_unknown_path_gets_404_envelope(client):
    errors.unknown_path(client.request("GET", error_cases.UNKNOWN_PATH))


# -- every error ---------------------------------------------------------------------------------
@requirement("error.client-error-not-5xx")
@pytest.mark.parametrize("name", error_cases.params(client_errors_only=True))
def test_client_error_is_not_5xx(name, error_case):
    errors.not_5xx(error_case(name))


@requirement("error.content-type-json")
@every_case
def test_error_is_sent_as_json(name, error_response):
    errors.content_type_json(error_response(name))


@requirement("error.envelope")
@every_case
def test_error_body_is_the_envelope(name, error_response):
    errors.envelope(error_response(name))


@requirement("error.message-string")
@every_case
def test_error_message_is_a_string(name, error_response):
    errors.message_string(error_response(name))


@requirement("error.type-vocabulary")
@every_case
def test_error_type_follows_the_status_table(name, error_response, target):
    errors.type_vocabulary(error_response(name), target.profile.error_types)


@requirement("error.param-key")
@every_case
def test_error_carries_param(name, error_response):
    errors.param_key(error_response(name))


@requirement("error.code-key")
@every_case
def test_error_carries_code(name, error_response):
    errors.code_key(error_response(name))
