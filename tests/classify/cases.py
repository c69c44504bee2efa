"""Real provider error responses, each with the verdict the classifier owes it.

Every case cites where the response was seen: an SDK source file, a
provider's documentation page, or a public issue thread quoting the body.
Bodies are kept as the provider (or the client that quoted it) sent them;
where a thread only quoted the message, the provider's documented envelope
is put around it. Keys and request ids are the masked or fake ones from the
sources. ``retry_after`` is what the response itself asks for (None when it
names no wait). ``feature`` is checked only where given.

Cases added for issue #14 also carry ``group`` (which class of misreading
they guard against: ``type`` for error types and codes that outrank the
status, ``location`` for region blocks, ``stream`` for errors inside a 200
stream, ``retry`` for waits and windows named in the body) and ``origin``
(whose wording it is, which can differ from the gateway that relayed it).
Bedrock event-stream frames are built by :func:`_aws_frames` around the
exception name and message the source quotes.
"""

from __future__ import annotations

import binascii
import json
import struct
from typing import Any

Case = dict[str, Any]


def _case(
    id: str,
    source: str,
    status: int | None,
    body: Any,
    kind: str,
    retryable: bool,
    retry_after: float | None = None,
    headers: dict[str, str] | None = None,
    feature: str | None = None,
    provider: str | None = None,
    group: str | None = None,
    origin: str | None = None,
) -> Case:
    return {
        "id": id,
        "source": source,
        "status": status,
        "headers": headers or {},
        "body": body,
        "kind": kind,
        "retryable": retryable,
        "retry_after": retry_after,
        "feature": feature,
        "provider": provider,
        "group": group,
        "origin": origin,
    }


def _oa(message: str, type_: str | None, code: str | None, param: str | None = None) -> Any:
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}


def _an(type_: str, message: str) -> Any:
    return {"type": "error", "error": {"type": type_, "message": message}, "request_id": "req_01"}


def _gg(code: int, status: str, message: str, details: list[Any] | None = None) -> Any:
    err: dict[str, Any] = {"code": code, "message": message, "status": status}
    if details is not None:
        err["details"] = details
    return {"error": err}


def _frame(headers: dict[str, str], payload: bytes) -> bytes:
    raw = b""
    for name, value in headers.items():
        n, v = name.encode(), value.encode()
        raw += bytes([len(n)]) + n + b"\x07" + struct.pack(">H", len(v)) + v
    prelude = struct.pack(">II", 16 + len(raw) + len(payload), len(raw))
    message = prelude + struct.pack(">I", binascii.crc32(prelude)) + raw + payload
    return message + struct.pack(">I", binascii.crc32(message))


def _aws_frames(exception: str, payload: dict[str, Any]) -> bytes:
    """A ConverseStream/InvokeModelWithResponseStream body: one content chunk,
    then the exception frame AWS sends mid-stream (vnd.amazon.eventstream)."""
    chunk = _frame(
        {":message-type": "event", ":event-type": "contentBlockDelta"},
        b'{"contentBlockIndex":0,"delta":{"text":"Hello"}}',
    )
    error = _frame(
        {":message-type": "exception", ":exception-type": exception},
        json.dumps(payload).encode(),
    )
    return chunk + error


OPENAI_ERRORS = "https://platform.openai.com/docs/guides/error-codes"
ANTHROPIC_ERRORS = "https://docs.claude.com/en/api/errors"
OPENROUTER_ERRORS = "https://openrouter.ai/docs/api/reference/errors-and-debugging"
BEDROCK_ERRORS = (
    "https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_InvokeModel.html"
)
GH = "https://github.com/"

