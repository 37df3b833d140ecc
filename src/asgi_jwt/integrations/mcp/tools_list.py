"""Showing each caller only the tools it may call: the answer to ``tools/list``, rewritten on its way out.

The answer comes either as one JSON document or as a Server-Sent Events stream
(the streamable HTTP default). JSON is held until complete (it is small and has a
``Content-Length`` to fix); an event stream is rewritten event by event as it
flows, so nothing else on it is delayed. Anything that does not parse as the
answer to one of the ``tools/list`` requests passes unchanged.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from starlette.types import Message, Send

__all__ = ["ToolsListFilter"]

_EVENT_END = re.compile(rb"\r\n\r\n|\n\n|\r\r")
_LINE = re.compile(rb"\r\n|\n|\r")


class ToolsListFilter:
    """A ``send`` that removes the tools ``visible(name)`` refuses from answers to ``request_ids``."""

    def __init__(self, send: Send, request_ids: set[Any], visible: Callable[[str], bool]) -> None:
        self._send = send
        self._ids = request_ids
        self._visible = visible
        self._mode = ""
        self._start: Message | None = None
        self._pending = b""

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            content_type = next((v for k, v in message.get("headers", ()) if k.lower() == b"content-type"), b"")
            media = content_type.split(b";", 1)[0].strip().lower()
            if media == b"application/json":
                self._mode, self._start = "json", message
                return
            self._mode = "sse" if media == b"text/event-stream" else ""
            await self._send(message)
            return
        if message["type"] != "http.response.body" or not self._mode:
            await self._send(message)
            return
        self._pending += message.get("body", b"")
        more = message.get("more_body", False)
        if self._mode == "json":
            if not more:
                await self._send_json(self._filter_document(self._pending))
            return
        events = _EVENT_END.split(self._pending)
        separators = _EVENT_END.findall(self._pending)
        self._pending = b"" if not more else events.pop()
        out = b"".join(self._filter_event(event) + end for event, end in zip(events, separators, strict=False))
        if not more and len(events) > len(separators):
            out += events[-1]  # an unterminated tail: passed on as it came
        await self._send({"type": "http.response.body", "body": out, "more_body": more})

    async def _send_json(self, body: bytes) -> None:
        start = self._start or {"type": "http.response.start", "status": 200}  # ASGI: the start comes first
        headers = [(k, v) for k, v in start.get("headers", ()) if k.lower() != b"content-length"]
        headers.append((b"content-length", str(len(body)).encode()))
        await self._send({**start, "headers": headers})
        await self._send({"type": "http.response.body", "body": body})

    def _filter_document(self, body: bytes) -> bytes:
        try:
            value = json.loads(body)
        except (ValueError, RecursionError):
            return body
        answers = value if isinstance(value, list) else [value]
        changed = [self._filter_answer(answer) for answer in answers]  # a list, not any(): filter every one
        if not any(changed):
            return body
        return json.dumps(value, separators=(",", ":")).encode()

    def _filter_event(self, event: bytes) -> bytes:
        lines = _LINE.split(event)
        data = [line[5:].removeprefix(b" ") for line in lines if line.startswith(b"data:")]
        if not data:
            return event
        try:
            value = json.loads(b"\n".join(data))
        except (ValueError, RecursionError):
            return event
        if not self._filter_answer(value):
            return event
        newline = _LINE.search(event)
        separator = newline.group() if newline else b"\n"
        kept = [line for line in lines if not line.startswith(b"data:")]
        return separator.join([*kept, b"data: " + json.dumps(value, separators=(",", ":")).encode()])

    def _filter_answer(self, value: Any) -> bool:
        """Filter one JSON-RPC answer in place; whether it was one of ours."""
        if not isinstance(value, dict) or not isinstance(value.get("result"), dict):
            return False
        request_id = value.get("id")
        if isinstance(request_id, dict | list) or request_id not in self._ids:
            return False
        tools = value["result"].get("tools")
        if not isinstance(tools, list):
            return False
        value["result"]["tools"] = [
            tool
            for tool in tools
            if isinstance(tool, dict) and isinstance(tool.get("name"), str) and self._visible(tool["name"])
        ]
        return True
