"""Measurements of the live head's scoring core (``sadvae/head/``), written for docs/head.md.

Subcommands (run from the project root; real data in ../shared/data)::

    python scripts/check_head.py matching      # label -> trained-class matcher on the paraphrase pairs
    python scripts/check_head.py vocab [--matcher-from REV]    # each shared set's class names (174 names, NTU-120)
    python scripts/check_head.py labels [--matcher-from REV]   # the project's labels files, with and without an encoder
    python scripts/check_head.py zeroshot --model B.pt   # zero-shot scorers: dead labels, held-out accuracy
    python scripts/check_head.py rejection --model B.pt  # "no action" statistics; --write fits B.head.json

zeroshot and rejection read the round-1 recipe's held-out windows, so --model must be a round-1 bundle (they
refuse another); the packaged shiftgcn-v2 model's calibration comes from scripts/train_default --recalibrate.

Every number is computed here from the pairs file or the shared data; nothing is typed in.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from sadvae.paths import SHARED_DATA  # noqa: E402  (after the sys.path line)

PAIRS = ROOT / "tests" / "sadvae" / "head_paraphrases.tsv"
log = logging.getLogger("check_head")


def read_pairs(path: Path = PAIRS) -> list[tuple[str, str, int]]:
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            label, cls, same = line.split("\t")
            out.append((label, cls, int(same)))
    return out


def sentence_embedder(template: str = "a person {label}"):
    """texts -> unit rows, through the default text encoder (MiniLM) and its on-disk cache."""
    from sadvae.text import TextConfig, TextEncoder

    enc = TextEncoder(TextConfig(template=template))
    return lambda texts: enc.encode_labels(list(texts))


def pair_scores(pairs, embed, mode: str) -> np.ndarray:
    """One score per pair: "embedding" (raw names, cosine), "lexical" or "matcher" (sadvae.head.matching)."""
    from sadvae.head.matching import match_labels

    if mode == "embedding":
        e = embed([p[0] for p in pairs] + [p[1] for p in pairs])
        n = len(pairs)
        return np.einsum("ij,ij->i", e[:n], e[n:])
    texts: dict[str, np.ndarray] = {}
    if mode == "matcher":
        from sadvae.head.matching import alternatives, canonical

        allt = sorted({canonical(t) or t for p in pairs for t in (*p[:2], *alternatives(p[1]))})
        for t, v in zip(allt, embed(allt), strict=True):
            texts[t] = v

    def cached(ts):
        return np.stack([texts[t] for t in ts])

    return np.array(
        [match_labels([a], [b], cached if mode == "matcher" else None, threshold=2.0).scores[0, 0] for a, b, _ in pairs]
    )


def cmd_matching(args) -> dict:
    pairs = read_pairs()
    y = np.array([p[2] for p in pairs], dtype=bool)
    embed = sentence_embedder()
    rows = {}
    for mode in ("embedding", "lexical", "matcher"):
        s = pair_scores(pairs, embed, mode)
        grid = np.round(np.arange(0.3, 1.001, 0.05), 2)
        acc = [float(np.mean((s >= t) == y)) for t in grid]
        best = float(grid[int(np.argmax(acc))])
        pred = s >= best
        rows[mode] = {
            "best_threshold": best,
            "accuracy": max(acc),
            "recall": float(pred[y].mean()),
            "false_match_rate": float(pred[~y].mean()),
            "errors": [
                f"{a} / {b} ({'same' if t else 'different'}, {v:.2f})"
                for (a, b, t), v, p in zip(pairs, s, pred, strict=True)
                if p != t
            ],
        }
        if mode == "matcher":
            from sadvae.head.matching import DEFAULT_MATCH_THRESHOLD

            at = s >= DEFAULT_MATCH_THRESHOLD
            rows[mode]["at_default"] = {
                "threshold": DEFAULT_MATCH_THRESHOLD,
                "accuracy": float(np.mean(at == y)),
                "recall": float(at[y].mean()),
                "false_match_rate": float(at[~y].mean()),
            }
    return {"pairs": len(pairs), "positives": int(y.sum()), "negatives": int((~y).sum()), "modes": rows}


def _matcher_at(rev: str):
    """``sadvae/head/matching.py`` as it was at git revision ``rev``, loaded as a module of its own."""
    import importlib.util
    import subprocess
    import tempfile

    try:
        source = subprocess.run(
            ["git", "show", f"{rev}:sadvae/head/matching.py"], cwd=ROOT, check=True, capture_output=True, text=True
        ).stdout
    except (OSError, subprocess.CalledProcessError) as exc:
        raise SystemExit(f"check_head: error: --matcher-from {rev}: no sadvae/head/matching.py there ({exc})") from exc
    with tempfile.TemporaryDirectory() as tmp:  # imported from a file like any module; the file goes afterwards
        path = Path(tmp) / f"matching_at_{rev.replace('/', '_').replace('~', '_')}.py"
        path.write_text(source, encoding="utf-8")
        spec = importlib.util.spec_from_file_location(path.stem, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[path.stem] = module  # dataclasses look their module up
        spec.loader.exec_module(module)
    return module


def cmd_labels(args) -> dict:
    """The start-up mapping of every labels file of the project (labels/*.txt, benchmarks/labels/**/*.txt) against
    the packaged model's trained names and aliases, as the live head matches them: with the sentence encoder and
    without one (a live install without sentence-transformers). With --matcher-from REV, also the labels whose
    classes differ from the matcher of REV."""
    from realtime.backends.live_model import load_live_model
    from realtime.head.labels import parse_labels_text
    from sadvae.head import matching
    from sadvae.head.matching import DEFAULT_MATCH_THRESHOLD
    from sadvae.text import TextEncoder

    old = _matcher_at(args.matcher_from) if args.matcher_from else None  # a bad revision fails before any model loads
    model = load_live_model(None)
    try:
        info = model.bundle
        vocab, aliases = list(info.seen_names), info.aliases
        enc = TextEncoder(info.text_cfg)  # the live head's encoder and template (realtime.head.zero_shot.HeadBuilder)
    finally:
        model.close()

    def embed(texts):
        return np.asarray(enc.encode_labels(list(texts)), np.float64)

    files = sorted((ROOT / "labels").glob("*.txt")) + sorted((ROOT / "benchmarks" / "labels").rglob("*.txt"))
    out: dict = {"vocabulary": len(vocab), "matcher_from": args.matcher_from, "files": {}}
    for f in files:
        names = list(parse_labels_text(f.read_text(encoding="utf-8")).names)
        row: dict = {}
        for mode, e in (("encoder", embed), ("words", None)):
            r = matching.match_labels(names, vocab, e, DEFAULT_MATCH_THRESHOLD, aliases)
            row[mode] = r.lines(vocab)
            if old is not None:
                was = old.match_labels(names, vocab, e, DEFAULT_MATCH_THRESHOLD, aliases)
                row[f"{mode}_changed"] = [
                    f"{a.label}: {list(a.class_names)} -> {list(b.class_names)}"
                    for a, b in zip(was.matches, r.matches, strict=True)
                    if a.class_names != b.class_names
                ]
        out["files"][str(f.relative_to(ROOT))] = row
    return out


def cmd_vocab(args) -> dict:
    """Every match of each shared skeleton set's class names against the packaged model's trained names (as
    the live head matches a labels file: the bundle's text template) and against NTU-120's names (as
    ``sadvae benchmark --unseen-scorer matched`` does: :func:`sadvae.train.benchmark.ntu_name_matches`)."""
    from realtime.bench.accuracy.runner import dataset_class_names
    from sadvae.assets import default_bundle_path
    from sadvae.bundle import load_bundle
    from sadvae.data.registry import DATASETS, load_dataset
    from sadvae.head.matching import match_labels
    from sadvae.text import TextConfig, TextEncoder
    from sadvae.train.benchmark import ntu_name_matches
    from sadvae.train.protocol import ntu_class_names

    old = _matcher_at(args.matcher_from) if args.matcher_from else None
    b = load_bundle(default_bundle_path())
    vocab, ntu = list(b.class_names), list(ntu_class_names())
    enc = TextEncoder(b.text_cfg)

    def embed(texts):
        return np.asarray(enc.encode_labels(list(texts)), np.float64)

    out: dict = {"vocabulary": len(vocab), "template": b.text_cfg.template, "matcher_from": args.matcher_from}
    out["sets"] = {}
    set_names: dict[str, list[str]] = {}
    for name, spec in DATASETS.items():
        try:
            ds = load_dataset(name, SHARED_DATA / spec.default_root)
        except Exception as exc:  # noqa: BLE001 - a set that is not shared here is reported, not fatal
            out["sets"][name] = {"error": str(exc)}
            continue
        if name == "ntu":  # action codes A001.. -> NTU names
            names = [ntu[int(c[1:]) - 1] for c in ds.class_names]
        else:
            names = list(dataset_class_names(name, ds))
            set_names[name] = names
        r = match_labels(names, vocab, embed)
        row = {"trained_names": [m.describe() for m in r.matches if m.classes]}
        if name != "ntu":
            _, mm = ntu_name_matches(ds.class_names, ntu, TextConfig())
            row["ntu120_benchmark"] = [f"{k} -> {', '.join(v)}" for k, v in mm.items()]
        out["sets"][name] = row
    if old is not None:  # every set's names against the trained names, the other sets' (the cross-dataset sources),
        # and those with NTU-120's: the matches that differ from the matcher of REV
        for name, names in set_names.items():
            others = sorted({n for other, ns in set_names.items() if other != name for n in ns})
            changed = []
            for against, v in (("trained", vocab), ("other_sets", others), ("other_sets+ntu120", others + ntu)):
                was, now = old.match_labels(names, v, embed), match_labels(names, v, embed)
                changed += [
                    f"{against}: {a.label}: {list(a.class_names)} -> {list(c.class_names)}"
                    for a, c in zip(was.matches, now.matches, strict=True)
                    if a.class_names != c.class_names
                ]
            out["sets"][name]["changed"] = changed
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("what", choices=("matching", "vocab", "labels", "zeroshot", "rejection"))
    p.add_argument(
        "--matcher-from", metavar="REV", help="labels, vocab: also compare with the matcher at git revision REV"
    )
    p.add_argument("--out", type=Path, help="also write the JSON result here")
    p.add_argument(
        "--model",
        type=Path,
        default=ROOT / "sadvae" / "assets" / "default_model.pt",
        help="zeroshot, rejection: a bundle of the round-1 recipe (ST-GCN, 33 classes; e.g. git show "
        "9d78561:sadvae/assets/default_model.pt > runs/round1/default_model.pt)",
    )
    p.add_argument("--write", action="store_true", help="rejection: write the calibration beside --model")
    args = p.parse_args(argv)
    if args.matcher_from and args.what not in ("labels", "vocab"):
        p.error(f"--matcher-from compares the mappings of labels and vocab, not of {args.what}")
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    t0 = time.time()
    commands = {
        "matching": cmd_matching,
        "vocab": cmd_vocab,
        "labels": cmd_labels,
        "zeroshot": lambda a: cmd_zeroshot(a),
        "rejection": lambda a: cmd_rejection(a),
    }
    result = commands[args.what](args)
    result["seconds"] = round(time.time() - t0, 1)
    text = json.dumps(result, indent=1)
    print(text)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")
    return 0


def default_holdout(
    bundle_path: Path = ROOT / "sadvae" / "assets" / "default_model.pt", cache: Path = ROOT / "runs" / "head"
) -> dict[str, np.ndarray]:
    """A round-1 recipe bundle's held-out windows (centre window of every held-out sequence of its three
    training sets: MSR/UTKinect even subjects, NW-UCLA view 3): latents, logits, labels, subjects. Cached."""
    from sadvae.hashing import file_sha256

    mid = file_sha256(bundle_path)
    path = cache / f"default_holdout_{mid[:12]}.npz"
    if not path.is_file():
        import torch

        from sadvae.bundle import load_bundle
        from sadvae.data.registry import DATASETS, load_dataset
        from sadvae.train.backbone import extract
        from sadvae.train.default_model import DATASET_NAMES, merge_datasets

        torch.set_num_threads(1)
        b = load_bundle(bundle_path)
        root = SHARED_DATA
        data = merge_datasets({n: load_dataset(n, root / DATASETS[n].default_root) for n in DATASET_NAMES})
        idx = np.flatnonzero(data.holdout)
        f, lg = extract(b.backbone, [data.sequences[i] for i in idx], b.preprocess)
        with torch.no_grad():
            z = b.sadvae.semantic(torch.as_tensor(f)).numpy()
        subj = np.array([-1 if data.sequences[i].subject is None else data.sequences[i].subject for i in idx])
        cache.mkdir(parents=True, exist_ok=True)
        np.savez(path, logits=lg, latent=z, labels=data.labels[idx], dataset=data.dataset[idx], subject=subj)
    out = dict(np.load(path))
    out["model_id"] = mid
    return out


def round1_bundle(path: Path):
    """The bundle at ``path``; exits with the reason when it is not of the round-1 recipe, whose held-out
    windows and 33 class names ``zeroshot`` and ``rejection`` read."""
    from sadvae.bundle import load_bundle
    from sadvae.train.default_model import CLASS_NAMES

    b = load_bundle(path)
    if tuple(b.class_names) != tuple(CLASS_NAMES):
        raise SystemExit(
            f"check_head.py: {path} is not a round-1 recipe bundle ({len(b.class_names)} classes, not its "
            f"{len(CLASS_NAMES)}), so the round-1 held-out windows are not its own. Get one with "
            "`git show 9d78561:sadvae/assets/default_model.pt > runs/round1/default_model.pt` and pass --model. "
            "The packaged shiftgcn-v2 model's calibration (single-window and handedness-pooled) is fitted and "
            "reported by `scripts/train_default --recalibrate BUNDLE` (docs/head.md section 5)."
        )
    return b


def class_prototypes(b, names) -> np.ndarray:
    """mu_y [K, d_r] of bundle ``b``'s text VAE for class names (the prompts of its template)."""
    import torch

    from sadvae.text import TextEncoder

    emb = TextEncoder(b.text_cfg).encode_labels(list(names))
    with torch.no_grad():
        return b.sadvae.encode_text(torch.as_tensor(emb))[0].numpy()


