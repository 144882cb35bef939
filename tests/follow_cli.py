"""``agent-otlp follow`` in a child process, as an operator runs it, and ended by SIGTERM."""

from __future__ import annotations

import signal
import subprocess
import sys

from agent_otlp.testing import OTLPReceiver

CLI = "import sys; from agent_otlp.cli import main; sys.argv[0] = 'agent-otlp'; main()"


def start_follow(location: str, receiver: OTLPReceiver, env: dict[str, str],
                 *options: str) -> subprocess.Popen[str]:
    """``agent-otlp follow --from location`` to ``receiver``, looking every 0.2 s."""
    args = ["follow", "--from", location, "--to", "otlp", "--endpoint", receiver.endpoint,
            "--poll", "0.2", *options]
    return subprocess.Popen([sys.executable, "-c", CLI, *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)


def sigterm(child: subprocess.Popen[str]) -> tuple[str, str]:
    """Send SIGTERM to ``child`` and wait for it to end; its output and its errors."""
    child.send_signal(signal.SIGTERM)
    return child.communicate(timeout=30)
