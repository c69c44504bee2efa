"""OpenAI chat completions on the wire: request parsing, JSON answers, SSE chunks."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from resilience.testing._completion import (
    Request,
    answer_pieces,
    estimate_chars,
    json_text,
    prompt_digest,
    text_of,
)

__all__ = ["BadRequest", "completion", "models", "parse", "stream_frames"]


class BadRequest(Exception):
    """The request is malformed; answered as a 400 in the provider's wording."""

    def __init__(self, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param


def _dumps(obj: object) -> str:
    return json.dumps(obj, separators=(",", ":"))


def _pick_tool(tools: Any, choice: Any) -> tuple[str, Mapping[str, Any]] | None:
    if not isinstance(tools, list) or not tools or choice == "none":
        return None
    wanted = None
    if isinstance(choice, Mapping):
        fn = choice.get("function")
        if isinstance(fn, Mapping):
            wanted = fn.get("name")
    for tool in tools:
        fn = tool.get("function") if isinstance(tool, Mapping) else None
        if not isinstance(fn, Mapping) or not isinstance(fn.get("name"), str):
            raise BadRequest("Missing required parameter: 'tools[0].function.name'.", "tools")
        if wanted is None or fn["name"] == wanted:
            params = fn.get("parameters")
            return fn["name"], params if isinstance(params, Mapping) else {}
    raise BadRequest(f"Tool choice '{wanted}' not found in 'tools' parameter.", "tool_choice")


def parse(body: Any, raw: bytes) -> Request:
    if not isinstance(body, Mapping):
        raise BadRequest("We could not parse the JSON body of your request.")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise BadRequest("you must provide a model parameter", "model")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise BadRequest("Missing required parameter: 'messages'.", "messages")
    chars = 0
    for m in messages:
        if isinstance(m, Mapping):
            chars += estimate_chars(m.get("content"))
    tools = body.get("tools")
    tool = _pick_tool(tools, body.get("tool_choice"))
    features: set[str] = set()
    if isinstance(tools, list) and tools:
        features.add("tools")
        chars += len(_dumps(tools))
    schema: Mapping[str, Any] | None = None
    fmt = body.get("response_format")
    if isinstance(fmt, Mapping) and fmt.get("type") in ("json_object", "json_schema"):
        features.add("json")
        schema = {}
        js = fmt.get("json_schema")
        if isinstance(js, Mapping) and isinstance(js.get("schema"), Mapping):
            schema = js["schema"]
    stream = body.get("stream") is True
    if stream:
        features.add("stream")
    max_tokens = body.get("max_completion_tokens", body.get("max_tokens"))
    if max_tokens is not None and (not isinstance(max_tokens, int) or max_tokens < 1):
        raise BadRequest(
            f"Invalid 'max_tokens': integer below minimum value. Expected a value >= 1, but "
            f"got {max_tokens!r} instead.",
            "max_tokens",
        )
    opts = body.get("stream_options")
    include_usage = stream and isinstance(opts, Mapping) and opts.get("include_usage") is True
    prefill = _continued(body, messages)
    if prefill is not None:
        features.add("continue")
    return Request(
        model=model,
        stream=stream,
        input_tokens=max(1, chars // 4),
        max_tokens=max_tokens,
        features=frozenset(features),
        tool=tool,
        json_schema=schema,
        include_usage=include_usage,
        digest=prompt_digest(body, continuing=prefill is not None),
        prefill=prefill,
    )


def _continued(body: Mapping[str, Any], messages: list[Any]) -> str | None:
    """The partial answer to continue, for ``continue_final_message`` (vLLM, SGLang
    and TGI take it as an extra body field; OpenAI itself has nothing like it)."""
    if body.get("continue_final_message") is not True:
        return None
    if body.get("add_generation_prompt", True) is not False:
        raise BadRequest(
            "Cannot set both `continue_final_message` and `add_generation_prompt` to True."
        )
    last = messages[-1]
    if not isinstance(last, Mapping) or last.get("role") != "assistant":
        raise BadRequest(
            "continue_final_message is set but the final message is not an assistant message",
            "messages",
        )
    return text_of(last.get("content"))


def _answer(req: Request) -> tuple[str | None, str | None, int, str]:
    """(text, tool arguments, output tokens, finish reason)."""
    if req.tool is not None:
        args = json_text(req.tool[1], req.digest)
        return None, args, max(1, len(args) // 4), "tool_calls"
    pieces, out = answer_pieces(req)
    finish = "length" if req.truncated and req.json_schema is None else "stop"
    return "".join(pieces), None, out, finish


def completion(req: Request, *, rid: str, created: int) -> tuple[bytes, int]:
    """The JSON body of a non-streamed answer, and its output tokens."""
    text, args, out_tokens, finish = _answer(req)
    message: dict[str, Any] = {"role": "assistant", "content": text, "refusal": None}
    if args is not None and req.tool is not None:
        message["tool_calls"] = [
            {
                "id": f"call_{req.digest:08x}{rid[-8:]}",
                "type": "function",
                "function": {"name": req.tool[0], "arguments": args},
            }
        ]
    body = {
        "id": f"chatcmpl-{rid}",
        "object": "chat.completion",
        "created": created,
        "model": req.model,
        "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish}],
        "usage": {
            "prompt_tokens": req.input_tokens,
            "completion_tokens": out_tokens,
            "total_tokens": req.input_tokens + out_tokens,
        },
        "service_tier": "default",
        "system_fingerprint": "fp_fake",
    }
    return _dumps(body).encode(), out_tokens


def stream_frames(req: Request, *, rid: str, created: int) -> tuple[list[bytes], int]:
    """The SSE frames of a streamed answer (content frames first to last), and its output
    tokens. Frame 0 carries the role; the last ones carry finish, usage and ``[DONE]``."""
    _, args, out_tokens, finish = _answer(req)
    usage_null = ',"usage":null' if req.include_usage else ""
    head = (
        f'data: {{"id":"chatcmpl-{rid}","object":"chat.completion.chunk","created":{created},'
        f'"model":{_dumps(req.model)},"system_fingerprint":"fp_fake","choices":[{{"index":0,'
        '"delta":'
    )

    def frame(delta: str, finish_reason: str | None = None) -> bytes:
        fr = "null" if finish_reason is None else f'"{finish_reason}"'
        return f'{head}{delta},"logprobs":null,"finish_reason":{fr}}}]{usage_null}}}\n\n'.encode()

    frames: list[bytes] = []
    if args is not None and req.tool is not None:
        call = {
            "index": 0,
            "id": f"call_{req.digest:08x}{rid[-8:]}",
            "type": "function",
            "function": {"name": req.tool[0], "arguments": ""},
        }
        frames.append(frame(_dumps({"role": "assistant", "content": None, "tool_calls": [call]})))
        step = max(1, len(args) // 3 + 1)
        for i in range(0, len(args), step):
            delta = {"tool_calls": [{"index": 0, "function": {"arguments": args[i : i + step]}}]}
            frames.append(frame(_dumps(delta)))
    else:
        frames.append(frame('{"role":"assistant","content":"","refusal":null}'))
        for p in answer_pieces(req)[0]:
            frames.append(frame('{"content":' + _dumps(p) + "}"))
    frames.append(frame("{}", finish))
    if req.include_usage:
        usage = {
            "prompt_tokens": req.input_tokens,
            "completion_tokens": out_tokens,
            "total_tokens": req.input_tokens + out_tokens,
        }
        frames.append(
            (
                f'data: {{"id":"chatcmpl-{rid}","object":"chat.completion.chunk",'
                f'"created":{created},"model":{_dumps(req.model)},'
                f'"system_fingerprint":"fp_fake","choices":[],"usage":{_dumps(usage)}}}\n\n'
            ).encode()
        )
    frames.append(b"data: [DONE]\n\n")
    return frames, out_tokens


def models(names: list[str], created: int) -> bytes:
    data = [{"id": n, "object": "model", "created": created, "owned_by": "fake"} for n in names]
    return _dumps({"object": "list", "data": data}).encode()
