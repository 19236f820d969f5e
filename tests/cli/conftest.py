"""The CLI tests share the SDK tests' live server: on a port known before the app is built,
so endpoint URLs are real and replicas report back to it."""

from __future__ import annotations

from tests.client.conftest import live_server, settings

__all__ = ["live_server", "settings"]
