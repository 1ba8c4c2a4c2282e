"""Telling "the target lacks this optional feature" apart from "the target got it wrong"."""

from __future__ import annotations

import re

from ..client import Exchange
from ..failures import Unsupported

_UNSUPPORTED_WORDS = re.compile(r"not (yet )?supported|unsupported|not available|not implemented|unrecognized|"
                                r"unknown (parameter|field|argument)|extra (fields|inputs) not permitted", re.I)


def unsupported_if_rejected(exchange: Exchange, capability: str, parameter: str) -> None:
    """A 400/422/501 that names ``parameter`` (in ``param`` or as unsupported in the message)
    means the target lacks ``capability``: raise Unsupported instead of judging the output."""
    if exchange.status not in (400, 422, 501):
        return
    try:
        body = exchange.json()
    except ValueError:
        body = None
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, str):  # LM Studio and others send {"error": "message"}
        error = {"message": error}
    error = error if isinstance(error, dict) else {}
    param = error.get("param")
    message = str(error.get("message") or exchange.text[:500])
    names_it = (isinstance(param, str) and param.split(".")[0].split("[")[0] == parameter) or parameter in message
    if names_it and (param == parameter or _UNSUPPORTED_WORDS.search(message)):
        raise Unsupported(capability, f"HTTP {exchange.status} naming {parameter!r}: {message[:200]}")
