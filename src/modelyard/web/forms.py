"""Helpers for portal form handling."""

from __future__ import annotations

from urllib.parse import urlsplit

from modelyard.validation import parse

__all__ = ["parse", "safe_next"]


def safe_next(target: str | None, default: str = "/") -> str:
    """Only same-site paths may be redirected to after login (no open redirects)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return default
    return target
