"""Guide "Trajectory viewer": start_viewer_server, url, check_status, stop."""

from __future__ import annotations

from caw.viewer import start_viewer_server

server = start_viewer_server()
assert server.url.startswith("http://"), server.url
assert server.check_status() is True
server.stop()
assert server.check_status() is False
print("ok")
