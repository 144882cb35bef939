"""Pure data: agent items parsed and checked (``records``), their ids (``ids``), values made
attribute-safe (``flatten``, ``content``), agent spans turned into OpenTelemetry span records
(``spans``, each span type's ``span_data`` mapped in ``span_data``, the attribute names
agent-otlp adds in ``attributes``) and broken traces repaired (``repair``).

No I/O, no threads, no imports from the rest of the package except ``core.config.errors``:
these are the per-span modules the binary wheel compiles with mypyc.
"""
