"""Offload mode: the export pipeline in one or more child processes, fed over a pipe.

``frames`` and ``entries`` are the wire both processes share; ``process``, ``writer``,
``lane``, ``parent`` (:class:`~agent_otlp.offload.parent.OffloadExporter`) and ``group``
(:class:`~agent_otlp.offload.group.OffloadGroup`) run in the agent's process; ``child`` in
each child, which the agent's process never imports.
"""
