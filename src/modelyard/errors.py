"""The one exception tree of modelyard.

```
ModelyardError                 500  something went wrong on our side
 ├── InvalidInputError         422  a request field is wrong (names the field)
 ├── AuthenticationError       401  no valid credentials were given
 ├── PermissionDeniedError     403  authenticated, but the role does not allow it
 ├── NotFoundError             404  does not exist, or is not visible to the caller
 ├── ConflictError             409  clashes with what is stored (a duplicate slug)
 ├── PayloadTooLargeError      413  a request body over the limit
 ├── RateLimitedError          429  too many attempts (failed sign-ins); Retry-After says when
 ├── ServiceUnavailableError   503  a dependency or endpoint is not running
 ├── ConnectorError            502  a data source failed (unreachable, refused, missing table)
 └── ConnectionFailedError     ---  the SDK could not reach the server
```

Server code raises these; one handler (`modelyard.http_errors`) maps them to the HTTP
status and the JSON shape `{"error": {"code", "message", "field"}}`. The SDK raises the
same classes from that JSON, so callers catch one tree on both sides.
"""

from __future__ import annotations


class ModelyardError(Exception):
    """Base of every error modelyard raises on purpose."""

    status_code = 500
    code = "internal_error"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def to_dict(self) -> dict[str, object]:
        return {"code": self.code, "message": self.message, "field": self.field}


class InvalidInputError(ModelyardError):
    status_code = 422
    code = "invalid_input"


class AuthenticationError(ModelyardError):
    status_code = 401
    code = "not_authenticated"


class PermissionDeniedError(ModelyardError):
    status_code = 403
    code = "permission_denied"


class NotFoundError(ModelyardError):
    status_code = 404
    code = "not_found"


class ConflictError(ModelyardError):
    status_code = 409
    code = "conflict"


class PayloadTooLargeError(ModelyardError):
    status_code = 413
    code = "too_large"


class RateLimitedError(ModelyardError):
    """Refused without looking at the request: too many recent attempts. The HTTP answer
    carries `retry_after` (whole seconds) as its Retry-After header."""

    status_code = 429
    code = "too_many_requests"

    def __init__(
        self, message: str, *, field: str | None = None, retry_after: int | None = None
    ) -> None:
        super().__init__(message, field=field)
        self.retry_after = retry_after


class ServiceUnavailableError(ModelyardError):
    status_code = 503
    code = "unavailable"


class ConnectorError(ModelyardError):
    """A data source answered with an error or not at all. The message never holds a secret."""

    status_code = 502
    code = "source_error"


class ConnectionFailedError(ModelyardError):
    """The SDK or CLI could not reach a modelyard server."""

    code = "connection_failed"


_BY_CODE: dict[str, type[ModelyardError]] = {
    cls.code: cls
    for cls in (
        InvalidInputError,
        AuthenticationError,
        PermissionDeniedError,
        NotFoundError,
        ConflictError,
        PayloadTooLargeError,
        RateLimitedError,
        ServiceUnavailableError,
        ConnectorError,
    )
}


def from_payload(status: int, payload: object) -> ModelyardError:
    """Rebuild the error a server answered with (used by the SDK)."""
    error = payload.get("error") if isinstance(payload, dict) else None
    if not isinstance(error, dict):
        return ModelyardError(f"server answered HTTP {status}")
    cls = _BY_CODE.get(str(error.get("code")), ModelyardError)
    field = error.get("field")
    return cls(str(error.get("message", "")), field=str(field) if field else None)
