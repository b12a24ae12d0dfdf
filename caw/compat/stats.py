"""``FastStats``: a trajectory file's totals (cost, tokens, model, times), as caw 0.1.9 has it.

caw's trajectory files parse fast enough with pydantic that the whole file is read (0.1.9 read
only the head and tail); the result and the API are 0.1.9's. Reads caw's and 0.1.9's files.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ..models import Trajectory


@dataclass
class FastStats:
    path: Path | None = None
    agent: str = ""
    model: str = ""
    session_id: str = ""
    created_at: str = ""
    completed_at: str = ""
    usage_limited: bool = False
    duration_ms: int = 0
    cost_usd: float = 0.0
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["path"] = str(self.path) if self.path is not None else None
        return data

    @classmethod
    def from_trajectory(
        cls, trajectory: Trajectory, *, path: str | Path | None = None
    ) -> FastStats:
        usage = trajectory.total_usage
        return cls(
            path=Path(path) if path is not None else None, agent=trajectory.agent,
            model=trajectory.model or "", session_id=trajectory.session_id,
            created_at=trajectory.created_at.isoformat(),
            completed_at=trajectory.completed_at.isoformat() if trajectory.completed_at else "",
            usage_limited=trajectory.usage_limited, duration_ms=trajectory.duration_ms,
            cost_usd=usage.cost_usd or 0.0, input_tokens=usage.input_tokens,
            output_tokens=usage.output_tokens, cache_read_tokens=usage.cache_read_tokens,
            cache_write_tokens=usage.cache_write_tokens,
        )  # fmt: skip

    @classmethod
    def from_path(cls, path: str | Path) -> FastStats | None:
        """The file's stats, or None if it is missing, empty or not a trajectory."""
        try:
            text = Path(path).read_text(encoding="utf-8")
            trajectory = Trajectory.model_validate_json(text)
        except (OSError, UnicodeDecodeError, ValidationError, ValueError):
            return None
        return cls.from_trajectory(trajectory, path=path)

    @classmethod
    def iter_directory(
        cls,
        directory: str | Path,
        *,
        patterns: Iterable[str] = ("**/trajectory.json", "**/*.traj.json"),
        skip_parts: Iterable[str] = (),
    ) -> Iterator[FastStats]:
        """Every readable trajectory file under ``directory`` (unreadable ones are skipped)."""
        root = Path(directory)
        if not root.is_dir():
            return
        skip = set(skip_parts)
        seen: set[Path] = set()
        for pattern in patterns:
            for file in sorted(root.glob(pattern)):
                if file in seen or file.is_symlink() or not file.is_file():
                    continue
                seen.add(file)
                if skip and skip.intersection(file.relative_to(root).parts):
                    continue
                stats = cls.from_path(file)
                if stats is not None:
                    yield stats

    @classmethod
    def directory_total_cost(cls, directory: str | Path, **kwargs: Any) -> float:
        return sum(stats.cost_usd for stats in cls.iter_directory(directory, **kwargs))
