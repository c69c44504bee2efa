"""What a message says about the scope of a refusal: the caller's location, a
model this target does not serve as asked, and the window of a limit."""

from __future__ import annotations

import pytest

from resilience._classify.scope import deployment_block, location_block, window_of


@pytest.mark.parametrize(
    "text",
    [
        "country, region, or territory not supported",
        "user location is not supported for the api use.",
        "image generation is not available in your country.",
        "access to anthropic models is not allowed from unsupported countries, regions, or "
        "territories.",
        "this model is not available in your region.",
        "access to anthropic models is not available from this data center (hkg)",
        "the request was geo-blocked",
    ],
)
def test_location_blocks(text: str) -> None:
    assert location_block(text)


@pytest.mark.parametrize(
    "text",
    [
        "unsupported region: us-west-3",
        "publisher model m is not servable in region us-central1.",
        "parameter 'region' is not supported",
        "the country code field is required",
        "tools are not supported for this model",
    ],
)
def test_not_location_blocks(text: str) -> None:
    assert not location_block(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("publisher model m is not servable in region global.", True),
        ("unable to access non-serverless model x. create a dedicated endpoint.", True),
        ("invocation of model id x with on-demand throughput isn’t supported.", True),
        ("the dedicated endpoint for x is not running.", True),
        ("the requested model 'x' is not supported by any provider you have enabled.", True),
        ("the model `gpt-4` does not exist", False),  # missing, not undeployed: other rules
        ("streaming is not supported for this model", False),
    ],
)
def test_deployment_blocks(text: str, expected: bool) -> None:
    assert deployment_block(text) is expected


@pytest.mark.parametrize(
    ("text", "window"),
    [
        ("your rate limit is 60 queries per minute", "minute"),
        ("your rate limits are 600 rpm (10 qps)", "minute"),
        ("limited to 10 api calls / minute", "minute"),
        ("rate limit exceeded: free-models-per-day.", "day"),
        ("too many tokens per day, please wait", "day"),
        ("on tokens per day (tpd): limit 100000. please try again in 9m38s", "day"),
        ("rate limit exceeded", None),
    ],
)
def test_window_of(text: str, window: str | None) -> None:
    assert window_of(text) == window
