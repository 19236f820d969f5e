"""The HTTP layer of the SDK: one httpx client, errors turned into modelyard's tree."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx

from modelyard.errors import (
    ConnectionFailedError,
    InvalidInputError,
    ModelyardError,
    from_payload,
)

# a long read may pause while the source works; only connecting has a short deadline
_STREAM_TIMEOUT = httpx.Timeout(connect=10.0, read=600.0, write=60.0, pool=10.0)


def checked(path: str) -> str:
    """The path, unless a name put into it is `.` or `..`: httpx would resolve those, so
    removing variant ".." of endpoint e would send DELETE …/endpoints/e and delete e."""
    segments = path.split("?", 1)[0].split("/")
    bad = next((s for s in segments if s in (".", "..")), None)
    if bad is not None:
        raise InvalidInputError(f"{bad!r} is not a name (in {path})", field="name")
    return path


class Transport:
    def __init__(
        self,
        url: str,
        token: str | None,
        *,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        headers = {"User-Agent": "modelyard-sdk"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self.url = url.rstrip("/")
        self._http = httpx.Client(
            base_url=self.url, headers=headers, timeout=timeout, transport=transport
        )

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        if self._http.is_closed:
            raise ConnectionFailedError(f"this connection to {self.url} was closed")
        return self._send(self._http.build_request(method, checked(path), **kwargs))

    def request_as(self, token: str | None, method: str, path: str, **kwargs: Any) -> Any:
        """A request carrying `token` instead of the login's (None: no credentials at all).
        Prediction traffic is guarded by endpoint keys, and the user's own token has no
        business travelling to the replicas."""
        if self._http.is_closed:
            raise ConnectionFailedError(f"this connection to {self.url} was closed")
        request = self._http.build_request(method, checked(path), **kwargs)
        request.headers.pop("Authorization", None)
        if token:
            request.headers["Authorization"] = f"Bearer {token}"
        return self._send(request)

    def _send(self, request: httpx.Request) -> Any:
        try:
            response = self._http.send(request)
        except httpx.HTTPError as exc:
            raise ConnectionFailedError(f"cannot reach modelyard at {self.url}: {exc}") from None
        _raise_for_error(response)
        if response.status_code == 204 or not response.content:
            return None
        return response.json()

    @contextmanager
    def stream(self, method: str, path: str, **kwargs: Any) -> Iterator[httpx.Response]:
        """A response whose body is read as it arrives (errors are raised before that)."""
        try:
            stream = self._http.stream(method, checked(path), timeout=_STREAM_TIMEOUT, **kwargs)
            with stream as response:
                if response.status_code >= 400:
                    response.read()
                    _raise_for_error(response)
                yield response
        except httpx.ConnectError as exc:
            raise ConnectionFailedError(f"cannot reach modelyard at {self.url}: {exc}") from None

    def close(self) -> None:
        self._http.close()


def _raise_for_error(response: httpx.Response) -> None:
    if response.status_code < 400:
        return
    try:
        payload = response.json()
    except ValueError:
        payload = None
    error = from_payload(response.status_code, payload)
    if type(error) is ModelyardError and not error.message:
        error = ModelyardError(f"server answered HTTP {response.status_code}")
    raise error
