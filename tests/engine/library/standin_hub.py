"""A stand-in for the Hugging Face hub on 127.0.0.1: just enough of its HTTP API for huggingface_hub's client.

What huggingface_hub 2.x asks for when it downloads a snapshot, and so what is served here:

* ``GET /api/models/{repo}/revision/{rev}`` — the model info; ``sha`` is the commit;
* ``GET /api/models/{repo}/tree/{rev}?recursive=…`` — the file listing (path, size, oid, lfs);
* ``HEAD /{repo}/resolve/{rev}/{file}`` — ``X-Repo-Commit``, ``ETag``, ``Content-Length``;
* ``GET`` of the same, honouring ``Range: bytes=N-`` with ``206`` and ``Content-Range``;
* ``404`` with ``X-Error-Code: RepoNotFound`` / ``EntryNotFound`` for what does not exist.

Faults a test can ask for: a slow body (``delay`` seconds after each ``piece`` of bytes),
and a connection dropped once after ``drop_after[file]`` bytes of a file. Every request is
logged with its Range header and how many body bytes were sent before it ended.
"""

from __future__ import annotations

import hashlib
import json
import re
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit


@dataclass
class Logged:
    method: str
    path: str
    range: str | None
    sent: int = 0
    complete: bool = False
    ended: threading.Event = field(default_factory=threading.Event, repr=False)

    def wait(self, timeout: float = 10.0) -> Logged:
        """Until the server has finished answering this request (a hang-up is noticed on the next write)."""
        assert self.ended.wait(timeout), f"{self.method} {self.path} did not end within {timeout} s"
        return self


@dataclass
class StandInHub:
    """Repositories ``{repo_id: {file name: bytes}}`` served over HTTP; ``endpoint`` once started."""

    repos: dict[str, dict[str, bytes]]
    piece: int = 64 * 1024
    delay: float = 0.0
    drop_after: dict[str, int] = field(default_factory=dict)
    log: list[Logged] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.commits = {repo: hashlib.sha1(repo.encode()).hexdigest() for repo in self.repos}
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._stopped = False

    # -- life cycle ---------------------------------------------------------------------------
    def start(self) -> str:
        hub = self

        class Handler(_Handler):
            pass

        Handler.hub = hub
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self.endpoint

    @property
    def endpoint(self) -> str:
        assert self._server is not None, "start() the stand-in hub first"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def stop(self) -> None:
        if self._server is not None and not self._stopped:
            self._stopped = True
            self._server.shutdown()
            self._server.server_close()

    # -- what tests read -----------------------------------------------------------------------
    def gets(self, filename: str) -> list[Logged]:
        """The body requests (GET .../resolve/...) of ``filename``."""
        return [e for e in self.log if e.method == "GET" and "/resolve/" in e.path and e.path.endswith("/" + filename)]

    def record(self, entry: Logged) -> Logged:
        with self._lock:
            self.log.append(entry)
        return entry


def free_port() -> int:
    """A port nothing listens on (for the offline tests)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def etag(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


_INFO = re.compile(r"^/api/models/(?P<repo>[^/]+/[^/]+)(?:/revision/(?P<rev>[^/]+))?$")
_TREE = re.compile(r"^/api/models/(?P<repo>[^/]+/[^/]+)/tree/(?P<rev>[^/]+)(?:/.*)?$")
_RESOLVE = re.compile(r"^/(?P<repo>[^/]+/[^/]+)/resolve/(?P<rev>[^/]+)/(?P<file>.+)$")


class _Handler(BaseHTTPRequestHandler):
    hub: StandInHub
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args) -> None:  # noqa: A002 - quiet test output
        pass

    def do_HEAD(self) -> None:  # noqa: N802 - http.server's names
        self._serve(body=False)

    def do_GET(self) -> None:  # noqa: N802
        self._serve(body=True)

    def _serve(self, body: bool) -> None:
        path = unquote(urlsplit(self.path).path)
        entry = self.hub.record(Logged(self.command, path, self.headers.get("Range")))
        try:
            if (m := _TREE.match(path)) is not None:
                self._tree(m["repo"], entry)
            elif (m := _INFO.match(path)) is not None:
                self._info(m["repo"], entry)
            elif (m := _RESOLVE.match(path)) is not None:
                self._file(m["repo"], m["file"], body, entry)
            else:
                self._error(404, "EntryNotFound", "no such endpoint")
        finally:
            entry.ended.set()

    def _info(self, repo: str, entry: Logged) -> None:
        if repo not in self.hub.repos:
            return self._error(404, "RepoNotFound", "Repository not found")
        files = self.hub.repos[repo]
        self._json({"id": repo, "modelId": repo, "sha": self.hub.commits[repo], "private": False, "gated": False,
                    "siblings": [{"rfilename": name} for name in files]}, entry)

    def _tree(self, repo: str, entry: Logged) -> None:
        if repo not in self.hub.repos:
            return self._error(404, "RepoNotFound", "Repository not found")
        listing = []
        for name, data in self.hub.repos[repo].items():
            item = {"type": "file", "path": name, "size": len(data), "oid": hashlib.sha1(data).hexdigest()}
            if name.endswith(".safetensors"):
                item["lfs"] = {"oid": etag(data), "size": len(data), "pointerSize": 134}
            listing.append(item)
        self._json(listing, entry)

    def _file(self, repo: str, name: str, body: bool, entry: Logged) -> None:
        if repo not in self.hub.repos:
            return self._error(404, "RepoNotFound", "Repository not found")
        data = self.hub.repos[repo].get(name)
        if data is None:
            return self._error(404, "EntryNotFound", f"{name} does not exist", commit=self.hub.commits[repo])
        start = 0
        match = re.match(r"bytes=(\d+)-", self.headers.get("Range") or "")
        if match:
            start = int(match.group(1))
        self.send_response(206 if start else 200)
        self.send_header("X-Repo-Commit", self.hub.commits[repo])
        self.send_header("ETag", f'"{etag(data)}"')
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Length", str(len(data) - start))
        if start:
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        self.end_headers()
        if body:
            self._stream(name, data[start:], entry)
        else:
            entry.complete = True

    def _stream(self, name: str, data: bytes, entry: Logged) -> None:
        drop = self.hub.drop_after.pop(name, None)
        try:
            for i in range(0, len(data), self.hub.piece):
                piece = data[i : i + self.hub.piece]
                if drop is not None and entry.sent + len(piece) > drop:
                    piece = piece[: drop - entry.sent]
                    self.wfile.write(piece)
                    entry.sent += len(piece)
                    self.wfile.flush()
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                self.wfile.write(piece)
                self.wfile.flush()
                entry.sent += len(piece)
                if self.hub.delay:
                    time.sleep(self.hub.delay)
            entry.complete = True
        except (BrokenPipeError, ConnectionResetError, OSError):
            self.close_connection = True  # the client hung up (a cancel): entry.sent says how far it got

    def _json(self, value, entry: Logged) -> None:
        payload = json.dumps(value).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)
        entry.sent, entry.complete = len(payload), True

    def _error(self, status: int, code: str, message: str, commit: str | None = None) -> None:
        payload = json.dumps({"error": message}).encode()
        self.send_response(status)
        self.send_header("X-Error-Code", code)
        self.send_header("X-Error-Message", message)
        if commit:
            self.send_header("X-Repo-Commit", commit)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)
