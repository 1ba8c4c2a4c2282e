"""LiteLLM's proxy with mock models (no provider behind it, no database, no network).

Pinned to 1.103.7: 1.103.8 and later need a ``certifi`` newer than the package registry here
serves. ``prisma`` is installed too: without it, a request without a key gets a 500 (the proxy's
auth error handler imports it). With no database, a *wrong* key gets 400 ``no_db_connection``:
that is the real behaviour, recorded in peers/evidence/litellm.yaml.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from peers.servers import HERE, Peer

CONFIG = HERE / "litellm.yaml"


@dataclass
class LiteLLM(Peer):
    name: str = "litellm"
    requirements: tuple[str, ...] = ("litellm[proxy]==1.103.7", "prisma")
    default_model: str = "mock-text"
    ready_path: str = "/health/liveliness"
    ready_timeout: float = 120.0
    install_env: dict[str, str] = field(default_factory=dict)

    def environment(self, api_key: str) -> dict[str, str]:
        return {
            "LITELLM_MASTER_KEY": api_key,  # the config reads it: os.environ/LITELLM_MASTER_KEY
            "LITELLM_LOCAL_MODEL_COST_MAP": "True",  # no download of the cost map at start-up
            "LITELLM_TELEMETRY": "False",
            "NO_DOCS": "True",
            "PYTHONUNBUFFERED": "1",
        }

    def command(self, port: int, api_key: str, workdir: Path) -> list[str]:
        litellm = self.python.parent / "litellm"
        return [str(self.python), str(litellm), "--config", str(CONFIG),
                "--host", "127.0.0.1", "--port", str(port), "--num_workers", "1"]
