"""The attribute names agent-otlp writes beyond the OpenTelemetry GenAI conventions, and
the attributes that carry message content (present only when content capture is on)."""

from __future__ import annotations

from typing import Final

from opentelemetry.semconv._incubating.attributes import gen_ai_attributes as ga

__all__ = [
    "CONTENT_ATTRIBUTES",
    "GUARDRAIL_EVENT",
    "GUARDRAIL_NAME",
    "GUARDRAIL_TRIGGERED",
    "HANDOFF_FROM",
    "HANDOFF_TO",
    "INCOMPLETE",
    "NAMESPACE",
    "PROVIDER",
    "SPAN_DATA",
]

#: Root of every attribute that carries agent data without a semantic-convention name.
NAMESPACE: Final = "openai_agents"
SPAN_DATA: Final = f"{NAMESPACE}.span_data"
INCOMPLETE: Final = "agent_otlp.span.incomplete"
GUARDRAIL_EVENT: Final = "gen_ai.guardrail.result"
GUARDRAIL_NAME: Final = "gen_ai.guardrail.name"
GUARDRAIL_TRIGGERED: Final = "gen_ai.guardrail.triggered"
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
