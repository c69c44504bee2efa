"""ResilientChatModel: LangChain chat models behind one Pipeline.

Lives apart from :mod:`resilience.adapters.langchain` (which re-exports it)
to keep each module short.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

try:
    from langchain_core.callbacks import (
        AsyncCallbackManager,
        AsyncCallbackManagerForLLMRun,
        CallbackManager,
        CallbackManagerForLLMRun,
    )
    from langchain_core.language_models import BaseChatModel
    from langchain_core.messages import AIMessage, BaseMessage
    from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
    from langchain_core.runnables import Runnable
    from langchain_core.utils.function_calling import convert_to_openai_tool
    from pydantic import ConfigDict, PrivateAttr, ValidationError, model_validator
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    from ._kit import missing_host

    raise ImportError(missing_host("langchain-core", "langchain")) from exc

from resilience import Call, ConfigError, Pipeline, report
from resilience.wire import LANGCHAIN, AttemptState, current_continuation

from ._kit import (
    WatchedStream,
    as_int,
    default_pipeline,
    estimate_tokens,
    set_usage,
    stream_settings,
)
from ._stream_langchain import (
    HonestChunks,
    MessageChunks,
    continue_langchain,
    one_chunk,
)

__all__ = ["ResilientChatModel", "target_of", "without_retries"]

log = logging.getLogger("resilience")

_CLIENT_FIELDS = ("client", "async_client", "root_client", "root_async_client")
# bind_tools() takes these next to the tools themselves.
_TOOL_KWARGS = LANGCHAIN.tool_keys[LANGCHAIN.tool_markers :]


def without_retries(model: Any) -> Any:
    """The same chat model with its SDK's retries off (``max_retries=0``)
    and, where the model offers it, response headers in the message
    metadata; rebuilt from the fields the user set, so its clients are made
    anew. A model that cannot be rebuilt is kept as is, with a warning."""
    fields = getattr(type(model), "model_fields", {})
    update: dict[str, Any] = {}
    if "max_retries" in fields and getattr(model, "max_retries", None) != 0:
        update["max_retries"] = 0
    if "include_response_headers" in fields and not getattr(
        model, "include_response_headers", True
    ):
        update["include_response_headers"] = True
    if not update:
        return model
    try:
        data = {name: getattr(model, name) for name in model.model_fields_set}
        for name in _CLIENT_FIELDS:
            data.pop(name, None)
        data.update(update)
        return type(model)(**data)
    except Exception as exc:
        log.warning(
            "resilience: could not switch off the retries of %s (%s); pass max_retries=0 "
            "yourself or its SDK retries inside each attempt",
            type(model).__name__,
            type(exc).__name__,
        )
        return model


def target_of(model: Any) -> str:
    """``"{provider}/{model_name}"`` from LangChain's own tracing params."""
    try:
        params = model._get_ls_params()
    except Exception:
        params = {}
    provider = params.get("ls_provider") or getattr(model, "_llm_type", "") or "unknown"
    name = params.get("ls_model_name") or getattr(model, "model_name", None)
    name = name or getattr(model, "model", None) or "unknown"
    return f"{provider}/{name}"


def _usage(message: Any) -> dict[str, int] | None:
    meta = getattr(message, "usage_metadata", None)
    return LANGCHAIN.usage(meta) if meta else None


def _report(message: Any) -> None:
    meta = getattr(message, "response_metadata", None) or {}
    headers = meta.get("headers")
    model = meta.get("model_name") or meta.get("model")
    report(
        headers=headers if isinstance(headers, dict) else None,
        usage=_usage(message),
        response_model=model if isinstance(model, str) else None,
    )


def _on_chunk(chunk: Any, state: AttemptState | None) -> None:
    usage = _usage(chunk)
    if usage and state is not None:
        # Chunks carry usage piecewise (input first, output last).
        merged = dict(state.usage or {})
        for key, value in usage.items():
            merged[key] = merged.get(key, 0) + value
        set_usage(state, merged)


def _child_config(run_manager: Any) -> dict[str, Any] | None:
    """Callbacks for an inner model's run, nested under ours (an LLM run
    manager has no ``get_child``; this is what a chain's would build)."""
    if run_manager is None:
        return None
    cls = (
        AsyncCallbackManager
        if isinstance(run_manager, AsyncCallbackManagerForLLMRun)
        else (CallbackManager)
    )
    manager = cls(handlers=[], parent_run_id=run_manager.run_id)
    manager.set_handlers(run_manager.inheritable_handlers)
    manager.add_tags(run_manager.inheritable_tags)
    manager.add_metadata(run_manager.inheritable_metadata)
    return {"callbacks": manager}


