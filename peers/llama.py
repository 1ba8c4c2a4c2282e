"""llama-cpp-python's OpenAI-compatible server on a tiny model written at start-up.

llama-cpp-python compiles llama.cpp from source when it is installed (about 4 minutes on 2
cores): the CMake flags below keep that build to the library alone. The model is written by
peers/tinymodel.py with the ``gguf`` package, installed in the same venv.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from peers.servers import HERE, Peer, PeerUnavailable

SEED = 1234


@dataclass
class LlamaCpp(Peer):
    name: str = "llama-cpp"
    requirements: tuple[str, ...] = ("llama-cpp-python[server]==0.3.36", "gguf==0.19.0")
    default_model: str = "tiny-llama"
    ready_path: str = "/v1/models"
    ready_timeout: float = 60.0
    # the server answers one request at a time and resets a connection that arrives meanwhile
    # (seen in CI: "Connection reset by peer" on a prefetched completion): one request in flight
    client_args: tuple[str, ...] = ("--concurrency=1",)
    install_env: dict[str, str] = field(default_factory=lambda: {
        "CMAKE_ARGS": "-DGGML_NATIVE=ON -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF",
        "CMAKE_BUILD_PARALLEL_LEVEL": os.environ.get("CMAKE_BUILD_PARALLEL_LEVEL", "2"),
    })

    def model_path(self, workdir: Path) -> Path:
        return workdir / f"tiny-{SEED}.gguf"

    def prepare(self, workdir: Path) -> None:
        """Write the tiny model (seeded: the same bytes every time) with the venv's gguf."""
        path = self.model_path(workdir)
        proc = subprocess.run([str(self.python), str(HERE / "tinymodel.py"), str(path), "--seed", str(SEED)],
                              capture_output=True, text=True)
        if proc.returncode != 0:
            raise PeerUnavailable(f"writing the tiny model failed:\n{proc.stderr[-2000:]}")

    def environment(self, api_key: str) -> dict[str, str]:
        return {"PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1"}

    def command(self, port: int, api_key: str, workdir: Path) -> list[str]:
        return [str(self.python), "-m", "llama_cpp.server",
                "--model", str(self.model_path(workdir)), "--model_alias", self.default_model,
                "--host", "127.0.0.1", "--port", str(port), "--api_key", api_key,
                "--seed", str(SEED), "--n_ctx", "2048", "--n_threads", "1", "--n_threads_batch", "1",
                "--verbose", "False"]
