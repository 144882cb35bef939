"""Built-in adapters. Each is an ordinary plugin registered through the entry-point group
``agent_otlp.adapters`` in this distribution's ``pyproject.toml``, exactly as a third-party
adapter is."""
