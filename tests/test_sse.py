"""The SSE parser accepts every legal framing and records what the standard leaves to the client."""

import pytest

from chatconform.sse import SSEParser, parse

CANONICAL = [("message", '{"a":1}'), ("message", "[DONE]")]


@pytest.mark.parametrize(
    "raw",
    [
        b'data: {"a":1}\n\ndata: [DONE]\n\n',
        b'data: {"a":1}\r\n\r\ndata: [DONE]\r\n\r\n',
        b'data: {"a":1}\r\rdata: [DONE]\r\r',
        b'data:{"a":1}\n\ndata:[DONE]\n\n',
        b': keep-alive\n\ndata: {"a":1}\n\n: ping\ndata: [DONE]\n\n',
        b'\xef\xbb\xbfdata: {"a":1}\n\ndata: [DONE]\n\n',
        b'\n\n\ndata: {"a":1}\nid: 7\n\nretry: 100\ndata: [DONE]\n\n',
    ],
    ids=["lf", "crlf", "cr", "no-space", "comments", "bom", "blank-lines-and-fields"],
)
@pytest.mark.parametrize("read_size", [None, 1, 2, 3, 5, 13])
def test_legal_framings_give_the_same_events(raw, read_size):
    events, stats = parse(raw, read_size=read_size)
    assert [(e.event, e.data) for e in events] == CANONICAL
    assert not stats.invalid_utf8 and not stats.unterminated_event


def test_multiline_data_is_joined_with_newlines():
    events, _ = parse(b"data: a\ndata: b\n\n")
    assert events[0].data == "a\nb"


def test_event_type_and_id_are_kept():
    events, _ = parse(b"event: error\nid: 3\ndata: x\n\n")
    assert (events[0].event, events[0].id) == ("error", "3")


def test_unterminated_last_event_is_discarded_but_recorded():
    events, stats = parse(b'data: {"a":1}\n\ndata: {"b"')
    assert [e.data for e in events] == ['{"a":1}']
    assert stats.unterminated_event


def test_invalid_utf8_is_replaced_and_recorded():
    events, stats = parse(b"data: \xff\xfe ok\n\n", read_size=1)
    assert events[0].data.endswith(" ok")
    assert stats.invalid_utf8


def test_multibyte_character_split_across_reads_is_not_invalid():
    raw = "data: héllo ✓\n\n".encode()
    events, stats = parse(raw, read_size=1)
    assert events[0].data == "héllo ✓"
    assert not stats.invalid_utf8


def test_comments_are_counted():
    parser = SSEParser()
    parser.feed(b": one\n: two\n\n")
    assert parser.stats.comments == 2
