// Drives the JavaScript Agents SDK (@openai/agents) with no network but the ingest URL:
// its own Runner over its own OpenAIChatCompletionsModel and OpenAIResponsesModel, fed by
// stub clients that answer like the Chat Completions and Responses APIs (usage with cached
// and reasoning tokens), plus its tracing API for every span type it exports. The traces go
// through the SDK's own OpenAITracingExporter to the URL given as the first argument.
//
//   node drive_sdk.mjs http://127.0.0.1:PORT/v1/traces/ingest
//
// Prints one JSON line on stdout: the trace ids made, by workflow name.

import {
  Agent,
  BatchTraceProcessor,
  OpenAIChatCompletionsModel,
  OpenAIResponsesModel,
  OpenAITracingExporter,
  Runner,
  InputGuardrailTripwireTriggered,
  ModelBehaviorError,
  getCurrentTrace,
  handoff,
  setTraceProcessors,
  setTracingDisabled,
  tool,
  withCustomSpan,
  withFunctionSpan,
  withGenerationSpan,
  withMCPListToolsSpan,
  withSpeechGroupSpan,
  withSpeechSpan,
  withTrace,
  withTranscriptionSpan,
} from '@openai/agents';

const endpoint = process.argv[2];
if (!endpoint) {
  console.error('usage: node drive_sdk.mjs INGEST_URL');
  process.exit(2);
}

// The SDK turns its tracing off when NODE_ENV is "test" (as test runners set it): back on.
setTracingDisabled(false);

const exporter = new OpenAITracingExporter({
  apiKey: 'sk-js-sdk-check-0123456789',
  endpoint,
  maxRetries: 2,
  baseDelay: 200,
});
const processor = new BatchTraceProcessor(exporter, { scheduleDelay: 60_000 });
setTraceProcessors([processor]);

const CHAT_MODEL = 'gpt-4o-mini-2024-07-18';
const RESPONSES_MODEL = 'gpt-5-mini';

let created = 1_764_921_600;

// ---- a Chat Completions client: answers from a script, one completion per call.
function chatCompletion(id, message, finishReason, usage) {
  created += 1;
  return {
    id,
    object: 'chat.completion',
    created,
    model: CHAT_MODEL,
    system_fingerprint: 'fp_js_sdk_check',
    choices: [{ index: 0, message: { refusal: null, ...message }, finish_reason: finishReason, logprobs: null }],
    usage: {
      prompt_tokens: usage.prompt,
      completion_tokens: usage.completion,
      total_tokens: usage.prompt + usage.completion,
      prompt_tokens_details: { cached_tokens: usage.cached, audio_tokens: 0 },
      completion_tokens_details: { reasoning_tokens: usage.reasoning, audio_tokens: 0 },
    },
  };
}

function toolCall(id, name, args) {
  return { id, type: 'function', function: { name, arguments: JSON.stringify(args) } };
}

class ScriptedChatClient {
  constructor(answers) {
    this.answers = answers;
    this.baseURL = 'https://chat.stub.invalid/v1';
    this.chat = { completions: { create: async () => this.next() } };
  }

  next() {
    const answer = this.answers.shift();
    if (!answer) throw new Error('the stub chat client ran out of answers');
    return answer;
  }
}

// ---- a Responses client: one response object per call.
class ScriptedResponsesClient {
  constructor(texts) {
    this.texts = texts;
    this.count = 0;
    this.baseURL = 'https://responses.stub.invalid/v1';
    this.responses = { create: async () => this.next() };
  }

  next() {
    const text = this.texts.shift();
    if (text === undefined) throw new Error('the stub responses client ran out of answers');
    this.count += 1;
    created += 1;
    return {
      id: `resp_js_check_${this.count}`,
      object: 'response',
      created_at: created,
      model: `${RESPONSES_MODEL}-2025-08-07`,
      status: 'completed',
      output: [{
        type: 'message',
        id: `msg_js_check_${this.count}`,
        role: 'assistant',
        status: 'completed',
        content: [{ type: 'output_text', text, annotations: [] }],
      }],
      usage: {
        input_tokens: 310,
        input_tokens_details: { cached_tokens: 128 },
        output_tokens: 42,
        output_tokens_details: { reasoning_tokens: 16 },
        total_tokens: 352,
      },
    };
  }
}

// ---- the SDK's ModelProvider interface: a model name to one of the SDK's model classes.
class StubProvider {
  constructor(chatAnswers, responseTexts) {
    this.chatClient = new ScriptedChatClient(chatAnswers);
    this.responsesClient = new ScriptedResponsesClient(responseTexts);
  }

  async getModel(name) {
    if (name === RESPONSES_MODEL) return new OpenAIResponsesModel(this.responsesClient, RESPONSES_MODEL);
    return new OpenAIChatCompletionsModel(this.chatClient, name ?? CHAT_MODEL);
  }
}

const lookupOrder = tool({
  name: 'lookup_order',
  description: 'Look an order up by its number.',
  parameters: {
    type: 'object',
    properties: { order: { type: 'string' } },
    required: ['order'],
    additionalProperties: false,
  },
  strict: true,
  execute: async ({ order }) => `order ${order}: shipped, 2 items`,
});

const issueRefund = tool({
  name: 'issue_refund',
  description: 'Refund an order.',
  parameters: {
    type: 'object',
    properties: { order: { type: 'string' } },
    required: ['order'],
    additionalProperties: false,
  },
  strict: true,
  execute: async ({ order }) => {
    throw new Error(`refund service unavailable for ${order}`);
  },
});

const refundAgent = new Agent({
  name: 'Refund Agent',
  instructions: 'You handle refunds.',
  model: RESPONSES_MODEL,
});

