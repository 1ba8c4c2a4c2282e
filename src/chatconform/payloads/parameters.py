"""Parameter cases: one parameter set to one value in an otherwise minimal request.

The rows (which parameter, which value, which requirement) are the parameter suite's test plan
(suites/test_parameters.py); this module builds their requests.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from typing import Any

from . import minimal

# Cases only ask "accepted or refused?", so the answer itself is kept a few tokens long.
CASE_TOKENS = 4


@dataclass(frozen=True)
class Case:
    """One parameter set to one value in an otherwise minimal request."""

    parameter: str  # the support-table row
    label: str  # the value as the table and the test id show it
    overrides: dict[str, Any]  # keys to set on the minimal request; the value ... removes the key
    requirement: str  # the one requirement a wrong verdict fails
    capability: str | None = None
    names: tuple[str, ...] = ()  # what error.param may be; defaults to the parameter
    accepted_verdict: str = "accepted invalid value!"  # the table entry when a refusal was expected

    @property
    def id(self) -> str:
        return f"{self.parameter}={self.label}"

    @property
    def param_names(self) -> tuple[str, ...]:
        return self.names or (self.parameter,)

    def body(self, model: str) -> dict[str, Any]:
        body = minimal(model, max_completion_tokens=CASE_TOKENS)
        for key, value in self.overrides.items():
            if value is ...:
                body.pop(key, None)
            else:
                body[key] = copy.deepcopy(value)
        return body


def make_case(parameter: str, value: Any, requirement: str, *, label: str | None = None,
              overrides: dict[str, Any] | None = None, also: dict[str, Any] | None = None,
              capability: str | None = None, names: tuple[str, ...] = (),
              accepted_verdict: str = "accepted invalid value!") -> Case:
    """A case setting ``parameter`` to ``value`` (plus ``also``, for companions the value needs, such
    as logprobs true beside top_logprobs), or applying ``overrides`` when the change is not a
    plain top-level value (a message role, a removed key)."""
    changes = dict(overrides) if overrides is not None else {parameter: value}
    changes.update(also or {})
    if label is None:
        label = "missing" if value is ... else json.dumps(value, separators=(",", ":"))
    return Case(parameter, label, changes, requirement, capability, names, accepted_verdict)


# -- several accepted values in one request --------------------------------------------------------
# Valid values only ask "accepted?", so values of *different* parameters can share one request; a
# request that is not cleanly accepted is split in two, and so on down to one case, so a refusal
# is always attributed to one value alone (see suites/test_parameters.py). These keep a combined
# request to what a legal server accepts:
GROUP_SIZE = 8  # cases in one request: one refused value among them costs about log2(8) more
# parameters a conforming server may refuse together (Anthropic's compatibility layer refuses
# temperature beside top_p for newer models); never in one request
CONFLICTS = (frozenset({"temperature", "top_p"}),)
# a value that changes what the answer is (a stream instead of a completion): always alone
ALONE = frozenset({"stream"})


def _names(case: Case) -> set[str]:
    return {case.parameter, *case.overrides}


def combinable(case: Case) -> bool:
    """Whether a case may share a request at all: it sets values (removes nothing) and does not
    change the kind of answer."""
    return not (_names(case) & ALONE) and all(v is not ... for v in case.overrides.values())


def compatible(a: Case, b: Case) -> bool:
    """Whether two cases can be in one request: different parameters, no key they both set to
    different values, and no pair of parameters a legal server may refuse together."""
    if a.parameter == b.parameter or not (combinable(a) and combinable(b)):
        return False
    for key in set(a.overrides) & set(b.overrides):
        if json.dumps(a.overrides[key], sort_keys=True) != json.dumps(b.overrides[key], sort_keys=True):
            return False
    set_a, set_b = _set(a), _set(b)
    return not any(pair <= set_a | set_b and not pair <= set_a and not pair <= set_b for pair in CONFLICTS)


def _set(case: Case) -> set[str]:
    """The keys a case gives a value (JSON null means absent)."""
    return {key for key, value in case.overrides.items() if value is not None}


def groups(cases: list[Case], size: int = GROUP_SIZE) -> list[list[Case]]:
    """The cases in requests of at most ``size``, first fit, in the order given (deterministic:
    every xdist worker computes the same groups)."""
    out: list[list[Case]] = []
    for case in cases:
        for group in out:
            if len(group) < size and all(compatible(case, other) for other in group):
                group.append(case)
                break
        else:
            out.append([case])
    return out


def combined_body(cases: list[Case], model: str) -> dict[str, Any]:
    """One request setting every case's values (they are compatible: no key set twice differently)."""
    body = cases[0].body(model)
    for case in cases[1:]:
        for key, value in case.overrides.items():
            body[key] = copy.deepcopy(value)
    return body
