"""The boundary test's cases, kept between runs.

schemathesis' coverage phase is deterministic: one spec, one schemathesis and hypothesis, one
configuration and hash seed generate the same cases, in the same order, every time. Generating
them is most of the boundary test's time against the embedded server (about 1.3 s of CPU, and a
sixth of a whole local run), so the cases the test keeps are stored under the user's cache
directory, keyed by everything they are made from: a changed spec, library, Python, setting or
chatconform fuzz module generates them afresh. Every case is still sent and judged on every run;
only its generation is saved.

``CHATCONFORM_CACHE_DIR`` names the directory (default ``$XDG_CACHE_HOME/chatconform``, else
``~/.cache/chatconform``); set it to an empty string to turn the cache off. Nothing is stored when
string hashing is randomized (the generation would differ from run to run), and a file that cannot
be read is generated again, never trusted.
"""

from __future__ import annotations

import copy
import hashlib
import os
import pickle
import sys
import tempfile
from pathlib import Path
from typing import Any

FORMAT = 1  # bump when what a record holds changes
FIELDS = ("method", "path", "path_parameters", "headers", "cookies", "query", "body", "media_type",
          "multipart_content_types", "meta")


def directory() -> Path | None:
    """Where cases are kept; None when the cache is off."""
    configured = os.environ.get("CHATCONFORM_CACHE_DIR")
    if configured is not None:
        return Path(configured).expanduser() if configured.strip() else None
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "chatconform"


def key(*parts: Any) -> str | None:
    """A digest of what the cases depend on besides ``parts`` (the operation, the selection, the
    settings): the spec, chatconform's fuzz modules, the libraries, Python and the hash seed. None
    when the hash seed is random, since then the cases are not the same from run to run, and when
    the cache is off (nothing is read or hashed)."""
    from . import HASH_SEED_FIXED

    if not HASH_SEED_FIXED or directory() is None:
        return None
    import hypothesis
    import jsonschema_rs
    import schemathesis

    from ..paths import specs_dir

    digest = hashlib.sha256()
    sources = [specs_dir() / "openapi.yaml", *sorted(Path(__file__).parent.glob("*.py"))]
    for path in sources:
        digest.update(path.read_bytes())
    versions = (FORMAT, sys.version, schemathesis.__version__, hypothesis.__version__,
                getattr(jsonschema_rs, "__version__", ""), os.environ.get("PYTHONHASHSEED", ""))
    digest.update(repr((versions, parts)).encode())
    return digest.hexdigest()[:32]


def record(case: Any) -> dict[str, Any]:
    """What rebuilds a case, copied now: the runner shapes a case's body once it has it."""
    return {name: copy.deepcopy(getattr(case, name, None)) for name in FIELDS}


def rebuild(operation: Any, saved: dict[str, Any]) -> Any:
    from schemathesis.core import NOT_SET, NotSet
    from schemathesis.generation.case import Case

    # "no body" is a singleton schemathesis tests by identity: unpickled, it is a new instance
    fields = {name: NOT_SET if isinstance(value, NotSet) else value for name, value in saved.items()}
    return Case(operation, fields.pop("method"), fields.pop("path"), **fields)


def _file(digest: str) -> Path | None:
    where = directory()
    return None if where is None else where / "boundaries" / f"{digest}.pickle"


def load(digest: str | None) -> list[dict[str, Any]] | None:
    """The records stored under ``digest``; None when there are none (or they cannot be read)."""
    path = _file(digest) if digest else None
    if path is None or not path.is_file():
        return None
    try:
        with path.open("rb") as fh:
            saved = pickle.load(fh)  # written by this user's own runs, like a .pyc
    except Exception:  # noqa: BLE001 - truncated, or from an incompatible library: generate afresh
        return None
    return saved if isinstance(saved, list) and all(isinstance(r, dict) for r in saved) else None


def store(digest: str | None, records: list[dict[str, Any]]) -> None:
    """Keep the records (atomically: a concurrent xdist worker reads a whole file or none)."""
    path = _file(digest) if digest else None
    if path is None:
        return
    temporary: str | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("wb", dir=path.parent, delete=False, suffix=".tmp") as fh:
            temporary = fh.name
            pickle.dump(records, fh, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(temporary, path)
    except Exception:  # noqa: BLE001 - a read-only home, a full disk: the next run generates again
        if temporary is not None and os.path.exists(temporary):
            os.unlink(temporary)
