"""The portable session bundle ``caw sessions export`` writes and ``import`` reads.

One JSON document (format ``caw-session-bundle``, version 1): the trajectory, the backend's own
transcript (see transcripts.py), the CLI version that wrote it, optionally the resume handle,
and a SHA-256 digest over all of it. Import refuses a bundle whose digest does not match (it
was altered or cut), whose format version it does not know, or whose CLI major.minor version
differs from the one installed here (transcript formats change between CLI releases).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError

from .. import __version__
from ..models import CawModel, Trajectory, utcnow
from ..providers import provider_class
from .transcripts import TranscriptFile

FORMAT: Literal["caw-session-bundle"] = "caw-session-bundle"
VERSION = 1


class BundleError(ValueError):
    """A bundle this caw will not import; the message says why."""


class BundleFile(CawModel):
    path: str
    encoding: Literal["utf-8", "base64"]
    content: str

    @classmethod
    def of(cls, item: TranscriptFile) -> BundleFile:
        try:
            return cls(path=item.relpath, encoding="utf-8", content=item.data.decode("utf-8"))
        except UnicodeDecodeError:
            return cls(
                path=item.relpath, encoding="base64", content=base64.b64encode(item.data).decode()
            )

    def data(self) -> bytes:
        if self.encoding == "base64":
            return base64.b64decode(self.content)
        return self.content.encode("utf-8")


class Transcript(CawModel):
    """The backend's record of the conversation, as that CLI keeps it."""

    backend_id: str = Field(description="The backend's id of the conversation (its resume key)")
    cli_version: str | None
    files: list[BundleFile]


class Bundle(CawModel):
    format: Literal["caw-session-bundle"] = FORMAT
    version: int = VERSION
    caw_version: str = __version__
    exported_at: str = Field(default_factory=lambda: utcnow().isoformat())
    provider: str
    trajectory: dict[str, Any]
    transcript: Transcript | None = None
    #: The resume handle, only when exported with --include-handle.
    handle: str | None = None
    digest: str = ""

    def compute_digest(self) -> str:
        body = self.model_dump(mode="json", by_alias=True, exclude={"digest"})
        canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return "sha256:" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()

    def sealed(self) -> Bundle:
        return self.model_copy(update={"digest": self.compute_digest()})


def write_bundle(bundle: Bundle, path: Path) -> None:
    """Write owner-only (0600): the bundle holds the conversation, maybe the handle."""
    text = bundle.sealed().model_dump_json(by_alias=True, indent=1)
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def read_bundle(path: Path) -> Bundle:
    """Parse and check a bundle; every refusal is a BundleError saying why."""
    try:
        raw: Any = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise BundleError(f"{path} is not a caw session bundle (not JSON)") from None
    if not isinstance(raw, dict) or raw.get("format") != FORMAT:
        raise BundleError(f"{path} is not a caw session bundle")
    if raw.get("version") != VERSION:
        raise BundleError(
            f"{path} is a bundle of format version {raw.get('version')!r}; this caw reads version {VERSION}"
        )
    try:
        bundle = Bundle.model_validate(raw)
    except ValidationError as exc:
        raise BundleError(f"{path} is a damaged bundle: {exc.errors()[0]['msg']}") from None
    if not bundle.digest or bundle.digest != bundle.compute_digest():
        raise BundleError(
            f"{path} was altered after export (its digest does not match its content); refusing it"
        )
    try:
        Trajectory.model_validate(bundle.trajectory)
    except ValidationError:
        raise BundleError(f"{path} holds no valid trajectory") from None
    return bundle


_VERSION_RE = re.compile(r"(\d+)\.(\d+)\.(\d+)")


def installed_cli_version(provider: str, env: Mapping[str, str]) -> str | None:
    """``major.minor.patch`` of the provider's CLI here, or None if it is not installed."""
    cli = provider_class(provider).find_cli(dict(env))
    if cli is None:
        return None
    try:
        out = subprocess.run(
            [cli, "--version"], env=dict(env), capture_output=True, text=True, timeout=30,
            stdin=subprocess.DEVNULL,
        )  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return None
    found = _VERSION_RE.search(out.stdout or out.stderr or "")
    return found.group(0) if found else None


def check_compatible(bundle: Bundle, here: str | None) -> None:
    """Refuse a transcript written by another major.minor release of the CLI."""
    if bundle.transcript is None:
        return
    name = provider_class(bundle.provider).cli
    if here is None:
        raise BundleError(f"the `{name}` CLI is not installed here; the bundle needs it")
    theirs = bundle.transcript.cli_version
    if theirs is None:
        raise BundleError("the bundle does not say which CLI version wrote its transcript")
    if theirs.split(".")[:2] != here.split(".")[:2]:
        raise BundleError(
            f"the bundle's transcript was written by {name} {theirs}, but {name} {here} is installed "
            "here; transcripts only move between the same major.minor release"
        )
