"""caw-server: the stdio JSON-RPC daemon over caw's async core (see protocol/README.md)."""

from .wire import PROTOCOL_VERSION

__all__ = ["PROTOCOL_VERSION"]
