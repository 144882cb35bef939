"""Install a backend published on PyPI into its own virtual environment.

Some backends are Python applications (Arize Phoenix): they are installed with pip into
``<cache>/<name>-<version>/venv``, a virtual environment of their own, so their pinned
dependencies never mix with the project's. The installation is complete when
``install-info.json`` exists next to the ``venv`` directory (written last); an interrupted
install is wiped and redone.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class VenvSpec:
    """A PyPI distribution pinned to one version, and the command it installs."""

    name: str
    version: str
    requirement: str
    executable: str

    @property
    def key(self) -> str:
        return f"{self.name}-{self.version}"


def executable_path(root: Path, spec: VenvSpec) -> Path:
    return root / spec.key / "venv" / "bin" / spec.executable


def is_installed(root: Path, spec: VenvSpec) -> bool:
    return (root / spec.key / "install-info.json").is_file() and os.access(
        executable_path(root, spec), os.X_OK
    )


def install(root: Path, spec: VenvSpec, *, timeout: float, log: bool) -> tuple[bool, str]:
    """Create the environment and pip-install the pinned requirement into it.

    Returns ``(ok, output)``; the caller holds the lock and turns failures into errors.
    """
    target = root / spec.key
    shutil.rmtree(target / "venv", ignore_errors=True)
    target.mkdir(parents=True, exist_ok=True)
    venv = target / "venv"
    if log:
        print(f"installing {spec.requirement} into {venv} (minutes the first time)...",
              file=sys.stderr)
    started = time.monotonic()
    steps = [
        [sys.executable, "-m", "venv", str(venv)],
        [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet",
         "--disable-pip-version-check", spec.requirement],
    ]
    output = ""
    for command in steps:
        remaining = max(1.0, timeout - (time.monotonic() - started))
        try:
            proc = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                  text=True, timeout=remaining, check=False)
        except subprocess.TimeoutExpired:
            return False, f"{command[0]} timed out after {timeout:.0f}s"
        output += proc.stdout
        if proc.returncode != 0:
            return False, output
    info = {"name": spec.name, "version": spec.version, "requirement": spec.requirement,
            "python": sys.version.split()[0],
            "install_seconds": round(time.monotonic() - started, 1)}
    (target / "install-info.json").write_text(json.dumps(info, indent=2) + "\n")
    if log:
        print(f"installed {spec.key} in {info['install_seconds']:.0f}s", file=sys.stderr)
    return True, output
