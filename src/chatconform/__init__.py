"""chatconform: conformance tests for OpenAI-compatible Chat Completions endpoints."""

__version__ = "0.1.0"
