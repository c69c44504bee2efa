"""Read a provider's error body into one shape: :class:`ParsedBody`.

Envelopes seen in the wild, all handled by one walk rather than one parser
per provider:

* OpenAI and the OpenAI-compatible crowd (Azure, Groq, xAI, DeepSeek,
  Together, Mistral, vLLM, LiteLLM proxies): ``{"error": {"message",
  "type", "code", "param"}}``; Azure adds ``innererror`` and a numeric
  ``status``; vLLM and Mistral put ``{"object": "error", ...}`` at the top.
* Anthropic: ``{"type": "error", "error": {"type", "message", "details":
  {"error_code"}}}``.
* Google (Gemini, Vertex): ``{"error": {"code": 429, "status":
  "RESOURCE_EXHAUSTED", "details": [RetryInfo, ErrorInfo, QuotaFailure...]}}``,
  sometimes inside a list, sometimes as a JSON string inside another
  ``message``.
* OpenRouter: the upstream's own error as a string in
  ``error.metadata.raw``, the upstream's name in ``provider_name``.
* AWS (Bedrock): ``{"__type": "...#ThrottlingException", "message"}``,
  botocore's ``{"Error": {"Code", "Message"}}``, event-stream exceptions,
  the stream union ``{"throttlingException": {"message"}}``, and botocore's
  own sentence ``An error occurred (Code) when calling the Op operation:
  message`` as SDK wrappers (LiteLLM, LangChain, Strands) pass it on.
* Ollama and small servers: ``{"error": "model 'x' not found"}``;
  FastAPI-style ``{"detail": ...}``.
"""

from __future__ import annotations

import re
from typing import Any

from resilience._classify.parsed import ParsedBody, http_status, ident, text_of
from resilience._classify.vendor_fields import botocore_sentence, google_details
from resilience._classify.wire import decode, load_json

__all__ = ["ParsedBody", "ident", "parse_body"]

_MESSAGE_KEYS = (
    "message",
    "Message",
    "msg",
    "error_message",
    "errorMessage",
    "error_description",
    "detail",
    "description",
)
_TYPE_KEYS = ("type", "__type", "Type", "errorType", "error_type", "name")
_CODE_KEYS = ("code", "Code", "error_code", "errorCode")
_STATUS_KEYS = (
    "status",
    "status_code",
    "statusCode",
    "http_status",
    "raw_status_code",
    "httpStatus",
)
_MAX_DEPTH = 6
_MAX_LIST_SCAN = 200
_HTML_STATUS = re.compile(r"(?:^|[\s|])([45]\d\d)(?::|\s|$)")


