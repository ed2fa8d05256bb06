"""The gate in front of every request the studio answers (ASGI middleware around Gradio's app).

- **Hosts**: a request whose `Host` is not this server's own name or address is refused, so a page on another site
  cannot reach the studio through a name it rebinds to this machine; `--allowed-hosts` adds the names a proxy uses.
- **Routes**: every route of Gradio's app is named in `ROUTES` by what it serves. The routes that send a server file
  by its path answer only for media the studio may serve (mmdream.studio.files), as an attachment of the type the
  file's bytes say; the routes the studio never uses (a proxy, run history, monitoring, stream files, ...) and any
  route this table does not name answer 404. The route is found as Gradio's router finds it (its template, not one
  spelling of its path), before the request reaches it, and again from the route that answered.
- **Logins**: after `FREE_TRIES` failed logins from one address, the next is answered only after a delay that
  doubles with each further failure.
- **Headers**: every answer says `nosniff`; the page may not be framed and runs only the studio's own scripts.
- **Uploads**: a request announcing more than `--max-upload` bytes is refused before it is read.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from pathlib import Path

from starlette.routing import compile_path

log = logging.getLogger("mmdream.studio")

MEDIA, PAGE, API, REFUSED = "media", "page", "api", "refused"
# Every route of Gradio's app (templates without a trailing slash), by what it serves. A route missing here is
# refused; tests/test_studio_gate.py lists the app's routes and fails on one this table does not name.
ROUTES: dict[str, str] = {
    # a server file by its path: media the studio may serve, as an attachment
    "/gradio_api/file={path_or_url:path}": MEDIA, "/gradio_api/file/{path:path}": MEDIA,
    # the page and Gradio's own built files (from Gradio's package)
    **dict.fromkeys(["/", "/svelte/{path:path}", "/static/{path:path}", "/assets/{path:path}", "/favicon.ico",
                     "/theme.css", "/gradio_api/theme.css", "/robots.txt", "/pwa_icon/{size}", "/pwa_icon",
                     "/manifest.json"], PAGE),
    # the page's API: its configuration, logins, queue, uploads and calls (JSON and event streams, no files)
    **dict.fromkeys(["/config", "/openapi.json", "/gradio_api/openapi.json", "/login", "/logout", "/gradio_api/user",
                     "/gradio_api/login_check", "/gradio_api/token", "/gradio_api/app_id", "/gradio_api/info",
                     "/gradio_api/startup-events", "/gradio_api/heartbeat/{session_hash}", "/gradio_api/queue/join",
                     "/gradio_api/queue/data", "/gradio_api/queue/status", "/gradio_api/cancel", "/gradio_api/upload",
                     "/gradio_api/upload_progress", "/gradio_api/reset", "/gradio_api/api/{api_name}",
                     "/gradio_api/run/{api_name}", "/gradio_api/call/{api_name}",
                     "/gradio_api/call/{api_name}/{event_id}", "/gradio_api/call/v2/{api_name}",
                     "/gradio_api/call/v2/{api_name}/{event_id}", "/gradio_api/component_server",
                     "/gradio_api/process_recording", "/gradio_api/stream/{event_id}",
                     "/gradio_api/stream/{event_id}/close", "/gradio_api/deep_link"], API),
    # never used by the studio: files by other names, requests to other servers, run history, monitoring, editing
    **dict.fromkeys(["/gradio_api/proxy={url_path:path}",
                     "/gradio_api/custom_component/{id}/{environment}/{type}/{file_name}",
                     "/gradio_api/stream/{session_hash}/{run}/{component_id}/playlist.m3u8",
                     "/gradio_api/stream/{session_hash}/{run}/{component_id}/{segment_id}.{ext}",
                     "/gradio_api/stream/{session_hash}/{run}/{component_id}/playlist-file", "/gradio_api/runs",
                     "/gradio_api/run-history/connect", "/gradio_api/run-history/buckets",
                     "/gradio_api/run-history/records",
                     "/gradio_api/run-history/records/{endpoint}/{record_id}/assets/{asset_id}", "/monitoring",
                     "/monitoring/summary", "/monitoring/{key}", "/gradio_api/dev/reload", "/gradio_api/vibe-edit",
                     "/gradio_api/undo-vibe-edit", "/gradio_api/vibe-code", "/gradio_api/vibe-starter-queries"],
                    REFUSED),
}
LOGIN = "/login"
# Routes judged before they run (a refused one may reach out to another server; a file route reads the file).
_MATCHERS = [(template, compile_path(template)[0]) for template, kind in ROUTES.items()
             if kind in (MEDIA, REFUSED) or template == LOGIN]

# The page runs only its own scripts and styles (Gradio's page inlines some), talks only to this server, and may
# not be framed by another page.
CSP = ("default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
       "img-src 'self' data: blob:; media-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'; "
       "worker-src 'self' blob:; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'")
HEADERS = [(b"x-content-type-options", b"nosniff"), (b"x-frame-options", b"DENY"),
           (b"content-security-policy", CSP.encode()), (b"referrer-policy", b"no-referrer")]
FREE_TRIES = 5  # failed logins from one address before each further one waits
MAX_WAIT_S = 600.0
LOOPBACK = ("127.0.0.1", "localhost", "::1")


def route_kind(template: str) -> str:
    """What a route serves, by its template (REFUSED for one `ROUTES` does not name)."""
    return ROUTES.get(template.rstrip("/") or "/", REFUSED)


def own_names(host: str, extra: Iterable[str] = ()) -> frozenset[str]:
    """The names a browser may use for this server listening on `host`: the loopback names for a loopback address,
    the machine's own names and addresses for any other, and `extra` (a proxy's)."""
    names = {host.lower(), *(h.lower() for h in extra)}
    if host in LOOPBACK or _is_loopback(host):
        names.update(LOOPBACK)
    else:
        machine = socket.gethostname()
        names.update({machine.lower(), socket.getfqdn().lower(), "localhost", *LOOPBACK})
    return frozenset(names)


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def host_of(header: str) -> str:
    """The name in a `Host` header, without its port (an IPv6 address without its brackets)."""
    header = header.strip().lower()
    if header.startswith("["):
        return header[1:header.find("]")] if "]" in header else header
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


def host_allowed(header: str | None, listening: str, names: frozenset[str]) -> bool:
    """A request's `Host` is this server: one of its names, or an address it answers on (an address cannot be
    rebound to another site's page; a name can)."""
    if not header:
        return False
    host = host_of(header)
    if host in names:
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback or listening in ("0.0.0.0", "::") or host == listening


