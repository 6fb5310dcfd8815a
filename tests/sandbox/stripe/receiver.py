"""A webhook receiver on 127.0.0.1 for sandbox tests, and helpers around deliveries."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx


class Receiver:
    """A tiny threaded HTTP server that records every request it gets. It answers the first
    `fail_first` requests with 500, then 200; each after `sleep` seconds."""

    def __init__(self) -> None:
        self.hits: list[dict[str, Any]] = []
        self.cond = threading.Condition()
        self.fail_first = 0
        self.sleep = 0.0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver.cond:
                    n = len(receiver.hits)
                    receiver.hits.append(
                        {
                            "path": self.path,
                            "headers": dict(self.headers),
                            "body": body.decode(),
                            "at": time.monotonic(),
                        }
                    )
                    receiver.cond.notify_all()
                if receiver.sleep:
                    time.sleep(receiver.sleep)
                status = 500 if n < receiver.fail_first else 200
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/stripe/webhook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def wait(self, n: int, timeout: float = 10) -> list[dict[str, Any]]:
        """Wait until at least `n` requests arrived; return them all."""
        with self.cond:
            ok = self.cond.wait_for(lambda: len(self.hits) >= n, timeout)
            assert ok, f"expected {n} deliveries, got {len(self.hits)}: {self.types()}"
            return list(self.hits)

    def wait_for(self, event_type: str, timeout: float = 15) -> tuple[str, str]:
        """The first delivery of `event_type`: (raw body, Stripe-Signature header)."""
        with self.cond:
            ok = self.cond.wait_for(
                lambda: any(json.loads(h["body"])["type"] == event_type for h in self.hits),
                timeout,
            )
            assert ok, f"no {event_type} received: {self.types()}"
            hit = next(h for h in self.hits if json.loads(h["body"])["type"] == event_type)
            return hit["body"], hit["headers"]["Stripe-Signature"]

    def events(self) -> list[dict[str, Any]]:
        with self.cond:
            return [json.loads(h["body"]) for h in self.hits]

    def types(self) -> list[str]:
        return [e["type"] for e in self.events()]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def register(control: httpx.Client, url: str, **extra: Any) -> dict[str, Any]:
    r = control.post("/_sandbox/webhooks", data={"url": url, **extra})
    assert r.status_code == 200, r.text
    return dict(r.json())


def deliveries(control: httpx.Client, **filters: str) -> list[dict[str, Any]]:
    r = control.get("/_sandbox/deliveries", params=filters)
    assert r.status_code == 200, r.text
    return list(r.json()["data"])


def wait_until(check: Callable[[], Any], timeout: float = 10) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.05)


def settled(control: httpx.Client, timeout: float = 10) -> None:
    """Wait until the account has no delivery queued, held back or in flight (the sandbox's
    `outstanding`): every attempt it will make has been made."""
    wait_until(lambda: control.get("/_sandbox/deliveries").json()["outstanding"] == 0, timeout)