class _Walker:
    def __init__(self, out: ParsedBody) -> None:
        self.out = out

    def add_ident(self, value: Any) -> None:
        if isinstance(value, str | int) and not isinstance(value, bool):
            s = ident(value)
            if s and s not in self.out.idents and len(self.out.idents) < 40:
                self.out.idents.append(s)

    def add_text(self, value: str) -> None:
        if value and value not in self.out.texts and len(self.out.texts) < 20:
            self.out.texts.append(value[:4000])

    def walk(self, obj: Any, depth: int = 0) -> None:
        if depth > _MAX_DEPTH:
            return
        if isinstance(obj, list):
            # A Gemini JSON-array stream ends with its error after any number
            # of content chunks: the error elements are the ones that matter.
            errors = [i for i in obj[:_MAX_LIST_SCAN] if isinstance(i, dict) and i.get("error")]
            for item in (errors or obj)[:4]:
                self.walk(item, depth + 1)
            return
        if isinstance(obj, str):
            self.nested_text(obj, depth)
            return
        if not isinstance(obj, dict):
            return
        err = obj.get("error", obj.get("Error"))
        if isinstance(err, dict | list):
            self.status_from(obj)
            self.misc(obj)
            self.error_object(err if isinstance(err, dict) else {"errors": err}, depth)
            if isinstance(err, dict) and not isinstance(obj.get("code"), dict):
                # xAI-style siblings: {"code": "...", "error": {...}}
                self.code_and_type(obj, top=True)
        elif isinstance(err, str) and err.strip():
            self.status_from(obj)
            self.misc(obj)
            self.code_and_type(obj, top=True)
            if not self.nested_text(err, depth):
                self.set_message(err)
        elif not self.aws_union(obj, depth):
            self.misc(obj)
            self.error_object(obj, depth)

    def aws_union(self, obj: dict[str, Any], depth: int) -> bool:
        """``{"throttlingException": {"message": ...}}``: a ConverseStream event
        union whose only member is an exception; True when it was one."""
        if len(obj) > 2:
            return False
        for key, value in obj.items():
            if isinstance(key, str) and key.lower().endswith("exception"):
                self.add_ident(key)
                if self.out.type is None:
                    self.out.type = key
                if isinstance(value, dict):
                    self.error_object(value, depth)
                return True
        return False

    def nested_text(self, text: str, depth: int) -> bool:
        """Walk JSON carried inside a string; True when there was some."""
        s = text.strip()
        if s[:1] in ("{", "["):
            inner = load_json(s)
            if inner is None:
                inner = decode(s).obj
            if isinstance(inner, dict | list):
                self.walk(inner, depth + 1)
                return True
        self.add_text(s)
        return False

    def set_message(self, value: Any) -> None:
        text = text_of(value)
        if not text:
            return
        self.add_text(text)
        if not self.out.message:
            self.out.message = text

    def status_from(self, d: dict[str, Any]) -> None:
        for key in _STATUS_KEYS:
            st = http_status(d.get(key))
            if st is not None:
                if self.out.status is None:
                    self.out.status = st
                return
        code = http_status(d.get("code"))
        if code is not None and self.out.status is None:
            self.out.status = code

    def code_and_type(self, e: dict[str, Any], top: bool = False) -> None:
        for key in _TYPE_KEYS:
            v = e.get(key)
            if isinstance(v, str) and v.strip() and not (top and v == "error"):
                if v != "error":
                    self.add_ident(v)
                    if self.out.type is None and not top:
                        self.out.type = v.rsplit("#", 1)[-1]
                break
        for key in _CODE_KEYS:
            v = e.get(key)
            if v is None or isinstance(v, bool | dict | list):
                continue
            if http_status(v) is not None:
                continue
            self.add_ident(v)
            if isinstance(v, str) and " " in v.strip():
                self.add_text(v)  # xAI puts a sentence in "code"
            elif self.out.code is None:
                self.out.code = str(v)
            break
        for key in ("status", "reason"):
            v = e.get(key)
            if isinstance(v, str) and v.strip() and http_status(v) is None:
                self.add_ident(v.replace(" ", "_"))
                if key == "status" and v.isupper() and self.out.status_text is None and not top:
                    self.out.status_text = v

    def error_object(self, e: dict[str, Any], depth: int) -> None:
        self.status_from(e)
        self.code_and_type(e)
        for key in _MESSAGE_KEYS:
            if e.get(key):
                raw = e[key]
                # A message that is itself JSON (Gemini behind a proxy): the inner
                # error's message is the real one.
                if not (isinstance(raw, str) and self.nested_text(raw, depth)):
                    self.set_message(raw)
                break
        param = e.get("param")
        if isinstance(param, str) and param:
            self.out.param = self.out.param or param
        inner = e.get("innererror") or e.get("inner_error")
        if isinstance(inner, dict):
            self.add_ident(inner.get("code", ""))
            if "content_filter_result" in inner or "content_filter_results" in inner:
                self.add_ident("content_filter")
        details = e.get("details")
        if isinstance(details, list):
            google_details(self, details)
        elif isinstance(details, dict):
            self.add_ident(details.get("error_code", ""))
        elif isinstance(details, str):
            self.add_text(details)
        for item in e.get("errors", [])[:5] if isinstance(e.get("errors"), list) else []:
            if isinstance(item, dict):
                self.add_ident(item.get("reason", ""))
                self.set_message(item.get("message"))
        meta = e.get("metadata")
        if isinstance(meta, dict):
            self.openrouter_metadata(meta, depth)

    def openrouter_metadata(self, meta: dict[str, Any], depth: int) -> None:
        name = meta.get("provider_name")
        if isinstance(name, str):
            self.out.provider_name = name
        for key in ("error_type", "reason"):
            self.add_ident(meta.get(key, ""))
        if "flagged_input" in meta or "reasons" in meta:
            self.add_ident("flagged")  # moderation; never copy flagged_input (it is the prompt)
        raw = meta.get("raw")
        if raw:
            self.merge_upstream(parse_body(raw))

    def merge_upstream(self, sub: ParsedBody) -> None:
        for i in sub.idents:
            self.add_ident(i)
        for t in sub.texts:
            self.add_text(t)
        if sub.message:
            self.out.upstream_message = sub.message
        if sub.code and self.out.code is None:
            self.out.code = sub.code
        if sub.type and self.out.type is None:
            self.out.type = sub.type
        if sub.retry_delay is not None and self.out.retry_delay is None:
            self.out.retry_delay = sub.retry_delay
        if sub.param and self.out.param is None:
            self.out.param = sub.param

    def misc(self, d: dict[str, Any]) -> None:
        """Errors reported inside a 200 body (safety blocks, filtered choices),
        an event-stream frame's own headers, and a model still loading."""
        headers = d.get("headers")
        if isinstance(headers, dict):
            for key in (":exception-type", ":error-code", "x-amzn-errortype"):
                if isinstance(headers.get(key), str):
                    self.add_ident(headers[key])
        inner_body = d.get("body")
        if isinstance(inner_body, bytes | str) and inner_body:
            self.merge_upstream(parse_body(inner_body))
        wait = d.get("estimated_time")  # Hugging Face: model loading, ready in N s
        if isinstance(wait, int | float) and not isinstance(wait, bool) and wait >= 0:
            self.out.retry_delay = self.out.retry_delay or float(wait)
        feedback = d.get("promptFeedback")
        if isinstance(feedback, dict) and feedback.get("blockReason"):
            self.add_ident("block_" + str(feedback["blockReason"]))
        for key in ("candidates", "choices"):
            items = d.get(key)
            if isinstance(items, list):
                for c in items[:3]:
                    if isinstance(c, dict):
                        reason = c.get("finishReason") or c.get("finish_reason")
                        if reason in ("SAFETY", "PROHIBITED_CONTENT", "BLOCKLIST", "SPII"):
                            self.add_ident("block_" + str(reason))
                        elif reason == "content_filter":
                            self.add_ident("content_filter")


