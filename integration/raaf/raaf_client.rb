# frozen_string_literal: true

# A RAAF application's trace upload, with Ruby's standard library only.
#
# It makes several agent runs the way RAAF's tracer records them and posts them as RAAF's
# OpenAIProcessor does (tracing/lib/raaf/tracing/openai_processor.rb and base_processor.rb
# in github.com/raaf-ai/raaf):
#
# * POST "#{base_url}/v1/traces/ingest" over TLS, always (the CA comes from SSL_CERT_FILE);
#   headers Authorization: Bearer KEY, Content-Type: application/json, OpenAI-Beta:
#   traces=v1, OpenAI-Organization / OpenAI-Project when set; no User-Agent;
# * spans are buffered as they end and posted 50 at a time (and the rest at the end), each
#   body {"data": [trace object, span, ...]} uncompressed;
# * the trace object leading every post names the trace of the first span the process ever
#   ended, never reset, with the workflow name of the last trace root that ended (at first
#   "openai-agents-ruby"), no times, group_id and metadata null;
# * ids are "trace_"/"span_" + 32 hex digits; a trace's root span (kind trace) is never
#   posted but its children name it as their parent; a generation without usage is
#   dropped, and the tool span started under it keeps naming it;
# * span_data by kind (agent, generation with usage and model_config.base_url, function,
#   handoff, guardrail, response, custom for pipeline and custom kinds with flattened
#   string values), "error" sent as the span's error attribute holds it: an object, a
#   string or true; a span still over 9,000 bytes after trimming is replaced by a marker
#   {"truncated": true, "original_size": N}.
#
# Usage: ruby raaf_client.rb BASE_URL   (the API key in OPENAI_API_KEY)
# Prints one JSON object: what was posted and what each trace should look like.

require "json"
require "net/http"
require "openssl"
require "securerandom"
require "time"
require "uri"

BATCH_SIZE = 50
MAX_SPAN_BYTES = 9000

# One RAAF span: what the processor reads of Span (tracing/spans.rb).
class RaafSpan
  attr_reader :span_id, :trace_id, :parent_id, :name, :kind, :attributes, :start_time, :end_time

  def initialize(name:, kind:, trace_id:, parent_id:, attributes: {})
    @span_id = "span_#{SecureRandom.hex(16)}"
    @trace_id = trace_id
    @parent_id = parent_id
    @name = name
    @kind = kind
    @attributes = attributes
    @start_time = Time.now.utc
  end

  def finish(seconds)
    @end_time = @start_time + seconds
    @attributes["duration_ms"] = (seconds * 1000).round(2)
  end
end

