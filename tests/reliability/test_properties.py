"""Property-based tests (hypothesis): parsers, the joint ring buffer, the pose mapping and the event encoder.

Each property runs a modest number of examples (the whole file takes seconds); a failure prints the
smallest input hypothesis found.
"""

from __future__ import annotations

import json
import math
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from realtime.buffer import JointBuffer
from realtime.head.labels import MAX_NAME_CHARS, parse_labels, parse_labels_text
from realtime.pose.mapping import mediapipe_to_ntu25
from sadvae.data.kinect_v1 import read_msr_file, read_nw_ucla_file, read_utkinect_labels
from sadvae.data.ntu import read_ntu_skeleton
from sadvae.errors import ConfigError, DataFormatError
from sadvae.labels import duplicate_key

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
TMP = Path(tempfile.mkdtemp(prefix="sadvae-props-"))  # one folder for the whole module; files are overwritten


def _write(name: str, data: str | bytes) -> Path:
    path = TMP / name
    path.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8", "surrogatepass"))
    return path


RAISED = object()  # what _read returns where the reader raised the expected error


def _read(read, name: str, data: str | bytes, error: type[Exception] = DataFormatError):
    """``read`` of ``data`` written to ``TMP/name``: what it returns, or ``RAISED`` where it raised ``error`` whose
    message is one line that starts with the file's path (any other exception fails the test)."""
    path = _write(name, data)
    try:
        return read(path)
    except error as e:
        assert str(e).startswith(str(path)) and "\n" not in str(e)
        return RAISED


# --------------------------------------------------------------------------------------------- labels
LINE_PIECES = st.one_of(
    st.text(max_size=30),
    st.sampled_from(["#", "|", " | ", "\t", "\r", "\r\n", "\x00", "\ufeff", "wave", "WAVE", "Wave  ", "ß", "ss"]),
    st.text(alphabet=st.characters(codec="utf-8"), min_size=90, max_size=120),
)
LABELS_TEXT = st.lists(st.lists(LINE_PIECES, max_size=4).map("".join), max_size=12).map("\n".join)


def _check_label_set(labels) -> None:
    assert len(labels.names) >= 2 and len(labels.names) == len(labels.descriptions)
    keys = [n.casefold() for n in labels.names]
    assert len(set(keys)) == len(keys), "names are unique ignoring case"
    for n in labels.names:
        assert n and n == " ".join(n.split()) and len(n) <= MAX_NAME_CHARS and "|" not in n


@SETTINGS
@given(LABELS_TEXT)
def test_labels_text_parses_to_unique_names_or_raises_config_error(text):
    try:
        labels = parse_labels_text(text, "<p>")
    except ConfigError as e:
        assert str(e).startswith("<p>") and "\n" not in str(e)
        return
    _check_label_set(labels)


@SETTINGS
@given(st.one_of(st.binary(max_size=400), LABELS_TEXT.map(lambda s: s.encode("utf-16")), LABELS_TEXT.map(str.encode)))
def test_labels_file_of_any_bytes_parses_or_raises_config_error(data):
    labels = _read(parse_labels, "labels.txt", data, ConfigError)
    if labels is not RAISED:
        _check_label_set(labels)


# names as a user writes them (no two alike ignoring case and spacing); each description repeats its name with
# digits, so no description reads as another label's text
CLEAN_NAMES = st.lists(
    st.from_regex(r"[a-z]{2,8}( [a-z]{2,8}){0,2}", fullmatch=True), min_size=2, max_size=8, unique_by=duplicate_key
)


@SETTINGS
@given(names=CLEAN_NAMES, data=st.data())
def test_well_formed_labels_files_parse_to_their_names_and_a_duplicate_is_refused(names, data):
    """The random texts above rarely parse; these always must, to exactly the names written, in any encoding the
    format allows, and the same file with one name repeated in another case and spacing is refused by name."""
    lines = []
    for k, name in enumerate(names):
        if data.draw(st.booleans()):
            lines.append(data.draw(st.sampled_from(["", "   ", "# a comment", "#wave", "  # jump | x"])))
        pad = data.draw(st.sampled_from(["", " ", "\t", "  "]))
        described = data.draw(st.booleans())
        lines.append(f"{pad}{name}{pad}" + (f" | {name} done {k} times" if described else ""))
    eol = data.draw(st.sampled_from(["\n", "\r\n"]))
    encoding = data.draw(st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "utf-32"]))
    labels = _read(parse_labels, "labels.txt", eol.join(lines).encode(encoding), ConfigError)
    assert labels is not RAISED and labels.names == tuple(names)
    _check_label_set(labels)
    twin = "  ".join(data.draw(st.sampled_from(names)).upper().split())
    path = _write("labels.txt", (eol.join([*lines, twin]) + eol).encode(encoding))
    with pytest.raises(ConfigError, match=f"line {len(lines) + 1}: duplicate action"):
        parse_labels(path)