def parse_body(body: Any) -> ParsedBody:
    """Parse any body into a :class:`ParsedBody`. Never raises."""
    out = ParsedBody()
    try:
        dec = decode(body)
        out.html = dec.html
        out.stream = dec.stream
        walker = _Walker(out)
        if dec.obj is not None:
            walker.walk(dec.obj)
        if dec.html:
            out.message = dec.extra.get("title", "") or dec.text[:200]
            walker.add_text(dec.text)
            # "502 Bad Gateway", "example.com | 524: A timeout occurred"
            m = _HTML_STATUS.search(out.message)
            if m and out.status is None:
                out.status = http_status(m.group(1))
        elif not out.message and dec.text and dec.obj is None:
            out.message = dec.text
            walker.add_text(dec.text)
        if not dec.html and "An error occurred (" in dec.text:
            botocore_sentence(walker, dec.text, structured=dec.obj is not None)
        if not out.message and out.texts:
            out.message = out.texts[0]
        elif dec.text and dec.obj is not None and not isinstance(body, dict | list):
            # Keep the raw text too: an SDK's str(exc) carries words around the repr.
            walker.add_text(dec.text[:4000])
        if out.code is None:
            out.code = out.reason or out.status_text
        if out.upstream_message and (not out.message or out.message.lower().startswith("provider")):
            out.message = (
                f"{out.message}: {out.upstream_message}" if out.message else out.upstream_message
            )
    except Exception:
        return out
    return out
