"""A small OpenAI-compatible HTTP server (Chat Completions and Responses, plain JSON or
server-sent events) so the real Agents SDK runs its model paths without the network, and a
runner of one agent turn with a tool call against it."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MODEL = "gpt-4o"
ANSWERING_MODEL = "gpt-4o-2024-08-06"
USAGE = {"input_tokens": 40, "output_tokens": 12, "total_tokens": 52,
         "input_tokens_details": {"cached_tokens": 8},
         "output_tokens_details": {"reasoning_tokens": 3}}
CHAT_USAGE = {"prompt_tokens": 40, "completion_tokens": 12, "total_tokens": 52,
              "prompt_tokens_details": {"cached_tokens": 8},
              "completion_tokens_details": {"reasoning_tokens": 3}}


def _has_tool_result(body: dict[str, Any]) -> bool:
    items = body.get("input") if "input" in body else body.get("messages")
    return any(
        isinstance(i, dict) and (i.get("type") == "function_call_output" or i.get("role") == "tool")
        for i in items or ()
    )


def _response(body: dict[str, Any]) -> dict[str, Any]:
    if _has_tool_result(body):
        output: list[dict[str, Any]] = [
            {"type": "message", "id": "msg_2", "role": "assistant", "status": "completed",
             "content": [{"type": "output_text", "text": "Rainy in Paris.", "annotations": []}]},
        ]
    else:
        output = [
            {"type": "reasoning", "id": "rs_1",
             "summary": [{"type": "summary_text", "text": "Need the weather tool."}]},
            {"type": "web_search_call", "id": "ws_1", "status": "completed",
             "action": {"type": "search", "query": "Paris weather"}},
            {"type": "function_call", "id": "fc_1", "call_id": "call_1", "name": "get_weather",
             "arguments": '{"city": "Paris"}', "status": "completed"},
        ]
    return {
        "id": "resp_2" if _has_tool_result(body) else "resp_1", "object": "response",
        "created_at": 1764921600, "model": ANSWERING_MODEL, "status": "completed",
        "incomplete_details": None, "output": output, "parallel_tool_calls": True,
        "tool_choice": "auto", "tools": [], "temperature": 0.3, "top_p": 0.9,
        "max_output_tokens": 256, "service_tier": "default",
        "text": {"format": {"type": "text"}}, "instructions": body.get("instructions"),
        "usage": USAGE,
    }


def _completion_message(body: dict[str, Any]) -> tuple[dict[str, Any], str]:
    if _has_tool_result(body):
        return {"role": "assistant", "content": "Rainy in Paris."}, "stop"
    call = {"id": "call_1", "type": "function",
            "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}
    return {"role": "assistant", "content": None, "tool_calls": [call]}, "tool_calls"


def _completion(body: dict[str, Any]) -> dict[str, Any]:
    message, reason = _completion_message(body)
    return {"id": "chatcmpl-1", "object": "chat.completion", "created": 1764921600,
            "model": ANSWERING_MODEL, "service_tier": "default",
            "choices": [{"index": 0, "message": message, "finish_reason": reason}],
            "usage": CHAT_USAGE}


def _chunks(body: dict[str, Any]) -> Iterator[dict[str, Any]]:
    message, reason = _completion_message(body)
    base = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1764921600,
            "model": ANSWERING_MODEL}
    delta: dict[str, Any] = {"role": "assistant"}
    if message.get("content"):
        delta["content"] = message["content"]
    if message.get("tool_calls"):
        delta["tool_calls"] = [{"index": 0, **message["tool_calls"][0]}]
    yield {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": None}]}
    yield {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": reason}]}
    yield {**base, "choices": [], "usage": CHAT_USAGE}


def _events(body: dict[str, Any]) -> Iterator[dict[str, Any]]:
    final = _response(body)
    yield {"type": "response.created", "sequence_number": 0,
           "response": {**final, "status": "in_progress", "output": []}}
    for index, item in enumerate(final["output"]):
        yield {"type": "response.output_item.done", "sequence_number": 1 + index,
               "output_index": index, "item": item}
    yield {"type": "response.completed", "sequence_number": 99, "response": final}


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        responses = self.path.endswith("/responses")
        if body.get("stream"):
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            for event in (_events(body) if responses else _chunks(body)):
                self.wfile.write(f"data: {json.dumps(event)}\n\n".encode())
            if not responses:
                self.wfile.write(b"data: [DONE]\n\n")
            return
        payload = json.dumps(_response(body) if responses else _completion(body)).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


@contextmanager
def openai_peer() -> Iterator[str]:
    """A running server; yields its base URL (``http://127.0.0.1:PORT/v1``)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()


def run_agent(base_url: str, api: str, *, stream: bool, sensitive: bool) -> None:
    """One run of an agent that calls ``get_weather`` once, through the SDK's Chat
    Completions (``api="chat_completions"``) or Responses model, streamed or not."""
    from agents import (
        Agent,
        ModelSettings,
        OpenAIChatCompletionsModel,
        OpenAIResponsesModel,
        RunConfig,
        Runner,
        function_tool,
    )
    from openai import AsyncOpenAI

    @function_tool
    def get_weather(city: str) -> str:
        """The weather in a city."""
        return f"rainy in {city}"

    client = AsyncOpenAI(base_url=base_url, api_key="sk-test", max_retries=0)
    model_class = OpenAIChatCompletionsModel if api == "chat_completions" else OpenAIResponsesModel
    agent = Agent(
        name="Weather agent", instructions="Answer with the weather tool.",
        tools=[get_weather], model=model_class(model=MODEL, openai_client=client),
        model_settings=ModelSettings(temperature=0.3, top_p=0.9, max_tokens=256),
    )
    config = RunConfig(trace_include_sensitive_data=sensitive, workflow_name="Weather",
                       group_id="conv_weather_1")

    async def go() -> None:
        if stream:
            result = Runner.run_streamed(agent, "Weather in Paris?", run_config=config)
            async for _ in result.stream_events():
                pass
        else:
            await Runner.run(agent, "Weather in Paris?", run_config=config)

    asyncio.run(go())