# ------------------------------------------------------------------------------------- dataset text readers
TOKENS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(-(10**40), 10**40).map(str),
    st.sampled_from(["0", "1", "-1.5", "1e39", "-1e39", "nan", "NaN", "inf", "x", "1,5", "", "\t", "25", "20"]),
)
TOKEN_LINES = st.lists(st.lists(TOKENS, max_size=6).map(" ".join), max_size=50).map("\n".join)


def _msr_like() -> st.SearchStrategy[str]:
    """Mostly well-formed MSR files (20 rows of 4 numbers a frame), with random tokens mixed in."""
    row = st.tuples(*[st.floats(-5, 5, width=32)] * 3).map(lambda v: f"{v[0]} {v[1]} {v[2]} 1")
    frames = st.lists(st.lists(row, min_size=20, max_size=20).map("\n".join), min_size=1, max_size=3).map("\n".join)
    return st.one_of(frames, TOKEN_LINES, st.tuples(frames, TOKEN_LINES).map("\n".join))


@SETTINGS
@given(_msr_like())
def test_msr_reader_on_random_token_streams_parses_or_raises_data_format_error(text):
    seq = _read(read_msr_file, "a01_s01_e01_skeleton3D.txt", text)
    if seq is not RAISED:
        assert np.isfinite(seq.joints).all() and seq.joints.shape[1:] == (1, 25, 3)


@SETTINGS
@given(st.one_of(TOKEN_LINES, st.binary(max_size=300)))
def test_ntu_skeleton_reader_on_random_input_raises_data_format_error(data):
    seq = _read(read_ntu_skeleton, "S001C001P001R001A001.skeleton", data)
    if seq is not RAISED:
        assert np.isfinite(seq.joints).all()


@SETTINGS
@given(
    st.lists(
        st.one_of(
            st.from_regex(r"s[0-9]{2}_e[0-9]{2}", fullmatch=True),
            st.tuples(
                st.from_regex(r"[A-Za-z]{1,8}", fullmatch=True), st.sampled_from(["1", "20", "NaN", "x", "9"]), TOKENS
            ).map(lambda t: f"{t[0]}: {t[1]} {t[2]}"),
            st.text(max_size=20),
        ),
        max_size=10,
    ).map("\n".join)
)
def test_utkinect_label_reader_parses_or_raises_data_format_error(text):
    segments = _read(read_utkinect_labels, "actionLabel.txt", text)
    if segments is not RAISED:
        for s in segments:
            assert (s.start is None) == (s.end is None) and (s.start is None or s.start <= s.end)


JSON_VALUES = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-(10**30), 10**30), st.floats(), st.text(max_size=5)),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=5), inner, max_size=4)),
    max_leaves=30,
)


# mostly well-formed NW-UCLA skeletons: [T][20][3] numbers, with now and then a frame that is not
_UCLA_JOINT = st.lists(st.floats(-5, 5, width=32), min_size=3, max_size=3)
_UCLA_FRAME = st.one_of(
    st.lists(_UCLA_JOINT, min_size=20, max_size=20),
    st.lists(st.one_of(_UCLA_JOINT, st.lists(JSON_VALUES, max_size=3)), min_size=19, max_size=21),
)


