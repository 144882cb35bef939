"""Build the native integration-test backends from pinned Go modules.

Usage::

    python integration/backends/build.py [jaeger|otelcol|phoenix|all] [--force]

Binaries land in a cache keyed by name and version, by default
``integration/.bin/<name>-<version>/`` (git-ignored). Set
``AGENT_OTLP_BACKEND_CACHE`` to use another directory. A binary that already
exists is not rebuilt (unless ``--force``).

Each backend is a small Go module under ``integration/backends/<name>/`` whose
``go.mod`` and ``go.sum`` pin every dependency, so builds are reproducible:

* ``jaeger``  - Jaeger v2 (``github.com/jaegertracing/jaeger/cmd/jaeger``),
  pulled in through a ``tool`` directive of a wrapper module.
* ``otelcol`` - a minimal OpenTelemetry Collector distribution (OTLP receiver;
  batch, attributes, groupbytrace and tail_sampling processors; file, debug, otlp,
  otlphttp and loadbalancing exporters; health_check and file_storage extensions).
  Its cache key also carries a digest of its ``go.mod`` and ``main.go``, so changing the
  component list builds a new binary instead of reusing the old one.

One backend is a Python application installed from PyPI rather than built:

* ``phoenix`` - Arize Phoenix (``arize-phoenix`` pinned below), pip-installed into its own
  virtual environment ``<cache>/phoenix-<version>/venv`` (see ``pyvenv.py``), so its
  dependencies never mix with the project's; ``binary_path("phoenix")`` is its ``phoenix``
  command.

Exit status is non-zero on failure, with the reason (and the tail of the Go
output for build failures) on stderr.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

try:
    from integration.backends import pyvenv
except ImportError:  # run as a script: python integration/backends/build.py
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import pyvenv  # type: ignore[no-redef]

BACKENDS_DIR = Path(__file__).resolve().parent
INTEGRATION_DIR = BACKENDS_DIR.parent
DEFAULT_CACHE = INTEGRATION_DIR / ".bin"
CACHE_ENV = "AGENT_OTLP_BACKEND_CACHE"
BUILD_TIMEOUT_ENV = "AGENT_OTLP_BUILD_TIMEOUT"
DEFAULT_BUILD_TIMEOUT = 45 * 60  # seconds; a cold Jaeger build on 2 cores takes minutes
TAIL_LINES = 40


@dataclass(frozen=True)
class BackendSpec:
    """How to build one backend binary."""

    name: str
    version: str
    module_dir: Path
    package: str
    binary: str
    #: files of ``module_dir`` whose digest is part of the cache key (the component list)
    keyed_files: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        if not self.keyed_files:
            return f"{self.name}-{self.version}"
        digest = hashlib.sha256()
        for name in self.keyed_files:
            digest.update((self.module_dir / name).read_bytes())
        return f"{self.name}-{self.version}-{digest.hexdigest()[:12]}"


BACKENDS: dict[str, BackendSpec] = {
    "jaeger": BackendSpec(
        name="jaeger",
        version="v1.76.0",
        module_dir=BACKENDS_DIR / "jaeger",
        package="github.com/jaegertracing/jaeger/cmd/jaeger",
        binary="jaeger",
    ),
    "otelcol": BackendSpec(
        name="otelcol",
        version="v0.140.0",
        module_dir=BACKENDS_DIR / "otelcol",
        package=".",
        binary="otelcol",
        keyed_files=("go.mod", "main.go"),
    ),
}


#: Backends installed from PyPI into their own virtual environment.
VENV_BACKENDS: dict[str, pyvenv.VenvSpec] = {
    "phoenix": pyvenv.VenvSpec(
        name="phoenix",
        version="20.26.1",
        requirement="arize-phoenix==20.26.1",
        executable="phoenix",
    ),
}
ALL_BACKENDS = (*BACKENDS, *VENV_BACKENDS)


class BuildError(RuntimeError):
    """A backend could not be built; the message says why in one line or a short block."""


def cache_dir() -> Path:
    """The root of the binary cache (``$AGENT_OTLP_BACKEND_CACHE`` or ``integration/.bin``)."""
    override = os.environ.get(CACHE_ENV)
    return Path(override).expanduser().resolve() if override else DEFAULT_CACHE


def binary_path(name: str) -> Path:
    """Where the binary of backend ``name`` lives (whether or not it is built yet)."""
    if name in VENV_BACKENDS:
        return pyvenv.executable_path(cache_dir(), VENV_BACKENDS[name])
    spec = BACKENDS[name]
    return cache_dir() / spec.key / spec.binary


def find_go() -> str:
    """Path of the ``go`` command, or raise :class:`BuildError`."""
    go = shutil.which("go")
    if go is None:
        raise BuildError(
            "Go toolchain not found on PATH: install Go >= 1.24 to build the native "
            "integration backends (or put prebuilt binaries in the cache, see build.py)"
        )
    return go


def _tail(text: str, lines: int = TAIL_LINES) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Serialise builds of one backend across processes (e.g. parallel pytest workers)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _needs_mod_mod(output: str) -> bool:
    markers = ("missing go.sum entry", "updates to go.mod needed", "go: updates to go.mod")
    return any(m in output for m in markers)


def _go_build(go: str, spec: BackendSpec, out: Path, goflags: str | None) -> tuple[int, str]:
    env = dict(os.environ)
    if goflags is not None:
        env["GOFLAGS"] = (env.get("GOFLAGS", "") + " " + goflags).strip()
    cmd = [go, "build", "-trimpath", "-ldflags=-s -w", "-o", str(out), spec.package]
    timeout = float(os.environ.get(BUILD_TIMEOUT_ENV, DEFAULT_BUILD_TIMEOUT))
    try:
        proc = subprocess.run(
            cmd,
            cwd=spec.module_dir,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        output = exc.output if isinstance(exc.output, str) else ""
        return 124, f"go build timed out after {timeout:.0f}s\n{output}"
    return proc.returncode, proc.stdout


def ensure_built(name: str, *, force: bool = False, log: bool = True) -> Path:
    """Build backend ``name`` unless its binary is already cached; return the binary path.

    Raises :class:`BuildError` when Go is missing or the build fails.
    """
    if name in VENV_BACKENDS:
        return _ensure_installed(name, force=force, log=log)
    if name not in BACKENDS:
        raise BuildError(f"unknown backend {name!r}; choose from {', '.join(ALL_BACKENDS)}")
    spec = BACKENDS[name]
    target = binary_path(name)
    if target.is_file() and os.access(target, os.X_OK) and not force:
        return target

    go = find_go()
    with _locked(target.parent / ".build.lock"):
        if target.is_file() and os.access(target, os.X_OK) and not force:
            return target  # built by another process while we waited
        tmp = target.with_name(target.name + ".tmp")
        if log:
            print(f"building {spec.key} into {target} (this can take minutes)...", file=sys.stderr)
        started = time.monotonic()
        rc, output = _go_build(go, spec, tmp, None)
        if rc != 0 and _needs_mod_mod(output):
            rc, output = _go_build(go, spec, tmp, "-mod=mod")
        elapsed = time.monotonic() - started
        if rc != 0:
            tmp.unlink(missing_ok=True)
            raise BuildError(
                f"building {spec.key} failed (go build exit {rc} after {elapsed:.0f}s); "
                f"last lines of go output:\n{_tail(output)}"
            )
        os.replace(tmp, target)
        go_version = subprocess.run(
            [go, "version"], capture_output=True, text=True, check=False
        ).stdout.strip()
        info = {
            "name": spec.name,
            "version": spec.version,
            "package": spec.package,
            "go": go_version,
            "build_seconds": round(elapsed, 1),
            "size_bytes": target.stat().st_size,
        }
        (target.parent / "build-info.json").write_text(json.dumps(info, indent=2) + "\n")
        if log:
            size_mib = info["size_bytes"] / (1024 * 1024)
            print(f"built {spec.key} in {elapsed:.0f}s ({size_mib:.1f} MiB)", file=sys.stderr)
    return target


def _ensure_installed(name: str, *, force: bool, log: bool) -> Path:
    """Install the PyPI backend ``name`` into its own venv unless already cached."""
    spec, root = VENV_BACKENDS[name], cache_dir()
    target = binary_path(name)
    if pyvenv.is_installed(root, spec) and not force:
        return target
    with _locked(root / spec.key / ".install.lock"):
        if pyvenv.is_installed(root, spec) and not force:
            return target
        timeout = float(os.environ.get(BUILD_TIMEOUT_ENV, DEFAULT_BUILD_TIMEOUT))
        ok, output = pyvenv.install(root, spec, timeout=timeout, log=log)
        if not ok:
            raise BuildError(f"installing {spec.requirement} failed; last lines of pip output:\n"
                             f"{_tail(output)}")
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build native integration-test backends.")
    parser.add_argument("target", nargs="?", default="all", choices=[*ALL_BACKENDS, "all"])
    parser.add_argument("--force", action="store_true", help="rebuild even if cached")
    args = parser.parse_args(argv)
    names = list(ALL_BACKENDS) if args.target == "all" else [args.target]
    status = 0
    for name in names:
        try:
            path = ensure_built(name, force=args.force)
        except BuildError as exc:
            print(f"error: {exc}", file=sys.stderr)
            status = 1
            continue
        print(path)
    return status


if __name__ == "__main__":
    sys.exit(main())
