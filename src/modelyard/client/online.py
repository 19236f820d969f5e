"""`client.endpoints.online`: labels for logged predictions (feedback), the learners of an
endpoint's online variants, and how well the endpoint predicts (quality, drift). What these
calls answer is in `client/online_types.py`.

Example:
    >>> online = client.endpoints.online  # doctest: +SKIP
    >>> answer = client.endpoints.predict("churn", "churn", {"tenure": 3}, token="mye_...")  # doctest: +SKIP
    >>> online.feedback("churn", "churn", answer.prediction_id, 1, token="mye_...")  # doctest: +SKIP
    FeedbackTotals(accepted=1, duplicates=0, late=0)
    >>> online.quality("churn", "churn").variant("champion").accuracy  # doctest: +SKIP
    0.91
"""

from __future__ import annotations

import builtins
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from itertools import islice
from typing import Any

from modelyard.client.online_types import Drift, FeedbackTotals, Learner, Quality
from modelyard.client.transport import Transport
from modelyard.errors import AuthenticationError, InvalidInputError, ModelyardError

FEEDBACK_BATCH = 1000  # labels per request: well under the server's limit, a second's work
_ITEM_FIELD = re.compile(r"^feedback\[(\d+)\]")

Label = bool | int | float | str
LabelPair = tuple[str, Label] | Mapping[str, Any]


def _path(project: str, name: str) -> str:
    return f"/api/v1/projects/{project}/endpoints/{name}"


class Online:
    """`client.endpoints.online`: teach an endpoint's online variants and watch how well it
    predicts.

    Example:
        >>> online = client.endpoints.online  # doctest: +SKIP
        >>> online.feedback_many("churn", "churn", [(id1, 0), (id2, 1)], token="mye_...")  # doctest: +SKIP
        FeedbackTotals(accepted=2, duplicates=0, late=0)
        >>> online.pause_learning("churn", "churn", "online").state  # doctest: +SKIP
        'paused'
    """

    def __init__(self, transport: Transport) -> None:
        self._t = transport

    def feedback(
        self, project: str, name: str, prediction_id: str, label: Label, *, token: str | None = None
    ) -> FeedbackTotals:
        """The true label of a logged prediction, answered once it is stored.

        `token` is an endpoint key (`client.endpoints.keys.create`), or None to send as
        yourself (an editor of the project). The first label of a prediction wins: another
        one is ignored and counted in `duplicates`.

        Example:
            >>> client.endpoints.online.feedback("churn", "churn", answer.prediction_id, 1)  # doctest: +SKIP
            FeedbackTotals(accepted=1, duplicates=0, late=0)
        """
        body = {"prediction_id": prediction_id, "label": label}
        return post_feedback(self._t, project, name, body, token)

    def feedback_many(
        self,
        project: str,
        name: str,
        labels: Iterable[LabelPair],
        *,
        token: str | None = None,
        on_batch: Callable[[int, FeedbackTotals], None] | None = None,
    ) -> FeedbackTotals:
        """Labels as `(prediction_id, label)` pairs or `{"prediction_id", "label"}` dicts,
        read lazily (a generator over a big file is fine) and sent 1000 a request; answers
        the totals. `on_batch(sent, totals_so_far)` is called after each request.

        Each request is stored all or nothing. When one fails, the error names the label by
        its place in `labels` (`feedback[1200].prediction_id`) and says how many were sent
        before it; sending those again is harmless (they come back as duplicates).

        Example:
            >>> client.endpoints.online.feedback_many("churn", "churn", [(id1, 0), (id2, 1)])  # doctest: +SKIP
            FeedbackTotals(accepted=2, duplicates=0, late=0)
        """
        return send_feedback(self._t, project, name, labels, token=token, on_batch=on_batch)

    def learners(self, project: str, name: str) -> builtins.list[Learner]:
        """The learners of the endpoint's online variants (River models, or a predict.py whose
        Predictor has `learn`), by variant name; empty until the endpoint has run.

        Example:
            >>> [(l.variant, l.state) for l in client.endpoints.online.learners("churn", "churn")]  # doctest: +SKIP
            [('online', 'learning')]
        """
        data = self._t.request("GET", f"{_path(project, name)}/learners")
        return [Learner.from_json(item) for item in data["learners"]]

    def _steer(self, project: str, name: str, variant: str, action: str, **body: Any) -> Any:
        path = f"{_path(project, name)}/learners/{variant}/{action}"
        return self._t.request("POST", path, json=body or None)

    def pause_learning(self, project: str, name: str, variant: str) -> Learner:
        """Stop learning from labels (they keep arriving and wait); the variant serves on.

        Example:
            >>> client.endpoints.online.pause_learning("churn", "churn", "online").paused  # doctest: +SKIP
            True
        """
        return Learner.from_json(self._steer(project, name, variant, "pause"))

    def resume_learning(self, project: str, name: str, variant: str) -> Learner:
        """Learn again, from the labels that waited on.

        Example:
            >>> client.endpoints.online.resume_learning("churn", "churn", "online").paused  # doctest: +SKIP
            False
        """
        return Learner.from_json(self._steer(project, name, variant, "resume"))

    def checkpoint(self, project: str, name: str, variant: str) -> int:
        """Register the learned state as a new model version now; answers its number
        (ConflictError when nothing was learned since the registered version).

        Example:
            >>> client.endpoints.online.checkpoint("churn", "churn", "online")  # doctest: +SKIP
            7
        """
        return int(self._steer(project, name, variant, "checkpoint")["version"])

    def rollback_learner(self, project: str, name: str, variant: str, version: int) -> Learner:
        """Serve a registered version of the variant's model (a checkpoint, usually) and learn
        on from it. A version that does not exist is InvalidInputError (field `version`).

        Example:
            >>> client.endpoints.online.rollback_learner("churn", "churn", "online", 7).serving  # doctest: +SKIP
            'learned state 3f2a...'
        """
        return Learner.from_json(self._steer(project, name, variant, "rollback", version=version))

    def quality(self, project: str, name: str, *, window: int = 900) -> Quality:
        """Is it predicting correctly? Over the last `window` seconds (60 to 7 days): accuracy
        (or MAE and RMSE) per variant against the trivial baseline, label coverage and delay,
        and each variant against the heaviest live one (an A/B read-out).

        Example:
            >>> q = client.endpoints.online.quality("churn", "churn", window=3600)  # doctest: +SKIP
            >>> q.variant("champion").accuracy, q.comparisons[0].significant  # doctest: +SKIP
            (0.91, False)
        """
        data = self._t.request("GET", f"{_path(project, name)}/quality", params={"window": window})
        return Quality.from_json(data)

    def drift(self, project: str, name: str, *, window: int = 3600) -> Drift:
        """Feature and prediction drift of the last `window` seconds against the champion's
        reference (its training snapshot, or its first live predictions).

        Example:
            >>> client.endpoints.online.drift("churn", "churn").drifted  # doctest: +SKIP
            ['tenure']
        """
        data = self._t.request("GET", f"{_path(project, name)}/drift", params={"window": window})
        return Drift.from_json(data)


