"""Sampling controls whose effect a client can observe: `seed` and `logit_bias`.

seed: the same request twice with the same seed and an open-ended prompt should give the same
content. The documents promise only a best effort tied to an unchanged backend, so a difference
is a warning, and only information when the two responses name different system_fingerprints.

logit_bias: token ids are vendor-specific and no response reveals them, so a ban (-100) cannot be
aimed at a token the answer would otherwise contain. The observable half is tested instead: a +100
bias on one id (15, "0" in the GPT-2/cl100k/o200k/Qwen vocabularies, some ordinary token elsewhere)
must make every generated token that token, whatever its text.
"""

import pytest

from chatconform.payloads import features as fp
from chatconform.checks import sampling
from chatconform.checks.capabilities import unsupported_if_rejected
from chatconform.plugin.concurrency import declare, uses

requirement = pytest.mark.requirement

declare("seed.first", lambda client, target: client.chat(fp.seed_request(target.model)))
declare("logit_bias.forced", lambda client, target: client.chat(fp.forced_token_request(target.model)))


@requirement("request.seed-determinism")
@pytest.mark.capability("seed")
@uses("seed.first")  # the second is sent only if the first was accepted
def test_same_seed_gives_the_same_content(client, target, shared, record):
    first = shared("seed.first")
    unsupported_if_rejected(first, "seed", "seed")
    second = shared("seed.second", lambda: client.chat(fp.seed_request(target.model)))
    changed = sampling.fingerprints_differ(first, second)
    if changed:
        record.info("request.seed-determinism", f"not judged: the backend changed between the two requests "
                                                f"(system_fingerprint {changed[0]!r} then {changed[1]!r})")
        return
    sampling.same_content(first, second)


@requirement("request.logit-bias-honoured")
@pytest.mark.capability("logit_bias")
@uses("logit_bias.forced")
def test_a_plus_100_bias_forces_its_token(client, target, shared, record):
    exchange = shared("logit_bias.forced")
    unsupported_if_rejected(exchange, "logit_bias", "logit_bias")
    undecided = sampling.forced_token_only(exchange)
    if undecided:
        record.info("request.logit-bias-honoured", f"+100 bias not judged: {undecided}")
    record.info("request.logit-bias-honoured", "the -100 (ban) half is not tested: token ids are vendor-specific "
                                               "and no response names them")
