"""Incremental Server-Sent Events parser following the WHATWG "event stream interpretation" rules.

Everything the standard allows is accepted without comment: LF, CRLF and lone CR line endings
(also when a CRLF is split across two reads), comment lines, ``data:`` with or without the
space, multi-line data, a leading BOM. What the standard leaves to the client (an event cut
off by the end of the stream, bytes that are not UTF-8) is recorded in :class:`StreamStats` so
checks can decide, instead of being silently dropped.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Event:
    data: str
    event: str = "message"
    id: str | None = None
    retry: int | None = None


@dataclass
class StreamStats:
    bytes: int = 0
    events: int = 0
    comments: int = 0
    line_endings: set[str] = field(default_factory=set)
    invalid_utf8: bool = False
    unterminated_event: bool = False  # data was pending when the stream ended


_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_ENDING_NAMES = {"\r\n": "CRLF", "\r": "CR", "\n": "LF"}


class SSEParser:
    """Feed raw bytes as they arrive; get back the events completed so far."""

    def __init__(self) -> None:
        self.stats = StreamStats()
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="strict")
        self._partial: list[str] = []  # the current line, as it arrived
        self._first_text = True
        self._pending_cr = False
        self._data: list[str] = []
        self._event_type = ""
        self._last_id: str | None = None
        self._retry: int | None = None

    def feed(self, chunk: bytes) -> list[Event]:
        self.stats.bytes += len(chunk)
        return self._consume(self._decode(chunk))

    def _decode(self, chunk: bytes, final: bool = False) -> str:
        state = self._decoder.getstate()
        try:
            return self._decoder.decode(chunk, final)
        except UnicodeDecodeError:
            # decode as the standard says (U+FFFD), but remember: a conformant server sends UTF-8
            self.stats.invalid_utf8 = True
            self._decoder.setstate(state)
            self._decoder.errors = "replace"
            return self._decoder.decode(chunk, final)

    def close(self) -> list[Event]:
        """End of stream: an event without its closing blank line is discarded, as the standard says."""
        events = self._consume(self._decode(b"", final=True))
        if self._pending_cr:
            self._pending_cr = False
            self.stats.line_endings.add("CR")
        if self._partial:
            events += self._line("".join(self._partial))
            self._partial = []
        if self._data:
            self.stats.unterminated_event = True
            self._data = []
        return events

    def _consume(self, text: str) -> list[Event]:
        # only the new text is scanned, and a long line is kept as parts joined once, so a huge
        # event costs linear time however many reads it arrives in
        if self._first_text and text:
            self._first_text = False
            if text.startswith("\ufeff"):
                text = text[1:]
        if self._pending_cr and text:
            self._pending_cr = False
            if text.startswith("\n"):  # the LF of a CRLF whose CR ended the previous read
                self.stats.line_endings.add("CRLF")
                text = text[1:]
            else:
                self.stats.line_endings.add("CR")
        events: list[Event] = []
        pos = 0
        for match in _LINE_BREAK.finditer(text):
            line = "".join(self._partial) + text[pos : match.start()]
            self._partial = []
            if match.group() == "\r" and match.end() == len(text):
                self._pending_cr = True  # CR or the first half of a CRLF: the next read tells
            else:
                self.stats.line_endings.add(_ENDING_NAMES[match.group()])
            events += self._line(line)
            pos = match.end()
        if pos < len(text):
            self._partial.append(text[pos:])
        return events

    def _line(self, line: str) -> list[Event]:
        if line == "":
            return self._dispatch()
        if line.startswith(":"):
            self.stats.comments += 1
            return []
        name, sep, value = line.partition(":")
        if sep and value.startswith(" "):
            value = value[1:]
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event_type = value
        elif name == "id":
            if "\0" not in value:
                self._last_id = value
        elif name == "retry":
            if value.isascii() and value.isdigit():
                self._retry = int(value)
        return []

    def _dispatch(self) -> list[Event]:
        if not self._data:
            self._event_type = ""
            return []
        event = Event(
            data="\n".join(self._data),
            event=self._event_type or "message",
            id=self._last_id,
            retry=self._retry,
        )
        self._data = []
        self._event_type = ""
        self.stats.events += 1
        return [event]


def parse(raw: bytes, *, read_size: int | None = None) -> tuple[list[Event], StreamStats]:
    """Parse a complete byte string, optionally in reads of ``read_size`` bytes (as a network would)."""
    parser = SSEParser()
    events: list[Event] = []
    step = read_size or max(len(raw), 1)
    for offset in range(0, len(raw), step):
        events += parser.feed(raw[offset : offset + step])
    events += parser.close()
    return events, parser.stats
