"""chatconform's reference server: a strict, deterministic Chat Completions endpoint, no model.

It implements specs/openapi.yaml and nothing else from chatconform besides chatconform.paths:
the conformance suite never leaks into it. `create_app(ServerConfig(...))` gives the Starlette
app; `chatconform serve` runs it with uvicorn.
"""

from chatconform.reference.app import create_app
from chatconform.reference.config import ServerConfig

__all__ = ["ServerConfig", "create_app"]
