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
