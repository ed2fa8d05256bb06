"""`mmdream serve`: the studio on this machine's loopback by default; anything wider is said out loud."""

from __future__ import annotations

import contextlib
import gc
import os
import signal
import sys
from pathlib import Path

from mmdream.errors import UserError
from mmdream.studio.visitors import Studio

LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


def address_line(host: str, port: int) -> str:
    """What `mmdream serve` prints first: where the studio is and who can reach it."""
    url_host = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    if host in LOCAL_HOSTS:
        return f"mmdream studio: http://{url_host}:{port} (this machine only; --host 0.0.0.0 shares it)"
    return f"mmdream studio: http://{url_host}:{port} (listening on {host})"


def exposure_warning(host: str, shared: Path | None, logins: list | None) -> str | None:
    """The one-line warning for a studio others can reach."""
    if host in LOCAL_HOSTS:
        return None
    who = "anyone with a login" if logins else "anyone who can reach this machine"
    where = f"; it reads and writes {shared}" if shared else ""
    return f"mmdream: warning: --host {host} lets {who} use the studio and its CPU{where}"


AUTH_VARIABLE = "MMDREAM_STUDIO_AUTH"  # USER:PASSWORD or a file of such lines, kept off the command line


def logins(host: str, auth: str | None, no_auth: bool) -> list[tuple[str, str]] | None:
    """The page's logins from `--auth USER:PASSWORD`, a file of such lines, or the same in $MMDREAM_STUDIO_AUTH (a
    password given on the command line shows in the process list); a studio open to the network needs them unless
    `--no-auth` says it is meant. Errors never repeat a password."""
    if auth is None and not no_auth:
        auth = os.environ.get(AUTH_VARIABLE) or None
    if auth is None:
        if host not in LOCAL_HOSTS and not no_auth:
            raise UserError(f"--host {host} opens the studio to the network: give --auth USER:PASSWORD (or a file "
                            "of such lines) for a login, or --no-auth to open it without one")
        return None
    path = Path(auth).expanduser()
    if ":" not in auth or path.is_file():
        if not path.is_file():
            raise UserError("--auth needs USER:PASSWORD or a file of USER:PASSWORD lines")
        try:
            text = path.read_text()
        except (OSError, UnicodeDecodeError) as e:
            raise UserError(f"--auth {path} cannot be read ({e.__class__.__name__})") from None
        source = [(f"line {n} of {path}", line.strip()) for n, line in enumerate(text.splitlines(), 1)
                  if line.strip() and not line.strip().startswith("#")]
        if not source:
            raise UserError(f"--auth {path} holds no USER:PASSWORD line")
    else:
        source = [("--auth", auth)]
    found = []
    for where, line in source:
        user, _, password = line.partition(":")
        if not user or not password:
            raise UserError(f"--auth: {where} is not USER:PASSWORD (both non-empty)")
        found.append((user, password))
    return found


def check_port_free(host: str, port: int) -> None:
    """A taken port, or a host name this machine is not (or cannot resolve), is the user's to change: say which in
    one line (before the page is built)."""
    import errno
    import socket

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        try:
            s.bind((host, port))
        except OSError as e:
            flag = "--port" if e.errno in (errno.EADDRINUSE, errno.EACCES) else "--host"
            raise UserError(f"cannot listen on {host}:{port} ({e.strerror}); choose another {flag}") from None


def serve(**options) -> None:
    """Start the studio (`mmdream serve`'s options, mmdream.options) and block until stopped (Ctrl-C or SIGTERM),
    then remove what it kept in the temporary folder. `ray`: the cluster the Film tab may render on (each render
    joins it and leaves again), its tasks asking for `task_resources`; `allowed_hosts`: names besides its own that
    requests may be addressed to (a proxy's)."""
    from mmdream.specs import make_spec

    spec = make_spec("serve", options)
    for flag, folder in (("--share-folder", spec.share_folder), ("--examples-folder", spec.examples_folder)):
        if folder and not Path(folder).expanduser().is_dir():
            raise UserError(f"{flag} {folder} is not a folder")
    allowed_logins = logins(spec.host, spec.auth, spec.no_auth)
    if spec.ray:
        from mmdream.checks import cluster_options
        from mmdream.options import BY_NAME

        cluster_options(spec.ray, None, None, BY_NAME["max_segment"].default, 0.0, spec.task_resources)
    extra_hosts = [h.strip() for h in (spec.allowed_hosts or "").split(",") if h.strip()]
    check_port_free(spec.host, spec.port)
    studio = Studio.create(spec.share_folder, spec.ray, spec.task_resources, spec.max_live, spec.live_minutes,
                           spec.examples_folder)
    try:
        with stopped_by_sigterm():
            _serve(studio, spec.host, spec.port, allowed_logins, spec.max_upload, spec.max_queue, extra_hosts)
    finally:
        studio.remove_temporary()


@contextlib.contextmanager
def stopped_by_sigterm():
    """SIGTERM (a service manager's stop) ends the studio as Ctrl-C does: cleanly, its temporary folders removed."""
    def interrupt(_signum, _frame):
        raise KeyboardInterrupt

    before = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, before)


def _serve(studio: Studio, host: str, port: int, allowed_logins: list | None, max_upload: int, max_queue: int,
           extra_hosts: list[str]) -> None:
    os.environ["GRADIO_TEMP_DIR"] = str(studio.uploads)  # uploads and Gradio's copies: private, pruned hourly
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # no calls home from an offline tool
    try:
        import gradio as gr
        from starlette.middleware import Middleware
    except ImportError:
        raise UserError("the studio needs Gradio: pip install 'mmdream[studio]'") from None

    from mmdream.studio.gate import Gate, own_names
    from mmdream.studio.page import build_page

    page = build_page(studio)
    gc.freeze()  # what start-up loaded (TensorFlow, Gradio) stays: each request's collection looks only at the new
    page.queue(default_concurrency_limit=1, max_size=max_queue, api_open=False)  # no dream around the queue
    print(address_line(host, port), flush=True)
    if (warning := exposure_warning(host, studio.shared, allowed_logins)) is not None:
        print(warning, file=sys.stderr, flush=True)
    print(f"dreams are written to {studio.outputs}" + ("" if studio.shared else " (removed when the studio stops)"),
          flush=True)
    allowed = [str(studio.outputs), *([str(studio.shared)] if studio.shared else [])]
    theme = gr.themes.Default(font=["ui-sans-serif", "system-ui", "sans-serif"],
                              font_mono=["ui-monospace", "monospace"])  # no web fonts: the studio works offline
    gate = Middleware(Gate, served_type=studio.served_type, max_upload=max_upload * 1_000_000,
                      upload_line=f"mmdream: error: an upload may be at most {max_upload} MB", listening=host,
                      names=own_names(host, extra_hosts))
    page.launch(server_name=host, server_port=port, allowed_paths=allowed, quiet=True, show_error=True,
                theme=theme, footer_links=["api"], auth=allowed_logins, max_file_size=f"{max_upload}mb",
                run_history=False, app_kwargs={"middleware": [gate]})
