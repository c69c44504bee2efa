"""``resilience fake-provider``: serve a fake OpenAI/Anthropic provider until interrupted."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from collections.abc import Mapping

from resilience._core.errors import ConfigError


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8080, help="port (default 8080; 0 picks one)")
    p.add_argument(
        "--style",
        choices=("openai", "anthropic"),
        default="openai",
        help="which SDK setup to print (both wire formats are always served)",
    )
    p.add_argument("--rpm", type=int, default=None, help="requests per minute per key and model")
    p.add_argument("--tpm", type=int, default=None, help="tokens per minute per key and model")
    p.add_argument(
        "--profile",
        default=None,
        help="failure mix: requesty-2026-04 (default when --failure-rate > 0), outages, "
        "rate-limits",
    )
    p.add_argument(
        "--failure-rate", type=float, default=0.0, help="fraction of requests to fail (0-1)"
    )
    p.add_argument("--seed", type=int, default=0, help="seed for injected failures")
    p.add_argument("--latency", type=float, default=0.0, help="seconds before each answer")
    p.add_argument("--ttft", type=float, default=0.0, help="seconds to the first token")
    p.add_argument(
        "--tokens-per-second", type=float, default=None, help="streaming speed (default: instant)"
    )
    p.add_argument(
        "--duration", type=float, default=None, help="stop after this many seconds (default: never)"
    )


def _line(elapsed: int, now: Mapping[int | str, int], before: Mapping[int | str, int]) -> str:
    delta = {k: v - before.get(k, 0) for k, v in now.items() if v - before.get(k, 0)}
    total = sum(delta.values())
    parts = " ".join(f"{k}:{v}" for k, v in sorted(delta.items(), key=lambda kv: str(kv[0])))
    return f"[{elapsed:>5}s] {total:>6} answered  {parts}".rstrip()


async def _serve(args: argparse.Namespace) -> int:
    from resilience.testing import FakeProvider

    fp = FakeProvider(
        rpm=args.rpm,
        tpm=args.tpm,
        profile=args.profile,
        failure_rate=args.failure_rate,
        seed=args.seed,
        latency=args.latency,
        ttft=args.ttft,
        tokens_per_second=args.tokens_per_second,
        host=args.host,
        port=args.port,
    )
    async with fp:
        if args.style == "openai":
            hint = f'openai.AsyncOpenAI(base_url="{fp.base_url}/v1", api_key="sk-fake")'
        else:
            hint = f'anthropic.AsyncAnthropic(base_url="{fp.base_url}", api_key="sk-fake")'
        print(f"fake provider on {fp.base_url} (OpenAI and Anthropic routes)", flush=True)
        print(f"  {hint}", flush=True)
        before: dict[int | str, int] = {}
        elapsed = 0
        while args.duration is None or elapsed < args.duration:
            await asyncio.sleep(1.0)
            elapsed += 1
            now = fp.stats()
            print(_line(elapsed, now, before), flush=True)
            before = now
    return 0


def run(args: argparse.Namespace) -> int:
    try:
        with contextlib.suppress(KeyboardInterrupt):
            return asyncio.run(_serve(args))
        return 0
    except ConfigError as exc:
        print(f"resilience fake-provider: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"resilience fake-provider: cannot listen: {exc}", file=sys.stderr)
        return 2
