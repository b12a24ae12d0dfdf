"""caw's logging switch: ``CAW_LOG`` = off | info | debug | full (full also logs each turn's text).

caw logs to stderr under the ``caw`` logger. Resume handles are never logged, and the
handler redacts (:mod:`caw.redact`) what caw does not control: a CLI's stderr, URLs.
"""

from __future__ import annotations

import logging
import os

from .redact import RedactFilter

LEVELS = {"off": None, "info": logging.INFO, "debug": logging.DEBUG, "full": logging.DEBUG}


def configure_from_env() -> None:
    setting = os.environ.get("CAW_LOG", "").strip().lower()
    level = LEVELS.get(setting)
    if level is None:
        return
    logger = logging.getLogger("caw")
    if not any(getattr(h, "_caw", False) for h in logger.handlers):
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("caw %(levelname)s %(name)s: %(message)s"))
        handler.addFilter(RedactFilter())
        handler._caw = True  # type: ignore[attr-defined]
        logger.addHandler(handler)
    logger.setLevel(level)


def full_logging() -> bool:
    return os.environ.get("CAW_LOG", "").strip().lower() == "full"
