"""modelyard: a self-hosted ML platform. This module is the SDK's public face.

Example:
    >>> import modelyard
    >>> client = modelyard.connect("http://127.0.0.1:8000", token="myd_...")  # doctest: +SKIP
    >>> [p.slug for p in client.projects.list()]  # doctest: +SKIP
"""

from __future__ import annotations

__version__ = "0.1.0"

from modelyard.client import (
    Client,
    active_run,
    autolog,
    connect,
    dataset,
    deploy,
    load_model,
    start_run,
)
from modelyard.errors import (
    AuthenticationError,
    ConflictError,
    ConnectionFailedError,
    ConnectorError,
    InvalidInputError,
    ModelyardError,
    NotFoundError,
    PermissionDeniedError,
    ServiceUnavailableError,
)

__all__ = [
    "AuthenticationError",
    "Client",
    "ConflictError",
    "ConnectionFailedError",
    "ConnectorError",
    "InvalidInputError",
    "ModelyardError",
    "NotFoundError",
    "PermissionDeniedError",
    "ServiceUnavailableError",
    "__version__",
    "active_run",
    "autolog",
    "connect",
    "dataset",
    "deploy",
    "load_model",
    "start_run",
]