def cmd_zeroshot(args) -> dict:
    """Dead labels and top-1 of every zero-shot scorer with all 33 class names as new labels, held-out windows."""
    import torch

    from sadvae.head import ZeroShotScorer, dead_labels, fit_temperature
    from sadvae.models.sadvae import fit_latent_classifier
    from sadvae.text import TextEncoder
    from sadvae.train.default_model import CLASS_NAMES

    b = round1_bundle(args.model)
    h = default_holdout(args.model)
    emb = TextEncoder(b.text_cfg).encode_labels(list(CLASS_NAMES))
    mu = class_prototypes(b, CLASS_NAMES)
    rows = {}
    for method in ("linear-relu", "linear", "cosine", "euclidean"):
        if method.startswith("linear"):
            clf = fit_latent_classifier(b.sadvae, torch.as_tensor(emb), relu_logits=method == "linear-relu")
            s = ZeroShotScorer(method, clf.fc.weight.detach().numpy(), clf.fc.bias.detach().numpy())
        else:
            s = ZeroShotScorer(method, mu, np.zeros(len(mu)))
        sim = s.similarity(h["latent"])
        dead = dead_labels(s, mu)
        rows[method] = {
            "top1": float((sim.argmax(1) == h["labels"]).mean()),
            "dead": len(dead),
            "dead_labels": [CLASS_NAMES[i] for i in dead],
        }
        if method in ("cosine", "euclidean"):
            rows[method]["nll_scale"] = 1.0 / fit_temperature(sim, h["labels"])
    return {"windows": int(len(h["labels"])), "labels": len(CLASS_NAMES), "scorers": rows}


