"""Response headers seed 003 documents: x-request-id on every response, the x-ratelimit-* counters,
Retry-After on 429.

Successful responses are the shared ``completion`` and ``stream`` exchanges; error responses are
the error cases the errors suite also judges (``chatconform.payloads.errors``), so nothing here costs
a request of its own.
"""

import pytest

from chatconform.payloads import errors as error_cases
from chatconform.checks import headers
from chatconform.plugin.concurrency import each_using

requirement = pytest.mark.requirement
capability = pytest.mark.capability

# the shared successful exchanges (suites/conftest.py), each param marked with the one it judges
SUCCESSES = each_using("", ("completion", "stream"))


@requirement("header.request-id")
@capability("request_id")
@pytest.mark.parametrize("name", SUCCESSES)
def test_success_carries_request_id(name, shared):
    headers.request_id(shared(name))


@requirement("header.request-id")
@capability("request_id")
def test_request_ids_differ(completion, stream):
    headers.request_ids_unique([completion, stream])


@requirement("header.request-id-on-errors")
@pytest.mark.parametrize("name", error_cases.params("request_id"))
def test_error_carries_request_id(name, cases):
    headers.request_id_on_error(error_cases.error_response(error_cases.exchange(cases, name)))


@requirement("header.ratelimit")
@capability("rate_limit_headers")
@pytest.mark.parametrize("name", SUCCESSES)
def test_ratelimit_headers(name, shared):
    headers.ratelimit(shared(name))


@requirement("header.retry-after-429")
def test_429_carries_retry_after(cases):
    headers.retry_after(error_cases.error_response(error_cases.exchange(cases, "rate-limited")))
