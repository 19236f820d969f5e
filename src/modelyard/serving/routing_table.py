"""The routing table a replica answers from: one immutable object per spec version.

Everything a request needs (paths, keys, the router, each variant's predictor, validator
and batcher) hangs off one `Table`, so a spec change is one attribute assignment on the
app: requests already running keep the table they started with and finish on it.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass

from modelyard.serving.batching import MicroBatcher
from modelyard.serving.inputs import Validator
from modelyard.serving.predictors import Predictor
from modelyard.serving.router import Router
from modelyard.serving.spec import EndpointSpec, VariantSpec

# Route ids, looked up by exact path.
PREDICT, V2_LIVE, V2_READY, V2_MODEL, V2_MODEL_READY, V2_INFER = range(6)


@dataclass(frozen=True, slots=True)
class Variant:
    spec: VariantSpec
    name: str
    predictor: Predictor
    validate: Validator
    batcher: MicroBatcher | None
    shadow: bool


@dataclass(frozen=True, slots=True)
class Table:
    spec: EndpointSpec
    routes: Mapping[str, int]
    router: Router[Variant]
    variants: tuple[Variant, ...]
    shadows: tuple[Variant, ...]
    key_hashes: frozenset[str]

    @property
    def ready(self) -> bool:
        return bool(self.router)


def paths(spec: EndpointSpec) -> dict[str, int]:
    prefix = f"/serve/{spec.project}/{spec.name}"
    model = f"{prefix}/v2/models/{spec.name}"
    return {
        f"{prefix}/predict": PREDICT,
        f"{prefix}/v2/health/live": V2_LIVE,
        f"{prefix}/v2/health/ready": V2_READY,
        model: V2_MODEL,
        f"{model}/ready": V2_MODEL_READY,
        f"{model}/infer": V2_INFER,
    }


def build_table(
    spec: EndpointSpec,
    predictors: Mapping[str, Predictor],
    rng: random.Random | None = None,
    previous: Table | None = None,
) -> Table:
    """A table for `spec` from loaded predictors (by variant name). A variant whose
    predictor and batching settings did not change keeps its batcher from `previous`, so a
    weight change does not split a forming batch."""
    old = {v.name: v for v in previous.variants} if previous is not None else {}
    variants = []
    for vspec in spec.variants:
        predictor = predictors[vspec.name]
        kept = old.get(vspec.name)
        batcher: MicroBatcher | None = None
        if vspec.batching:
            if (
                kept is not None
                and kept.batcher is not None
                and kept.predictor is predictor
                and _batching(kept.spec) == _batching(vspec)
            ):
                batcher = kept.batcher
            else:
                batcher = MicroBatcher(
                    predictor.predict_batch, vspec.max_batch_size, vspec.max_wait_ms
                )
        variants.append(
            Variant(
                spec=vspec,
                name=vspec.name,
                predictor=predictor,
                validate=Validator(vspec.signature),
                batcher=batcher,
                shadow=vspec.mode == "shadow",
            )
        )
    live = [(v, v.spec.weight) for v in variants if not v.shadow and v.spec.weight > 0]
    return Table(
        spec=spec,
        routes=paths(spec),
        router=Router(live, rng),
        variants=tuple(variants),
        shadows=tuple(v for v in variants if v.shadow),
        key_hashes=frozenset(spec.key_hashes),
    )


def _batching(spec: VariantSpec) -> tuple[int, float]:
    return (spec.max_batch_size, spec.max_wait_ms)
