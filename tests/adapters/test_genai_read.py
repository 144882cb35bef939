"""What the ``phoenix`` and ``langfuse`` adapters share to read converted spans: string
attributes copied under the names a backend reads."""

from __future__ import annotations

from agent_otlp.adapters import _genai_read as read
from agent_otlp.core.plugins import AttrValue


def test_copy_strings_copies_only_the_string_attributes_that_are_there() -> None:
    source: dict[str, AttrValue] = {"gen_ai.tool.name": "refund", "gen_ai.tool.call.id": 7,
                                    "gen_ai.conversation.id": "conv-1", "other": "x"}
    attrs: dict[str, AttrValue] = {"tool.id": "kept"}
    read.copy_strings(attrs, source, {"gen_ai.tool.name": "tool.name",
                                      "gen_ai.tool.call.id": "tool.id",
                                      "gen_ai.workflow.name": "langfuse.trace.name",
                                      "gen_ai.conversation.id": "session.id"})
    assert attrs == {"tool.id": "kept", "tool.name": "refund", "session.id": "conv-1"}
