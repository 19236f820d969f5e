"""Git's smart HTTP protocol at /git/<project>.git, served by the real `git http-backend`.

Clients authenticate with HTTP Basic: their username and an API token as the password.
Viewers may clone and fetch; editors and owners may push; anyone else gets 404.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
from collections.abc import AsyncIterator

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
from modelyard.projects.service import get_project

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
        get_project(session, actor, slug, min_role=Role.editor if write else Role.viewer)
    return actor


async def _stream_body(request: Request, stdin: asyncio.StreamWriter) -> None:
    try:
        async for chunk in request.stream():
            stdin.write(chunk)
            await stdin.drain()
    except (BrokenPipeError, ConnectionResetError):
        pass  # git stopped reading (it refused the push); its answer says why
    finally:
        stdin.close()


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
    if not path.startswith(_ALLOWED_PATHS):
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
            "GIT_HTTP_MAX_REQUEST_BUFFER": str(store.max_push_bytes),
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
        ("content-length", "CONTENT_LENGTH"),
    ):
        if header in request.headers:
            env[variable] = request.headers[header]
    process = await asyncio.create_subprocess_exec(
        "git",
        "http-backend",
        env=env,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    assert process.stdin is not None and process.stdout is not None
    feeder = asyncio.create_task(_stream_body(request, process.stdin))
    status, headers = await _read_cgi_headers(process.stdout)
    stdout = process.stdout

    async def body() -> AsyncIterator[bytes]:
        complete = False
        try:
            while chunk := await stdout.read(65536):
                yield chunk
            complete = True
        finally:
            if not complete and process.returncode is None:
                process.kill()  # the client went away: stop git rather than block on a full pipe
            feeder.cancel()
            await process.wait()

    return StreamingResponse(body(), status_code=status, headers=headers)
