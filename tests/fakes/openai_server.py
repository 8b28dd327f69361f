"""A fake OpenAI-compatible chat server on loopback, driven by a script of behaviours.

Each ``POST /v1/chat/completions`` takes the next behaviour from the script (the last one
repeats once the script is used up) and is counted. Behaviours: :func:`ok` and
:func:`tool_call` (valid replies with usage, as JSON or as an SSE stream when the request asks
for ``stream``), :func:`http_500`, :func:`hang` (answer late: the client times out),
:func:`truncated` (a body cut mid-way, then the connection closed) and :func:`close` (drop the
connection without a response). :func:`refused_port` gives a port nobody listens on.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["Behaviour", "FakeOpenAI", "close", "hang", "http_500", "ok", "refused_port",
           "tool_call", "truncated"]


@dataclass(frozen=True)
class Behaviour:
    """One scripted answer: ``kind`` and its parameters."""

    kind: str
    text: str = ""
    name: str = ""
    args: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0


def ok(text: str) -> Behaviour:
    return Behaviour("ok", text=text)


def tool_call(name: str, args: dict[str, Any]) -> Behaviour:
    return Behaviour("tool_call", name=name, args=args)


def http_500() -> Behaviour:
    return Behaviour("http_500")


def hang(seconds: float) -> Behaviour:
    return Behaviour("hang", seconds=seconds)


def truncated(text: str = "a reply that never arrives whole") -> Behaviour:
    return Behaviour("truncated", text=text)


def close() -> Behaviour:
    return Behaviour("close")


def refused_port() -> int:
    """A loopback port that was free a moment ago and has no listener: connections refused."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _message(b: Behaviour) -> dict[str, Any]:
    if b.kind == "tool_call":
        call = {"id": f"call_{time.monotonic_ns()}", "type": "function",
                "function": {"name": b.name, "arguments": json.dumps(b.args)}}
        return {"role": "assistant", "content": None, "tool_calls": [call]}
    return {"role": "assistant", "content": b.text}


_USAGE = {"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10}


def _completion(b: Behaviour) -> dict[str, Any]:
    finish = "tool_calls" if b.kind == "tool_call" else "stop"
    return {"id": "chatcmpl-fake", "object": "chat.completion", "created": 0, "model": "fake",
            "choices": [{"index": 0, "message": _message(b), "finish_reason": finish}],
            "usage": _USAGE}


def _chunks(b: Behaviour) -> list[dict[str, Any]]:
    base = {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 0,
            "model": "fake"}
    msg = _message(b)
    if "tool_calls" in msg:
        msg["tool_calls"][0]["index"] = 0
    finish = "tool_calls" if b.kind == "tool_call" else "stop"
    return [{**base, "choices": [{"index": 0, "delta": msg, "finish_reason": None}]},
            {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": finish}]},
            {**base, "choices": [], "usage": _USAGE}]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
        fake = self.server.fake
        b = fake.take(self.path, body)
        stream = bool(body.get("stream"))
        if b.kind == "close":
            self.close_connection = True
        elif b.kind == "hang":
            fake.stopping.wait(b.seconds)
            self.close_connection = True
        elif b.kind == "http_500":
            self._send(500, json.dumps({"error": {"message": "fake server error",
                                                  "type": "server_error"}}).encode())
        elif stream:
            self._stream(b)
        elif b.kind == "truncated":
            data = json.dumps(_completion(ok(b.text))).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data[: len(data) // 2])
            self.close_connection = True
        else:
            self._send(200, json.dumps(_completion(b)).encode())

    def _send(self, status: int, data: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("retry-after-ms", "1")  # the client retries at once
        self.end_headers()
        self.wfile.write(data)

    def _stream(self, b: Behaviour) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        events = [f"data: {json.dumps(c)}\n\n" for c in _chunks(ok(b.text) if
                                                               b.kind == "truncated" else b)]
        events.append("data: [DONE]\n\n")
        if b.kind == "truncated":  # the first event, then half a chunk, then hang up
            first = events[0].encode()
            self.wfile.write(b"%x\r\n%s\r\n" % (len(first), first))
            self.wfile.write(b"%x\r\n%s" % (len(first), first[: len(first) // 2]))
            self.close_connection = True
            return
        for event in events:
            data = event.encode()
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.write(b"0\r\n\r\n")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    fake: FakeOpenAI

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that went away (timeout) is part of the script


class FakeOpenAI:
    """The server: ``start()``/``stop()`` (or ``with``), ``script(...)``, ``requests``."""

    def __init__(self, *behaviours: Behaviour) -> None:
        self._script: deque[Behaviour] = deque(behaviours)
        self._last: Behaviour | None = None
        self._lock = threading.Lock()
        self.requests: list[dict[str, Any]] = []
        self.stopping = threading.Event()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.fake = self
        self.port = int(self._server.server_address[1])
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def count(self) -> int:
        with self._lock:
            return len(self.requests)

    def script(self, *behaviours: Behaviour) -> None:
        with self._lock:
            self._script.extend(behaviours)

    def take(self, path: str, body: dict[str, Any]) -> Behaviour:
        with self._lock:
            self.requests.append({"path": path, **body})
            if self._script:
                self._last = self._script.popleft()
            if self._last is None or path != "/v1/chat/completions":
                return http_500()
            return self._last

    def start(self) -> FakeOpenAI:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> FakeOpenAI:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
