"""Git's smart HTTP protocol at /git/<project>.git, served by the real `git http-backend`.

Clients authenticate with HTTP Basic: their username and an API token as the password.
Viewers may clone and fetch; editors and owners may push; anyone else gets 404.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import tempfile
from collections.abc import AsyncIterator
from typing import IO

from fastapi import APIRouter, Request
from starlette.responses import Response, StreamingResponse

from modelyard.accounts.actors import Actor
from modelyard.accounts.deps import client_ip
from modelyard.accounts.tokens import authenticate_token
from modelyard.code.gitcmd import git_env
from modelyard.code.repos import RepoStore
from modelyard.errors import AuthenticationError, ModelyardError, NotFoundError
from modelyard.http_errors import error_response
from modelyard.projects.schemas import Role
from modelyard.projects.service import get_project, require_writable

router = APIRouter(include_in_schema=False)

_CHALLENGE = {"WWW-Authenticate": 'Basic realm="modelyard git", charset="UTF-8"'}
_ALLOWED_PATHS = ("info/refs", "git-upload-pack", "git-receive-pack", "HEAD")


def _basic_credentials(request: Request) -> tuple[str, str]:
    header = request.headers.get("authorization", "")
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic" or not encoded:
        raise AuthenticationError("git needs your username and an API token as the password")
    try:
        username, _, token = base64.b64decode(encoded).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        raise AuthenticationError("malformed Basic credentials") from None
    return username, token


def _authorize(request: Request, slug: str, write: bool) -> Actor:
    username, token = _basic_credentials(request)
    with request.app.state.session_factory() as session:
        user = authenticate_token(session, token)
        if user.username != username:
            raise AuthenticationError("the token does not belong to that username")
        actor = Actor.of(user, "token", client_ip(request))
        project = get_project(session, actor, slug, min_role=Role.editor if write else Role.viewer)
        if write:
            require_writable(project)
    return actor


async def _spool_body(request: Request, limit: int) -> tuple[IO[bytes], int] | None:
    """The whole request body in a temporary file and its size, or None past `limit`.

    git only ever sees a complete body of a declared length: an interrupted push changes
    nothing, an oversized one is refused with a message, and git never waits on a half-open
    pipe.
    """
    spool = tempfile.TemporaryFile()  # noqa: SIM115 (handed to git, closed by the caller)
    received = 0
    async for chunk in request.stream():
        received += len(chunk)
        if received <= limit:
            spool.write(chunk)
    if received > limit:
        spool.close()
        return None
    spool.seek(0)
    return spool, received


def _refusal(limit: int) -> Response:
    """A receive-pack answer holding one side-band error, shown by git as `remote error: ...`."""
    message = (
        f"modelyard: this push is larger than the {limit / 1024 / 1024:.1f} MB limit; "
        "keep data and large files out of git (use datasets and artifacts)\n"
    ).encode()
    packet = b"\x03" + message
    body = f"{len(packet) + 4:04x}".encode() + packet + b"0000"
    return Response(body, media_type="application/x-git-receive-pack-result")


GIT_REQUEST_SECONDS = 600


def _stop(process: asyncio.subprocess.Process) -> None:
    if process.returncode is None:
        process.kill()


async def _read_cgi_headers(stdout: asyncio.StreamReader) -> tuple[int, dict[str, str]]:
    status = 200
    headers: dict[str, str] = {}
    while True:
        line = (await stdout.readline()).decode("latin-1").rstrip("\r\n")
        if not line:
            return status, headers
        name, _, value = line.partition(":")
        if name.lower() == "status":
            status = int(value.strip().split(" ", 1)[0])
        else:
            headers[name.strip()] = value.strip()


@router.api_route("/git/{slug}.git/{path:path}", methods=["GET", "POST"])
async def git_http(slug: str, path: str, request: Request) -> Response:
    store: RepoStore = request.app.state.repos
    service = request.query_params.get("service", "")
    write = path == "git-receive-pack" or service == "git-receive-pack"
    if path not in _ALLOWED_PATHS:
        return error_response(404, "not_found", f"nothing at {request.url.path}")
    try:
        actor = await asyncio.to_thread(_authorize, request, slug, write)
        repo = await asyncio.to_thread(store.ensure, slug)
    except AuthenticationError as exc:
        response = error_response(401, exc.code, exc.message)
        response.headers.update(_CHALLENGE)
        return response
    except ModelyardError as exc:
        return error_response(exc.status_code, exc.code, exc.message)
    except ValueError:
        raise NotFoundError(f"no project {slug!r}") from None

    env = git_env(
        {
            "GIT_PROJECT_ROOT": str(repo.parent),
            "GIT_HTTP_EXPORT_ALL": "1",
            "PATH_INFO": f"/{repo.name}/{path}",
            "REQUEST_METHOD": request.method,
            "QUERY_STRING": request.url.query,
            "CONTENT_TYPE": request.headers.get("content-type", ""),
            "REMOTE_USER": actor.username,
            "REMOTE_ADDR": actor.ip,
            "GIT_COMMITTER_NAME": actor.username,
            "GIT_COMMITTER_EMAIL": f"{actor.username}@modelyard",
        }
    )
    for header, variable in (
        ("content-encoding", "HTTP_CONTENT_ENCODING"),
        ("git-protocol", "GIT_PROTOCOL"),
    ):
        if header in request.headers:
            env[variable] = request.headers[header]
    stdin: IO[bytes] | int = asyncio.subprocess.DEVNULL
    if request.method == "POST":
        spooled = await _spool_body(request, store.max_push_bytes)
        if spooled is None:
            return _refusal(store.max_push_bytes)
        stdin, env["CONTENT_LENGTH"] = spooled[0], str(spooled[1])
    try:
        process = await asyncio.create_subprocess_exec(
            "git",
            "http-backend",
            env=env,
            stdin=stdin,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
        )
    finally:
        if not isinstance(stdin, int):
            stdin.close()  # the child holds its own descriptor
    assert process.stdout is not None
    # Should the answer never be streamed (the client vanished first), git is still stopped.
    watchdog = asyncio.get_running_loop().call_later(GIT_REQUEST_SECONDS, _stop, process)
    status, headers = await _read_cgi_headers(process.stdout)
    stdout = process.stdout

    async def body() -> AsyncIterator[bytes]:
        complete = False
        try:
            while chunk := await stdout.read(65536):
                yield chunk
            complete = True
        finally:
            watchdog.cancel()
            if not complete:
                _stop(process)  # the client went away: stop git rather than block on a pipe
            await process.wait()

    return StreamingResponse(body(), status_code=status, headers=headers)