@SETTINGS
@given(
    st.one_of(
        JSON_VALUES,
        st.fixed_dictionaries(
            {"file_name": st.just("a01_s01_e01_v01"), "label": st.integers(-2, 5)},
            optional={"skeletons": st.lists(st.lists(st.lists(JSON_VALUES, max_size=3), max_size=20), max_size=3)},
        ),
        st.fixed_dictionaries(
            {
                "file_name": st.just("a01_s01_e01_v01"),
                "label": st.integers(1, 10),
                "skeletons": st.lists(_UCLA_FRAME, min_size=1, max_size=4),
            }
        ),
    )
)
def test_nw_ucla_reader_on_random_json_parses_or_raises_data_format_error(obj):
    seq = _read(read_nw_ucla_file, "a01_s01_e01_v01.json", json.dumps(obj))
    if seq is not RAISED:
        assert np.isfinite(seq.joints).all() and seq.joints.shape[1:] == (1, 25, 3)
        assert 1 <= len(seq.joints) <= len(obj["skeletons"])


def test_nw_ucla_reader_reads_a_well_formed_file():
    """The branch above that parses, on a file known to be well formed (the property's strategy reaches it too)."""
    frames = np.random.default_rng(0).uniform(-1, 1, (3, 20, 3)).round(3)
    obj = {"file_name": "a01_s01_e01_v01", "label": 1, "skeletons": frames.tolist()}
    seq = _read(read_nw_ucla_file, "a01_s01_e01_v01.json", json.dumps(obj))
    assert seq is not RAISED and seq.joints.shape == (3, 1, 25, 3) and np.isfinite(seq.joints).all()


# ------------------------------------------------------------------------------------------ ring buffer
@SETTINGS
@given(
    capacity=st.integers(4, 24),
    window=st.integers(2, 8),
    ops=st.lists(
        st.one_of(st.floats(0.001, 0.2), st.floats(0.6, 2.0), st.just("read")),  # a step, a gap, or a read
        min_size=1,
        max_size=80,
    ),
)
def test_ring_buffer_keeps_order_and_capacity_and_windows_have_the_right_shape(capacity, window, ops):
    assume(capacity >= window)
    buf = JointBuffer(capacity, window, fps=15.0, persons=2, max_gap_s=0.5)
    t, model, n = 0.0, [], 0  # model: (time, frame id) pushed since the last reset
    for op in ops:
        if op == "read":
            joints, times = buf.frames()
            assert len(buf) <= capacity and len(times) == len(buf)
            assert list(times) == [tm for tm, _ in model[-capacity:]]
            assert [int(j[0, 0, 0]) for j in joints] == [k for _, k in model[-capacity:]]
            win = buf.window()
            held = [tm for tm, _ in model[-capacity:]]  # a window once the frames held span a whole one at 15 fps
            assert (win is not None) == (len(held) >= 2 and (held[-1] - held[0]) * 15.0 + 1e-6 >= window - 1)
            if win is not None:
                wj, wt = win
                assert wj.shape == (window, 2, 25, 3) and wt.shape == (window,)
                assert np.isfinite(wj).all() and wt[-1] == times[-1]
                np.testing.assert_allclose(np.diff(wt), 1 / 15.0, rtol=1e-9)
            else:
                assert not buf.ready
            continue
        t += op
        if model and t - model[-1][0] > 0.5:
            model = []
        n += 1
        model.append((t, n))
        frame = np.zeros((2, 25, 3), np.float32)
        frame[0, 0, 0] = n
        buf.push(frame, t)
        assert len(buf) == min(len(model), capacity)


# ---------------------------------------------------------------------------------------------- mapping
FINITE32 = st.floats(allow_nan=False, allow_infinity=False, width=32)
ANY32 = st.floats(allow_nan=True, allow_infinity=True, width=32)


@SETTINGS
@given(
    world=hnp.arrays(np.float32, (33, 3), elements=st.one_of(FINITE32, st.floats(-2, 2, width=32))),
    vis=hnp.arrays(np.float32, (33,), elements=st.one_of(st.floats(0, 1, width=32), st.sampled_from([0.0, 1.0]))),
    min_visibility=st.floats(0, 1),
)
def test_mapping_finite_in_finite_out(world, vis, min_visibility):
    joints, conf = mediapipe_to_ntu25(world, vis, min_visibility)
    assert joints.shape == (25, 3) and conf.shape == (25,)
    assert np.isfinite(joints).all() and ((conf >= 0) & (conf <= 1)).all()


