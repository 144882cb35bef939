#!/usr/bin/env bash
# Creates bench/.venv-alt: the third-party OpenAI Agents instrumentations the benchmark
# compares against, with their own opentelemetry versions, pinned in requirements-alt.txt.
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
