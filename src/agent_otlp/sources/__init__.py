"""Where agent traces come from: the OpenAI Agents SDK's tracing processor
(``openai_agents``), JSON and JSON Lines files and pipes (``files``, the reader of
``agent-otlp send`` and of historical export from files; ``jsonitems`` splits damaged JSON
text item by item), agent-otlp's own span store read back for historical export (``store``),
and the ingest bridge."""