def _item(entry: LabelPair) -> dict[str, Any]:
    if isinstance(entry, Mapping):
        return {"prediction_id": entry.get("prediction_id"), "label": entry.get("label")}
    prediction_id, label = entry
    return {"prediction_id": prediction_id, "label": label}


def _batches(labels: Iterable[LabelPair], size: int) -> Iterator[list[dict[str, Any]]]:
    found = iter(labels)
    while batch := [_item(e) for e in islice(found, size)]:
        yield batch


def post_feedback(
    transport: Transport, project: str, name: str, body: object, token: str | None
) -> FeedbackTotals:
    """One feedback request: a label (a dict) or a batch (a list of them)."""
    path = f"/serve/{project}/{name}/feedback"
    try:
        if token is None:  # the login's token: a project editor may label too
            return FeedbackTotals.from_json(transport.request("POST", path, json=body))
        return FeedbackTotals.from_json(transport.request_as(token, "POST", path, json=body))
    except AuthenticationError as exc:
        hint = (
            "pass token= an endpoint API key, or sign in as an editor of the project"
            if token is None
            else "that endpoint key is not valid for this endpoint (revoked, or another's)"
        )
        raise AuthenticationError(f"{exc.message}: {hint}", field="token") from None


def send_feedback(
    transport: Transport,
    project: str,
    name: str,
    labels: Iterable[LabelPair],
    *,
    token: str | None = None,
    batch_size: int = FEEDBACK_BATCH,
    on_batch: Callable[[int, FeedbackTotals], None] | None = None,
) -> FeedbackTotals:
    """See `Online.feedback_many`. Each batch is stored all or nothing; when one fails,
    the error names the item by its place in `labels` and says what was stored before it."""
    if not 1 <= batch_size <= FEEDBACK_BATCH:
        raise InvalidInputError(f"batch_size: 1 to {FEEDBACK_BATCH}", field="batch_size")
    totals, sent = FeedbackTotals(), 0
    for batch in _batches(labels, batch_size):
        try:
            totals += post_feedback(transport, project, name, batch, token)
        except ModelyardError as exc:
            raise _in_stream(exc, sent, totals) from None
        sent += len(batch)
        if on_batch is not None:
            on_batch(len(batch), totals)
    return totals


def _in_stream(exc: ModelyardError, sent: int, totals: FeedbackTotals) -> ModelyardError:
    """The error of one batch, with its field counted from the first label sent."""
    field = exc.field
    found = _ITEM_FIELD.match(field or "")
    if found is not None and field is not None:
        field = f"feedback[{sent + int(found[1])}]{field[found.end() :]}"
    if not sent:
        return type(exc)(exc.message, field=field)
    stored = (
        f"the {sent} labels before it were sent ({totals.accepted} accepted, "
        f"{totals.duplicates} duplicates); sending them again is harmless"
    )
    return type(exc)(f"{exc.message} ({stored})", field=field)
