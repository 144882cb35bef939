"""The binary wheel: agent-otlp's per-span modules compiled with mypyc behave exactly as the
plain Python ones.

The wheel is built as a release builds it (an sdist, then the wheel from the unpacked sdist
with the mypyc hook switched on), unpacked (not installed: this environment stays as it is),
and the tests of the compiled modules run again in a subprocess with the unpacked wheel first
on ``sys.path``. Needs a C compiler and the Python headers (``scripts/test`` installs them
where it can).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tomllib
import zipfile
from collections.abc import Mapping
from pathlib import Path

import pytest

from agent_otlp._compiled import COMPILED_MODULES

ROOT = Path(__file__).resolve().parents[1]
#: The tests that exercise the compiled modules, directly and through the exporter, the
#: adapters and offload mode's children (which inherit the subprocess's ``PYTHONPATH``).
SUITES = (
    "core/convert/test_convert.py", "core/convert/test_flatten.py", "core/convert/test_ids.py",
    "core/convert/test_content.py", "core/wire/test_perf_encode.py", "core/convert/test_perf_paths.py",
    "test_adapters_support.py", "adapters/test_adapters_jaeger.py",
    "adapters/test_adapters_honeycomb.py", "adapters/test_adapters_tempo.py",
    "hardening/test_hardening_input.py", "test_exporter.py", "sources/test_live_sdk.py",
    "offload/test_offload.py",
)


def _module_paths() -> list[str]:
    return [f"src/{name.replace('.', '/')}.py" for name in COMPILED_MODULES]


def test_the_wheel_hook_compiles_exactly_the_listed_modules() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    hook = config["tool"]["hatch"]["build"]["targets"]["wheel"]["hooks"]["mypyc"]
    assert sorted(hook["include"]) == sorted(_module_paths())
    assert hook["enable-by-default"] is False  # source and editable installs stay pure


def _compiled_files_in_checkout() -> list[Path]:
    return [p for p in (ROOT / "src").rglob("*") if p.suffix in (".so", ".pyd")]


def test_the_checkout_holds_no_compiled_module() -> None:
    """A compiled module next to its source would shadow every edit of the source."""
    assert _compiled_files_in_checkout() == []
    # whatever this interpreter imports (an installed wheel, when the suite runs against
    # one), the checkout's own modules are plain Python
    assert "(pure Python)" in _version(_env(ROOT / "src"))


def _build_wheel(out: Path) -> Path:
    if shutil.which("cc") is None and shutil.which("gcc") is None:
        pytest.fail("no C compiler on PATH: the compiled wheel cannot be built "
                    "(Debian: apt-get install gcc libc6-dev)")
    headers = Path(sysconfig.get_paths()["include"], "Python.h")
    if not headers.exists():
        pytest.fail(f"no Python headers at {headers}: the compiled wheel cannot be built "
                    "(Debian: apt-get install python3-dev)")
    env = {**os.environ, "HATCH_BUILD_HOOK_ENABLE_MYPYC": "true"}
    result = subprocess.run(
        [sys.executable, "-m", "build", "--outdir", str(out), str(ROOT)],
        capture_output=True, text=True, env=env, timeout=900,
    )
    assert result.returncode == 0, f"wheel build failed:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
    wheels = list(out.glob("agent_otlp-*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


@pytest.fixture(scope="module")
def unpacked_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    wheel = _build_wheel(tmp_path_factory.mktemp("dist"))
    target = tmp_path_factory.mktemp("wheel")
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(target)
    # the editable install's metadata stays the one that registers the adapters
    for info in target.glob("*.dist-info"):
        shutil.rmtree(info)
    # built in a copy of the sources, never next to them
    assert _compiled_files_in_checkout() == []
    return target


def _env(path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AGENT_OTLP_", "OTEL_"))}
    env["PYTHONPATH"] = os.pathsep.join([str(path), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return env


def _version(env: Mapping[str, str]) -> str:
    """What ``agent-otlp version`` prints in a fresh interpreter with ``env``."""
    code = "import sys; from agent_otlp.cli import main; sys.argv[0] = 'agent-otlp'; main()"
    return subprocess.run([sys.executable, "-c", code, "version"], capture_output=True,
                          text=True, env=dict(env), cwd=ROOT, timeout=60, check=True).stdout


def test_the_wheel_runs_every_listed_module_compiled(unpacked_wheel: Path) -> None:
    code = "import json; from agent_otlp._compiled import compiled_modules; print(json.dumps(compiled_modules()))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env=_env(unpacked_wheel), cwd=ROOT, timeout=60, check=True)
    assert json.loads(result.stdout) == list(COMPILED_MODULES)
    assert "(compiled with mypyc)" in _version(_env(unpacked_wheel))


def test_the_compiled_modules_pass_their_tests(unpacked_wheel: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pytest", *[str(ROOT / "tests" / s) for s in SUITES],
         "-p", "no:cacheprovider", "-q", "-x"],
        capture_output=True, text=True, env=_env(unpacked_wheel), cwd=ROOT, timeout=1500,
    )
    tail = "\n".join(result.stdout.splitlines()[-30:])
    assert result.returncode == 0, f"tests against the compiled wheel failed:\n{tail}\n{result.stderr[-2000:]}"
    assert " passed" in tail and "skipped" not in tail, tail
