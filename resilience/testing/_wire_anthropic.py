"""Anthropic messages on the wire: request parsing, JSON answers, SSE event sequence."""

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
from resilience.testing._wire_openai import BadRequest

__all__ = ["message", "models", "parse", "stream_frames"]


def _dumps(obj: object) -> str:
    return json.dumps(obj, separators=(",", ":"))


def _pick_tool(tools: Any, choice: Any) -> tuple[str, Mapping[str, Any]] | None:
    if not isinstance(tools, list) or not tools:
        return None
    kind = choice.get("type") if isinstance(choice, Mapping) else "auto"
    if kind == "none":
        return None
    wanted = choice.get("name") if isinstance(choice, Mapping) and kind == "tool" else None
    for i, tool in enumerate(tools):
        if not isinstance(tool, Mapping) or not isinstance(tool.get("name"), str):
            raise BadRequest(f"tools.{i}.name: Field required")
        if wanted is None or tool["name"] == wanted:
            schema = tool.get("input_schema")
            return tool["name"], schema if isinstance(schema, Mapping) else {}
    raise BadRequest(f"tool_choice.name: tool '{wanted}' was not found in tools")


def _json_schema(body: Mapping[str, Any]) -> Mapping[str, Any] | None:
    fmt = body.get("output_format")
    cfg = body.get("output_config")
    if fmt is None and isinstance(cfg, Mapping):
        fmt = cfg.get("format")
    if isinstance(fmt, Mapping) and fmt.get("type") == "json_schema":
        schema = fmt.get("schema")
        return schema if isinstance(schema, Mapping) else {}
    return None


def parse(body: Any, raw: bytes) -> Request:
    if not isinstance(body, Mapping):
        raise BadRequest("Request body must be a JSON object")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise BadRequest("model: Field required")
    messages = body.get("messages")
    if not isinstance(messages, list):
        raise BadRequest("messages: Field required")
    max_tokens = body.get("max_tokens")
    if not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 1:
        raise BadRequest(
            "max_tokens: Field required"
            if max_tokens is None
            else "max_tokens: Input should be greater than or equal to 1"
        )
    chars = estimate_chars(body.get("system") or "")
    for m in messages:
        if isinstance(m, Mapping):
            chars += estimate_chars(m.get("content"))
    tools = body.get("tools")
    tool = _pick_tool(tools, body.get("tool_choice"))
    features: set[str] = set()
    if isinstance(tools, list) and tools:
        features.add("tools")
        chars += len(_dumps(tools))
    schema = _json_schema(body)
    if schema is not None:
        features.add("json")
    stream = body.get("stream") is True
    if stream:
        features.add("stream")
    prefill = _prefill(messages)
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
        include_usage=True,
        digest=prompt_digest(body, continuing=prefill is not None),
        prefill=prefill,
    )


def _prefill(messages: list[Any]) -> str | None:
    """A final assistant message is a prefill: the model continues it."""
    if not messages:
        return None
    last = messages[-1]
    if not isinstance(last, Mapping) or last.get("role") != "assistant":
        return None
    text = text_of(last.get("content"))
    if text != text.rstrip():
        raise BadRequest("messages: final assistant content cannot end with trailing whitespace")
    return text


def _answer(req: Request) -> tuple[str | None, Any, int, str]:
    """(text, tool input, output tokens, stop reason)."""
    if req.tool is not None:
        args = json_text(req.tool[1], req.digest)
        return None, json.loads(args), max(1, len(args) // 4), "tool_use"
    pieces, out = answer_pieces(req)
    stop = "max_tokens" if req.truncated and req.json_schema is None else "end_turn"
    return "".join(pieces), None, out, stop


def _usage(input_tokens: int, output_tokens: int) -> dict[str, Any]:
    return {
        "input_tokens": input_tokens,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
        "output_tokens": output_tokens,
        "service_tier": "standard",
    }


def message(req: Request, *, rid: str) -> tuple[bytes, int]:
    text, tool_input, out_tokens, stop = _answer(req)
    if req.tool is not None:
        content: list[dict[str, Any]] = [
            {"type": "tool_use", "id": f"toolu_{rid}", "name": req.tool[0], "input": tool_input}
        ]
    else:
        content = [{"type": "text", "text": text}]
    body = {
        "id": f"msg_{rid}",
        "type": "message",
        "role": "assistant",
        "model": req.model,
        "content": content,
        "stop_reason": stop,
        "stop_sequence": None,
        "usage": _usage(req.input_tokens, out_tokens),
    }
    return _dumps(body).encode(), out_tokens


def _event(name: str, data: str) -> bytes:
    return f"event: {name}\ndata: {data}\n\n".encode()


def stream_frames(req: Request, *, rid: str) -> tuple[list[bytes], int]:
    """Anthropic's event sequence: message_start, content_block_start, ping,
    content_block_delta..., content_block_stop, message_delta, message_stop."""
    _, tool_input, out_tokens, stop = _answer(req)
    start = {
        "type": "message_start",
        "message": {
            "id": f"msg_{rid}",
            "type": "message",
            "role": "assistant",
            "model": req.model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": _usage(req.input_tokens, 1),
        },
    }
    frames = [_event("message_start", _dumps(start))]
    if req.tool is not None:
        block: dict[str, Any] = {
            "type": "tool_use",
            "id": f"toolu_{rid}",
            "name": req.tool[0],
            "input": {},
        }
        args = _dumps(tool_input)
        step = max(1, len(args) // 3 + 1)
        deltas = [
            '{"type":"input_json_delta","partial_json":' + _dumps(args[i : i + step]) + "}"
            for i in range(0, len(args), step)
        ]
    else:
        block = {"type": "text", "text": ""}
        deltas = ['{"type":"text_delta","text":' + _dumps(p) + "}" for p in answer_pieces(req)[0]]
    frames.append(
        _event(
            "content_block_start",
            _dumps({"type": "content_block_start", "index": 0, "content_block": block}),
        )
    )
    frames.append(_event("ping", '{"type":"ping"}'))
    for d in deltas:
        frames.append(
            _event(
                "content_block_delta", '{"type":"content_block_delta","index":0,"delta":' + d + "}"
            )
        )
    frames.append(_event("content_block_stop", '{"type":"content_block_stop","index":0}'))
    delta = {
        "type": "message_delta",
        "delta": {"stop_reason": stop, "stop_sequence": None},
        "usage": {"output_tokens": out_tokens},
    }
    frames.append(_event("message_delta", _dumps(delta)))
    frames.append(_event("message_stop", '{"type":"message_stop"}'))
    return frames, out_tokens


def models(names: list[str], created_at: str) -> bytes:
    data = [{"type": "model", "id": n, "display_name": n, "created_at": created_at} for n in names]
    return _dumps(
        {
            "data": data,
            "has_more": False,
            "first_id": names[0] if names else None,
            "last_id": names[-1] if names else None,
        }
    ).encode()
