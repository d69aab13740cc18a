"""Acclaim ASF (skeleton) + AMC (motion) reader and forward kinematics (numpy only).

The ASF gives ``:units`` (``length``: file lengths are in units of 1/length inch, the CMU/HDM05
convention; ``angle deg|rad``), the ``:root`` (``order`` of the AMC root values, ``axis`` order,
``position``, ``orientation``), one ``begin ... end`` block per bone in ``:bonedata`` (``name``,
``direction`` (unit, world rest frame), ``length``, ``axis ax ay az ORDER``, ``dof``) and the
``:hierarchy`` (``parent child ...`` lines). An AMC file holds frames: a frame number line, then one
line per bone with its ``dof`` values in the ASF's order (the root: its ``order`` values).

Forward kinematics, as in the Acclaim format and the CMU reference code: with C the bone's ``axis``
rotation and M its motion rotation (both composed about fixed axes, the first listed applied first,
so ``axis ... XYZ`` / ``dof rx ry rz`` give Rz · Ry · Rx), a bone's world rotation is
W = W_parent · C · M · C⁻¹ and its end lies at end_parent + W · direction · length. The root sits
at the AMC translation (plus the ASF ``position``) with W_root = C_root · M_root · C_root⁻¹.
Positions come out in metres (length × 0.0254 / ``length`` unit).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from sadvae.data.mocap.kinematics import euler_matrix, read_mocap_text
from sadvae.errors import DataFormatError

__all__ = ["AsfBone", "AsfSkeleton", "AmcMotion", "read_asf", "read_amc", "amc_forward_kinematics"]

INCH = 0.0254
_DOFS = ("rx", "ry", "rz", "tx", "ty", "tz", "l")


@dataclass(frozen=True)
class AsfBone:
    """One ASF bone: ``direction`` (unit, world rest frame), ``length`` (metres), ``axis`` (degrees, ``axis_order``)."""

    name: str
    direction: np.ndarray
    length: float
    axis: np.ndarray
    axis_order: str
    dof: tuple[str, ...]


@dataclass(frozen=True)
class AsfSkeleton:
    """A parsed ASF file: ``bones`` without the root; ``parents`` maps bone -> parent (the root is "root")."""

    path: Path
    bones: dict[str, AsfBone]
    parents: dict[str, str]
    order: tuple[str, ...]  # bones in a parent-before-child order
    root_order: tuple[str, ...]  # the AMC root values, e.g. ("tx", "ty", "tz", "rx", "ry", "rz")
    root_axis_order: str
    root_position: np.ndarray  # metres
    root_orientation: np.ndarray  # degrees
    length_to_m: float
    degrees: bool


@dataclass(frozen=True)
class AmcMotion:
    """A parsed AMC file: ``values[name]`` is float64 [T, len(dof)] in the ASF's dof order (root: ``root_order``);
    ``absent``: the ASF's bones with a dof that no frame gives (zero rotation, the Acclaim default)."""

    path: Path
    values: dict[str, np.ndarray]
    num_frames: int
    absent: tuple[str, ...] = ()


def _floats(path: Path, n: int, toks: list[str], count: int, what: str) -> np.ndarray:
    if len(toks) != count:
        raise DataFormatError(path, f"line {n}", f"expected {count} numbers ({what}), found {len(toks)}")
    try:
        v = np.array([float(t) for t in toks])
    except ValueError:
        raise DataFormatError(
            path, f"line {n}", f"expected {count} numbers ({what}), found {' '.join(toks)[:60]!r}"
        ) from None
    if not np.isfinite(v).all():
        raise DataFormatError(path, f"line {n}", f"expected finite numbers ({what}), found {' '.join(toks)[:60]!r}")
    return v


def _axis_order(path: Path, n: int, tok: str) -> str:
    if sorted(tok.lower()) != ["x", "y", "z"]:
        raise DataFormatError(path, f"line {n}", f"expected an axis order like XYZ, found {tok!r}")
    return tok.lower()


