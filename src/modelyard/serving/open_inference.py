"""The Open Inference Protocol (V2, as KServe, Triton and MLServer speak it) in terms of
modelyard's records: a request's named tensors, one per feature, become records; outputs
become tensors again.

A request holds `inputs: [{"name", "shape", "datatype", "data"}]` with shape [n] or [n, 1]
(data flat in row-major order, or nested one value per row). A response holds
`outputs: [{"name", "shape", "datatype", "data"}]`: one tensor `predict`, or one per key
when the model answers a dict per record. The variant and the prediction ids travel in
`parameters`, the protocol's place for extensions.
"""

from __future__ import annotations

from typing import Any

from modelyard.serving.inputs import InputError
from modelyard.serving.spec import EndpointSpec

DATATYPES = {
    "number": "FP64",
    "integer": "INT64",
    "boolean": "BOOL",
    "string": "BYTES",
    "datetime": "BYTES",
    "object": "BYTES",
}
_KNOWN_DATATYPES = frozenset(
    {"BOOL", "UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16", "INT32", "INT64"}
    | {"FP16", "FP32", "FP64", "BYTES"}
)


def parse_infer(
    payload: Any, max_records: int
) -> tuple[list[dict[str, Any]], str | None, str | None]:
    """(records, the request's id, the sticky key from `parameters.key`), or InputError."""
    if type(payload) is not dict:
        raise InputError("the body must be a JSON object", "body")
    request_id = payload.get("id")
    if request_id is not None and type(request_id) is not str:
        raise InputError("id must be a string", "id")
    key = None
    parameters = payload.get("parameters")
    if parameters is not None:
        if type(parameters) is not dict:
            raise InputError("parameters must be an object", "parameters")
        key = parameters.get("key")
        if key is not None and (
            type(key) is not str or not (0 < len(key) <= 200) or not key.isprintable()
        ):
            raise InputError(
                "parameters.key must be a string of 1-200 printable characters", "parameters.key"
            )
    tensors = payload.get("inputs")
    if type(tensors) is not list or not tensors:
        raise InputError("inputs must be a non-empty list of tensors, one per feature", "inputs")
    names: list[str] = []
    columns: list[list[Any]] = []
    rows = -1
    for index, tensor in enumerate(tensors):
        name, column = _column(tensor, f"inputs[{index}]")
        if name in names:
            raise InputError(f"the tensor {name} is given twice", f"inputs[{index}].name")
        if rows >= 0 and len(column) != rows:
            raise InputError(
                "every input tensor must hold the same number of rows", f"inputs[{index}].shape"
            )
        rows = len(column)
        names.append(name)
        columns.append(column)
    if rows == 0:
        raise InputError("the batch is empty", "inputs")
    if rows > max_records:
        raise InputError(f"a request holds at most {max_records} records", "inputs")
    return (
        [dict(zip(names, values, strict=True)) for values in zip(*columns, strict=True)],
        request_id,
        key,
    )


def _column(tensor: Any, where: str) -> tuple[str, list[Any]]:
    if type(tensor) is not dict:
        raise InputError("each input tensor must be an object", where)
    name = tensor.get("name")
    if type(name) is not str or not name:
        raise InputError("a tensor needs a name: the feature it holds", f"{where}.name")
    datatype = tensor.get("datatype")
    if datatype not in _KNOWN_DATATYPES:
        raise InputError(
            f"datatype must be one of {', '.join(sorted(_KNOWN_DATATYPES))}", f"{where}.datatype"
        )
    shape = tensor.get("shape")
    if (
        type(shape) is not list
        or not 1 <= len(shape) <= 2
        or any(type(d) is not int or d < 0 for d in shape)
        or (len(shape) == 2 and shape[1] != 1)
    ):
        raise InputError(
            "shape must be [n] or [n, 1]: one tensor per feature, one value per row",
            f"{where}.shape",
        )
    data = tensor.get("data")
    if type(data) is not list:
        raise InputError("data must be a list", f"{where}.data")
    if len(shape) == 2 and data and type(data[0]) is list:  # nested: one value per row
        if any(type(row) is not list or len(row) != 1 for row in data):
            raise InputError("nested data must hold one value per row", f"{where}.data")
        data = [row[0] for row in data]
    if len(data) != shape[0]:
        raise InputError(f"data holds {len(data)} values for shape {shape}", f"{where}.data")
    return name, data


def infer_response(
    model_name: str,
    model_version: int,
    request_id: str | None,
    outputs: list[Any],
    variant: str,
    ids: list[str],
) -> dict[str, Any]:
    return {
        "model_name": model_name,
        "model_version": str(model_version),
        "id": request_id if request_id is not None else ids[0],
        "parameters": {"variant": variant, "prediction_ids": ids},
        "outputs": output_tensors(outputs),
    }


def output_tensors(outputs: list[Any]) -> list[dict[str, Any]]:
    if outputs and all(type(o) is dict for o in outputs):
        keys = list(outputs[0])
        return [_tensor(str(k), [o.get(k) for o in outputs]) for k in keys]
    return [_tensor("predict", outputs)]


def _tensor(name: str, values: list[Any]) -> dict[str, Any]:
    rows = len(values)
    if values and all(type(v) is list for v in values) and len({len(v) for v in values}) == 1:
        flat = [x for v in values for x in v]
        return {
            "name": name,
            "shape": [rows, len(values[0])],
            "datatype": _datatype(flat),
            "data": flat,
        }
    return {"name": name, "shape": [rows], "datatype": _datatype(values), "data": values}


def _datatype(values: list[Any]) -> str:
    kinds = {type(v) for v in values}
    if kinds <= {bool}:
        return "BOOL"
    if kinds <= {int}:
        return "INT64"
    if kinds <= {int, float}:
        return "FP64"
    return "BYTES"


def model_metadata(spec: EndpointSpec) -> dict[str, Any]:
    """What the live variants take; they may differ in version (and then the first live
    variant's signature is shown, the one an A/B test is usually measured against)."""
    shown = spec.live or spec.variants
    signature = shown[0].signature if shown else ()
    return {
        "name": spec.name,
        "versions": sorted({str(v.model_version) for v in shown}, key=lambda s: int(s)),
        "platform": "modelyard",
        "inputs": [
            {"name": f.name, "datatype": DATATYPES.get(f.type, "BYTES"), "shape": [-1]}
            for f in signature
        ],
        "outputs": [],
    }
