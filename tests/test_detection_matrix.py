"""The suite has teeth: the detection matrix over the whole fault catalogue, and the catalogue itself.

One test per catalogue entry (so `-n 2` spreads them): the entry's suites run against the
reference server started with that fault or variation (chatconform.selfcheck, the same code as
`chatconform selfcheck`). A fault must fail a test citing one of its requirement IDs, a legal
variation must pass with no failure and no warning, a hostile behaviour must end in failures
within its bound.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from chatconform import selfcheck
from chatconform.reference.injection import FAULT, HOSTILE, HOOKS, VARIATION, Faults, UnknownFault, catalogue
from chatconform.requirements import catalogue as requirements

REPO = Path(__file__).resolve().parents[1]
ENTRIES = list(catalogue().values())


# -- the catalogue ---------------------------------------------------------------------------------
def _of(kind):
    return [e for e in ENTRIES if e.kind == kind]


def test_the_catalogue_is_large_enough():
    assert len(_of(FAULT)) >= 40 and len(_of(VARIATION)) >= 10 and len(_of(HOSTILE)) >= 6, \
        {kind: len(_of(kind)) for kind in (FAULT, VARIATION, HOSTILE)}


@pytest.mark.parametrize("entry", ENTRIES, ids=[e.name for e in ENTRIES])
def test_entry_is_documented(entry):
    assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)+", entry.name), entry.name
    assert entry.description and "\n" not in entry.description and len(entry.description) <= 160
    known = requirements()
    unknown = [r for r in entry.requirements if r not in known]
    assert not unknown, f"{entry.name}: requirement IDs not in specs/requirements.yaml: {unknown}"
    if entry.kind == VARIATION:
        assert not entry.requirements, "a variation is legal: it violates nothing"
    else:
        assert entry.requirements, f"{entry.name} names no requirement it violates"
    assert entry.areas and set(entry.areas) <= set(requirements().areas), entry.areas
    suites = selfcheck.suites_for(entry, REPO)
    assert suites and all((REPO / s).is_file() for s in suites), f"{entry.name}: no suite judges it"
    assert entry.cite is None or re.fullmatch(r"(ST|RS|PA|ER|HD|AD)-\d\d", entry.cite), entry.cite
    assert entry.hooks or entry.framing, f"{entry.name} changes nothing"
    assert set(entry.hooks) <= set(HOOKS)
    assert (entry.kind == HOSTILE) == ("asgi" in entry.hooks)


def test_unknown_or_misfiled_names_are_refused_with_the_catalogue():
    with pytest.raises(UnknownFault) as info:
        Faults(["no-such-fault"], ["no-done"])
    message = str(info.value)
    assert "--fault no-such-fault: no such entry" in message
    assert "--variation no-done: it is a fault" in message
    assert all(e.name in message for e in ENTRIES)


def test_serve_lists_the_catalogue_and_refuses_unknown_faults():
    listed = subprocess.run([sys.executable, "-m", "chatconform", "serve", "--list-faults"],
                            capture_output=True, text=True, timeout=60)
    assert listed.returncode == 0 and all(e.name in listed.stdout for e in ENTRIES), listed.stderr
    refused = subprocess.run([sys.executable, "-m", "chatconform", "serve", "--port", "0", "--fault", "no-such-fault"],
                             capture_output=True, text=True, timeout=60)
    assert refused.returncode == 2 and "no-such-fault" in refused.stderr and "no-done" in refused.stderr


# -- the matrix ------------------------------------------------------------------------------------
@pytest.mark.parametrize("entry", ENTRIES, ids=[f"{e.kind}:{e.name}" for e in ENTRIES])
def test_detection_matrix_row(entry):
    row = selfcheck.run_row(entry, root=REPO)
    assert row.ok, row.summary()


# -- in process: the same catalogue, selected through ServerConfig ----------------------------------
def _client(**config):
    from starlette.testclient import TestClient

    from chatconform.reference import ServerConfig, create_app

    return TestClient(create_app(ServerConfig(**config)))


STREAMED = {"model": "m", "stream": True, "messages": [{"role": "user", "content": "Repeat exactly: a b c"}]}


def test_a_fault_is_selectable_in_process():
    plain = _client().post("/v1/chat/completions", json=STREAMED, headers={"Authorization": "Bearer k"})
    faulty = _client(faults=("no-done",)).post("/v1/chat/completions", json=STREAMED,
                                               headers={"Authorization": "Bearer k"})
    assert plain.text.endswith("data: [DONE]\n\n")
    assert faulty.status_code == 200 and "[DONE]" not in faulty.text
    assert faulty.text.count("data: ") == plain.text.count("data: ") - 1


def test_a_variation_reframes_the_same_events():
    from chatconform.sse import parse

    plain = _client().post("/v1/chat/completions", json=STREAMED, headers={"Authorization": "Bearer k"})
    varied = _client(variations=("crlf-line-endings", "keep-alive-comments", "data-without-space")).post(
        "/v1/chat/completions", json=STREAMED, headers={"Authorization": "Bearer k"})
    assert "\r\n" in varied.text and ": keep-alive" in varied.text and "data:{" in varied.text

    def payloads(text):
        events, _ = parse(text.encode())
        return [e.data if e.data == "[DONE]" else {k: v for k, v in json.loads(e.data).items() if k != "id"}
                for e in events]

    assert payloads(varied.text) == payloads(plain.text)


def test_without_faults_the_server_is_unchanged():
    faults = Faults()
    assert not faults and faults.framing == Faults([], []).framing
    app = _client().app
    assert not app.state.faults


def test_a_hostile_server_keeps_the_app_reachable():
    from chatconform.reference import ServerConfig, create_app
    from chatconform.reference.hostile import HostileLayer

    app = create_app(ServerConfig(faults=("hostile-no-headers",)))
    assert isinstance(app, HostileLayer) and app.state.config.faults == ("hostile-no-headers",)