def _bone(path: Path, block: list[tuple[int, list[str]]], scale: float) -> AsfBone:
    fields: dict[str, tuple[int, list[str]]] = {}
    for n, toks in block:
        key = toks[0].lower()
        if key == "limits" or key.startswith("("):
            continue  # joint limits: not needed for kinematics
        fields[key] = (n, toks[1:])
    start = block[0][0] - 1
    for key in ("name", "direction", "length"):
        if key not in fields:
            raise DataFormatError(
                path, f"line {start}", f"bone block without `{key}`; each bone needs name, direction, length"
            )
    n, toks = fields["name"]
    if len(toks) != 1:
        raise DataFormatError(path, f"line {n}", "expected `name <bone>`")
    name = toks[0]
    direction = _floats(path, *fields["direction"], 3, "direction x y z")
    norm = np.linalg.norm(direction)
    if norm < 1e-9:
        raise DataFormatError(path, f"line {fields['direction'][0]}", f"bone {name!r}: direction is the zero vector")
    length = _floats(path, *fields["length"], 1, "length")[0]
    axis, order = np.zeros(3), "xyz"
    if "axis" in fields:
        n, toks = fields["axis"]
        if len(toks) != 4:
            raise DataFormatError(
                path, f"line {n}", "expected `axis ax ay az ORDER` (three angles and an order like XYZ)"
            )
        axis, order = _floats(path, n, toks[:3], 3, "axis angles"), _axis_order(path, n, toks[3])
    dof: tuple[str, ...] = ()
    if "dof" in fields:
        n, toks = fields["dof"]
        dof = tuple(t.lower() for t in toks)
        bad = [t for t in dof if t not in _DOFS]
        if bad or len(set(dof)) != len(dof):
            raise DataFormatError(
                path,
                f"line {n}",
                f"bone {name!r}: expected dof names from {' '.join(_DOFS)} each once, found {' '.join(toks)}",
            )
        if any(t != "rx" and t != "ry" and t != "rz" for t in dof):
            raise DataFormatError(
                path,
                f"line {n}",
                f"bone {name!r}: only rotational dof (rx ry rz) are supported, found {' '.join(toks)}",
            )
    return AsfBone(name, direction / norm, float(length) * scale, axis, order, dof)


def read_asf(path: str | Path) -> AsfSkeleton:
    """Parse an ASF skeleton file.

    Raises:
        DataFormatError: missing, empty, no ``:bonedata`` or ``:hierarchy``, a bone without name,
            direction or length, an unknown dof or axis order, a hierarchy line naming an unknown bone,
            or a bone the hierarchy never reaches from the root, or no ``:units`` ``length`` while the inches
            it then defaults to make the skeleton no person's size. The message names the file and line.
    """
    path = Path(path)
    sections = _read_asf_sections(path, read_mocap_text(path, "ASF"))
    scale = INCH / sections.length_unit
    bones: dict[str, AsfBone] = {}
    for b in sections.blocks:
        bone = _bone(path, b, scale)
        if bone.name in bones or bone.name == "root":
            raise DataFormatError(path, f"line {b[0][0]}", f"bone name {bone.name!r} appears twice")
        bones[bone.name] = bone
    parents, order = _asf_tree(path, sections.hierarchy, bones)
    if not sections.length_given:
        _check_default_units(path, bones, parents, order)
    return AsfSkeleton(
        path,
        bones,
        parents,
        order,
        sections.root_order,
        sections.root_axis,
        sections.root_pos * scale,
        sections.root_ori,
        scale,
        sections.degrees,
    )


@dataclass
class _AsfSections:
    """What the sections of an ASF file say, before the bones are built (lengths in the file's units)."""

    length_unit: float = 1.0
    length_given: bool = False  # a `:units` `length` line was read (else the Acclaim default, inches)
    degrees: bool = True
    root_order: tuple[str, ...] = ("tx", "ty", "tz", "rx", "ry", "rz")
    root_axis: str = "xyz"
    root_pos: np.ndarray = field(default_factory=lambda: np.zeros(3))
    root_ori: np.ndarray = field(default_factory=lambda: np.zeros(3))
    blocks: list[list[tuple[int, list[str]]]] = field(default_factory=list)  # (line, tokens) of each bone block
    hierarchy: list[tuple[int, list[str]]] = field(default_factory=list)  # (line, [parent, child, ...])


