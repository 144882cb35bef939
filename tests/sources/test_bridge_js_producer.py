"""The JavaScript Agents SDK's own exporter (``OpenAITracingExporter`` with an ``endpoint``)
flushing its whole buffer in one POST to a TLS bridge it trusts through
``NODE_EXTRA_CA_CERTS``, with a producer token: about 12 MB in one request, accepted under
the default body limit, delivered under the producer's resource with the SDK's User-Agent."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from _paths import TESTS
from agent_otlp import create_exporter
from agent_otlp.sources.bridge import BridgeServer
from agent_otlp.sources.bridge.producers import USER_AGENT_ATTRIBUTE, load_tokens
from agent_otlp.sources.bridge.tls import self_signed
from agent_otlp.testing import OTLPReceiver

JS = TESTS / "js"
TOKEN = "tok-js-producer-6c1d9e2f"
SPANS = 60

FLUSH = """
import { BatchTraceProcessor, OpenAITracingExporter, setTraceProcessors, setTracingDisabled,
         withGenerationSpan, withTrace } from '@openai/agents';
setTracingDisabled(false);
const exporter = new OpenAITracingExporter({ apiKey: process.env.TOKEN, endpoint: process.env.URL,
                                             maxRetries: 1 });
const processor = new BatchTraceProcessor(exporter, { scheduleDelay: 600000, maxBatchSize: 1000 });
setTraceProcessors([processor]);
const text = (c) => c.repeat(100000);
await withTrace('JS flush workflow', async () => {
  for (let i = 0; i < Number(process.env.SPANS); i++) {
    await withGenerationSpan(async () => {}, { data: { model: 'gpt-4.1-nano',
      input: [{ role: 'user', content: text('i') }], output: [{ role: 'assistant', content: text('o') }] } });
  }
});
await processor.forceFlush();
await processor.shutdown();
"""


def test_js_sdk_flush_over_tls_with_a_producer_token(
    node: str, tmp_path: Path, otlp_receiver: OTLPReceiver
) -> None:
    """Needs Node.js and npm (the ``node`` fixture fails, never skips, without them)."""
    made = self_signed(tmp_path / "tls")
    tokens = tmp_path / "tokens.json"
    tokens.write_text(json.dumps({TOKEN: {"resource": {"service.name": "js-checkout"}}}), encoding="utf-8")
    exporter = create_exporter("otlp", endpoint=otlp_receiver.endpoint, env={}, schedule_delay=0.05)
    bridge = BridgeServer(exporter, port=0, tls=made.context(), producers=load_tokens(tokens)).start()
    try:
        env = {"PATH": os.environ["PATH"], "NODE_EXTRA_CA_CERTS": str(made.ca_file), "TOKEN": TOKEN,
               "URL": f"https://localhost:{bridge.port}/v1/traces/ingest", "SPANS": str(SPANS)}
        done = subprocess.run([node, "--input-type=module", "-e", FLUSH], cwd=JS, env=env,
                              capture_output=True, text=True, timeout=120, check=False)
        assert done.returncode == 0, done.stderr[-2000:]
        assert bridge.requests == {200: 1}, (bridge.requests, done.stderr[-2000:])  # one POST
        exporter.end_all_traces()
        assert otlp_receiver.wait_for_spans(SPANS + 1, timeout=30)
    finally:
        bridge.stop(timeout=10.0)
    resources = {json.dumps(s.resource, sort_keys=True) for s in otlp_receiver.spans()}
    assert len(resources) == 1
    resource = json.loads(resources.pop())
    assert resource["service.name"] == "js-checkout"
    assert resource[USER_AGENT_ATTRIBUTE].startswith("Agents/JavaScript ")
