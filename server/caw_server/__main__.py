"""``caw-server`` / ``python -m caw_server``: serve the caw protocol on stdin/stdout."""

from __future__ import annotations

import sys

from . import logs
from .app import CawServer
from .options import from_args
from .runner import run
from .transport import claim_stdio


def main(argv: list[str] | None = None) -> int:
    options = from_args(argv)
    logs.setup(options.log_level)
    in_fd, out_fd = claim_stdio()
    server = CawServer(options)
    try:
        return run(server.serve(in_fd, out_fd))
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
