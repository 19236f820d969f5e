"""Where a replica gets its spec and sends its telemetry: the control plane's internal API,
or a JSON file when it runs standalone (tests, benchmarks).

httpx errors are translated here, at this one boundary, into two exceptions the replica
acts on: the control plane is out of reach for now (keep serving, try again), or it says
the endpoint is gone or the pool token is no longer valid (shut down).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any, Protocol

import httpx
import orjson

from modelyard.serving.spec import EndpointSpec

log = logging.getLogger("modelyard.serving.replica")


class SpecUnavailableError(Exception):
    """The spec could not be fetched or telemetry not delivered, for now."""


class ReportRejectedError(SpecUnavailableError):
    """The control plane refused a request as malformed (4xx): sending it again won't help."""


class EndpointGoneError(Exception):
    """The control plane answered that this endpoint or this pool token is no more."""


class SpecSource(Protocol):
    async def fetch(self, version: str | None) -> EndpointSpec | None:
        """The spec, or None when it is still `version`."""
        ...

    async def send(self, telemetry: bytes) -> None: ...

    async def close(self) -> None: ...


_GONE = {401, 403, 404, 410}


class ControlPlane:
    def __init__(
        self,
        url: str,
        endpoint_id: int,
        token: str,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        base = f"{url.rstrip('/')}/internal/serving/endpoints/{endpoint_id}"
        self._spec_url = f"{base}/spec"
        self._telemetry_url = f"{base}/telemetry"
        self._client = httpx.AsyncClient(
            headers={"Authorization": f"Bearer {token}"},
            timeout=httpx.Timeout(10.0, connect=2.0),
            transport=transport,
        )

    async def fetch(self, version: str | None) -> EndpointSpec | None:
        headers = {"If-None-Match": version} if version else {}
        response = await self._call("GET", self._spec_url, headers=headers)
        if response.status_code == 304:
            return None
        try:
            return EndpointSpec.from_json(orjson.loads(response.content))
        except (orjson.JSONDecodeError, KeyError, TypeError) as exc:
            raise SpecUnavailableError(f"the spec could not be read: {exc}") from exc

    async def send(self, telemetry: bytes) -> None:
        await self._call(
            "POST",
            self._telemetry_url,
            content=telemetry,
            headers={"Content-Type": "application/json"},
        )

    async def _call(self, method: str, url: str, **options: Any) -> httpx.Response:
        try:
            response = await self._client.request(method, url, **options)
        except httpx.HTTPError as exc:
            raise SpecUnavailableError(f"{method} {url}: {type(exc).__name__}: {exc}") from exc
        if response.status_code in _GONE:
            raise EndpointGoneError(
                f"{method} {url} answered {response.status_code}: the endpoint was deleted "
                "or this replica's pool token was revoked"
            )
        if response.status_code >= 500:
            raise SpecUnavailableError(f"{method} {url} answered {response.status_code}")
        if response.status_code >= 400:
            raise ReportRejectedError(
                f"{method} {url} answered {response.status_code}: {response.text[:500]}"
            )
        return response

    async def close(self) -> None:
        await self._client.aclose()


class SpecFile:
    """A spec in a JSON file (`EndpointSpec.to_json()`), read again when the file changes.
    Telemetry is built as usual (so benchmarks pay its cost) and then dropped."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._stamp: tuple[int, int] | None = None
        self.reports = 0

    async def fetch(self, version: str | None) -> EndpointSpec | None:
        try:
            stat = self.path.stat()
            stamp = (stat.st_mtime_ns, stat.st_size)
            if version and stamp == self._stamp:
                return None
            spec = read_spec(self.path)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise SpecUnavailableError(f"{self.path}: {exc}") from exc
        self._stamp = stamp
        return None if spec.version == version else spec

    async def send(self, telemetry: bytes) -> None:
        self.reports += 1

    async def close(self) -> None:
        return None


def read_spec(path: Path) -> EndpointSpec:
    spec = EndpointSpec.from_json(orjson.loads(path.read_bytes()))
    if spec.version:
        return spec
    fields = {k: v for k, v in vars(spec).items() if k != "version"}
    return EndpointSpec.build(**fields)
