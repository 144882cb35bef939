"""The attribute names agent-otlp writes beyond the OpenTelemetry GenAI conventions, the
convention names the installed ``opentelemetry-semantic-conventions`` does not define yet,
and the attributes that carry message content (present only when content capture is on)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from opentelemetry.semconv._incubating.attributes import gen_ai_attributes as ga

__all__ = [
    "CONTENT_ATTRIBUTES",
    "CONTENT_EVENT",
    "GUARDRAIL_COMPONENT",
    "GUARDRAIL_EVENT",
    "GUARDRAIL_RESULT_TYPE",
    "GUARDRAIL_RESULT_VALUE",
    "GUARDRAIL_TRIGGERED",
    "HANDOFF_FROM",
    "HANDOFF_TO",
    "INCOMPLETE",
    "NAMESPACE",
    "OPENAI_API_TYPE",
    "OPENAI_REQUEST_SERVICE_TIER",
    "OPENAI_RESPONSE_SERVICE_TIER",
    "OPERATION",
    "PROVIDER",
    "SPAN_DATA",
    "TRIPWIRE",
    "guardrail_tripped",
]

#: Root of every attribute that carries agent data without a semantic-convention name.
NAMESPACE: Final = "openai_agents"
SPAN_DATA: Final = f"{NAMESPACE}.span_data"
INCOMPLETE: Final = "agent_otlp.span.incomplete"
#: The GenAI guardrail conventions: a result event per guardrail run, with the component
#: (the guardrail's name), the provider-native result field and its value as a string.
GUARDRAIL_EVENT: Final = "gen_ai.guardrail.result"
GUARDRAIL_COMPONENT: Final = "gen_ai.guardrail.component.name"
GUARDRAIL_RESULT_TYPE: Final = "gen_ai.guardrail.result.type"
GUARDRAIL_RESULT_VALUE: Final = "gen_ai.guardrail.result.value"
#: The OpenAI Agents SDK's result field: whether the guardrail's tripwire fired.
TRIPWIRE: Final = "tripwire_triggered"
#: The same verdict as a boolean, for queries (the conventions' value is a string).
GUARDRAIL_TRIGGERED: Final = f"{NAMESPACE}.guardrail.triggered"
#: The OpenAI conventions (moved out of ``opentelemetry-semantic-conventions``).
OPENAI_API_TYPE: Final = "openai.api.type"
OPENAI_REQUEST_SERVICE_TIER: Final = "openai.request.service_tier"
OPENAI_RESPONSE_SERVICE_TIER: Final = "openai.response.service_tier"
#: The operation of a span whose operation the conventions do not name (speech, transcription).
OPERATION: Final = f"{NAMESPACE}.operation.name"
#: The span event that carries content when it is captured in events.
CONTENT_EVENT: Final = "gen_ai.client.inference.operation.details"
#: The agents a handoff goes from and to (no GenAI convention names them yet).
HANDOFF_FROM: Final = f"{NAMESPACE}.handoff.from_agent"
HANDOFF_TO: Final = f"{NAMESPACE}.handoff.to_agent"
PROVIDER: Final = "openai"

#: Attributes that carry message content; present only when content capture is on.
CONTENT_ATTRIBUTES: Final = frozenset(
    {
        ga.GEN_AI_INPUT_MESSAGES,
        ga.GEN_AI_OUTPUT_MESSAGES,
        ga.GEN_AI_SYSTEM_INSTRUCTIONS,
        ga.GEN_AI_TOOL_CALL_ARGUMENTS,
        ga.GEN_AI_TOOL_CALL_RESULT,
        f"{NAMESPACE}.speech.input",
        f"{NAMESPACE}.transcription.output",
    }
)


def guardrail_tripped(attributes: Mapping[str, Any]) -> bool:
    """True when ``attributes`` (a span's) say an OpenAI Agents guardrail's tripwire fired."""
    return (
        attributes.get(GUARDRAIL_RESULT_TYPE) == TRIPWIRE
        and attributes.get(GUARDRAIL_RESULT_VALUE) == "true"
    )
