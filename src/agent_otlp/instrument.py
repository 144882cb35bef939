"""One line to export every trace of the OpenAI Agents SDK: :func:`instrument_openai_agents`
builds an exporter (:mod:`agent_otlp.factory`) and installs the SDK source's
``TracingProcessor`` (:mod:`agent_otlp.sources.openai_agents`) in the SDK, once."""

from __future__ import annotations

import logging
import os
import threading
from typing import TYPE_CHECKING, Any

from agent_otlp.core.config.errors import ConfigError
from agent_otlp.core.pipeline.api import Exporter
from agent_otlp.factory import create_exporter, offload_requested
from agent_otlp.sources.openai_agents import make_processor

if TYPE_CHECKING:
    from agents.tracing import TracingProcessor

__all__ = ["instrument_openai_agents"]

logger = logging.getLogger("agent_otlp")


#: The processor :func:`instrument_openai_agents` installed (at most one), under its lock.
_installed: list[TracingProcessor] = []
_install_lock = threading.Lock()


def _registered() -> list[Any] | None:
    """The SDK's installed processors, or ``None`` when this SDK version hides them."""
    from agents.tracing import get_trace_provider

    multi = getattr(get_trace_provider(), "_multi_processor", None)
    processors = getattr(multi, "_processors", None)
    return list(processors) if isinstance(processors, list | tuple) else None


def _active() -> TracingProcessor | None:
    """The processor installed earlier, if it is still installed and not shut down.

    One that was shut down is taken out of the SDK's processors.
    """
    if not _installed:
        return None
    processor = _installed[0]
    processors = _registered()
    if getattr(processor, "closed", False):
        _installed.clear()
        if processors is not None and processor in processors:
            from agents.tracing import set_trace_processors

            set_trace_processors([p for p in processors if p is not processor])
        return None
    if processors is not None and processor not in processors:  # removed by set_trace_processors
        _installed.clear()
        return None
    return processor


def _reuse(processor: TracingProcessor, replace_openai_exporter: bool, given: list[str]) -> TracingProcessor:
    """A repeated call: keep ``processor``; say which arguments are ignored (names only:
    values may hold secrets)."""
    ignored = f"; ignored arguments: {', '.join(given)}" if given else ""
    logger.warning(
        "agent-otlp: instrument_openai_agents() called again: the processor installed before "
        "keeps exporting (each span once)%s. To change settings, call shutdown() on the "
        "returned processor, then instrument_openai_agents() again.",
        ignored,
    )
    if replace_openai_exporter:
        from agents.tracing import set_trace_processors

        set_trace_processors([processor])
    return processor


def instrument_openai_agents(
    exporter: Exporter | None = None,
    *,
    replace_openai_exporter: bool = False,
    offload: bool | int | None = None,
    **config: Any,
) -> TracingProcessor:
    """Export every trace of the OpenAI Agents SDK through agent-otlp. One line::

        agent_otlp.instrument_openai_agents()

    Idempotent: while the processor of an earlier call is installed (and not shut down),
    a later call returns that processor and logs a warning naming the arguments it ignored
    (``exporter``, ``offload`` and settings); only ``replace_openai_exporter=True`` still
    applies (the other processors are removed). To install a processor with other
    settings, call ``shutdown()`` on the returned one first: the next call replaces it.

    :param exporter: an exporter to use; by default one is built from ``config``, the
        environment and the config file (see :func:`agent_otlp.create_exporter`).
    :param replace_openai_exporter: remove the SDK's other processors (including the one that
        uploads to OpenAI's hosted traces) instead of running beside them.
    :param offload: build the exporter in offload mode (the pipeline in a child process, see
        ``docs/performance.md``; a number for that many child processes); default
        ``AGENT_OTLP_OFFLOAD`` (off). Only when no
        ``exporter`` is given (pass ``offload=True`` to ``create_exporter`` instead).
    :param config: settings for :func:`agent_otlp.create_exporter` (``adapters=...``...).
    :return: the installed processor; its ``exporter`` attribute gives flush, shutdown and
        statistics.
    """
    from agents.tracing import add_trace_processor, set_trace_processors

    if exporter is not None and offload is not None:
        raise ConfigError("offload", offload, "give offload to create_exporter, not with an exporter")
    with _install_lock:
        current = _active()
        if current is not None:
            other_exporter = exporter is not None and exporter is not getattr(current, "exporter", None)
            given = (["exporter"] if other_exporter else []) + (
                ["offload"] if offload is not None else []) + sorted(config)
            return _reuse(current, replace_openai_exporter, given)
        if exporter is None:
            if offload is None:
                env = config.get("env")
                offload = offload_requested(os.environ if env is None else env)
            exporter = create_exporter(offload=offload, **config)
        processor = make_processor(exporter)
        if replace_openai_exporter:
            set_trace_processors([processor])
        else:
            add_trace_processor(processor)
        _installed[:] = [processor]
    return processor