class LoginThrottle:
    """Failed logins per client address: after `FREE_TRIES`, each further attempt waits 2^(failures - FREE_TRIES)
    seconds (at most `MAX_WAIT_S`) after the last failure; a success clears the count. Bounded: the oldest
    addresses are forgotten first."""

    def __init__(self, keep: int = 10_000) -> None:
        self.failures: OrderedDict[str, tuple[int, float]] = OrderedDict()
        self.keep, self.lock = keep, threading.Lock()

    def wait(self, client: str, now: float | None = None) -> float:
        """Seconds `client` must still wait before a login is answered (0: now)."""
        count, last = self.failures.get(client, (0, 0.0))
        if count < FREE_TRIES:
            return 0.0
        return max(0.0, last + min(2.0 ** (count - FREE_TRIES), MAX_WAIT_S) - (now or time.monotonic()))

    def record(self, client: str, ok: bool) -> None:
        with self.lock:
            if ok:
                self.failures.pop(client, None)
                return
            count, _ = self.failures.pop(client, (0, 0.0))
            self.failures[client] = (count + 1, time.monotonic())
            while len(self.failures) > self.keep:
                self.failures.popitem(last=False)


class Gate:
    """The ASGI middleware (see the module's docstring). `served_type(path)`: the media type a visitor may fetch
    `path` as, or None; `names`: this server's names (`own_names`)."""

    def __init__(self, app, served_type: Callable[[Path], str | None], max_upload: int, upload_line: str,
                 listening: str = "127.0.0.1", names: frozenset[str] = frozenset(LOOPBACK)) -> None:
        self.app, self.served_type, self.max_upload, self.upload_line = app, served_type, max_upload, upload_line
        self.listening, self.names, self.logins = listening, names, LoginThrottle()
        self.unnamed: set[str] = set()

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        headers = dict(scope["headers"])
        if not host_allowed(headers.get(b"host", b"").decode("latin-1"), self.listening, self.names):
            if scope["type"] == "websocket":
                return await send({"type": "websocket.close", "code": 1008})
            return await _plain(send, scope, 421, "mmdream: error: this studio answers only to its own address")
        if scope["type"] == "websocket":
            return await self.app(scope, receive, send)
        length = headers.get(b"content-length", b"0")
        if length.isdigit() and int(length) > self.max_upload:
            return await _plain(send, scope, 413, self.upload_line)
        client = (scope.get("client") or ("?", 0))[0]
        template, params = _matched(scope["path"])
        kind = route_kind(template) if template else None
        if kind == REFUSED:
            return await _plain(send, scope, 404, "not found")
        if kind == MEDIA and self.signed_in(scope) and self._media(params) is None:
            return await _plain(send, scope, 404, "not found")
        if template == LOGIN and scope["method"] == "POST" and (wait := self.logins.wait(client)) > 0:
            return await _plain(send, scope, 429, f"mmdream: error: too many failed logins from this address; try "
                                                  f"again in {wait:.0f} s")
        return await self.app(scope, receive, self._answering(scope, send, client))

    def _answering(self, scope, send, client: str):
        """`send` for the app's answer: judged again by the route that answered, with the gate's headers."""
        replaced = False

        async def guarded(message) -> None:
            nonlocal replaced
            if message["type"] != "http.response.start":
                if not replaced:
                    await send(message)
                return
            verdict, extra = self._verdict(scope, message["status"], client)
            if verdict is not None:
                replaced = True
                return await _plain(send, scope, *verdict)
            kept = [(k, v) for k, v in message.get("headers", [])
                    if k.lower() not in {name for name, _ in HEADERS + extra}]
            await send({**message, "headers": kept + HEADERS + extra})

        return guarded

    def _verdict(self, scope, status: int, client: str) -> tuple[tuple[int, str] | None, list]:
        """(None, extra headers) to send the app's answer, or ((status, text), []) to answer that instead."""
        route = scope.get("route")
        template = getattr(route, "path", None)
        if template is None:  # no route matched: the app's own 404
            return None, []
        kind = route_kind(template)
        if template.rstrip("/") == LOGIN and scope["method"] == "POST" and status in (200, 400, 401):
            self.logins.record(client, ok=status == 200)
        if kind == REFUSED:
            if template not in self.unnamed and template.rstrip("/") not in ROUTES:
                self.unnamed.add(template)
                log.warning("refused a route the studio's gate does not name: %s", template)
            return (404, "not found"), []
        if kind != MEDIA or status == 401:
            return None, []
        media = self._media(scope.get("path_params") or {})
        if media is None or status not in (200, 206, 304):
            return (404, "not found"), []
        path, kind_of_file = media
        name = path.name.encode("ascii", "replace").replace(b'"', b"_")
        return None, [(b"content-type", kind_of_file.encode()),
                      (b"content-disposition", b'attachment; filename="' + name + b'"')]

    def _media(self, params: dict) -> tuple[Path, str] | None:
        """The file a file route was asked for and its media type, if a visitor may fetch it (an absolute path)."""
        value = next(iter(params.values()), None) if len(params) == 1 else None
        if not isinstance(value, str) or not value.startswith("/") or "\0" in value:
            return None
        path = Path(value)
        kind = self.served_type(path)
        return None if kind is None else (path, kind)

    @staticmethod
    def signed_in(scope) -> bool:
        """Whether the request carries a login Gradio gave (always, where the studio asks for none). Where Gradio's
        token store cannot be read, no one counts as signed in: the file routes then answer 401, never 404."""
        app = scope.get("app")
        if getattr(app, "auth", None) is None and getattr(app, "auth_dependency", None) is None:
            return True
        try:
            cookies = dict(part.strip().split("=", 1) for part in
                           dict(scope["headers"]).get(b"cookie", b"").decode("latin-1").split(";") if "=" in part)
            names = (f"access-token-{app.cookie_id}", f"access-token-unsecure-{app.cookie_id}")
            return any(cookies.get(n) in app.tokens for n in names)
        except (AttributeError, TypeError, ValueError):
            return False


def _matched(path: str) -> tuple[str | None, dict]:
    """The judged route (see `_MATCHERS`) a request's path reaches, as Gradio's router matches it, and its
    parameters."""
    for candidate in dict.fromkeys([path, path.rstrip("/") or "/"]):  # Gradio names most routes with and without "/"
        for template, regex in _MATCHERS:
            if m := regex.match(candidate):
                return template, m.groupdict()
    return None, {}


async def _plain(send, scope, status: int, text: str) -> None:
    body = b"" if scope.get("method") == "HEAD" else text.encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                            (b"content-length", str(len(body)).encode()), *HEADERS]})
    await send({"type": "http.response.body", "body": body})