@SETTINGS
@given(
    world=hnp.arrays(np.float32, (2, 33, 3), elements=ANY32),
    vis=st.one_of(st.none(), hnp.arrays(np.float32, (2, 33), elements=ANY32)),
)
def test_mapping_nan_or_inf_in_still_finite_out(world, vis):
    joints, conf = mediapipe_to_ntu25(world, vis, 0.5)
    assert joints.shape == (2, 25, 3) and np.isfinite(joints).all() and np.isfinite(conf).all()
    assert ((conf >= 0) & (conf <= 1)).all()
    unseen = ~np.isfinite(world).all(axis=-1)  # (2, 33)
    assert (conf[unseen.all(axis=1)] == 0).all(), "a person with no finite landmark has no confidence"


# ------------------------------------------------------------------------------------------ event encoder
try:  # the event tests need the live extra (pyzmq, jsonschema); the properties above do not
    import jsonschema  # noqa: F401

    from realtime.events import publisher as events
except ImportError:
    events = None
needs_events = pytest.mark.skipif(events is None, reason="pyzmq and jsonschema: pip install 'sadvae-live[live]'")

NAMES = st.lists(st.text(min_size=1, max_size=120), min_size=2, max_size=8)
SCORES = st.floats(0, 1)


@st.composite
def action_events(draw):
    try:  # labels come from the labels parser (what the pipeline publishes), so they obey its rules
        names = parse_labels_text("\n".join(n.replace("\n", " ") for n in draw(NAMES))).names
    except ConfigError:
        names = ("wave", "jump")
    k = draw(st.integers(0, len(names)))
    keys = st.from_regex(r"[a-z][a-z0-9_]{0,31}", fullmatch=True)
    start = draw(st.floats(0, 1e12))
    event_type = draw(st.sampled_from(events.EVENT_TYPES))
    return events.make_action_event(
        source=draw(st.text(max_size=80)),
        track_id=draw(st.integers(0, 2**63)),
        event_type=event_type,
        reason=draw(st.sampled_from(events.END_REASONS)) if event_type == "end" else None,  # every end has one
        label=draw(st.one_of(st.none(), st.sampled_from(names))),
        score=draw(SCORES),
        topk=[(n, draw(SCORES)) for n in names[:k]],
        window_ms=(start, start + draw(st.floats(0, 1e6))),
        labels_hash=draw(st.from_regex(r"[0-9a-f]{64}", fullmatch=True)),
        model_id=draw(st.text(min_size=1, max_size=200)),
        precision=draw(st.sampled_from(events.PRECISIONS)),
        latency_ms=draw(st.dictionaries(keys, st.floats(0, 1e6), max_size=6)),
    )


@needs_events
@SETTINGS
@given(action_events())
def test_every_action_event_validates_and_round_trips_exactly(event):
    events.validate(event, strict=True, published=False)
    payload = events.encode(event)
    assert events.decode(payload) == event
    assert json.loads(payload) == event and b"\n" not in payload


@needs_events
@SETTINGS
@given(
    source=st.text(max_size=80),
    fps=st.floats(0, 1e4),
    # now and then a latency no stage can have (NaN, infinite, negative): refused, never published
    latency=st.dictionaries(
        st.from_regex(r"[a-z][a-z0-9_]{0,31}", fullmatch=True),
        st.one_of(st.floats(0, 1e6), st.sampled_from([math.nan, math.inf, -1.0])),
        max_size=5,
    ),
    dropped=st.dictionaries(st.from_regex(r"[a-z][a-z0-9_]{0,31}", fullmatch=True), st.integers(0, 2**40), max_size=4),
    message=st.one_of(st.none(), st.text(max_size=2000)),
    tracks=st.one_of(st.none(), st.integers(0, 1000)),
)
def test_every_status_event_validates_and_round_trips_exactly(source, fps, latency, dropped, message, tracks):
    def make():
        return events.make_status_event(
            source=source, fps=fps, latency_ms=latency, dropped=dropped, message=message, tracks=tracks
        )

    if not all(math.isfinite(v) and v >= 0 for v in latency.values()):
        with pytest.raises(ValueError, match="latency_ms"):
            make()
        return
    event = make()
    events.validate(event, strict=True, published=False)
    assert events.decode(events.encode(event)) == event
