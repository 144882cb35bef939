#!/usr/bin/env bash
# Creates the benchmark's second and third virtualenvs:
#  * bench/.venv-alt: the third-party OpenAI Agents instrumentations the benchmark compares
#    against, with their own opentelemetry versions, pinned in requirements-alt.txt;
#  * bench/.venv-compiled: agent-otlp installed from its binary wheel (the per-span modules
#    compiled with mypyc), built here from an sdist of this checkout, as a release is built.
#    Needs a C compiler and the Python headers.
# Usage: bash bench/setup.sh [python]   (default: the interpreter of the project's .venv)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
python="${1:-}"
if [[ -z "$python" ]]; then
  if [[ -x "$root/.venv/bin/python" ]]; then
    python="$(cd "$root" && .venv/bin/python -c 'import sys; print(sys._base_executable)')"
  else
    python="python3"
  fi
fi
if [[ ! -x "$here/.venv-alt/bin/python" ]]; then
  "$python" -m venv "$here/.venv-alt"
fi
"$here/.venv-alt/bin/python" -m pip install --quiet -r "$here/requirements-alt.txt"
"$here/.venv-alt/bin/python" -c 'import openinference.instrumentation.openai_agents, opentelemetry.instrumentation.openai_agents, agents; print("bench/.venv-alt ready")'

compiled="$here/.venv-compiled"
if [[ ! -x "$compiled/bin/python" ]]; then
  "$python" -m venv "$compiled"
fi
"$compiled/bin/python" -m pip install --quiet build psutil
dist="$(mktemp -d)"
trap 'rm -rf "$dist"' EXIT
# sdist first, then the wheel from the unpacked sdist: the compiled modules are built in a
# temporary copy, never next to the sources of this checkout.
HATCH_BUILD_HOOK_ENABLE_MYPYC=true "$compiled/bin/python" -m build --outdir "$dist" "$root" >"$dist/build.log" 2>&1 \
  || { tail -n 40 "$dist/build.log"; echo "bench/setup.sh: the compiled wheel did not build" >&2; exit 1; }
wheel="$(ls "$dist"/agent_otlp-*.whl)"
"$compiled/bin/python" -m pip install --quiet "${wheel}[openai-agents]"
# the version does not change between builds of a checkout: replace the package itself
"$compiled/bin/python" -m pip install --quiet --force-reinstall --no-deps "$wheel"
"$compiled/bin/agent-otlp" version
"$compiled/bin/python" -c 'from agent_otlp._compiled import COMPILED_MODULES, compiled_modules; import sys; sys.exit(0 if len(compiled_modules()) == len(COMPILED_MODULES) else "bench/.venv-compiled: modules not compiled")'
echo "bench/.venv-compiled ready"
