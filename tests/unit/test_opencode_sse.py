"""The Server-Sent-Events reader."""

from __future__ import annotations

import httpx

from caw.providers.sse import ServerSentEvent, iter_json, parse_lines


async def events_of(lines):
    async def source():
        for line in lines:
            yield line

    return [event async for event in parse_lines(source())]


async def test_data_lines_join_and_blank_lines_end_events():
    events = await events_of(["data: one", "data: two", "", "event: ping", "id: 7", "data: {}", ""])
    assert events == [
        ServerSentEvent(data="one\ntwo"),
        ServerSentEvent(data="{}", event="ping", id="7"),
    ]


async def test_comments_retry_and_unknown_fields_are_skipped():
    events = await events_of([": keep-alive", "retry: 100", "foo: bar", "data:no-space", ""])
    assert events == [ServerSentEvent(data="no-space")]


async def test_blank_lines_without_data_dispatch_nothing_and_a_last_event_without_blank_line_counts():
    events = await events_of(["", "", "event: x", "", "data: tail"])
    assert events == [ServerSentEvent(data="tail")]


async def test_id_persists_to_later_events():
    events = await events_of(["id: 1", "data: a", "", "data: b", ""])
    assert [e.id for e in events] == ["1", "1"]


async def test_iter_json_over_an_httpx_stream_with_crlf_and_split_chunks():
    body = [
        b'data: {"type":"server.connected"}\r\n\r\n',
        b'data: {"type":"a",',
        b'"n":1}\n\ndata: not json\n\n',
        b"data: [1]\n\n",
    ]

    async def stream():
        for chunk in body:
            yield chunk

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=stream())

    async with (
        httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client,
        client.stream("GET", "http://test/event") as response,
    ):
        objects = [obj async for obj in iter_json(response)]
    assert objects == [{"type": "server.connected"}, {"type": "a", "n": 1}]


def test_httpx_request_lines_hide_session_ids(caplog):
    import logging

    import caw.providers.opencode  # noqa: F401 - installs the filter

    with caplog.at_level(logging.INFO, logger="httpx"):
        logging.getLogger("httpx").info(
            'HTTP Request: %s %s "%s"',
            "POST",
            "http://127.0.0.1:1/session/ses_abc123XYZ/message",
            "HTTP/1.1 200 OK",
        )
    assert "ses_abc123XYZ" not in caplog.text and "/session/<resume key>/message" in caplog.text