def _run_sync(factory: Callable[[], Any]) -> Any:
    """Run a coroutine from sync code, in a thread of its own when this
    thread already runs an event loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(factory())
    box: dict[str, Any] = {}

    def work() -> None:
        try:
            box["value"] = asyncio.run(factory())
        except BaseException as exc:
            box["error"] = exc

    thread = threading.Thread(target=work, name="resilience-sync")
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    return box.get("value")


class ResilientChatModel(BaseChatModel):  # type: ignore[misc]
    """A chat model that runs ``models`` (primary first, then fallbacks)
    through a Pipeline.

    Default pipeline: Fallback over the other models, Retry, CircuitBreaker,
    adaptive RateLimiter. Each model is the target ``"{provider}/{model}"``
    (``targets=`` renames them when two would collide). The inner models are
    rebuilt with ``max_retries=0`` so the pipeline owns retrying. Streams are
    retried or moved only before their first chunk; after it, with
    ``resume="continue"``, a break is continued by a model that can (a
    ChatAnthropic by prefill, a ChatOpenAI on a vLLM-style server named
    ``"vllm/..."`` in ``targets`` by ``continue_final_message``).
    ``first_chunk_timeout``, ``chunk_timeout``, ``resume``: the default
    pipeline's stream settings. ``bind_tools`` and ``with_structured_output``
    bind each inner model in its own format.
    """

    models: list[Any]
    pipeline: Any = None
    targets: list[str] | None = None
    timeout: float | None = None
    first_chunk_timeout: float | None = None
    chunk_timeout: float | None = None
    resume: str | None = None

    model_config = ConfigDict(arbitrary_types_allowed=True)

    _inner: dict[str, Any] = PrivateAttr(default_factory=dict)
    _pipeline: Pipeline | None = PrivateAttr(default=None)

    def __init__(
        self, models: Sequence[Any] | None = None, pipeline: Pipeline | None = None, **kw: Any
    ) -> None:
        kw["models"] = list(models or [])
        kw["pipeline"] = pipeline
        try:
            super().__init__(**kw)
        except ValidationError as exc:
            # Pydantic wraps our ConfigError; give the caller the named field.
            for err in exc.errors():
                cause = (err.get("ctx") or {}).get("error")
                if isinstance(cause, ConfigError):
                    raise cause from None
            raise

    @model_validator(mode="after")
    def _setup(self) -> ResilientChatModel:
        if not self.models:
            raise ConfigError("models", self.models, "at least one chat model")
        for i, m in enumerate(self.models):
            if not isinstance(m, BaseChatModel):
                raise ConfigError(f"models[{i}]", type(m).__name__, "a LangChain BaseChatModel")
        names = list(self.targets) if self.targets else [target_of(m) for m in self.models]
        if len(names) != len(self.models):
            raise ConfigError("targets", self.targets, f"{len(self.models)} names, one per model")
        for i, name in enumerate(names):
            provider, sep, model = name.partition("/")
            if not sep or not provider or not model:
                raise ConfigError(f"targets[{i}]", name, '"provider/model"')
        if len(set(names)) != len(names):
            raise ConfigError("targets", names, "distinct names (pass targets=[...])")
        self._inner = {name: without_retries(m) for name, m in zip(names, self.models, strict=True)}
        streams = stream_settings(
            self.pipeline, self.first_chunk_timeout, self.chunk_timeout, self.resume
        )
        if self.pipeline is None:
            self._pipeline = default_pipeline(names[1:], streams=streams)
        elif isinstance(self.pipeline, Pipeline):
            self._pipeline = self.pipeline
        else:
            raise ConfigError("pipeline", type(self.pipeline).__name__, "a resilience.Pipeline")
        return self

    @property
    def _llm_type(self) -> str:
        return "resilient-chat"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"targets": list(self._inner)}

    @property
    def resilience_pipeline(self) -> Pipeline:
        assert self._pipeline is not None
        return self._pipeline

    def _get_ls_params(self, stop: list[str] | None = None, **kwargs: Any) -> Any:
        provider, _, model = next(iter(self._inner)).partition("/")
        return {"ls_provider": provider, "ls_model_name": model, "ls_model_type": "chat"}

    # -- tools ------------------------------------------------------------------

    def bind_tools(
        self,
        tools: Sequence[Any],
        *,
        tool_choice: str | dict[str, Any] | bool | None = None,
        **kwargs: Any,
    ) -> Runnable[Any, AIMessage]:
        """Bind ``tools`` (converted to the OpenAI format every LangChain
        chat model accepts); each inner model binds them in its own way when
        it is called."""
        formatted = [convert_to_openai_tool(t) for t in tools]
        if tool_choice is not None:
            kwargs["tool_choice"] = tool_choice
        return self.bind(tools=formatted, **kwargs)

    # -- the pipeline -----------------------------------------------------------

    def _call(self, messages: list[BaseMessage], kwargs: dict[str, Any], stream: bool) -> Call:
        first = next(iter(self._inner))
        provider, _, model = first.partition("/")
        feats: set[str] = set()
        if kwargs.get("tools"):
            feats.add("tools")
        if kwargs.get("response_format") is not None:
            feats.add("json")
        if stream:
            feats.add("stream")
        try:
            max_out = as_int(self._inner[first]._get_ls_params().get("ls_max_tokens"))
        except Exception:
            max_out = 0
        return Call(
            provider=provider,
            model=model,
            input_tokens=estimate_tokens(messages, kwargs.get("tools")),
            max_output_tokens=max_out,
            features=frozenset(feats),
            timeout=self.timeout,
        )

    def _prepare(self, call: Call, kwargs: dict[str, Any], dropped: frozenset[str]) -> Any:
        try:
            model = self._inner[call.target]
        except KeyError:
            raise ConfigError(
                "targets", call.target, f"one of this model's targets {list(self._inner)}"
            ) from None
        rest = dict(kwargs)
        tools = rest.pop("tools", None)
        tool_kw = {k: rest.pop(k) for k in _TOOL_KWARGS if k in rest}
        if "json" in dropped:
            for key in LANGCHAIN.json_keys:
                rest.pop(key, None)
        runnable = model
        if tools and "tools" not in dropped:
            runnable = model.bind_tools(tools, **tool_kw)
        if rest:
            runnable = runnable.bind(**rest)
        return runnable

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        call = self._call(messages, kwargs, stream=False)
        config = _child_config(run_manager)

        async def handler(c: Call) -> Any:
            runnable = self._prepare(c, kwargs, call.features - c.features)
            message = await runnable.ainvoke(messages, config=config, stop=stop)
            _report(message)
            return message

        message = await self.resilience_pipeline.run(handler, call)
        return ChatResult(generations=[ChatGeneration(message=message)])

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        """Sync calls run the pipeline on an event loop of their own, and the
        inner models' sync clients in a worker thread."""
        call = self._call(messages, kwargs, stream=False)
        config = _child_config(run_manager)

        async def handler(c: Call) -> Any:
            runnable = self._prepare(c, kwargs, call.features - c.features)
            message = await asyncio.to_thread(runnable.invoke, messages, config=config, stop=stop)
            _report(message)
            return message

        message = _run_sync(lambda: self.resilience_pipeline.run(handler, call))
        return ChatResult(generations=[ChatGeneration(message=message)])

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        call = self._call(messages, kwargs, stream=True)
        config = _child_config(run_manager)

        wire = MessageChunks(self._inner)

        async def handler(c: Call) -> Any:
            dropped = call.features - c.features
            runnable = self._prepare(c, kwargs, dropped)
            if "stream" in dropped:
                message = await runnable.ainvoke(messages, config=config, stop=stop)
                _report(message)
                return one_chunk(message)
            asked: Any = messages
            extra: dict[str, Any] = {}
            continuation = current_continuation()
            if continuation is not None:
                asked, extra = continue_langchain(messages, continuation, self._inner[c.target])
            chunks = runnable.astream(asked, config=config, stop=stop, **extra)
            return WatchedStream(HonestChunks(chunks, c), _on_chunk, wire)

        stream = await self.resilience_pipeline.run(handler, call)
        try:
            async for chunk in stream:
                yield ChatGenerationChunk(message=chunk)
        finally:
            closer = getattr(stream, "aclose", None)
            if closer is not None:
                await closer()
