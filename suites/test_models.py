"""The model list: GET /models and GET /models/{id} (OpenAI's model endpoints; capability `models`).

One listing is shared by every test. A target that does not serve the routes at all (405, a 404
that is not an API error, or OpenAI's "Invalid URL") is reported as lacking the capability.
"""

from urllib.parse import quote

import pytest

from chatconform.checks import models, stored
from chatconform.failures import Unsupported
from chatconform.plugin.concurrency import declare, uses

requirement = pytest.mark.requirement
pytestmark = [pytest.mark.capability("models"), uses("models.list")]

NEVER_A_MODEL = "chatconform-no-such-model-3f9c1e"


def _get(client, path):
    exchange = client.request("GET", path)
    if stored.route_missing(exchange):
        raise Unsupported("models", f"GET {path} is not served: {exchange.excerpt(200)}")
    return exchange


LISTING = declare("models.list", lambda client, target: _get(client, "/models"))
UNKNOWN = declare("models.unknown", lambda client, target: _get(client, f"/models/{NEVER_A_MODEL}"))


@pytest.fixture
def listing(shared):
    return shared(LISTING)


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
@uses(UNKNOWN)
def test_an_unknown_model_gives_404(shared, listing):
    # `listing` first: a target without the model routes is unsupported, not failed
    models.unknown_id_404(shared(UNKNOWN))


@requirement("models.configured-model-listed")
def test_the_model_under_test_is_listed(listing, target):
    models.configured_model_listed(listing, target.model)
