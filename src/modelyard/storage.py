"""The artifact store: dataset snapshots (and, later, run artifacts and model files).

A local folder by default (`<home>/storage`), or any fsspec URL such as
`s3://bucket/prefix` through `MODELYARD_ARTIFACT_ROOT`. Keys are relative POSIX paths
that the store builds itself; no caller passes a user's path in.
"""

from __future__ import annotations

import posixpath
from typing import IO, Annotated, Any

import fsspec
from fastapi import Depends, Request


class ArtifactStore:
    def __init__(self, root: str) -> None:
        self.fs, self.root = fsspec.core.url_to_fs(root)
        self.fs.makedirs(self.root, exist_ok=True)

    def _full(self, key: str) -> str:
        clean = posixpath.normpath(key)
        if clean.startswith(("/", "..")):
            raise ValueError(f"artifact key {key!r} leaves the store")
        return posixpath.join(self.root, clean)

    def uri(self, key: str) -> str:
        return self._full(key)

    def put_file(self, local_path: str, key: str) -> str:
        target = self._full(key)
        self.fs.makedirs(posixpath.dirname(target), exist_ok=True)
        self.fs.put_file(local_path, target)
        return target

    def exists(self, key: str) -> bool:
        return bool(self.fs.exists(self._full(key)))

    def open(self, key: str, mode: str = "rb") -> IO[Any]:
        handle: IO[Any] = self.fs.open(self._full(key), mode)
        return handle

    def delete(self, key: str) -> None:
        if self.exists(key):
            self.fs.rm(self._full(key))


def get_store(request: Request) -> ArtifactStore:
    store: ArtifactStore = request.app.state.artifacts
    return store


StoreDep = Annotated[ArtifactStore, Depends(get_store)]