def _read_asf_sections(path: Path, lines: list[str]) -> _AsfSections:
    """Split the ASF lines into :units, :root, :bonedata blocks and :hierarchy rows (the checks of each line)."""
    out = _AsfSections()
    section = None
    block: list[tuple[int, list[str]]] | None = None
    seen = set()
    for n, raw in enumerate(lines, 1):
        toks = raw.split()
        if not toks or toks[0].startswith("#"):
            continue
        if toks[0].startswith(":"):
            section = toks[0][1:].lower()
            seen.add(section)
            continue
        key = toks[0].lower()
        if section == "units":
            _asf_unit(path, n, key, toks, out)
        elif section == "root":
            _asf_root(path, n, key, toks, out)
        elif section == "bonedata":
            if key == "begin":
                if block is not None:
                    raise DataFormatError(
                        path, f"line {n}", "`begin` inside a bone block; a previous block lacks `end`"
                    )
                block = []
            elif key == "end":
                if not block:
                    raise DataFormatError(path, f"line {n}", "`end` without a `begin` or an empty bone block")
                out.blocks.append(block)
                block = None
            elif block is None:
                raise DataFormatError(
                    path, f"line {n}", f"expected `begin` before bone fields, found {raw.strip()[:40]!r}"
                )
            else:
                block.append((n, toks))
        elif section == "hierarchy":
            if key not in ("begin", "end"):
                out.hierarchy.append((n, toks))
    if block is not None:
        raise DataFormatError(
            path, f"line {len(lines)}", "file ends inside a bone block (missing `end`; file truncated?)"
        )
    for need in ("bonedata", "hierarchy"):
        if need not in seen:
            raise DataFormatError(path, None, f"no :{need} section; expected an Acclaim ASF skeleton")
    return out


def _asf_unit(path: Path, n: int, key: str, toks: list[str], out: _AsfSections) -> None:
    """One line of the :units section (length, angle; mass and others are ignored)."""
    if key == "length":
        out.length_unit = _floats(path, n, toks[1:], 1, "length unit")[0]
        out.length_given = True
        if out.length_unit <= 0:
            raise DataFormatError(path, f"line {n}", f"expected a positive length unit, found {toks[1]}")
    elif key == "angle":
        if len(toks) != 2 or toks[1].lower() not in ("deg", "rad"):
            raise DataFormatError(path, f"line {n}", "expected `angle deg` or `angle rad`")
        out.degrees = toks[1].lower() == "deg"


def _asf_root(path: Path, n: int, key: str, toks: list[str], out: _AsfSections) -> None:
    """One line of the :root section (order, axis, position, orientation)."""
    if key == "order":
        out.root_order = tuple(t.lower() for t in toks[1:])
        if sorted(out.root_order) != sorted(("tx", "ty", "tz", "rx", "ry", "rz")):
            raise DataFormatError(
                path,
                f"line {n}",
                f"expected the root order to list TX TY TZ RX RY RZ once each, found {' '.join(toks[1:])}",
            )
    elif key == "axis":
        if len(toks) != 2:
            raise DataFormatError(path, f"line {n}", "expected `axis <ORDER>` like XYZ")
        out.root_axis = _axis_order(path, n, toks[1])
    elif key == "position":
        out.root_pos = _floats(path, n, toks[1:], 3, "root position")
    elif key == "orientation":
        out.root_ori = _floats(path, n, toks[1:], 3, "root orientation")


# a person's rest pose spans this much (metres) along its longest axis: HDM05's five actors 1.71-2.01 (T-pose arms);
# read in inches without their `length 0.45` line they span 0.77-0.90, under the lower bound
PERSON_SPAN_M = (1.0, 3.0)


