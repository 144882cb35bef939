"""The stable surface for adapters: everything an adapter package imports from agent-otlp.

Adapters (the built-in ones in :mod:`agent_otlp.adapters` and third-party packages under the
``agent_otlp.adapters`` entry-point group) import only from this module and from the
``agent_otlp`` top level; the rest of the package may move between releases, these names
do not. ``docs/adapters.md`` lists them.

* the hook markers: :data:`hookimpl` (and :data:`hookspec`, for adapters adding hooks);
* settings: :class:`Settings`, :class:`TransportDefaults` (what ``agent_otlp_transport_defaults``
  returns), :class:`Secret`, :class:`ConfigError`;
* span data: :class:`SpanRecord`, :class:`EventRecord`, ``AttrValue``, :class:`SamplingDecision`,
  :class:`TraceSummary`;
* sending: :class:`Transport`, :class:`SendResult`, :func:`request_to_json` and
  :func:`decode_any_value` (OTLP messages; these two load protobuf on first use);
* content and limits: :func:`truncate_text`, :func:`truncate_json_text`, :func:`utf8_len`,
  :data:`MARK`, and the attribute names :data:`NAMESPACE`, :data:`CONTENT_ATTRIBUTES`,
  :data:`TRUNCATED`, :data:`RATE_ATTRIBUTE`.

The contract itself is in :mod:`~agent_otlp.core.plugins.hookspecs`; the plugin manager
(:mod:`~agent_otlp.core.plugins.manager`), the core's own implementations
(:mod:`~agent_otlp.core.plugins.builtin`) and its limits (:mod:`~agent_otlp.core.plugins.limits`)
are not part of this surface.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from agent_otlp.core.config.errors import ConfigError
from agent_otlp.core.config.secrets import Secret
from agent_otlp.core.config.settings import Settings, TransportDefaults
from agent_otlp.core.convert.attributes import CONTENT_ATTRIBUTES, NAMESPACE
from agent_otlp.core.convert.content import MARK, truncate_json_text, truncate_text, utf8_len
from agent_otlp.core.convert.records import AttrValue, EventRecord, SpanRecord
from agent_otlp.core.plugins.hookspecs import hookimpl, hookspec
from agent_otlp.core.plugins.limits import TRUNCATED
from agent_otlp.core.plugins.sampling import RATE_ATTRIBUTE, SamplingDecision, TraceSummary
from agent_otlp.core.wire.transport import SendResult, Transport

if TYPE_CHECKING:
    from agent_otlp.core.wire.messages import from_any_value as decode_any_value
    from agent_otlp.core.wire.messages import request_to_json

__all__ = [
    "CONTENT_ATTRIBUTES",
    "MARK",
    "NAMESPACE",
    "RATE_ATTRIBUTE",
    "TRUNCATED",
    "AttrValue",
    "ConfigError",
    "EventRecord",
    "SamplingDecision",
    "Secret",
    "SendResult",
    "Settings",
    "SpanRecord",
    "TraceSummary",
    "Transport",
    "TransportDefaults",
    "decode_any_value",
    "hookimpl",
    "hookspec",
    "request_to_json",
    "truncate_json_text",
    "truncate_text",
    "utf8_len",
]

#: Names loaded on first use: they import protobuf, which most processes never need.
_LAZY = {"decode_any_value": "from_any_value", "request_to_json": "request_to_json"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from agent_otlp.core.wire import messages

        return getattr(messages, _LAZY[name])
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