# The upload side: buffer, transform, post.
class Uploader
  attr_reader :posts

  def initialize(base_url:, api_key:, organization: nil, project: nil)
    @endpoint = URI("#{base_url}/v1/traces/ingest")
    @api_key = api_key
    @organization = organization
    @project = project
    @workflow_name = "openai-agents-ruby"
    @first_trace_id = nil
    @buffer = []
    @posts = []
  end

  def span_ended(span)
    @first_trace_id ||= span.trace_id
    @workflow_name = span.attributes["trace.workflow_name"] if span.kind == :trace
    item = item_for(span)
    return unless item

    @buffer << item
    flush if @buffer.size >= BATCH_SIZE
  end

  def flush
    return if @buffer.empty?

    batch = @buffer
    @buffer = []
    post(batch)
  end

  private

  def item_for(span)
    return nil if span.kind == :trace
    return nil if span.kind == :llm && usage_of(span).nil?

    {
      object: "trace.span", id: span.span_id, trace_id: span.trace_id, parent_id: span.parent_id,
      started_at: stamp(span.start_time), ended_at: stamp(span.end_time),
      span_data: data_of(span), error: span.attributes["error"] || nil
    }
  end

  def stamp(time)
    time.utc.strftime("%Y-%m-%dT%H:%M:%S.%6N+00:00")
  end

  def data_of(span)
    a = span.attributes
    data =
      case span.kind
      when :agent
        { type: "agent", name: a["agent.name"] || span.name, handoffs: a["agent.handoffs"] || [],
          tools: a["agent.tools"] || [], output_type: a["agent.output_type"] || "str" }
      when :llm
        { type: "generation", input: a["llm.request.messages"] || [], output: output_of(a),
          model: a["llm.request.model"], model_config: model_config_of(a), usage: usage_of(span) }
      when :tool
        input = a["function.input"]
        { type: "function", name: a["function.name"] || span.name,
          input: input.nil? || input.is_a?(String) ? input : JSON.generate(input),
          output: a["function.output"], mcp_data: a["function.mcp_data"] }
      when :handoff
        { type: "handoff", from_agent: a["handoff.from"], to_agent: a["handoff.to"] }
      when :guardrail
        { type: "guardrail", name: a["guardrail.name"] || span.name, triggered: a["guardrail.triggered"] || false }
      when :response
        { type: "response", response_id: a["response_id"] }
      else
        { type: "custom", name: span.name, data: flattened(a) }
      end
    data.compact
  end

  def output_of(attributes)
    content = attributes["llm.response.content"]
    return [] unless content

    [{ content: content, refusal: nil, role: "assistant", annotations: [], audio: nil,
       function_call: nil, tool_calls: nil }]
  end

  # every key, nil or not, and OpenAI's URL when the span names none
  MODEL_CONFIG_KEYS = %w[temperature top_p frequency_penalty presence_penalty tool_choice parallel_tool_calls
                         truncation max_tokens reasoning metadata store include_usage extra_query extra_body
                         extra_headers extra_args].freeze

  def model_config_of(attributes)
    config = MODEL_CONFIG_KEYS.to_h { |key| [key.to_sym, attributes["llm.request.#{key}"]] }
    config.merge(base_url: attributes["llm.request.base_url"] || "https://api.openai.com/v1/")
  end

  def usage_of(span)
    input = span.attributes["llm.usage.input_tokens"]
    output = span.attributes["llm.usage.output_tokens"]
    return nil if input.nil? || output.nil? || (input.zero? && output.zero?)

    { input_tokens: input.to_i, output_tokens: output.to_i }
  end

  # custom span data: nested hashes as "key.sub", arrays with inspect, everything a string
  def flattened(attributes)
    attributes.each_with_object({}) do |(key, value), out|
      case value
      when Hash then value.each { |sub, v| out["#{key}.#{sub}"] = v.to_s[0, 500] }
      when Array then out[key] = value.inspect[0, 500]
      else out[key] = value.to_s[0, 500]
      end
    end
  end

  def fitted(item)
    size = JSON.generate(item).bytesize
    return item if size <= MAX_SPAN_BYTES

    data = item[:span_data]
    item.merge(span_data: { type: data[:type] || "custom", name: data[:name] || "unknown",
                            data: { truncated: true, original_size: size } })
  end

  def post(batch)
    http = Net::HTTP.new(@endpoint.host, @endpoint.port)
    http.use_ssl = true
    request = Net::HTTP::Post.new(@endpoint)
    request.delete("User-Agent")
    request["Authorization"] = "Bearer #{@api_key}"
    request["Content-Type"] = "application/json"
    request["OpenAI-Beta"] = "traces=v1"
    request["OpenAI-Organization"] = @organization if @organization
    request["OpenAI-Project"] = @project if @project
    trace = { object: "trace", id: @first_trace_id, workflow_name: @workflow_name, group_id: nil, metadata: nil }
    request.body = JSON.generate({ data: [trace] + batch.map { |item| fitted(item) } })
    response = http.request(request)
    @posts << { status: response.code.to_i, spans: batch.size, trace_object: trace, body: response.body.to_s[0, 300] }
  end
end