def rest_span(bones: dict[str, AsfBone], parents: dict[str, str], order: tuple[str, ...]) -> float:
    """Metres the skeleton spans at rest along its longest axis (bones followed from the root)."""
    pos = {"root": np.zeros(3)}
    for name in order:
        bone = bones[name]
        pos[name] = pos[parents[name]] + bone.direction * bone.length
    points = np.array(list(pos.values()))
    return float((points.max(axis=0) - points.min(axis=0)).max())


def check_person_size(skeleton: AsfSkeleton) -> None:
    """A person's skeleton (a dataset reader knows it is one) whose rest pose is no person's size has a wrong
    ``:units`` ``length``: one clear error (until 7 December 2026, late, `length 1.0` for 0.45 read a 0.8 m person
    without a word: a data-reader audit). A skeleton without the line is checked by :func:`read_asf` itself."""
    span = rest_span(skeleton.bones, skeleton.parents, skeleton.order)
    lo, hi = PERSON_SPAN_M
    if not lo <= span <= hi:
        length = 0.0254 / skeleton.length_to_m
        raise DataFormatError(
            skeleton.path,
            ":units",
            f"`length {length:g}` makes the skeleton at rest span {span:.2f} m, not a person's {lo:g}-{hi:g} m: a "
            "file length x 0.0254 / L is metres, so L is not the unit of these lengths; set the `length` the "
            "exporter used (HDM05 and CMU files say `length 0.45`)",
        )


def _check_default_units(
    path: Path, bones: dict[str, AsfBone], parents: dict[str, str], order: tuple[str, ...]
) -> None:
    """An ASF without a ``:units`` ``length`` is read in inches (the Acclaim default); when that makes the skeleton's
    rest pose no person's size, the file's lengths are in another unit: one clear error instead of a giant or a doll."""
    span = rest_span(bones, parents, order)
    lo, hi = PERSON_SPAN_M
    if not lo <= span <= hi:
        raise DataFormatError(
            path,
            ":units",
            f"no `length` unit, so the lengths were read as inches (the Acclaim default) and the skeleton at rest "
            f"spans {span:.2f} m, not a person's {lo:g}-{hi:g} m; add `length L` to the `:units` section (or add the "
            "section) such that a file length x 0.0254 / L is metres (HDM05 and CMU files say `length 0.45`)",
        )


def _asf_tree(
    path: Path, hierarchy: list[tuple[int, list[str]]], bones: dict[str, AsfBone]
) -> tuple[dict[str, str], tuple[str, ...]]:
    """(child -> parent, bones in breadth-first order from the root) from the :hierarchy rows."""
    parents: dict[str, str] = {}
    for n, toks in hierarchy:
        for name in toks:
            if name != "root" and name not in bones:
                raise DataFormatError(
                    path, f"line {n}", f"hierarchy names bone {name!r}, which :bonedata does not define"
                )
        for child in toks[1:]:
            if child in parents or child == "root":
                raise DataFormatError(path, f"line {n}", f"bone {child!r} has two parents")
            parents[child] = toks[0]
    order: list[str] = []
    frontier = ["root"]
    while frontier:
        p = frontier.pop(0)
        kids = [c for c, q in parents.items() if q == p]
        order.extend(kids)
        frontier.extend(kids)
    missing = sorted(set(bones) - set(order))
    if missing:
        raise DataFormatError(path, ":hierarchy", f"bones {missing} are not connected to the root")
    return parents, tuple(order)


