"""The HTTP layer of the SDK: one httpx client, errors turned into modelyard's tree."""

from __future__ import annotations

from typing import Any

import httpx

from modelyard.errors import ConnectionFailedError, ModelyardError, from_payload


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
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise ConnectionFailedError(f"cannot reach modelyard at {self.url}: {exc}") from None
        if response.status_code >= 400:
            try:
                payload = response.json()
            except ValueError:
                payload = None
            error = from_payload(response.status_code, payload)
            if type(error) is ModelyardError and not error.message:
                error = ModelyardError(f"server answered HTTP {response.status_code}")
            raise error
        if response.status_code == 204 or not response.content:
            return None
        return response.json()

    def close(self) -> None:
        self._http.close()