def cmd_rejection(args) -> dict:
    """Fit the head calibration on held-out windows of the default model; 2-fold cross-fitted rates."""
    from sadvae.head.calibration import calibration_path, write_calibration
    from sadvae.head.fit import evaluate_calibration, fit_head_calibration
    from sadvae.train.default_model import CLASS_NAMES

    b = round1_bundle(args.model)
    h = default_holdout(args.model)
    mu = class_prototypes(b, CLASS_NAMES)
    fold = h["subject"] % 4 == 2  # subjects 2, 6, 10 | the others
    folds = {}
    for name, fit_on in (("A->B", fold), ("B->A", ~fold)):
        cal, _ = fit_head_calibration(h["latent"][fit_on], h["logits"][fit_on], h["labels"][fit_on], mu)
        ev = ~fit_on
        folds[name] = evaluate_calibration(cal, h["latent"][ev], h["logits"][ev], h["labels"][ev], mu)
    source = "scripts/check_head.py rejection: default model held-out windows (MSR/UTK even subjects, NW-UCLA view 3)"
    cal, report = fit_head_calibration(
        h["latent"], h["logits"], h["labels"], mu, model_id=str(h["model_id"]), source=source
    )
    if args.write:
        write_calibration(calibration_path(args.model), cal)
    return {"fit_all": report, "cross_fitted": folds}


if __name__ == "__main__":
    raise SystemExit(main())