const politeness = {
  name: 'politeness_check',
  execute: async ({ input }) => ({
    outputInfo: { checked: true },
    tripwireTriggered: JSON.stringify(input).includes('idiot'),
  }),
};

const triageAgent = new Agent({
  name: 'Triage Agent',
  instructions: 'You route customer requests.',
  model: CHAT_MODEL,
  modelSettings: { temperature: 0.2, topP: 0.9 },
  tools: [lookupOrder, issueRefund],
  handoffs: [handoff(refundAgent)],
  inputGuardrails: [politeness],
});

async function supportWorkflow() {
  const provider = new StubProvider(
    [
      chatCompletion('chatcmpl-js-check-1', {
        role: 'assistant', content: null,
        tool_calls: [toolCall('call_lookup_1', 'lookup_order', { order: 'A-17' })],
      }, 'tool_calls', { prompt: 120, completion: 18, cached: 64, reasoning: 0 }),
      chatCompletion('chatcmpl-js-check-2', {
        role: 'assistant', content: null,
        tool_calls: [toolCall('call_refund_1', 'issue_refund', { order: 'A-17' })],
      }, 'tool_calls', { prompt: 180, completion: 20, cached: 96, reasoning: 8 }),
      chatCompletion('chatcmpl-js-check-3', {
        role: 'assistant', content: null,
        tool_calls: [toolCall('call_handoff_1', 'transfer_to_Refund_Agent', {})],
      }, 'tool_calls', { prompt: 240, completion: 12, cached: 128, reasoning: 32 }),
    ],
    ['Your refund for order A-17 is on its way.'],
  );
  const runner = new Runner({
    modelProvider: provider,
    workflowName: 'JS support workflow',
    groupId: 'conv_js_check_1',
    traceIncludeSensitiveData: true,
  });
  return withTrace('JS support workflow', async () => {
    const traceId = getCurrentTrace().traceId;
    const result = await runner.run(triageAgent, 'Where is order A-17? Please refund it.');
    await tracingApiSpans();
    return { traceId, finalOutput: result.finalOutput };
  }, { groupId: 'conv_js_check_1', metadata: { channel: 'js-sdk-check' } });
}

// Span types the runner does not make here, through the SDK's tracing API.
async function tracingApiSpans() {
  await withMCPListToolsSpan(async (span) => {
    span.spanData.result = ['search_docs', 'fetch_page'];
  }, { data: { server: 'docs-mcp' } });
  await withSpeechGroupSpan(async () => {
    await withSpeechSpan(async () => {}, {
      data: {
        model: 'gpt-4o-mini-tts', input: 'Your refund is on its way.',
        output: { data: 'AAAA', format: 'pcm' }, model_config: { voice: 'alloy' },
      },
    });
  }, { data: { input: 'Your refund is on its way.' } });
  await withTranscriptionSpan(async () => {}, {
    data: {
      model: 'gpt-4o-transcribe', input: { data: 'AAAA', format: 'pcm' },
      output: 'where is my order', model_config: { language: 'en' },
    },
  });
  // A generation recorded by hand with the usage keys the SDK's own converters produce:
  // the exporter keeps input/output tokens and moves every other key under `details`.
  await withGenerationSpan(async (span) => {
    span.spanData.usage = {
      input_tokens: 50, output_tokens: 9, cached_tokens: 32, reasoning_tokens: 4, total_tokens: 59,
    };
  }, {
    data: {
      model: 'gpt-4.1-nano',
      input: [{ role: 'user', content: 'summarise the conversation' }],
      output: [{ role: 'assistant', content: 'Refund issued for A-17.' }],
    },
  });
  await withCustomSpan(async (span) => {
    span.spanData.data.refund_state = 'queued';
  }, { data: { name: 'refund_audit', data: { order: 'A-17', amount: 42.5 } } });
  await withFunctionSpan(async () => {
    throw Object.assign(new Error('ledger offline'), { data: { type: 'LedgerError', retryable: true } });
  }, { data: { name: 'post_ledger', input: '{"order":"A-17"}' } }).catch(() => {});
}

async function guardrailWorkflow() {
  const runner = new Runner({
    modelProvider: new StubProvider([], []),
    workflowName: 'JS guardrail workflow',
    traceIncludeSensitiveData: true,
  });
  return withTrace('JS guardrail workflow', async () => {
    const traceId = getCurrentTrace().traceId;
    let tripped = false;
    try {
      await runner.run(triageAgent, 'you idiot, where is my order');
    } catch (error) {
      if (!(error instanceof InputGuardrailTripwireTriggered)) throw error;
      tripped = true;
    }
    return { traceId, tripped };
  });
}

// A completion cut at its token limit with nothing in it: the model fails the run, and its
// generation span carries the error and the usage the SDK rewrote for it.
async function truncatedWorkflow() {
  const runner = new Runner({
    modelProvider: new StubProvider([
      chatCompletion('chatcmpl-js-check-cut', { role: 'assistant', content: null }, 'length',
        { prompt: 90, completion: 64, cached: 48, reasoning: 64 }),
    ], []),
    workflowName: 'JS truncated workflow',
    traceIncludeSensitiveData: true,
  });
  const writer = new Agent({ name: 'Writer Agent', instructions: 'Write.', model: CHAT_MODEL });
  return withTrace('JS truncated workflow', async () => {
    const traceId = getCurrentTrace().traceId;
    let failed = false;
    try {
      await runner.run(writer, 'write a long story');
    } catch (error) {
      if (!(error instanceof ModelBehaviorError)) throw error;
      failed = true;
    }
    return { traceId, failed };
  });
}

const support = await supportWorkflow();
const guarded = await guardrailWorkflow();
const truncated = await truncatedWorkflow();
await processor.forceFlush();
await processor.shutdown();
console.log(JSON.stringify({ support, guardrail: guarded, truncated }));
