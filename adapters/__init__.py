"""Adapters for host frameworks, installed as ``resilience.adapters``.

Each module imports its host lazily and is an optional extra:
``langchain``, ``litellm``, ``openai``, ``anthropic``, ``aiohttp``.
"""