CASES: list[Case] = [
    # ---------------------------------------------------------------- OpenAI
    _case("openai-insufficient-quota", GH + "openai/openai-cookbook/issues/844", 429,
          _oa("You exceeded your current quota, please check your plan and billing details.",
              "insufficient_quota", "insufficient_quota"), "billing", False),
    _case("openai-insufficient-quota-null-code", GH + "ChatGPTNextWeb/NextChat/issues/1792", 429,
          _oa("You exceeded your current quota, please check your plan and billing details.",
              "insufficient_quota", None), "billing", False),
    _case("openai-tpm-rate-limit", GH + "semanser/codel/issues/72", 429,
          _oa("Rate limit reached for gpt-4o in organization org-XXXX on tokens per min (TPM): "
              "Limit 30000, Used 14567, Requested 24754. Please try again in 18.642s. Visit "
              "https://platform.openai.com/account/rate-limits to learn more.", "tokens",
              "rate_limit_exceeded"), "rate_limit", True, 18.642),
    _case("openai-tpm-rate-limit-ms", GH + "BuilderIO/micro-agent/issues/86", 429,
          _oa("Rate limit reached for gpt-4o in organization org-uOtiSEwvUnroadaOnJJquBEC on "
              "tokens per min (TPM): Limit 30000, Used 29937, Requested 385. Please try again "
              "in 644ms.", "tokens", "rate_limit_exceeded"), "rate_limit", True, 0.644),
    _case("openai-request-too-large-for-tpm", GH + "Aider-AI/aider/issues/1880", 429,
          _oa("Request too large for gpt-4o in organization org-2itOgSdqw0DhUYp0QyLhttLL on "
              "tokens per min (TPM): Limit 30000, Requested 36278. The input or output tokens "
              "must be reduced in order to run successfully. Visit "
              "https://platform.openai.com/account/rate-limits to learn more.", "tokens",
              "rate_limit_exceeded"), "payload_too_large", False),
    _case("openai-invalid-api-key", OPENAI_ERRORS, 401,
          _oa("Incorrect API key provided: sk-abc12***************************xyz9. You can "
              "find your API key at https://platform.openai.com/account/api-keys.",
              "invalid_request_error", "invalid_api_key"), "auth", False),
    _case("openai-model-not-found", GH + "Chainlit/cookbook/issues/82", 404,
          _oa("The model `gpt-4` does not exist or you do not have access to it. Learn more: "
              "https://help.openai.com/en/articles/7102672-how-can-i-access-gpt-4.",
              "invalid_request_error", "model_not_found"), "not_found", False),
    _case("openai-max-tokens-unsupported", GH + "griptape-ai/ComfyUI-Griptape/issues/312", 400,
          _oa("Unsupported parameter: 'max_tokens' is not supported with this model. Use "
              "'max_completion_tokens' instead.", "invalid_request_error",
              "unsupported_parameter", "max_tokens"), "unsupported_feature", False,
          feature="max_tokens"),
    _case("openai-temperature-unsupported", GH + "holoviz/lumen/pull/1087", 400,
          _oa("Unsupported value: 'temperature' does not support 0.2 with this model. Only the "
              "default (1) value is supported.", "invalid_request_error", "unsupported_value",
              "temperature"), "unsupported_feature", False, feature="temperature"),
    _case("openai-parallel-tool-calls-unsupported", GH + "evalstate/fast-agent/issues/279", 400,
          _oa("Unsupported parameter: 'parallel_tool_calls' is not supported with this model.",
              "invalid_request_error", "unsupported_parameter", "parallel_tool_calls"),
          "unsupported_feature", False, feature="parallel_tool_calls"),
    _case("openai-stream-unsupported", GH + "ChatGPTNextWeb/NextChat/issues/5410", 400,
          _oa("Unsupported value: 'stream' does not support true with this model. Only the "
              "default (false) value is supported.", "invalid_request_error",
              "unsupported_value", "stream"), "unsupported_feature", False, feature="stream"),
    _case("openai-json-schema-unsupported", GH + "langchain-ai/langchain/issues/31490", 400,
          _oa("Invalid parameter: 'response_format' of type 'json_schema' is not supported with "
              "this model. Learn more about supported models at the Structured Outputs guide: "
              "https://platform.openai.com/docs/guides/structured-outputs",
              "invalid_request_error", None), "unsupported_feature", False, feature="json"),
    _case("azure-json-object-unsupported", GH + "mrwadams/stride-gpt/issues/19", 400,
          _oa("Invalid parameter: 'response_format' of type 'json_object' is not supported with "
              "this model.", "invalid_request_error", None, "response_format"),
          "unsupported_feature", False, feature="json"),
    _case("openai-responses-response-format-moved", GH + "mkht/PSOpenAI/issues/44", 400,
          _oa("Unsupported parameter: 'response_format'. In the Responses API, this parameter "
              "has moved to 'text.format'. Try again with the new parameter.",
              "invalid_request_error", "unsupported_parameter", "response_format"),
          "unsupported_feature", False, feature="json"),
    _case("openai-server-error", GH + "ai-genie/chatgpt-vscode/issues/100", 500,
          _oa("The server had an error processing your request. Sorry about that! You can retry "
              "your request, or contact us through our help center at help.openai.com if you "
              "keep seeing this error.", "server_error", None), "server", True),
    _case("openai-engine-overloaded", OPENAI_ERRORS, 503,
          _oa("The engine is currently overloaded, please try again later", "server_error",
              None), "overloaded", True),
    _case("openai-context-length", GH + "langchain-ai/langchain/issues/24058", 400,
          _oa("This model's maximum context length is 8192 tokens. However, you requested "
              "254457 tokens (253457 in the messages, 1000 in the completion). Please reduce the "
              "length of the messages or completion.", "invalid_request_error",
              "context_length_exceeded", "messages"), "context_length", False),
    _case("openai-stream-server-error", GH + "openai/openai-node/issues/1730", 200,
          'data: {"error": {"type": "server_error", "code": "server_error", "message": "An '
          "error occurred while processing your request. You can retry your request, or contact"
          ' us through our help center at help.openai.com if the error persists.", "param": '
          "null}}\n\n", "server", True),
    # ----------------------------------------------------------------- Azure
    _case("azure-content-filter", GH + "compl-ai/compl-ai/issues/20", 400,
          {"error": {"message": "The response was filtered due to the prompt triggering Azure "
                     "OpenAI's content management policy. Please modify your prompt and retry.",
                     "type": None, "param": "prompt", "code": "content_filter", "status": 400,
                     "innererror": {"code": "ResponsibleAIPolicyViolation",
                                    "content_filter_result": {
                                        "violence": {"filtered": True, "severity": "medium"}}}}},
          "content_filter", False),
    _case("azure-daily-token-limit-text-wait", GH + "alex-wolf-ps/dbchatprov2/issues/2", 429,
          {"error": {"code": "429", "message": "Requests to the ChatCompletions_Create Operation "
                     "under Azure OpenAI API version 2024-05-01-preview have exceeded token rate "
                     "limit of your current OpenAI S0 pricing tier. Please retry after 86400 "
                     "seconds. Please go here: https://aka.ms/oai/quotaincrease if you would like"
                     " to further increase the default rate limit."}},
          "rate_limit", True, 86400.0),
    _case("azure-rate-limit-try-again", GH + "Azure/azure-sdk-for-net/issues/47779", 429,
          {"error": {"code": "429", "message": "Rate limit is exceeded. Try again in 40 seconds."}},
          "rate_limit", True, 40.0),
    _case("azure-retry-after-ms-header", "https://learn.microsoft.com/en-us/azure/ai-services/"
          "openai/quotas-limits", 429,
          {"error": {"code": "429", "message": "Requests to the ChatCompletions_Create Operation "
                     "under Azure OpenAI API version 2024-02-01 have exceeded call rate limit of "
                     "your current OpenAI S0 pricing tier."}},
          "rate_limit", True, 1.5, headers={"retry-after-ms": "1500", "retry-after": "2"}),
    _case("azure-deployment-not-found", GH + "chatboxai/chatbox/issues/646", 404,
          {"error": {"code": "DeploymentNotFound", "message": "The API deployment for this "
                     "resource does not exist. If you created the deployment within the last 5 "
                     "minutes, please wait a moment and try again."}}, "not_found", False),
    _case("azure-high-demand-gateway-wrapper", GH + "pollinations/pollinations/issues/6260", 429,
          {"success": False, "error": {"message": "azure-openai error: The system is currently "
           "experiencing high demand and cannot process your request. Your request exceeds the "
           "maximum usage size allowed during peak load. Please retry after 20 seconds.",
           "code": "RATE_LIMITED"}, "status": 429}, "rate_limit", True, 20.0),
    # ------------------------------------------------------------- Anthropic
    _case("anthropic-overloaded-529", GH + "anthropics/anthropic-sdk-typescript/issues/616", 529,
          _an("overloaded_error", "Overloaded"), "overloaded", True,
          headers={"x-should-retry": "true", "content-type": "application/json"}),
    _case("anthropic-rate-limit-retry-after", "https://docs.claude.com/en/api/rate-limits", 429,
          _an("rate_limit_error", "This request would exceed the rate limit for your "
              "organization of 50,000 input tokens per minute. For details, refer to: "
              "https://docs.claude.com/en/api/rate-limits."), "rate_limit", True, 17.0,
          headers={"retry-after": "17", "anthropic-ratelimit-input-tokens-limit": "50000",
                   "anthropic-ratelimit-input-tokens-remaining": "0"}),
    _case("anthropic-rate-limit-reset-header", "https://docs.claude.com/en/api/rate-limits", 429,
          _an("rate_limit_error", "Number of request tokens has exceeded your per-minute rate "
              "limit"), "rate_limit", True, 30.0,
          headers={"date": "Tue, 14 Nov 2023 22:13:20 GMT",
                   "anthropic-ratelimit-requests-remaining": "12",
                   "anthropic-ratelimit-requests-reset": "2023-11-14T22:13:23Z",
                   "anthropic-ratelimit-tokens-remaining": "0",
                   "anthropic-ratelimit-tokens-reset": "2023-11-14T22:13:50Z"}),
    _case("anthropic-credit-balance", GH + "anthropics/claude-quickstarts/issues/229", 400,
          _an("invalid_request_error", "Your credit balance is too low to access the Anthropic "
              "API. Please go to Plans & Billing to upgrade or purchase credits."),
          "billing", False),
    _case("anthropic-prompt-too-long", GH + "earendil-works/pi/issues/102", 400,
          _an("invalid_request_error", "prompt is too long: 219898 tokens > 200000 maximum"),
          "context_length", False),
    _case("anthropic-input-plus-max-tokens", GH + "docker/docker-agent/issues/569", 400,
          _an("invalid_request_error", "input length and `max_tokens` exceed context limit: "
              "178959 + 64000 > 200000, decrease input length or `max_tokens` and try again"),
          "context_length", False),
    _case("anthropic-request-too-large", GH + "anthropics/claude-code/issues/14567", 413,
          {"error": {"type": "request_too_large", "message": "Request exceeds the maximum size"}},
          "payload_too_large", False),
    _case("anthropic-invalid-x-api-key", GH + "eyaltoledano/claude-task-master/issues/222", 401,
          _an("authentication_error", "invalid x-api-key"), "auth", False),
    _case("anthropic-model-not-found", GH + "mattermost/mattermost-plugin-agents/issues/257", 404,
          _an("not_found_error", "model: claude-3-5-sonnet-20241022 "), "not_found", False),
    _case("anthropic-api-error-500", GH + "anthropics/claude-code/issues/91800", 500,
          _an("api_error", "Internal server error"), "server", True),
    _case("anthropic-forbidden", GH + "enricoros/big-AGI/issues/176", 403,
          {"error": {"type": "forbidden", "message": "Request not allowed"}}, "permission", False),
    _case("anthropic-stream-overloaded", ANTHROPIC_ERRORS, 200,
          "event: message_start\ndata: {\"type\": \"message_start\", \"message\": {\"id\": "
          "\"msg_01\"}}\n\nevent: error\ndata: {\"type\": \"error\", \"error\": {\"type\": "
          "\"overloaded_error\", \"message\": \"Overloaded\"}}\n\n", "overloaded", True),
    # ---------------------------------------------------------------- Gemini
    _case("gemini-retry-info", GH + "gke-labs/gemini-for-kubernetes-development/issues/1215",
          429, _gg(429, "RESOURCE_EXHAUSTED", "Resource has been exhausted (e.g. check quota).",
                   [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "37s"}]),
          "rate_limit", True, 37.0),
    _case("gemini-free-tier-daily-quota", "https://ai.google.dev/gemini-api/docs/rate-limits", 429,
          _gg(429, "RESOURCE_EXHAUSTED", "You exceeded your current quota, please check your "
              "plan and billing details. For more information on this error, head to: "
              "https://ai.google.dev/gemini-api/docs/rate-limits.",
              [{"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": [
                  {"quotaMetric": "generativelanguage.googleapis.com/"
                   "generate_content_free_tier_requests",
                   "quotaId": "GenerateRequestsPerDayPerProjectPerModel-FreeTier",
                   "quotaDimensions": {"location": "global", "model": "gemini-2.0-flash"},
                   "quotaValue": "200"}]},
               {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "27s"}]),
          "quota", False, 27.0),
    _case("gemini-api-key-invalid-wrapped", GH + "continuedev/continue/issues/10077", 400,
          {"error": {"message": "{\n  \"error\": {\n    \"code\": 400,\n    \"message\": \"API key"
                     " not valid. Please pass a valid API key.\",\n    \"status\": "
                     "\"INVALID_ARGUMENT\",\n    \"details\": [\n      {\n        \"@type\": "
                     "\"type.googleapis.com/google.rpc.ErrorInfo\",\n        \"reason\": "
                     "\"API_KEY_INVALID\",\n        \"domain\": \"googleapis.com\"\n      }\n   "
                     " ]\n  }\n}\n", "code": 400, "status": "Bad Request"}}, "auth", False),
    _case("gemini-user-location", GH + "Xeift/Telegram-Discord-Bot/issues/4", 400,
          _gg(400, "FAILED_PRECONDITION", "User location is not supported for the API use."),
          "permission", False),
    _case("gemini-overloaded-503", GH + "google-gemini/cookbook/issues/425", 503,
          _gg(503, "UNAVAILABLE", "The model is overloaded. Please try again later."),
          "overloaded", True),
    _case("gemini-high-demand-wrapped", GH + "continuedev/continue/issues/10639", 503,
          {"error": {"message": "{\n  \"error\": {\n    \"code\": 503,\n    \"message\": \"This "
                     "model is currently experiencing high demand. Spikes in demand are usually "
                     "temporary. Please try again later.\",\n    \"status\": \"UNAVAILABLE\"\n  "
                     "}\n}\n", "code": 503, "status": "Service Unavailable"}}, "overloaded", True),
    _case("gemini-resource-exhausted-wrapped", GH + "google-gemini/gemini-cli/issues/14811", 429,
          {"error": {"message": "{\n  \"error\": {\n    \"code\": 429,\n    \"message\": "
                     "\"Resource has been exhausted (e.g. check quota).\",\n    \"status\": "
                     "\"RESOURCE_EXHAUSTED\"\n  }\n}\n", "code": 429,
                     "status": "Too Many Requests"}}, "rate_limit", True),
    _case("gemini-model-not-found", GH + "google/adk-python/issues/200", 404,
          _gg(404, "NOT_FOUND", "models/gemini-2.0-flash-live-001 is not found for API version "
              "v1beta, or is not supported for generateContent. Call ListModels to see the list "
              "of available models and their supported methods."), "not_found", False),
    _case("gemini-input-token-count", GH + "google-gemini/gemini-cli/issues/6678", 400,
          [{"error": {"code": 400, "message": "The input token count (1200293) exceeds the "
                      "maximum number of tokens allowed (1048576).", "errors": [
                          {"message": "The input token count (1200293) exceeds the maximum "
                           "number of tokens allowed (1048576).", "domain": "global",
                           "reason": "badRequest"}], "status": "INVALID_ARGUMENT"}}],
          "context_length", False),
    _case("gemini-safety-block-200", "https://ai.google.dev/api/generate-content#BlockReason",
          200, {"promptFeedback": {"blockReason": "SAFETY", "safetyRatings": [
              {"category": "HARM_CATEGORY_HARASSMENT", "probability": "HIGH"}]}},
          "content_filter", False),
    # --------------------------------------------------------------- Bedrock
    _case("bedrock-throttling-header", GH + "aws-samples/amazon-bedrock-client-for-mac/issues/99",
          429, '{"message":"Too many tokens, please wait before trying again."}', "rate_limit",
          True, headers={"x-amzn-errortype": "ThrottlingException:http://internal.amazon.com/"
                         "coral/com.amazon.bedrock/", "content-type": "application/json"}),
    _case("bedrock-input-too-long", GH + "aws-samples/assessment-generator/issues/2", 400,
          '{"message":"Input is too long for requested model."}', "context_length", False,
          headers={"x-amzn-errortype": "ValidationException:http://internal.amazon.com/coral/"
                   "com.amazon.bedrock/"}),
    _case("bedrock-access-denied", "https://docs.aws.amazon.com/bedrock/latest/userguide/"
          "troubleshooting-api-error-codes.html", 403,
          {"__type": "AccessDeniedException", "message": "You don't have access to the model "
           "with the specified model ID."}, "permission", False),
    _case("bedrock-service-unavailable", GH + "darko-mesaros/bedrust/issues/47", 503,
          {"__type": "ServiceUnavailableException", "message": "Bedrock is unable to process "
           "your request."}, "overloaded", True),
    _case("bedrock-model-timeout", BEDROCK_ERRORS, 408,
          {"__type": "ModelTimeoutException", "message": "Model has timed out in processing the "
           "request. Try your request again."}, "timeout", True),
    _case("bedrock-stream-exception-via-litellm", GH + "aws-samples/"
          "foundation-model-benchmarking-tool/issues/247", 400,
          "litellm.APIConnectionError: Bad response code, expected 200: {'status_code': 400, "
          "'headers': {':exception-type': 'serviceUnavailableException', ':content-type': "
          "'application/json', ':message-type': 'exception'}, 'body': b'{\"message\":\"Bedrock "
          "is unable to process your request.\"}'}", "overloaded", True),
    _case("bedrock-botocore-throttling", GH + "i-dot-ai/caddy-chatbot/issues/97", None,
          {"Error": {"Code": "ThrottlingException", "Message": "Too many requests, please wait "
                     "before trying again. You have sent too many requests.  Wait before trying "
                     "again."}, "ResponseMetadata": {"HTTPStatusCode": 429}}, "rate_limit", True),
    # ------------------------------------------------------------------ Groq
    _case("groq-single-request-over-tpm", GH + "OpenHands/OpenHands/pull/4167", 429,
          _oa("Rate limit reached for model `llama-3.2-90b-text-preview` in organization "
              "`org_xxx` on tokens per minute (TPM): Limit 7000, Used 6148, Requested 7895. "
              "Please try again in 1m0.363142857s. Visit https://console.groq.com/docs/"
              "rate-limits for more information.", "tokens", "rate_limit_exceeded"),
          "payload_too_large", False, 60.363142857),
    _case("groq-tpm-rate-limit", GH + "openinterpreter/openinterpreter/issues/408", 429,
          _oa("Rate limit reached for model `llama-3.3-70b-versatile` in organization "
              "`org_01hs26sgxde6dva0eke39336sv` on tokens per minute (TPM): Limit 6000, Used "
              "3513, Requested 3166. Please try again in 6.780999999s. Visit "
              "https://console.groq.com/docs/rate-limits for more information.", "tokens",
              "rate_limit_exceeded"), "rate_limit", True, 6.780999999),
    _case("groq-tokens-per-day", GH + "continuedev/continue/issues/10920", 429,
          _oa("Rate limit reached for model `llama-3.3-70b-versatile` in organization "
              "`org_01kjh7p9n8f1qs6nz2bz77vy6b` service tier `on_demand` on tokens per day "
              "(TPD): Limit 100000, Used 97050, Requested 3619. Please try again in 9m38.016s. "
              "Need more tokens? Upgrade to Dev Tier today at https://console.groq.com/settings/"
              "billing", "tokens", "rate_limit_exceeded"), "rate_limit", True, 578.016),
    _case("groq-request-too-large-413", GH + "elizaOS/eliza/issues/4040", 413,
          _oa("Request too large for model `llama-3.1-8b-instant` in organization `xxxx` "
              "service tier `on_demand` on tokens per minute (TPM): Limit 6000, Requested 6294, "
              "please reduce your message size and try again. Visit https://console.groq.com/"
              "docs/rate-limits for more information.", "tokens", "rate_limit_exceeded"),
          "payload_too_large", False),
    _case("groq-model-decommissioned", "https://console.groq.com/docs/deprecations", 400,
          _oa("The model `mixtral-8x7b-32768` has been decommissioned and is no longer "
              "supported. Please refer to https://console.groq.com/docs/deprecations for a "
              "recommendation on which model to use instead.", "invalid_request_error",
              "model_decommissioned"), "not_found", False),
    _case("groq-flex-capacity-498", "https://console.groq.com/docs/flex-processing", 498,
          _oa("Flex tier capacity exceeded", "capacity_exceeded", "capacity_exceeded"),
          "overloaded", True),
    # --------------------------------------------------------------- Mistral
    _case("mistral-requests-rate-limit", GH + "pydantic/pydantic-ai/issues/1885", 429,
          {"message": "Requests rate limit exceeded"}, "rate_limit", True),
    _case("mistral-rate-limited-1300", GH + "cline/cline/issues/9085", 429,
          {"object": "error", "message": "Rate limit exceeded", "type": "rate_limited",
           "param": None, "code": "1300"}, "rate_limit", True),
    _case("mistral-capacity-503", GH + "BerriAI/litellm/pull/25078", 503,
          {"object": "error", "message": "Service tier capacity exceeded for this model.",
           "type": "invalid_request_error", "param": None, "code": None}, "overloaded", True),
    # ------------------------------------------------------------ OpenRouter
    _case("openrouter-upstream-rate-limited", GH + "open-webui/computer/issues/293", 429,
          {"error": {"message": "Provider returned error", "code": 429, "metadata": {
              "raw": "z-ai/glm-5.3-flash is temporarily rate-limited upstream. Please retry "
                     "shortly, or add your own key to accumulate your rate limits",
              "provider_name": "BaseTen", "limit_source": "upstream_provider_shared_pool"}}},
          "rate_limit", True),
    _case("openrouter-raw-openai-bad-request", GH + "reVrost/go-openrouter/pull/21", 400,
          {"error": {"message": "Provider returned error", "code": 400, "metadata": {
              "raw": "{\n  \"error\": {\n    \"message\": \"Response input messages must "
                     "contain the word 'json' in some form to use 'text.format' of type "
                     "'json_object'.\",\n    \"type\": \"invalid_request_error\",\n    "
                     "\"param\": \"input\",\n    \"code\": null\n  }\n}",
              "provider_name": "OpenAI"}}, "user_id": "org_2x"}, "bad_request", False),
    _case("openrouter-needs-credits", GH + "Gitlawb/openclaude/issues/1125", 402,
          {"error": {"message": "This request requires more credits, or fewer max_tokens. You "
                     "requested up to 32000 tokens, but can only afford 27342. To increase, "
                     "visit https://openrouter.ai/settings/credits and upgrade to a paid "
                     "account", "code": 402, "metadata": {"provider_name": None}},
           "user_id": "user_x"}, "billing", False),
    _case("openrouter-200-with-error-429", GH + "BerriAI/litellm/issues/8448", 200,
          {"id": "gen-1", "choices": [{"finish_reason": "stop", "message": {"content": None}}],
           "error": {"message": "Provider returned error", "code": 429,
                     "metadata": {"raw": "error code: 1015", "provider_name": "Kluster"}}},
          "rate_limit", True),
    _case("openrouter-moderation-403", OPENROUTER_ERRORS, 403,
          {"error": {"code": 403, "message": "Your chosen model requires moderation and your "
                     "input was flagged", "metadata": {"reasons": ["harassment"],
                                                       "flagged_input": "...",
                                                       "provider_name": "OpenAI",
                                                       "model_slug": "openai/gpt-4o"}}},
          "content_filter", False),
    _case("openrouter-image-limit-upstream", GH + "diegosouzapw/OmniRoute/issues/3044", 400,
          {"error": {"message": "Provider returned error", "code": 400, "metadata": {
              "raw": "{\"error\":{\"type\":\"invalid_request_error\",\"code\":"
                     "\"invalid_request_error\",\"message\":\"Model 'moonshotai/kimi-k2.6' "
                     "supports at most 1 image per prompt.\"}}", "provider_name": "Crucible",
              "is_byok": False}}}, "bad_request", False),
    # -------------------------------------------------------------- DeepSeek
    _case("deepseek-insufficient-balance", GH + "frostime/sy-f-misc/issues/10", 402,
          {"error": {"message": "Insufficient Balance", "type": "unknown_error", "param": None,
                     "code": "invalid_request_error"}}, "billing", False),
    _case("deepseek-auth-fails", GH + "FullStackPlayer/claude-code-launcher/issues/3", 401,
          {"error": {"message": "Authentication Fails, Your api key: ****_KEY is invalid",
                     "type": "authentication_error", "param": None,
                     "code": "invalid_request_error"}}, "auth", False),
    _case("deepseek-context-length", GH + "RooCodeInc/Roo-Code/issues/1767", 400,
          _oa("This model's maximum context length is 65536 tokens. However, you requested "
              "69648 tokens (69648 in the messages, 0 in the completion). Please reduce the "
              "length of the messages or completion.", "invalid_request_error",
              "invalid_request_error"), "context_length", False),
    # ------------------------------------------------------------------- xAI
    _case("xai-incorrect-api-key-bare-string", GH + "continuedev/continue/issues/10778", 400,
          '"Incorrect API key provided: na***ys. You can obtain an API key from '
          'https://console.x.ai."', "auth", False),
    _case("xai-team-tokens-per-minute", GH + "cline/cline/issues/4826", 429,
          '"Too many tokens for team e9fe19cb-de96-4c57-9ffb-2f1b9c631ce2 and model '
          "grok-4-0709. Your team's rate limit is — Tokens per Minute (actual/limit): "
          '65605/16000. You can view your team rate limits at https://console.x.ai."',
          "rate_limit", True),
    _case("xai-invalid-argument", GH + "nocmt/LLMSearchPlus/issues/2", 400,
          {"code": "Client specified an invalid argument",
           "error": "The model expects a single `text` element per message."},
          "bad_request", False),
    # ---------------------------------------------- vLLM, TGI, Together, HF
    _case("vllm-context-length", GH + "vllm-project/vllm/issues/20409", 400,
          {"object": "error", "message": "This model's maximum context length is 16384 tokens. "
           "However, you requested 122946 tokens (112946 in the messages, 10000 in the "
           "completion). Please reduce the length of the messages or completion.",
           "type": "BadRequestError", "param": None, "code": 400}, "context_length", False),
    _case("tgi-input-validation-422", GH + "bytedance/UI-TARS-desktop/issues/626", 422,
          {"error": "Input validation error: `inputs` tokens + `max_new_tokens` must be <= "
           "65537. Given: 79993 `inputs` tokens and 1024 `max_new_tokens`",
           "error_type": "validation"}, "context_length", False),
    _case("hf-model-loading", GH + "huggingface/transformers/issues/32665", 503,
          {"error": "Model meta-llama/Llama-2-13b-chat is currently loading",
           "estimated_time": 20.0}, "overloaded", True, 20.0),
    # ---------------------------------------------------------------- Ollama
    _case("ollama-model-not-found", "https://github.com/ollama/ollama/blob/main/docs/api.md", 404,
          '{"error":"model \'llama3.1:70b\' not found, try pulling it first"}', "not_found",
          False),
    _case("ollama-no-tools", GH + "ollama/ollama/issues/14795", 400,
          '{"error":"registry.ollama.ai/library/Qwen3.5:0.8b does not support tools"}',
          "unsupported_feature", False, feature="tools"),
    _case("ollama-openai-compat-no-tools", GH + "FoundationAgents/OpenManus/issues/220", 400,
          _oa("registry.ollama.ai/library/qwen:4b does not support tools", "api_error", None),
          "unsupported_feature", False, feature="tools"),
    # ---------------------------------------------------------------- Cohere
    _case("cohere-trial-key-rate-limit", "https://docs.cohere.com/docs/rate-limits", 429,
          {"id": "a1b2", "message": "You are using a Trial key, which is limited to 10 API calls "
           "/ minute. You can continue to use the Trial key for free or upgrade to a Production"
           " key with higher rate limits at 'https://dashboard.cohere.com/api-keys'."},
          "rate_limit", True),
    _case("cohere-too-many-tokens", "https://docs.cohere.com/reference/errors", 400,
          {"id": "c3d4", "message": "too many tokens: total number of tokens in the prompt "
           "cannot exceed 4081 - received 4200. Try using a shorter prompt, or enabling prompt "
           "truncating."}, "context_length", False),
    # ---------------------------------------------------- CDN and proxy pages
    _case("cloudflare-524-html", GH + "su-kaka/gcli2api/issues/354", 524,
          "<!DOCTYPE html>\n<html class=\"no-js\" lang=\"en-US\"> <head>\n<title>283892.xyz | "
          "524: A timeout occurred</title>\n<meta charset=\"UTF-8\" />\n</head>\n<body>\n<div "
          "id=\"cf-wrapper\"><h1><span class=\"inline-block\">A timeout occurred</span><span "
          "class=\"code-label\">Error code 524</span></h1></div></body></html>", "gateway", True),
    _case("nginx-502-html", "https://nginx.org/en/docs/http/ngx_http_proxy_module.html", 502,
          "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 "
          "Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n",
          "gateway", True),
    _case("openresty-413-html", GH + "vm0-ai/vm0/issues/34178", 413,
          "<html>\r\n<head><title>413 Request Entity Too Large</title></head>\r\n<body>\r\n"
          "<center><h1>413 Request Entity Too Large</h1></center>\r\n<hr><center>openresty"
          "</center>\r\n</body>\r\n</html>\r\n", "payload_too_large", False),
    _case("cloudflare-520-html", "https://developers.cloudflare.com/support/troubleshooting/"
          "http-status-codes/cloudflare-5xx-errors/error-520/", 520,
          "<html><head><title>api.example.com | 520: Web server is returning an unknown error"
          "</title></head><body><h1>Web server is returning an unknown error</h1></body></html>",
          "server", True),
    _case("envoy-no-healthy-upstream", GH + "anthropics/claude-code/issues/2024", 503,
          "no healthy upstream", "gateway", True),
    _case("envoy-upstream-reset", GH + "anthropics/claude-code/issues/7043", 503,
          "upstream connect error or disconnect/reset before headers. reset reason: overflow",
          "gateway", True),
    # ------------------------------------------------------- LiteLLM proxy
    _case("litellm-proxy-azure-429", GH + "jasonacox/TinyLLM/issues/17", 429,
          {"error": {"message": "litellm.RateLimitError: AzureException RateLimitError - Error "
                     "code: 429 - {'error': {'code': '429', 'message': 'Requests to the "
                     "ChatCompletions_Create Operation under Azure OpenAI API version 2023-05-15"
                     " have exceeded token rate limit of your current AIServices S0 pricing "
                     "tier. Please retry after 86400 seconds. Please contact Azure support "
                     "service if you would like to further increase the default rate limit.'}}"
                     "\nReceived Model Group=azure-gpt-4o-mini\nAvailable Model Group Fallbacks"
                     "=None", "type": "throttling_error", "param": None, "code": "429"}},
          "rate_limit", True, 86400.0),
    _case("litellm-proxy-content-policy", GH + "BerriAI/litellm/pull/16231", 400,
          {"error": {"message": "litellm.BadRequestError: litellm.ContentPolicyViolationError: "
                     "litellm.ContentPolicyViolationError: AzureException - The response was "
                     "filtered due to the prompt triggering Azure OpenAI's content management "
                     "policy. Please modify your prompt and retry.", "type": None, "param": None,
                     "code": "400", "provider_specific_fields": {"innererror": {
                         "code": "ResponsibleAIPolicyViolation"}}}}, "content_filter", False),
    _case("litellm-deepseek-balance", GH + "Aider-AI/aider/issues/4851", 400,
          "litellm.BadRequestError: DeepseekException - {\"error\":{\"message\":\"Insufficient "
          "Balance\",\"type\":\"unknown_error\",\"param\":null,\"code\":"
          "\"invalid_request_error\"}}", "billing", False),
    # ===================================================== issue #14: type over status
    # An explicit provider error type or code outranks the HTTP status; the
    # message refines it (capacity vs throttling, per-minute vs billing).
    _case("moonshot-429-engine-overloaded", GH + "666ghj/BettaFish/issues/292", 429,
          {"error": {"message": "The engine is currently overloaded, please try again later",
                     "type": "engine_overloaded_error"}}, "overloaded", True,
          group="type", origin="moonshot"),
    _case("novita-429-server-overload", GH + "NousResearch/hermes-agent/issues/106205", 429,
          _oa("server overload, please try again later", "server_overload", None),
          "overloaded", True, group="type", origin="novita"),
    _case("zai-429-code-1305-overloaded", GH + "NousResearch/hermes-agent/pull/98111", 429,
          {"error": {"code": "1305", "message": "The service may be temporarily overloaded, "
                     "please try again later"}}, "overloaded", True, group="type", origin="zai"),
    _case("gemini-429-model-capacity-exhausted", GH + "google-gemini/gemini-cli/issues/25179",
          429, [{"error": {"code": 429, "message": "No capacity available for model "
                           "gemini-3.1-pro-preview on the server", "errors": [
                               {"message": "No capacity available for model "
                                "gemini-3.1-pro-preview on the server", "domain": "global",
                                "reason": "rateLimitExceeded"}],
                           "status": "RESOURCE_EXHAUSTED", "details": [
                               {"@type": "type.googleapis.com/google.rpc.ErrorInfo",
                                "reason": "MODEL_CAPACITY_EXHAUSTED",
                                "domain": "cloudcode-pa.googleapis.com",
                                "metadata": {"model": "gemini-3.1-pro-preview"}}]}}],
          "overloaded", True, group="type", origin="gemini"),
    _case("anthropic-500-api-error-overloaded", GH + "anthropics/claude-code/issues/5922", 500,
          {"type": "error", "error": {"type": "api_error", "message": "Overloaded"}},
          "overloaded", True, group="type", origin="anthropic"),
    _case("together-429-credit-limit-per-minute", GH + "togethercomputer/MoA/issues/27", 429,
          _oa("You have been rate limited. Your rate limit is 60 queries per minute. Please "
              "navigate to https://api.together.xyz/settings/billing to upgrade to a paid plan.",
              "credit_limit", None), "rate_limit", True, group="type", origin="together"),
    _case("together-429-credit-limit-rpm-qps", GH + "bespokelabsai/curator/issues/205", 429,
          _oa("Request was rejected due to request rate limiting. Your rate limits are 600 RPM "
              "(10 QPS) and 180000 TPM (3000 TPS). See details: "
              "https://docs.together.ai/docs/rate-limits", "credit_limit", None),
          "rate_limit", True, group="type", origin="together"),
    _case("cerebras-429-request-quota-per-minute", GH + "nminaya/grammar-nazi-bot/issues/954",
          429, {"message": "Requests per minute limit exceeded - too many requests sent.",
                "type": "too_many_requests_error", "param": "quota",
                "code": "request_quota_exceeded"}, "rate_limit", True, group="type",
          origin="cerebras"),
    _case("xai-429-credits-or-spending-limit", GH + "continuedev/continue/issues/10373", 429,
          '"Your team 16f2151a-40f4-4a80-8ad0-cae00c27e8dd has either used all available '
          'credits or reached its monthly spending limit. To continue making API requests, '
          'please purchase more credits or raise your spending limit."', "billing", False,
          group="type", origin="xai"),
    _case("together-400-model-not-available", GH + "HeyPuter/puter/issues/3168", 400,
          {"id": "okkMWqL-2kFHot-a023f60e9b77ff7e", "error": {
              "message": "Unable to access non-serverless model "
                         "mistralai/Mistral-Small-24B-Instruct-2501. Please visit "
                         "https://api.together.ai/models/mistralai/"
                         "Mistral-Small-24B-Instruct-2501 to create and start a new dedicated "
                         "endpoint for the model.", "type": "invalid_request_error",
              "param": None, "code": "model_not_available"}},
          "not_found", False, group="type", origin="together"),
    _case("together-400-dedicated-endpoint-not-running", GH + "HeyPuter/puter/issues/3168", 400,
          {"id": "okkMWzu-2kFHot-a023f611fd50ff7e", "error": {
              "message": "The dedicated endpoint for mistralai/Mixtral-8x22B-Instruct-v0.1 is "
                         "not running. Please visit https://api.together.ai/models to start the "
                         "endpoint.", "type": "invalid_request_error", "param": None,
              "code": "dedicated_endpoint_not_running"}},
          "not_found", False, group="type", origin="together"),
    _case("copilot-400-model-not-supported", GH + "caozhiyuan/copilot-api/issues/253", 400,
          {"error": {"message": "The requested model is not supported.",
                     "code": "model_not_supported", "param": "model",
                     "type": "invalid_request_error"}}, "not_found", False, group="type",
          origin="github-copilot"),
    _case("hf-router-400-model-not-supported", GH + "cline/cline/issues/5098", 400,
          {"error": {"message": "The requested model 'moonshotai/Kimi-K2-Instruct' is not "
                     "supported by any provider you have enabled."}}, "not_found", False,
          group="type", origin="huggingface"),
    _case("bedrock-400-on-demand-throughput", GH + "terricain/aioboto3/issues/352", 400,
          '{"message":"Invocation of model ID anthropic.claude-3-5-sonnet-20241022-v2:0 with '
          "on-demand throughput isn\u2019t supported. Retry your request with the ID or ARN of "
          'an inference profile that contains this model."}', "not_found", False,
          headers={"x-amzn-errortype": "ValidationException:http://internal.amazon.com/coral/"
                   "com.amazon.bedrock/"}, group="type", origin="bedrock"),
    _case("vertex-400-not-servable-in-region", GH + "NousResearch/hermes-agent/issues/32678",
          400, _gg(400, "FAILED_PRECONDITION", "Publisher Model .../publishers/anthropic/models/"
                   "claude-sonnet-5 is not servable in region global."),
          "not_found", False, group="type", origin="vertex"),
    # ================================================== issue #14: location blocks
    # A region, country or territory block is a permission problem another
    # target may not have, whatever status carries it.
    _case("openai-403-unsupported-country", GH + "aurora-develop/Duck2api/issues/33", 403,
          {"error": {"code": "unsupported_country_region_territory",
                     "message": "Country, region, or territory not supported", "param": None,
                     "type": "request_forbidden"}}, "permission", False, group="location",
          origin="openai"),
    _case("gemini-400-image-generation-country", GH + "chatboxai/chatbox/issues/2280", 400,
          _gg(400, "FAILED_PRECONDITION", "Image generation is not available in your country."),
          "permission", False, group="location", origin="gemini"),
    _case("gemini-user-location-sdk-text", GH + "poenl/gemini-api/issues/4", None,
          "400 FAILED_PRECONDITION. {'error': {'code': 400, 'message': 'User location is not "
          "supported for the API use.', 'status': 'FAILED_PRECONDITION'}}", "permission", False,
          group="location", origin="gemini"),
    _case("bedrock-anthropic-unsupported-countries-400", GH + "anthropics/claude-code/issues/2656",
          400, {"message": "Access to Anthropic models is not allowed from unsupported "
                "countries, regions, or territories. Please refer to "
                "https://www.anthropic.com/supported-countries for more information."},
          "permission", False, headers={"x-amzn-errortype": "ValidationException"},
          group="location", origin="bedrock"),
    _case("bedrock-anthropic-unsupported-countries-botocore",
          GH + "aws-samples/generative-bi-using-rag/issues/361", None,
          "An error occurred (ValidationException) when calling the InvokeModel operation: "
          "Access to Anthropic models is not allowed from unsupported countries, regions, or "
          "territories. Please refer to https://www.anthropic.com/supported-countries for more "
          "information on the countries and regions Anthropic currently supports.",
          "permission", False, group="location", origin="bedrock"),
    _case("openrouter-403-model-not-in-region", GH + "koala73/worldmonitor/pull/2541", 403,
          {"error": {"message": "This model is not available in your region.", "code": 403}},
          "permission", False, group="location", origin="openrouter"),
    _case("opencode-zen-403-region-error", GH + "anomalyco/opencode/issues/8796", 403,
          {"type": "error", "error": {"type": "RegionError",
                                      "message": "This model is not available in your country."}},
          "permission", False, group="location", origin="opencode"),
    _case("zed-451-anthropic-region", GH + "zed-industries/zed/issues/30496", 451,
          "Access to Anthropic models is not available in your region (IM)", "permission",
          False, group="location", origin="zed"),
    # ======================================== issue #14: errors inside a 200 stream
    _case("anthropic-stream-api-error", GH + "BerriAI/litellm/issues/4562", 200,
          "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,"
          "\"delta\":{\"type\":\"text_delta\",\"text\":\" (\"} }\n\nevent: error\ndata: "
          "{\"type\":\"error\",\"error\":{\"details\":null,\"type\":\"api_error\",\"message\":"
          "\"Internal server error\"}      }\n\n", "server", True, group="stream",
          origin="anthropic"),
    _case("anthropic-stream-output-blocked", GH + "vercel/ai/issues/2463", 200,
          "event: error\ndata: {\"type\":\"error\",\"error\":{\"details\":null,\"type\":"
          "\"invalid_request_error\",\"message\":\"Output blocked by content filtering "
          "policy\"}}\n\n", "content_filter", False, group="stream", origin="anthropic"),
    _case("anthropic-stream-overloaded-sdk-text", GH + "anthropics/anthropic-sdk-go/issues/200",
          None, "received error while streaming: {\"type\":\"error\",\"error\":{\"details\":null,"
          "\"type\":\"overloaded_error\",\"message\":\"Overloaded\"} }", "overloaded", True,
          group="stream", origin="anthropic"),
    _case("openai-responses-failed-overloaded", GH + "Wei-Shaw/sub2api/issues/5909", 200,
          "event: response.failed\ndata: {\"type\":\"response.failed\",\"response\":{\"status\":"
          "\"failed\",\"output\":[],\"model\":\"gpt-5.6-sol\",\"error\":{\"code\":"
          "\"server_is_overloaded\",\"message\":\"Our servers are currently overloaded. Please "
          "try again later.\"}}}\n\n", "overloaded", True, group="stream", origin="openai"),
    _case("azure-responses-failed-rate-limit", GH + "earendil-works/pi/pull/1458", 200,
          "event: response.failed\ndata: {\"type\": \"response.failed\", \"response\": "
          "{\"status\": \"failed\", \"error\": {\"code\": \"rate_limit_exceeded\", \"message\": "
          "\"Requests to the ... Operation have exceeded token rate limit ...\"}}}\n\n",
          "rate_limit", True, group="stream", origin="azure"),
    _case("openrouter-stream-error-chunk", GH + "use-agent-os/agent-os/issues/2214", 200,
          "data: {\"id\":\"cmpl-abc123\",\"object\":\"chat.completion.chunk\",\"model\":"
          "\"openai/gpt-4o\",\"provider\":\"openai\",\"error\":{\"code\":\"server_error\","
          "\"message\":\"Provider disconnected unexpectedly\"},\"choices\":[{\"index\":0,"
          "\"delta\":{\"content\":\"\"},\"finish_reason\":\"error\"}]}\n\n", "server", True,
          group="stream", origin="openrouter"),
    _case("openrouter-stream-502-provider-unavailable",
          GH + "OpenRouterTeam/ai-sdk-provider/issues/440", 200,
          "data: {\"code\":502,\"message\":\"Network connection lost.\",\"metadata\":"
          "{\"error_type\":\"provider_unavailable\"}}\n\n", "gateway", True, group="stream",
          origin="openrouter"),
    _case("ollama-ndjson-stream-error", GH + "use-agent-os/agent-os/issues/2214", 200,
          '{"model":"llama3.1","response":"The","done":false}\n'
          '{"error":"an error was encountered while running the model"}\n', "server", True,
          group="stream", origin="ollama"),
    _case("bedrock-eventstream-throttling", GH + "BerriAI/litellm/issues/1790", 200,
          _aws_frames("throttlingException", {"message": "Too many requests, please wait before "
                      "trying again. You have sent too many requests.  Wait before trying "
                      "again."}), "rate_limit", True, group="stream", origin="bedrock"),
    _case("bedrock-eventstream-service-unavailable", GH + "darko-mesaros/bedrust/issues/47",
          200, _aws_frames("serviceUnavailableException",
                           {"message": "Bedrock is unable to process your request."}),
          "overloaded", True, group="stream", origin="bedrock"),
    _case("bedrock-eventstream-internal-server", GH + "langchain-ai/langchainjs/issues/2768",
          200, _aws_frames("internalServerException", {"message": "The system encountered an "
                           "unexpected error during processing. Try your request again."}),
          "server", True, group="stream", origin="bedrock"),
    _case("bedrock-eventstream-model-stream-error", "https://docs.aws.amazon.com/botocore/"
          "latest/reference/services/bedrock-runtime/client/exceptions/"
          "ModelStreamErrorException.html", 200,
          _aws_frames("modelStreamErrorException", {"message": "An error occurred while "
                      "streaming the response. Retry your request."}),
          "server", True, group="stream", origin="bedrock"),
    _case("bedrock-eventstream-validation", GH + "Portkey-AI/gateway/issues/1142", 200,
          _aws_frames("validationException", {"message": "The model returned the following "
                      "errors: messages.1.content.0.type: Expected `thinking` or "
                      "`redacted_thinking`, but found `text`. When `thinking` is enabled, a "
                      "final `assistant` message must start with a thinking block. We recommend "
                      "you include thinking blocks from previous turns. To avoid this "
                      "requirement, disable `thinking`. Please consult our documentation at "
                      "https://docs.anthropic.com/en/docs/build-with-claude/extended-thinking"}),
          "bad_request", False, group="stream", origin="bedrock"),
    _case("bedrock-converse-stream-botocore-validation",
          GH + "strands-agents/agent-builder/issues/10", None,
          "botocore.exceptions.EventStreamError: An error occurred (validationException) when "
          "calling the ConverseStream operation: The model returned the following errors: "
          "Invalid X-Amzn-Bedrock-Context-Length Header", "bad_request", False,
          group="stream", origin="bedrock"),
    _case("bedrock-invoke-stream-botocore-throttling", GH + "BerriAI/litellm/issues/1790",
          None, "botocore.exceptions.EventStreamError: An error occurred (throttlingException) "
          "when calling the InvokeModelWithResponseStream operation: Too many requests, please "
          "wait before trying again. You have sent too many requests.  Wait before trying "
          "again.", "rate_limit", True, group="stream", origin="bedrock"),
    _case("bedrock-stream-input-too-long", GH + "continuedev/continue/issues/6005", None,
          "Error processing Bedrock stream: The model returned the following errors: Input is "
          "too long for requested model.", "context_length", False, group="stream",
          origin="bedrock"),
    _case("gemini-sse-503-mid-stream", GH + "diegosouzapw/OmniRoute/pull/4182", 200,
          "data: {\"candidates\": [{\"content\": {\"parts\": [{\"text\": \"Thinking\"}], "
          "\"role\": \"model\"}}]}\r\n\r\ndata: {\"error\":{\"code\":503,\"message\":\"This "
          "model is currently experiencing high demand\u2026\",\"status\":\"UNAVAILABLE\"}}"
          "\r\n\r\n", "overloaded", True, group="stream", origin="gemini"),
    _case("gemini-json-array-stream-503", GH + "google-gemini/gemini-cli/issues/11196", 200,
          "[{\"candidates\": [{\"content\": {\"parts\": [{\"text\": \"Sure\"}], \"role\": "
          "\"model\"}}]}\r\n,\r\n{\n  \"error\": {\n    \"code\": 503,\n    \"message\": \"The "
          "service is currently unavailable.\",\n    \"errors\": [\n      {\n        "
          "\"message\": \"The service is currently unavailable.\",\n        \"domain\": "
          "\"global\",\n        \"reason\": \"backendError\"\n      }\n    ],\n    \"status\": "
          "\"UNAVAILABLE\"\n  }\n}\n]", "overloaded", True, group="stream", origin="gemini"),
    # ============================================== issue #14: retry hints in bodies
    _case("gemini-per-minute-please-retry-in", GH + "browserbase/mcp-server-browserbase/"
          "issues/129", 429,
          {"error": {"code": 429, "message": "You exceeded your current quota, please check your "
                     "plan and billing details. For more information on this error, head to: "
                     "https://ai.google.dev/gemini-api/docs/rate-limits. To monitor your current "
                     "usage, head to: https://ai.dev/usage?tab=rate-limit. \n* Quota exceeded "
                     "for metric: generativelanguage.googleapis.com/"
                     "generate_content_paid_tier_input_token_count, limit: 4000000\nPlease retry "
                     "in 47.434392449s.", "status": "RESOURCE_EXHAUSTED", "details": [
                         {"@type": "type.googleapis.com/google.rpc.Help", "links": [
                             {"description": "Learn more about Gemini API quotas",
                              "url": "https://ai.google.dev/gemini-api/docs/rate-limits"}]},
                         {"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": [
                             {"quotaMetric": "generativelanguage.googleapis.com/"
                              "generate_content_paid_tier_input_token_count",
                              "quotaId": "GenerateContentPaidTierInputTokensPerModelPerMinute",
                              "quotaDimensions": {"location": "global",
                                                  "model": "gemini-2.0-flash"},
                              "quotaValue": "4000000"}]}]}},
          "rate_limit", True, 47.434392449, group="retry", origin="gemini"),
    _case("gemini-per-day-retry-info", GH + "diegosouzapw/OmniRoute/issues/9504", 429,
          {"error": {"code": 429, "message": "You exceeded your current quota, please check your "
                     "plan and billing details. For more information on this error, head to: "
                     "https://ai.google.dev/gemini-api/docs/rate-limits. To monitor your current "
                     "usage, head to: https://ai.dev/rate-limit. \n* Quota exceeded for metric: "
                     "generativelanguage.googleapis.com/generate_content_free_tier_requests, "
                     "limit: 20, model: gemini-3.6-flash\nPlease retry in 36.429760048s.",
                     "status": "RESOURCE_EXHAUSTED", "details": [
                         {"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": [
                             {"quotaMetric": "generativelanguage.googleapis.com/"
                              "generate_content_free_tier_requests",
                              "quotaId": "GenerateRequestsPerDayPerProjectPerModel-FreeTier",
                              "quotaDimensions": "[MaxDepth]", "quotaValue": "20"}]},
                         {"@type": "type.googleapis.com/google.rpc.RetryInfo",
                          "retryDelay": "36s"}]}},
          "quota", False, 36.0, group="retry", origin="gemini"),
    _case("gemini-per-minute-wrapped-retry-info", GH + "RooCodeInc/Roo-Code/issues/3883", 429,
          {"error": {"message": "{\n  \"error\": {\n    \"code\": 429,\n    \"message\": \"You "
                     "exceeded your current quota, please check your plan and billing details. "
                     "For more information on this error, head to: https://ai.google.dev/"
                     "gemini-api/docs/rate-limits.\",\n    \"status\": \"RESOURCE_EXHAUSTED\",\n"
                     "    \"details\": [\n      {\n        \"@type\": \"type.googleapis.com/"
                     "google.rpc.QuotaFailure\",\n        \"violations\": [\n          {\n       "
                     "     \"quotaMetric\": \"generativelanguage.googleapis.com/"
                     "generate_content_free_tier_input_token_count\",\n            \"quotaId\": "
                     "\"GenerateContentInputTokensPerModelPerMinute-FreeTier\",\n            "
                     "\"quotaDimensions\": {\n              \"location\": \"global\",\n         "
                     "     \"model\": \"gemini-2.5-flash\"\n            },\n            "
                     "\"quotaValue\": \"250000\"\n          }\n        ]\n      },\n      {\n   "
                     "     \"@type\": \"type.googleapis.com/google.rpc.Help\",\n        "
                     "\"links\": [\n          {\n            \"description\": \"Learn more about "
                     "Gemini API quotas\",\n            \"url\": \"https://ai.google.dev/"
                     "gemini-api/docs/rate-limits\"\n          }\n        ]\n      },\n      {\n"
                     "        \"@type\": \"type.googleapis.com/google.rpc.RetryInfo\",\n        "
                     "\"retryDelay\": \"26s\"\n      }\n    ]\n  }\n}\n", "code": 429,
                     "status": "Too Many Requests"}},
          "rate_limit", True, 26.0, group="retry", origin="gemini"),
    _case("gemini-code-assist-per-day", GH + "google-gemini/gemini-cli/issues/10513", 429,
          [{"error": {"code": 429, "message": "Quota exceeded for quota metric 'Gemini 2.5 Pro "
                      "Requests' and limit 'Gemini 2.5 Pro Requests per day per user per tier' "
                      "of service 'cloudcode-pa.googleapis.com' for consumer "
                      "'project_number:681255809395'.", "errors": [
                          {"message": "Quota exceeded for quota metric 'Gemini 2.5 Pro Requests' "
                           "and limit 'Gemini 2.5 Pro Requests per day per user per tier' of "
                           "service 'cloudcode-pa.googleapis.com' for consumer "
                           "'project_number:681255809395'.", "domain": "global",
                           "reason": "rateLimitExceeded"}],
                      "status": "RESOURCE_EXHAUSTED", "details": [
                          {"@type": "type.googleapis.com/google.rpc.ErrorInfo",
                           "reason": "RATE_LIMIT_EXCEEDED", "domain": "googleapis.com",
                           "metadata": {"quota_metric": "cloudcode-pa.googleapis.com/"
                                        "gemini_2_5_pro_requests"}}]}}],
          "quota", False, group="retry", origin="gemini"),
    _case("gemini-cli-quota-reset-after", GH + "earendil-works/pi/issues/2851", 429,
          "Cloud Code Assist API error (429): You have exhausted your capacity on this model. "
          "Your quota will reset after 12h34m16s.", "quota", False, 45256.0, group="retry",
          origin="gemini"),
    _case("moonshot-429-rpm-try-again-after", GH + "LLM-Red-Team/kimi-cc/issues/16", 429,
          {"error": {"message": "Your account org-e664b178c0f74d818f6b62f87efa49f7"
                     "<ak-f3t8pfk16fki11gzh6i1> request reached organization max RPM: 3, please "
                     "try again after 1 seconds", "type": "rate_limit_reached_error"}},
          "rate_limit", True, 1.0, group="retry", origin="moonshot"),
    _case("openrouter-429-free-models-per-day", GH + "Gitlawb/openclaude/issues/936", 429,
          {"error": {"message": "Rate limit exceeded: free-models-per-day. Add 10 credits to "
                     "unlock 1000 free model requests per day", "code": 429, "metadata": {
                         "headers": {"X-RateLimit-Limit": "50", "X-RateLimit-Remaining": "0"}}}},
          "quota", False, group="retry", origin="openrouter"),
    _case("openrouter-429-per-day-typed-rate-limit", GH + "Gitlawb/openclaude/issues/1549", 429,
          {"error": {"message": "Rate limit exceeded: free-models-per-day-high-balance.",
                     "type": "rate_limit_error", "code": "429"}}, "quota", False,
          group="retry", origin="openrouter"),
    _case("bedrock-tokens-per-day-botocore", GH + "minorun365/agent-book/issues/29", None,
          "botocore.errorfactory.ThrottlingException: An error occurred (ThrottlingException) "
          "when calling the Converse operation (reached max retries: 4): Too many tokens per "
          "day, please wait before trying again.", "quota", False, group="retry",
          origin="bedrock"),
]  # fmt: skip
