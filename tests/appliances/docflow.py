"""Vendor Docflow: the web application inside the vendor appliance.

This file runs in the guest (Debian 12's python3, standard library only), started by
docflow.service. `GET /` shows the notes, `POST /notes` (form field `note`) adds one and
redirects to `/`, `GET /health` answers "ok". Notes are the lines of one file.
"""

from __future__ import annotations

import argparse
import html
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

NOTES = Path("/var/lib/docflow/notes.txt")
_MAX_BODY = 64 * 1024


def page(notes: list[str]) -> str:
    items = "\n".join(f"<li>{html.escape(n)}</li>" for n in notes)
    return (
        "<!doctype html>\n<html><head><meta charset='utf-8'><title>Vendor Docflow</title>"
        "</head><body>\n<h1>Vendor Docflow</h1>\n"
        f"<ul id='notes'>\n{items}\n</ul>\n"
        "<form method='post' action='/notes'><input name='note'>"
        "<button type='submit'>Add note</button></form>\n</body></html>\n"
    )


class Handler(BaseHTTPRequestHandler):
    server_version = "VendorDocflow/1.0"
    notes = NOTES

    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        if path == "/health":
            self._reply(200, "text/plain; charset=utf-8", b"ok")
        elif path == "/":
            text = self.notes.read_text(encoding="utf-8") if self.notes.exists() else ""
            self._reply(200, "text/html; charset=utf-8", page(text.splitlines()).encode())
        else:
            self._reply(404, "text/plain; charset=utf-8", b"not found\n")

    def do_POST(self) -> None:
        if urlsplit(self.path).path != "/notes":
            self._reply(404, "text/plain; charset=utf-8", b"not found\n")
            return
        length = int(self.headers.get("Content-Length") or 0)
        if length > _MAX_BODY:
            self._reply(413, "text/plain; charset=utf-8", b"too large\n")
            return
        form = parse_qs(self.rfile.read(length).decode("utf-8", errors="replace"))
        note = " ".join(form.get("note", [""])[0].split())  # one note, one line
        if not note:
            self._reply(400, "text/plain; charset=utf-8", b"note is empty\n")
            return
        self.notes.parent.mkdir(parents=True, exist_ok=True)
        with self.notes.open("a", encoding="utf-8") as f:
            f.write(note + "\n")
        self.send_response(303)
        self.send_header("Location", "/")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _reply(self, status: int, content_type: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def main() -> None:
    parser = argparse.ArgumentParser(description="Vendor Docflow")
    parser.add_argument("--port", type=int, default=80)
    parser.add_argument("--notes", type=Path, default=NOTES)
    args = parser.parse_args()
    Handler.notes = args.notes
    server = ThreadingHTTPServer(("", args.port), Handler)
    print(f"docflow: listening on :{args.port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
