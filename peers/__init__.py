"""Real OpenAI-compatible servers ("peers") the suite runs against on loopback.

    python -m peers install [NAME ...]     install into the cache (idempotent)
    python -m peers start NAME             print the base URL, keep serving until Ctrl-C / SIGTERM
    python -m peers suite NAME [ARGS ...]  start NAME, run the conformance suite against it, stop

From Python::

    from peers import PEERS
    with PEERS["litellm"].running(api_key="sk-...") as server:
        server.base_url, server.model
"""

from __future__ import annotations

from peers.litellm import LiteLLM
from peers.llama import LlamaCpp
from peers.servers import Peer, PeerUnavailable, Running, cache_dir

PEERS: dict[str, Peer] = {peer.name: peer for peer in (LiteLLM(), LlamaCpp())}

__all__ = ["PEERS", "Peer", "PeerUnavailable", "Running", "cache_dir"]
