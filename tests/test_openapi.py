from __future__ import annotations

from fastapi.testclient import TestClient

from tests.conftest import Person


def test_openapi_documents_the_real_error_shape(anonymous: TestClient) -> None:
    document = anonymous.get("/openapi.json").json()
    assert "HTTPValidationError" not in str(document)
    create = document["paths"]["/api/v1/projects"]["post"]["responses"]
    assert create["422"]["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorBody")
    assert {"401", "403", "404", "409"} <= set(create)


def test_every_api_route_is_in_the_document(anonymous: TestClient, admin: Person) -> None:
    paths = anonymous.get("/openapi.json").json()["paths"]
    for path in (
        "/api/v1/auth/login",
        "/api/v1/me",
        "/api/v1/users",
        "/api/v1/tokens",
        "/api/v1/projects/{project}/members/{username}",
        "/api/v1/audit",
        "/healthz",
        "/api/v1/projects/{project}/endpoints/{name}/traffic",
        "/serve/{project}/{endpoint}/predict",
        "/serve/{project}/{endpoint}/v2/models/{model}/infer",
        "/metrics",
    ):
        assert path in paths
    # the portal, git's smart HTTP and the replicas' internal API are not part of the API
    documented = ("/api/v1/", "/serve/", "/healthz", "/metrics")
    assert not [p for p in paths if not p.startswith(documented)]
    assert not [p for p in paths if p.startswith(("/internal/", "/git/", "/projects/"))]


def test_errors_have_one_shape_everywhere(anonymous: TestClient) -> None:
    for method, path in (("GET", "/api/v1/me"), ("GET", "/api/v1/nope"), ("DELETE", "/healthz")):
        body = anonymous.request(method, path).json()
        assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "field"}


def test_health(anonymous: TestClient) -> None:
    assert anonymous.get("/healthz").json()["status"] == "ok"
