"""``caw viewer``: the local web UI over a data dir (127.0.0.1 only, a token in its URL)."""

from __future__ import annotations

import argparse
import sys
import webbrowser

from .common import EXIT_OK, add_data_dir, data_dir_of


def viewer(ns: argparse.Namespace) -> int:
    from ..viewer import start_viewer_server

    server = start_viewer_server(port=ns.port, data_dir=data_dir_of(ns))
    # The URL carries the token: it goes to the terminal of the user who asked, nowhere else.
    print(f"caw viewer: {server.url}", flush=True)
    print(f"  over {server.data_dir}; Ctrl-C stops it", file=sys.stderr, flush=True)
    if not ns.no_browser:
        webbrowser.open(server.url)
    try:
        server.wait()
    except KeyboardInterrupt:
        server.stop()
    return EXIT_OK


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("viewer", help="a local web UI over the sessions of a data dir")
    p.add_argument("--port", type=int, default=None, help="a fixed port (default: a free one)")
    p.add_argument("--no-browser", action="store_true", help="print the URL, do not open it")
    add_data_dir(p)
    p.set_defaults(func=viewer)
