"""The hook specifications adapters implement.

Every hook is called with keyword arguments; an implementation may accept any subset of a
spec's parameters. For one destination, only the hooks of the adapter it names run, together
with the core's built-in implementations (registered ``trylast``) and any plugin registered
programmatically with :meth:`agent_otlp.core.plugins.manager.AdapterManager.register_global`.

Order, for hooks whose every result counts: ``tryfirst`` implementations, then the
destination's adapter, then the core's built-ins. See ``docs/adapters.md``.
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from agent_otlp.core.config.settings import Settings, TransportDefaults
    from agent_otlp.core.convert.records import AttrValue, SpanRecord
    from agent_otlp.core.plugins.sampling import SamplingDecision, TraceSummary
    from agent_otlp.core.wire.transport import Transport

PROJECT_NAME = "agent_otlp"
hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


@hookspec
def agent_otlp_transport_defaults(
    adapter: str, protocol: str | None, options: Mapping[str, Any], env: Mapping[str, str]
) -> TransportDefaults | None:
    """Defaults for how and where a destination sends: endpoint, protocol, headers, limits.

    Called once while a destination's settings are resolved, before any span is sent.

    :param adapter: the adapter name the destination uses.
    :param protocol: the protocol the user chose (``"grpc"`` or ``"http/protobuf"``), or
        ``None`` when the user chose none and the defaults decide.
    :param options: adapter-specific options from arguments, environment and config file.
    :param env: the environment the settings are resolved from (read adapter-specific
        variables such as ``HONEYCOMB_API_KEY`` from here, not from ``os.environ``).
    :return: a :class:`~agent_otlp.core.config.settings.TransportDefaults` mapping, or ``None``.
        May raise :class:`~agent_otlp.core.config.errors.ConfigError` for an unusable option.

    Results combine key by key: the first result that sets a key wins, so the adapter's
    value beats the core's built-in default; anything the user set beats both.

    .. versionadded:: 0.1
    """


@hookspec
def agent_otlp_validate_settings(settings: Settings) -> None:
    """Check a destination's resolved settings; raise ``ConfigError`` if they cannot work.

    Called once per destination after resolution, before the destination starts.

    :param settings: the destination's resolved settings.
    :return: nothing. Every implementation runs; the first exception stops start-up.

    .. versionadded:: 0.1
    """


@hookspec
def agent_otlp_resource_attributes(settings: Settings) -> Mapping[str, AttrValue] | None:
    """Resource attributes a destination's spans carry (``service.name`` and friends).

    Called once per destination at start-up.

    :param settings: the destination's resolved settings.
    :return: attributes to add, or ``None``.

    Results combine in this precedence, lowest first: the core's defaults
    (``telemetry.sdk.*``, ``service.name``), these hook results (the adapter's beat the
    built-ins), ``OTEL_RESOURCE_ATTRIBUTES``, ``OTEL_SERVICE_NAME``, then the ``service_name``
    and ``resource`` settings given explicitly.

    .. versionadded:: 0.1
    """


@hookspec
def agent_otlp_map_attributes(
    span: SpanRecord, settings: Settings, state: MutableMapping[str, Any]
) -> None:
    """Add, rename, drop or truncate attributes and events of one converted span.

    Called on the destination's worker thread, once per span, after conversion and
    sampling and before batching. Implementations change ``span.attributes`` and
    ``span.events`` in place; ids, times and names are not theirs to change.

    :param span: the converted span; a copy private to this destination.
    :param settings: the destination's resolved settings.
    :param state: a dict private to this destination, kept across calls.
    :return: nothing.

    Every implementation runs: ``tryfirst`` ones, then the adapter's, then the core's
    built-in limits (content capture off, value and count limits), which run last.

    .. versionadded:: 0.1
    """


@hookspec
def agent_otlp_process_batch(
    spans: list[SpanRecord], settings: Settings, state: MutableMapping[str, Any]
) -> None:
    """Look at a whole batch just before it is encoded; may remove spans from the list.

    Called on the destination's worker thread for every batch. Use it for budgets that
    span several spans (bytes per trace, bytes per request).

    :param spans: the batch, mutable; remove a span to drop it (it is counted as dropped).
    :param settings: the destination's resolved settings.
    :param state: the destination's private dict, as in :func:`agent_otlp_map_attributes`.
    :return: nothing. Every implementation runs, in hook order.

    .. versionadded:: 0.1
    """


@hookspec(firstresult=True)
def agent_otlp_sample_trace(trace: TraceSummary, settings: Settings) -> SamplingDecision | None:
    """Decide whether a whole agent trace is kept, once, when the trace ends.

    Called when the trace ends (or its buffer times out), only when a sample rate below 1
    or a sampling plugin is configured. The decision covers every span of the trace, so a
    trace is never split.

    :param trace: what is known of the trace: ids, span count, errors, tripped guardrails.
    :param settings: the destination's resolved settings.
    :return: a :class:`~agent_otlp.core.pipeline.sampling.SamplingDecision`, or ``None`` to let the
        next implementation decide. The first non-``None`` result wins; the core's built-in
        policy (keep errors and tripped guardrails, sample the rest at the configured rate)
        runs last.

    .. versionadded:: 0.1
    """


@hookspec(firstresult=True)
def agent_otlp_make_transport(settings: Settings) -> Transport | None:
    """Build the transport that carries a destination's encoded requests.

    Called once per destination at start-up. The core's built-in implementation (run
    last) returns OTLP/HTTP or OTLP/gRPC by ``settings.protocol``; an adapter returns its
    own only when it does not speak OTLP over the network (the ``console`` adapter writes
    files).

    :param settings: the destination's resolved settings.
    :return: a :class:`~agent_otlp.core.wire.transport.Transport`, or ``None`` to let the next
        implementation decide. The first non-``None`` result wins.

    .. versionadded:: 0.1
    """
