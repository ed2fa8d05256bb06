"""`mmdream serve`: the studio on this machine's loopback by default; anything wider is said out loud."""

from __future__ import annotations

import os
import sys
from pathlib import Path

LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


def address_line(host: str, port: int) -> str:
    """What `mmdream serve` prints first: where the studio is and who can reach it."""
    url_host = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    if host in LOCAL_HOSTS:
        return f"mmdream studio: http://{url_host}:{port} (this machine only; --host 0.0.0.0 shares it)"
    return f"mmdream studio: http://{url_host}:{port} (listening on {host})"


def exposure_warning(host: str, shared: Path | None) -> str | None:
    """The one-line warning for a studio others can reach."""
    if host in LOCAL_HOSTS:
        return None
    where = f"; it reads and writes {shared}" if shared else ""
    return (f"mmdream: warning: --host {host} lets anyone who can reach this machine use the studio and its "
            f"CPU{where}")


def check_port_free(host: str, port: int) -> None:
    """A taken port is the user's to change: say so in one line (before the page is built)."""
    import socket

    from mmdream.errors import UserError

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        try:
            s.bind((host, port))
        except OSError as e:
            raise UserError(f"cannot listen on {host}:{port} ({e.strerror}); choose another --port") from None


def serve(host: str = "127.0.0.1", port: int = 7860, share_folder: str | None = None) -> None:
    """Start the studio and block until interrupted."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # no calls home from an offline tool
    try:
        import gradio as gr
    except ImportError:
        from mmdream.errors import UserError

        raise UserError("the studio needs Gradio: pip install 'mmdream[studio]'") from None

    from mmdream.studio.page import build_page
    from mmdream.studio.requests import Studio

    check_port_free(host, port)
    studio = Studio.create(share_folder)
    page = build_page(studio)
    page.queue(default_concurrency_limit=1)
    print(address_line(host, port), flush=True)
    if (warning := exposure_warning(host, studio.shared)) is not None:
        print(warning, file=sys.stderr, flush=True)
    print(f"dreams are written to {studio.outputs}", flush=True)
    allowed = [str(studio.outputs), *([str(studio.shared)] if studio.shared else [])]
    theme = gr.themes.Default(font=["ui-sans-serif", "system-ui", "sans-serif"],
                              font_mono=["ui-monospace", "monospace"])  # no web fonts: the studio works offline
    page.launch(server_name=host, server_port=port, allowed_paths=allowed, quiet=True, show_error=True,
                theme=theme, footer_links=["api"])
