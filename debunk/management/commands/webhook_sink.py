"""A local webhook receiver for demos and tests: verifies Standard Webhooks signatures, dedupes by webhook-id,
prints one line per delivery and appends what arrives to a JSON-lines file."""

import json
import sys
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TextIO

from django.core.management.base import BaseCommand, CommandError, CommandParser
from standardwebhooks import Webhook, WebhookVerificationError

MAX_BODY = 64 * 1024 * 1024


class Sink(ThreadingHTTPServer):
    """The receiver; usable in a thread from tests (`serve_forever`, then `shutdown`)."""

    daemon_threads = True

    def __init__(
        self,
        port: int,
        *,
        secret: str | None = None,
        out: str | None = None,
        respond: int = 200,
        retry_after: int = 5,
        delay: float = 0.0,
        stdout: TextIO | None = None,
        host: str = "127.0.0.1",
    ) -> None:
        super().__init__((host, port), SinkHandler)
        self.webhook = Webhook(secret) if secret else None
        self.out = Path(out) if out else None
        self.respond = respond
        self.retry_after = retry_after
        self.delay = delay
        self.stdout = stdout or sys.stdout
        self.lock = threading.Lock()
        self.seen: set[str] = set()
        self.received: list[dict[str, Any]] = []  # every verified arrival, duplicates included
        if self.out and self.out.exists():  # a restarted sink keeps deduping what it already received
            for line in self.out.read_text().splitlines():
                if line.strip():
                    self.seen.add(json.loads(line)["webhook_id"])

    def record(self, webhook_id: str, headers: dict[str, str], payload: Any) -> bool:
        """Keep one arrival; True if this webhook-id is new."""
        corrections = payload.get("data", {}).get("corrections", []) if isinstance(payload, dict) else []
        with self.lock:
            duplicate = webhook_id in self.seen
            self.seen.add(webhook_id)
            entry = {
                "webhook_id": webhook_id,
                "timestamp": headers.get("webhook-timestamp"),
                "received_at": datetime.now(UTC).isoformat(),
                "duplicate": duplicate,
                "payload": payload,
            }
            self.received.append(entry)
            if self.out is not None:
                with self.out.open("a", encoding="utf-8") as file:
                    file.write(json.dumps(entry, ensure_ascii=False) + "\n")
            users = len({c.get("user_hash") for c in corrections if isinstance(c, dict)})
            self.stdout.write(
                f"{entry['received_at']} {webhook_id} {len(corrections)} corrections, {users} users"
                f"{' (duplicate: already received)' if duplicate else ''} → {self.respond}\n"
            )
            self.stdout.flush()
        return not duplicate


class SinkHandler(BaseHTTPRequestHandler):
    server: Sink
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # the sink prints its own lines
        pass

    def _answer(self, code: int, text: str, headers: dict[str, str] | None = None) -> None:
        body = (text + "\n").encode()
        self.send_response(code)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length < 0 or length > MAX_BODY:
            self._answer(413, "too large")
            return
        body = self.rfile.read(length)
        headers = {k.lower(): v for k, v in self.headers.items()}
        webhook_id = headers.get("webhook-id", "")
        if self.server.webhook is not None:
            try:
                payload = self.server.webhook.verify(body, headers)
            except (WebhookVerificationError, ValueError) as exc:
                self.server.stdout.write(f"rejected {webhook_id or '(no webhook-id)'}: {exc}\n")
                self.server.stdout.flush()
                self._answer(401, f"bad signature: {exc}")
                return
        else:
            try:
                payload = json.loads(body)
            except ValueError:
                self._answer(400, "not JSON")
                return
        if self.server.delay:
            time.sleep(self.server.delay)
        code = self.server.respond
        if 200 <= code < 300:
            self.server.record(webhook_id, headers, payload)
            self._answer(code, "ok")
            return
        self.server.stdout.write(f"{webhook_id}: answering {code} (--respond)\n")
        self.server.stdout.flush()
        extra = {"Retry-After": str(self.server.retry_after)} if code == 429 else {}
        self._answer(code, f"answering {code} as asked (--respond)", extra)


class Command(BaseCommand):
    requires_system_checks: list[str] = []  # starts at once; needs no database
    help = (
        "A local webhook receiver on 127.0.0.1 for demos and tests: verifies Standard Webhooks signatures "
        "(401 on a bad one), dedupes by webhook-id, prints one line per delivery, appends JSON lines to --out."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--port", type=int, required=True)
        parser.add_argument("--secret", help="The endpoint's whsec_… secret; without it signatures are not checked.")
        parser.add_argument("--out", metavar="FILE.jsonl", help="Append every delivery received to this file.")
        parser.add_argument(
            "--respond", type=int, default=200, metavar="CODE", help="Answer this status (e.g. 410, 429, 500)."
        )
        parser.add_argument("--retry-after", type=int, default=5, help="Retry-After seconds with --respond 429.")
        parser.add_argument("--delay", type=float, default=0.0, help="Seconds to wait before answering.")

    def handle(self, *args: Any, port: int, secret: str | None, out: str | None, **options: Any) -> None:
        try:
            sink = Sink(
                port,
                secret=secret,
                out=out,
                respond=options["respond"],
                retry_after=options["retry_after"],
                delay=options["delay"],
                stdout=self.stdout,
            )
        except OSError as exc:
            raise CommandError(f"Cannot listen on 127.0.0.1:{port}: {exc}") from exc
        except Exception as exc:  # a secret that is not whsec_ + base64
            raise CommandError(f"Bad --secret: {exc}") from exc
        if not secret:
            self.stderr.write(self.style.WARNING("No --secret: signatures are NOT verified."))
        self.stderr.write(f"webhook sink on http://127.0.0.1:{port}/ (Ctrl-C to stop)")
        try:
            sink.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            sink.server_close()
