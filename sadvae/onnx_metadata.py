"""The ONNX metadata codec: how the model's facts travel in an ONNX file's ``metadata_props`` (standard library only).

``sadvae export`` writes each fact as ``{"sadvae.<key>": json}``; the live backends, the engine
builder and the INT8 quantizer read them back. Keys without the ``sadvae.`` prefix (written by other
tools) are kept with their raw string values. :func:`read_onnx_metadata` reads them straight from
the file without the ``onnx`` package (a Jetson that builds engines need not have it): the top level
of the ``ModelProto`` protobuf is scanned for field 14.

Example::

    encode_metadata({"window": 32})  # {"sadvae.window": "32"}
    decode_metadata({"sadvae.window": "32", "author": "x"})  # {"window": 32, "author": "x"}
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

from sadvae.errors import EngineError

__all__ = [
    "EXPORT_FORMAT",
    "METADATA_PREFIX",
    "encode_metadata",
    "decode_metadata",
    "read_onnx_metadata",
    "onnx_model_problem",
]

METADATA_PREFIX = "sadvae."
# ``sadvae.format_version`` of the exports ``sadvae export`` writes; bump it whenever the metadata changes what the
# live side does with an export, so older exports are exported again instead of read the old way. Here (not in the
# torch-importing sadvae.export) so the live side can compare it without torch.
# 2: ``class_aliases`` (a format-1 export of a bundle with a class table maps the merged names differently).
EXPORT_FORMAT = 2
_MODEL_PROTO_METADATA_PROPS = 14  # ModelProto.metadata_props: repeated StringStringEntryProto {1: key, 2: value}
_MODEL_PROTO_GRAPH = 7  # ModelProto.graph


def encode_metadata(meta: Mapping[str, object]) -> dict[str, str]:
    """``{"sadvae.<key>": json}`` strings for ONNX ``metadata_props``."""
    return {METADATA_PREFIX + k: json.dumps(v, sort_keys=True) for k, v in meta.items()}


def decode_metadata(props: Mapping[str, str] | Iterable[tuple[str, str]]) -> dict[str, object]:
    """Decode ONNX ``metadata_props``: ``{"sadvae.window": "32"}`` -> ``{"window": 32}``.

    Args:
        props: a key -> value mapping, or (key, value) pairs in file order (a later duplicate wins).

    Keys without the ``sadvae.`` prefix are kept as they are, with their raw string values; a
    ``sadvae.`` value that is not JSON is kept as its string.
    """
    out: dict[str, object] = {}
    for key, value in props.items() if isinstance(props, Mapping) else props:
        if key.startswith(METADATA_PREFIX):
            try:
                out[key[len(METADATA_PREFIX) :]] = json.loads(value)
            except json.JSONDecodeError:
                out[key[len(METADATA_PREFIX) :]] = value
        else:
            out[key] = value
    return out


def read_onnx_metadata(path: str | Path) -> dict[str, object]:
    """The decoded ``metadata_props`` of the ONNX file at ``path`` (no onnx package needed).

    Reads the top level of the ``ModelProto`` protobuf only (field 14: repeated key/value entries).

    Raises:
        EngineError: the file is missing or not an ONNX protobuf.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as e:
        raise EngineError(
            f"{path}: cannot read the ONNX model ({e.strerror or e}); export it with `sadvae export`"
        ) from None
    try:
        pairs = []
        for field, value in _fields(data):
            if field == _MODEL_PROTO_METADATA_PROPS and isinstance(value, bytes):
                entry = {f: v for f, v in _fields(value) if isinstance(v, bytes)}
                key = entry.get(1, b"").decode("utf-8")
                text = entry.get(2, b"").decode("utf-8")
                pairs.append((key, text))
    except (ValueError, UnicodeDecodeError) as e:
        raise EngineError(f"{path}: not an ONNX model ({e}); export it again with `sadvae export`") from None
    return decode_metadata(pairs)


def onnx_model_problem(data: bytes) -> str | None:
    """Why ``data`` is not an ONNX ``ModelProto`` (a protobuf whose top level has a graph), or None when it is one.

    Reads the bytes only (no onnx package, no TensorRT parse); the reason is for a message: "an empty file", "a
    protobuf without a graph", or what made the bytes unreadable as a protobuf.
    """
    if not data:
        return "an empty file"
    try:
        fields = {field for field, _ in _fields(data)}
    except ValueError as e:
        return str(e)
    return None if _MODEL_PROTO_GRAPH in fields else "a protobuf without a graph"


def _fields(buf: bytes) -> Iterator[tuple[int, int | bytes]]:
    """(field number, int | bytes) of each top-level protobuf field in ``buf``."""
    pos = 0
    end = len(buf)

    def varint() -> int:
        nonlocal pos
        shift = result = 0
        while True:
            if pos >= end or shift > 63:
                raise ValueError("truncated varint")
            byte = buf[pos]
            pos += 1
            result |= (byte & 0x7F) << shift
            if not byte & 0x80:
                return result
            shift += 7

    while pos < end:
        tag = varint()
        field = tag >> 3
        wire = tag & 7
        if field == 0:
            raise ValueError(f"invalid protobuf field 0 at byte {pos}")
        if wire == 0:
            yield field, varint()
        elif wire in (1, 5):
            pos += 8 if wire == 1 else 4
            if pos > end:
                raise ValueError("truncated fixed-width field")
        elif wire == 2:
            n = varint()
            if pos + n > end:
                raise ValueError(f"field {field} runs past the end of the file")
            yield field, buf[pos : pos + n]
            pos += n
        else:
            raise ValueError(f"unsupported protobuf wire type {wire} at byte {pos}")
