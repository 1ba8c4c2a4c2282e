"""The streaming suite fails on broken streams with the right requirement, and accepts legal framings."""

import pytest

from tests.fakes import reference_proxy
from tests.harness import run_suite

SUITE = "suites/test_streaming.py"


def _drop_done(events, req):
    return [e for e in events if e != "[DONE]"]


def _change_id(events, req):
    return [dict(e, id=f"{e['id']}-{n}") if isinstance(e, dict) else e for n, e in enumerate(events)]


@pytest.mark.parametrize(
    "mutation, requirement",
    [(_drop_done, "stream.done-terminates"), (_change_id, "stream.single-id")],
    ids=["no-done", "changing-id"],
)
def test_broken_stream_fails_with_its_requirement(mutation, requirement):
    run = run_suite(SUITE, against=reference_proxy(chunks=mutation))
    assert run.returncode == 1, run.summary()
    assert requirement in run.failed_requirements(), run.summary()


@pytest.mark.parametrize(
    "framing",
    [dict(newline="\r\n"), dict(comment_every=2), dict(no_space=True), dict(read_size=7)],
    ids=["crlf", "keep-alive-comments", "data-without-space", "split-reads"],
)
def test_legal_framing_is_accepted(framing):
    run = run_suite(SUITE, against=reference_proxy(**framing))
    run.assert_clean()
