"""Shared exchanges shared across pytest-xdist workers: one worker sends, the others read it.

Each worker has its own session memo (chatconform.plugin.concurrency); grouping the tests that
share an exchange onto one worker (``loadgroup``) cannot see every shared key (they are built at
run time), so with ``-n 2`` a shared exchange could still be sent once per worker. Here the first
worker to need a key takes its lock file, sends, and writes the result; a worker that finds the
lock taken waits for that file instead of sending. A value that cannot be written (or an
exception, whose arguments may not survive a round trip) is made again by the waiter: a rare
duplicate rather than a wrong answer. The controller makes the directory and removes it at the end.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

WORKER_KEY = "chatconform_share_dir"
WAIT = 900.0  # seconds a waiter waits for another worker's exchange (a slow vendor's worst case)
_MISSING = object()


class WorkerShare:
    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def get(self, key: str, make: Callable[[], Any]) -> Any:
        name = hashlib.sha256(key.encode("utf-8")).hexdigest()[:40]
        lock, done = self.directory / f"{name}.lock", self.directory / f"{name}.pickle"
        try:
            os.close(os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        except FileExistsError:
            value = self._wait(done)
            return make() if value is _MISSING else value
        try:
            value = make()
        except BaseException:
            self._write(done, _MISSING)
            raise
        self._write(done, value)
        return value

    def _write(self, done: Path, value: Any) -> None:
        try:
            data = pickle.dumps(("missing",) if value is _MISSING else ("value", value))
        except Exception:  # noqa: BLE001 - not picklable: the waiter makes its own
            data = pickle.dumps(("missing",))
        partial = done.with_suffix(".partial")
        partial.write_bytes(data)
        partial.replace(done)  # atomic: a waiter never reads half a file

    def _wait(self, done: Path) -> Any:
        deadline = time.monotonic() + WAIT
        while not done.exists():
            if time.monotonic() > deadline:
                return _MISSING
            time.sleep(0.02)
        try:
            found = pickle.loads(done.read_bytes())
        except Exception:  # noqa: BLE001
            return _MISSING
        return found[1] if found[0] == "value" else _MISSING


def shared_dir(config: pytest.Config) -> Path | None:
    """The run's shared directory under xdist (the worker's, or the controller's own), else None."""
    directory = getattr(config, "workerinput", {}).get(WORKER_KEY)
    if directory:
        return Path(directory)
    return config.stash.get(_DIR, None)


def share_for(config: pytest.Config) -> WorkerShare | None:
    directory = getattr(config, "workerinput", {}).get(WORKER_KEY)
    return WorkerShare(Path(directory)) if directory else None


def pytest_configure(config: pytest.Config) -> None:
    if getattr(config.option, "numprocesses", None) and not hasattr(config, "workerinput"):
        config.stash[_DIR] = Path(tempfile.mkdtemp(prefix="chatconform-share-"))


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    directory = node.config.stash.get(_DIR, None)
    if directory is not None:
        node.workerinput[WORKER_KEY] = str(directory)


def pytest_unconfigure(config: pytest.Config) -> None:
    directory = config.stash.get(_DIR, None)
    if directory is not None:
        shutil.rmtree(directory, ignore_errors=True)


_DIR: pytest.StashKey[Path] = pytest.StashKey()
