"""chatconform's reference server: a strict, deterministic Chat Completions endpoint, no model.

It implements specs/openapi.yaml and the profiles in specs/profiles, and imports nothing from
chatconform but the spec layer that reads specs/ (chatconform.paths, chatconform.spec,
chatconform.profiles): the conformance suite never leaks into it (a self-test checks the imports). `create_app(ServerConfig(...))` gives the Starlette
app; `chatconform serve` runs it with uvicorn.
"""

from chatconform.reference.app import create_app
from chatconform.reference.config import ServerConfig

__all__ = ["ServerConfig", "create_app"]
