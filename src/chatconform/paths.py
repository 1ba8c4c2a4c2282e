"""Where specs/ lives: the one thing the reference server and the suite share."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path


@lru_cache(maxsize=1)
def specs_dir() -> Path:
    """The specs/ directory.

    A checkout (editable install) reads the repository's own specs/ so edits show at once;
    a wheel carries a copy as chatconform/_specs. CHATCONFORM_SPECS overrides both.
    """
    override = os.environ.get("CHATCONFORM_SPECS")
    if override:
        return Path(override)
    here = Path(__file__).resolve().parent
    for candidate in (here.parents[1] / "specs", here / "_specs"):
        if (candidate / "openapi.yaml").is_file():
            return candidate
    raise FileNotFoundError("chatconform cannot find its specs/ directory; set CHATCONFORM_SPECS")
