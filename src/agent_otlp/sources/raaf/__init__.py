"""RAAF (the Ruby port of the OpenAI Agents SDK): :mod:`.spans` maps its spans and traces to
the SDK's export items, :mod:`.local` reads its local trace files with that mapping. Its Rails
tables are read by the ``raaf-rails`` source (:mod:`agent_otlp.sources.raaf_rails`), with the
same mapping."""