def read_amc(path: str | Path, skeleton: AsfSkeleton) -> AmcMotion:
    """Parse an AMC motion file against its ASF skeleton.

    Every frame must give the root and every bone the file gives at all (a bone the file never
    names keeps zero rotation, the Acclaim default); values follow the ASF ``dof`` order.

    Raises:
        DataFormatError: missing, empty, no frame, a bone the ASF lacks, a line with the wrong number
            of values or a non-number, a frame missing a bone (a truncated file), frame numbers that do
            not count up, or a value line before the first frame number. The message names the file and line.
    """
    path = Path(path)
    lines = read_mocap_text(path, "AMC")
    _check_angle_header(path, lines, skeleton)
    counts = {name: len(b.dof) for name, b in skeleton.bones.items()}
    counts["root"] = len(skeleton.root_order)
    fast = _read_amc_regular(path, lines, counts)
    if fast is not None:
        return fast
    rows: dict[str, list[list[str]]] = {}
    where: dict[str, list[int]] = {}
    frame_line: list[int] = []
    first = 0  # the first frame's number
    for n, raw in enumerate(lines, 1):
        toks = raw.split()
        if not toks or toks[0].startswith(("#", ":")):
            continue
        if len(toks) == 1 and toks[0].isdigit():
            if not frame_line:
                first = int(toks[0])
            elif int(toks[0]) != len(frame_line) + first:
                problem = f"expected frame number {len(frame_line) + first}, found {toks[0]}"
                raise DataFormatError(path, f"line {n}", problem)
            frame_line.append(n)
            continue
        if not frame_line:
            problem = f"expected a frame number before bone values, found {raw.strip()[:40]!r}"
            raise DataFormatError(path, f"line {n}", problem)
        name = toks[0]
        if name not in counts:
            problem = f"bone {name!r} is not in the skeleton {skeleton.path.name}; is this the right ASF?"
            raise DataFormatError(path, f"line {n}", problem)
        if len(toks) - 1 != counts[name]:
            problem = f"bone {name!r}: expected {counts[name]} values (its dof), found {len(toks) - 1}"
            raise DataFormatError(path, f"line {n}", problem)
        frame = len(frame_line) - 1
        got = where.setdefault(name, [])
        if len(got) != frame:
            if len(got) > frame:
                raise DataFormatError(path, f"line {n}", f"bone {name!r} appears twice in frame {frame + first}")
            raise DataFormatError(path, f"line {frame_line[len(got)]}", f"frame {len(got) + first} lacks bone {name!r}")
        got.append(n)
        rows.setdefault(name, []).append(toks[1:])
    if not frame_line:
        raise DataFormatError(path, None, "no frame found; expected frame numbers each followed by bone lines")
    if "root" not in rows:
        raise DataFormatError(path, f"line {frame_line[0]}", "frame has no root line; expected `root` and its values")
    t_count = len(frame_line)
    values: dict[str, np.ndarray] = {}
    for name, got in where.items():
        if len(got) < t_count:
            problem = f"frame {len(got) + first} lacks bone {name!r} (file truncated?)"
            raise DataFormatError(path, f"line {frame_line[len(got)]}", problem)
        try:
            arr = np.array(rows[name], dtype=np.float64).reshape(t_count, counts[name])
        except ValueError:
            arr = None
        if arr is None or not np.isfinite(arr).all():
            for line_no, row in zip(got, rows[name], strict=True):
                _floats(path, line_no, row, counts[name], f"{name} values")
        values[name] = arr
    absent = tuple(name for name, count in counts.items() if count and name not in values)
    for name, count in counts.items():
        values.setdefault(name, np.zeros((t_count, count)))
    return AmcMotion(path, values, t_count, absent)


def _check_angle_header(path: Path, lines: list[str], skeleton: AsfSkeleton) -> None:
    """An AMC header (``:DEGREES`` / ``:RADIANS``) that contradicts its ASF's ``:units angle``: which one the values
    follow cannot be told, so neither is guessed (until 7 December 2026, late, the header was ignored and a radians
    file beside a degrees ASF read silently wrong)."""
    for n, raw in enumerate(lines, 1):
        word = raw.strip().upper()
        if word.startswith(":") and word[1:] in ("DEGREES", "RADIANS") and (word == ":DEGREES") != skeleton.degrees:
            asf_says = "deg" if skeleton.degrees else "rad"
            raise DataFormatError(
                path,
                f"line {n}",
                f"says {word} but its skeleton {skeleton.path.name} says `angle {asf_says}`; make the two agree "
                "(the unit the values were written in)",
            )
        if raw.strip() and not raw.lstrip().startswith(("#", ":")):
            return  # the header ends at the first frame


