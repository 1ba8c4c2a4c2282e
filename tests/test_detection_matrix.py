"""The suite has teeth: the detection matrix over the whole fault catalogue, and the catalogue itself.

One test per catalogue entry (so `-n 2` spreads them): the entry's suites run against the
reference server started with that fault or variation (chatconform.selfcheck, the same code as
`chatconform selfcheck`). A fault must fail a test citing one of its requirement IDs, a legal
variation must pass with no failure and no warning, a hostile behaviour must end in failures
within its bound.
"""

from __future__ import annotations

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
    assert entry.suites and all((REPO / s).is_file() for s in entry.suites), entry.suites
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
