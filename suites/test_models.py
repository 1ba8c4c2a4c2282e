"""The model list: GET /models and GET /models/{id} (OpenAI's model endpoints; capability `models`).

One listing is shared by every test. A target that does not serve the routes at all (405, a 404
that is not an API error, or OpenAI's "Invalid URL") is reported as lacking the capability.
"""

from urllib.parse import quote

import pytest

from chatconform.checks import models, stored
from chatconform.failures import Unsupported

requirement = pytest.mark.requirement
pytestmark = pytest.mark.capability("models")

NEVER_A_MODEL = "chatconform-no-such-model-3f9c1e"


def _get(client, path):
    exchange = client.request("GET", path)
    if stored.route_missing(exchange):
        raise Unsupported("models", f"GET {path} is not served: {exchange.excerpt(200)}")
    return exchange


@pytest.fixture
def listing(client, shared):
    return shared("models.list", lambda: _get(client, "/models"))


@requirement("models.list-envelope")
def test_model_list_is_a_list_envelope(listing):
    models.list_envelope(listing)


@requirement("models.item-fields")
def test_every_listed_model_has_the_model_fields(listing, record):
    models.item_fields(listing)
    ids = models.listed_ids(listing)
    record.info("models.item-fields", f"{len(ids)} models listed: {', '.join(ids[:10])}{' ...' if len(ids) > 10 else ''}")


@requirement("models.retrieve")
def test_a_listed_model_can_be_retrieved(client, shared, listing, target):
    ids = models.listed_ids(listing)
    if not ids:
        pytest.skip("the model list names no model to retrieve (see models.list-envelope)")
    # the model under test where it is listed: the one a user would look up
    model_id = target.model if target.model in ids else ids[0]
    exchange = shared(f"models.retrieve:{model_id}", lambda: _get(client, f"/models/{quote(model_id, safe='')}"))
    models.retrieve(exchange, model_id)


@requirement("models.unknown-id-404")
def test_an_unknown_model_gives_404(client, listing):
    # `listing` first: a target without the model routes is unsupported, not failed
    models.unknown_id_404(_get(client, f"/models/{NEVER_A_MODEL}"))


@requirement("models.configured-model-listed")
def test_the_model_under_test_is_listed(listing, target):
    models.configured_model_listed(listing, target.model)
