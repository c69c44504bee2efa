"""pytest plugin (entry point ``pytest11``): fixtures for testing LLM apps."""