# Builds agent runs span by span, handing each ended span to the uploader as RAAF's tracer
# hands them to its processors.
class Run
  attr_reader :trace_id, :workflow, :expected

  def initialize(uploader, workflow)
    @uploader = uploader
    @workflow = workflow
    @trace_id = "trace_#{SecureRandom.hex(16)}"
    @expected = { "trace_id" => @trace_id, "workflow" => workflow, "sent" => 0, "errors" => {},
                  "generations" => [], "dropped" => [], "oversized" => [] }
    @root = RaafSpan.new(name: "trace.#{workflow}", kind: :trace, trace_id: @trace_id, parent_id: nil,
                         attributes: { "trace.id" => @trace_id, "trace.workflow_name" => workflow,
                                       "trace.group_id" => nil, "trace.metadata" => {} })
  end

  def span(name, kind, parent, attributes = {}, seconds: 0.05)
    span = RaafSpan.new(name: name, kind: kind, trace_id: @trace_id, parent_id: parent&.span_id,
                        attributes: attributes)
    yield span if block_given?
    sleep 0.002
    span.finish(seconds)
    @uploader.span_ended(span)
    span
  end

  def sent(span, error: nil)
    @expected["sent"] += 1
    @expected["errors"][span.span_id] = error if error
  end

  def finish
    @root.finish(2.0)
    @uploader.span_ended(@root)
  end

  def play(index)
    pipeline = RaafSpan.new(name: "pipeline.Research#{index}", kind: :pipeline, trace_id: @trace_id,
                            parent_id: @root.span_id,
                            attributes: { "pipeline.name" => "Research#{index}", "pipeline.agent_count" => 2,
                                          "pipeline.context" => { "topic" => "otlp", "depth" => index } })
    agent = RaafSpan.new(name: "agent.Researcher", kind: :agent, trace_id: @trace_id, parent_id: pipeline.span_id,
                         attributes: { "agent.name" => "Researcher", "agent.tools" => %w[search fetch] })
    generation(agent, "gpt-4o", nil, 100 + index, 20 + index)
    generation(agent, "claude-3-5-sonnet-20241022", "https://api.anthropic.com/v1/", 200 + index, 30 + index)
    unused = span("llm", :llm, agent, { "llm.request.model" => "gpt-4o-mini" })  # no usage: dropped
    @expected["dropped"] << unused.span_id
    sent(span("tool.search", :tool, unused, { "function.name" => "search", "function.input" => { "q" => "otlp" },
                                              "function.output" => "3 results" }))
    failing = span("tool.fetch", :tool, agent, { "function.name" => "fetch", "error" => "fetch failed: 503" })
    sent(failing, error: "fetch failed: 503")
    blocked = span("guardrail.topic", :guardrail, agent, { "guardrail.name" => "topic",
                                                           "guardrail.triggered" => true, "error" => true })
    sent(blocked, error: true)
    sent(span("handoff", :handoff, agent, { "handoff.from" => "Researcher", "handoff.to" => "Writer" }))
    writer = RaafSpan.new(name: "agent.Writer", kind: :agent, trace_id: @trace_id, parent_id: pipeline.span_id,
                          attributes: { "agent.name" => "Writer" })
    generation(writer, "gpt-4o", nil, 300 + index, 40 + index)
    sent(span("response.format", :response, writer, { "response_id" => "resp_#{SecureRandom.hex(12)}" }))
    sent(span("custom.summary", :custom, writer, { "custom.name" => "summary", "custom.data" => { "words" => 120 } }))
    if index == 1
      # an agent whose span is over RAAF's 9,000-byte limit even after trimming
      big = span("agent.Librarian", :agent, writer,
                 { "agent.name" => "Librarian", "agent.tools" => Array.new(600) { |i| "catalogue_tool_#{i}" } })
      sent(big)
      @expected["oversized"] << big.span_id
    end
    finish_agent(writer)
    finish_agent(agent, error: { "message" => "research incomplete", "data" => { "missing" => 2 } })
    pipeline.finish(1.5)
    @uploader.span_ended(pipeline)
    sent(pipeline)
    finish
  end

  def generation(agent, model, base_url, input, output)
    attributes = { "llm.request.model" => model, "llm.request.messages" => [{ "role" => "user", "content" => "hi" }],
                   "llm.usage.input_tokens" => input, "llm.usage.output_tokens" => output,
                   "llm.response.content" => "ok" }
    attributes["llm.request.base_url"] = base_url if base_url
    span = span("llm", :llm, agent, attributes)
    sent(span)
    @expected["generations"] << { "span_id" => span.span_id, "model" => model, "input_tokens" => input,
                                  "output_tokens" => output,
                                  "provider" => base_url ? "anthropic" : "openai" }
  end

  def finish_agent(agent, error: nil)
    agent.attributes["error"] = error if error
    agent.finish(1.0)
    @uploader.span_ended(agent)
    sent(agent, error: error)
  end
end

base_url = ARGV.fetch(0)
uploader = Uploader.new(base_url: base_url, api_key: ENV.fetch("OPENAI_API_KEY"),
                        organization: ENV.fetch("OPENAI_ORG_ID", nil), project: ENV.fetch("OPENAI_PROJECT_ID", nil))
runs = %w[Research Triage Billing Onboarding Escalation].map { |name| Run.new(uploader, name) }
runs.each_with_index { |run, index| run.play(index) }
uploader.flush
puts JSON.generate({ "posts" => uploader.posts, "traces" => runs.map(&:expected) })
exit(uploader.posts.all? { |p| p[:status].between?(200, 299) } ? 0 : 1)
