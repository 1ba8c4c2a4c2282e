"""Stateful property tests: schemathesis follows the spec's links between operations.

The links of specs/openapi.yaml say that the `id` of a created completion is the `completion_id`
of GET /chat/completions/{completion_id} and of its /messages. Schemathesis' state machine creates
completions (shaped with store: true), follows those links, and now and then tries a fresh id
instead. Every step goes through the same runner and checks as the other property tests; a
retrieval of a completion created in the scenario is compared with what the create returned.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import settings
from .schema import MAX_STEPS

if TYPE_CHECKING:
    from ..client import Exchange
    from .runner import Runner


def run(runner: Runner, schema: Any = None) -> None:
    """Run the scenarios; ``schema`` defaults to the stateful one (built now, at run time)."""
    import hypothesis
    from schemathesis.generation.stateful import run_state_machine_as_test

    if schema is None:
        from .schema import load

        schema = load("stateful")
    base = schema.as_state_machine()

    class ChatCompletionsWorkflow(base):  # type: ignore[misc, valid-type]
        def setup(self) -> None:
            # completion id -> (the create exchange, the body sent): what retrievals are compared with
            self.created: dict[str, tuple[Exchange, dict[str, Any]]] = {}
            self.sent: dict[str, Any] = {}

        def call(self, case: Any, **kwargs: Any) -> Any:
            sent, response = runner.stateful_send(case, self.created)
            self.sent[case.id] = sent
            return response

        def validate_response(self, response: Any, case: Any, additional_checks: Any = None, **kwargs: Any) -> None:
            sent = self.sent.pop(case.id)
            runner.judge(case, sent, recorder=self.recorder)
            if sent.is_create and sent.ok:
                completion_id = sent.exchange.json().get("id")
                if isinstance(completion_id, str):
                    self.created[completion_id] = (sent.exchange, sent.body)

    s = settings()
    phases = [hypothesis.Phase.generate] + ([hypothesis.Phase.shrink] if s.shrink else [])
    options = hypothesis.settings(
        max_examples=s.examples_for("stateful"),
        stateful_step_count=MAX_STEPS,
        deadline=None,
        derandomize=s.derandomize and s.seed is None,
        database=None,
        phases=phases,
        report_multiple_bugs=False,
        suppress_health_check=list(hypothesis.HealthCheck),
    )
    if s.seed is not None:
        ChatCompletionsWorkflow._hypothesis_internal_use_seed = s.seed
    run_state_machine_as_test(ChatCompletionsWorkflow, settings=options)
