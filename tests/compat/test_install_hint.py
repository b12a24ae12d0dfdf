"""The install hint works: caw's distribution is ``coding-agent-wrapper`` (caw 0.1.9's name on
PyPI; ``caw`` there is an unrelated project without ``caw-server``), and every hint in the
repository says so.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import caw

REPO = Path(__file__).resolve().parents[2]
HINT = "pip install coding-agent-wrapper"
# What users read and copy: the clients, the READMEs, the docs, the library and the daemon.
HINT_ROOTS = ("clients/", "docs/", "caw/", "server/")
# Build output, and the clients' own tests (which spell the old hint to forbid it).
SKIP_PARTS = {"node_modules", "out", "dist", ".vscode-test", "__pycache__", "test", "tests"}
# `pip install caw`, `pipx install caw`, `uv tool install caw`, with flags between
# (`-U`, `--user`...), but not `caw-server`, `caw.x` or `-e .`.
OLD_HINT = re.compile(
    r"\b(?:pipx?|uv\s+tool|uv\s+pip)\s+install\s+(?:-{1,2}[\w-]+\s+)*caw(?![\w.-])"
)


def test_the_distribution_is_coding_agent_wrapper() -> None:
    text = (REPO / "pyproject.toml").read_text(encoding="utf-8")
    assert re.search(r'(?m)^name = "coding-agent-wrapper"$', text)


@pytest.mark.timeout(600)
def test_the_hint_installs_caw_server_and_caw_from_a_wheel_of_this_checkout(
    tmp_path: Path,
) -> None:
    wheels = tmp_path / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(wheels), str(REPO)],
        check=True, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    built = [p.name for p in wheels.glob("*.whl")]
    assert built == [f"coding_agent_wrapper-{caw.__version__}-py3-none-any.whl"], built
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    # The venv's own packages only: no PYTHONPATH pointing back at a checkout.
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    # The hint's command as written, with this checkout's wheel beside the configured index (which
    # serves the dependencies, and also has caw 0.1.9 under this name: the version check below
    # proves the wheel won).
    done = subprocess.run(
        [str(venv / "bin" / "python"), "-m", *HINT.split(), "--find-links", str(wheels)],
        capture_output=True, text=True, timeout=500, check=False, env=env,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    for command in ("caw-server", "caw", "caw-traj"):
        assert (venv / "bin" / command).is_file(), command
    version = subprocess.run(
        [str(venv / "bin" / "caw-server"), "--version"],
        capture_output=True, text=True, timeout=60, check=True, env=env,
    )  # fmt: skip
    assert caw.__version__ in version.stdout + version.stderr
    imported = subprocess.run(
        [
            str(venv / "bin" / "python"), "-c",
            "import importlib.metadata as m, caw; print(m.version('coding-agent-wrapper'), caw.__file__)",
        ],
        capture_output=True, text=True, timeout=60, check=True, cwd=tmp_path, env=env,
    )  # fmt: skip
    dist_version, module = imported.stdout.split()
    assert dist_version == caw.__version__
    assert Path(module).is_relative_to(venv)  # the wheel's copy, not this checkout


def hint_files() -> list[Path]:
    """The files users read install hints in: tracked and new (not ignored) ones."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=REPO, capture_output=True, text=True, check=True,
    ).stdout.splitlines()  # fmt: skip
    return [
        REPO / name
        for name in listed
        if (name.startswith(HINT_ROOTS) or ("/" not in name and name.startswith("README")))
        and not SKIP_PARTS.intersection(Path(name).parts)
        and (REPO / name).is_file()
    ]


def test_no_install_hint_names_the_old_distribution() -> None:
    files = hint_files()
    assert any(f.name == "README.md" for f in files) and len(files) > 50  # the listing works
    left = [
        f"{path.relative_to(REPO)}:{number}: {line.strip()}"
        for path in files
        for number, line in enumerate(
            path.read_text(encoding="utf-8", errors="replace").splitlines(), 1
        )
        if OLD_HINT.search(line)
    ]
    assert not left, "install hints that name `caw` instead of coding-agent-wrapper:\n" + "\n".join(
        left
    )


@pytest.mark.parametrize(
    ("line", "old"),
    [
        ("Install caw (pip install caw) in the workspace", True),
        ("`pipx install caw`", True),
        ("pip install -U caw", True),
        ("pip install coding-agent-wrapper", False),
        ("pip install -e . in a clone", False),
        ("pip install caw-server-tools", False),
    ],
)
def test_the_old_hint_pattern(line: str, old: bool) -> None:
    assert bool(OLD_HINT.search(line)) is old