def _read_amc_regular(path: Path, lines: list[str], counts: dict[str, int]) -> AmcMotion | None:
    """Fast path for the usual layout (every frame lists the same bones in the same order), or None.

    Anything irregular returns None, and the line-by-line reader then finds and names the problem.
    """
    body = [ln for ln in lines if ln.strip() and not ln.lstrip().startswith(("#", ":"))]
    if not body or not body[0].strip().isdigit():
        return None
    names = []
    for ln in body[1:]:
        tok = ln.split(None, 1)[0]
        if tok.isdigit():
            break
        names.append(tok)
    period = len(names) + 1
    if "root" not in names or len(set(names)) != len(names) or len(body) % period:
        return None
    t_count = len(body) // period
    if any(n not in counts for n in names):
        return None
    try:
        numbers = np.array([ln.strip() for ln in body[::period]], dtype=np.int64)
    except ValueError:
        return None
    if not np.array_equal(numbers, numbers[0] + np.arange(t_count)):
        return None
    values: dict[str, np.ndarray] = {}
    for k, name in enumerate(names, 1):
        width = counts[name] + 1
        tokens = " ".join(body[k::period]).split()
        # a row with a wrong value count shifts the next row's name off its slot, so this also checks every row
        if len(tokens) != t_count * width or any(t != name for t in tokens[::width]):
            return None
        del tokens[::width]
        try:
            vals = np.array(tokens, dtype=np.float64).reshape(t_count, counts[name])
        except ValueError:
            return None
        if not np.isfinite(vals).all():
            return None
        values[name] = vals
    absent = tuple(name for name, count in counts.items() if count and name not in values)
    for name, count in counts.items():
        values.setdefault(name, np.zeros((t_count, count)))
    return AmcMotion(path, values, t_count, absent)


def amc_forward_kinematics(
    skeleton: AsfSkeleton, motion: AmcMotion
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """World positions (metres) of the root and of every bone's end, and their world rotations.

    Returns:
        (positions {name: float64 [T, 3]}, rotations {name: float64 [T, 3, 3]}), "root" included.
    """
    to_rad = np.pi / 180.0 if skeleton.degrees else 1.0
    t_count = motion.num_frames
    root_vals = motion.values["root"]
    ro = skeleton.root_order
    trans = np.stack([root_vals[:, ro.index(a)] for a in ("tx", "ty", "tz")], axis=1) * skeleton.length_to_m
    rot_keys = [k for k in ro if k.startswith("r")]
    m_root = euler_matrix(
        "".join(k[1] for k in rot_keys), root_vals[:, [ro.index(k) for k in rot_keys]] * to_rad, intrinsic=False
    )
    c_root = euler_matrix(
        skeleton.root_axis_order,
        skeleton.root_orientation[["xyz".index(a) for a in skeleton.root_axis_order]] * to_rad,
        intrinsic=False,
    )
    pos = {"root": trans + skeleton.root_position}
    rot = {"root": c_root @ m_root @ c_root.T}
    for name in skeleton.order:
        bone = skeleton.bones[name]
        parent = skeleton.parents[name]
        axis_vals = bone.axis[["xyz".index(a) for a in bone.axis_order]] * to_rad
        c = euler_matrix(bone.axis_order, axis_vals, intrinsic=False)
        if bone.dof:
            m = euler_matrix("".join(d[1] for d in bone.dof), motion.values[name] * to_rad, intrinsic=False)
        else:
            m = np.broadcast_to(np.eye(3), (t_count, 3, 3))
        w = rot[parent] @ (c @ m @ c.T)
        rot[name] = w
        pos[name] = pos[parent] + w @ (bone.direction * bone.length)
    return pos, rot
