"""``sadvae benchmark``: the whole protocol over N seeded class splits, one report (markdown + JSON + PNG).

Each split's results are written to ``<out>/splits/<seed>.json`` as soon as they exist, so an
interrupted benchmark resumes where it stopped.
"""

from __future__ import annotations

import json
import logging
import platform
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

from sadvae.data.record import Dataset
from sadvae.errors import ConfigError
from sadvae.train.protocol import (
    ExperimentConfig,
    class_descriptions,
    class_text_embeddings,
    make_split,
    ntu_class_names,
    prepare_features,
    run_variant,
)

__all__ = ["run_benchmark", "aggregate", "render_markdown", "ntu_name_matches"]

log = logging.getLogger(__name__)

METRICS = ("ZSL", "S", "U", "H")


def _jsonable(obj):
    if isinstance(obj, dict):
        return {k: _jsonable(v) for k, v in obj.items() if not k.startswith("_") and k != "models"}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, (np.floating, np.integer)):
        return obj.item()
    return obj


# where results are cached or which machine runs them: a split measured with other values is still the same result
_RUN_ONLY = {("split_seeds",), ("text", "cache_dir"), ("text", "use_cache"), ("text", "device"), ("text", "batch_size")}
_RUN_ONLY |= {("backbone", "device"), ("backbone", "workers"), ("zsl", "device"), ("frozen", "feature_dir")}


def resume_settings(cfg: ExperimentConfig) -> dict:
    """Every setting a split's results depend on (the config less :data:`_RUN_ONLY`), as JSON values: a split file
    is reused only by a run whose settings are equal."""
    d = json.loads(json.dumps(asdict(cfg), default=str))
    for path in _RUN_ONLY:
        node = d
        for k in path[:-1]:
            node = node.get(k) if isinstance(node, dict) else None
        if isinstance(node, dict):
            node.pop(path[-1], None)
    return d


def _differences(a, b, prefix: str = "") -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        return [d for k in sorted(set(a) | set(b)) for d in _differences(a.get(k), b.get(k), f"{prefix}{k}.")]
    return [] if a == b else [f"{prefix.rstrip('.')}: {a!r} -> {b!r}"]


def run_benchmark(ds: Dataset, cfg: ExperimentConfig, out: Path) -> dict:
    """Run every split seed and variant; returns the aggregated report (also written to ``out``)."""
    described = class_descriptions(cfg.class_descriptions, ds.class_names) if cfg.class_descriptions else None
    splits = {seed: make_split(ds.class_names, cfg, seed) for seed in cfg.split_seeds}  # each can refuse the run
    out.mkdir(parents=True, exist_ok=True)  # after the checks that can refuse the run: no empty folders left
    (out / "splits").mkdir(exist_ok=True)
    t0 = time.time()
    text_emb, encoder_id = class_text_embeddings(ds.class_names, cfg.text, described)
    trained_emb = trained_match = None
    ntu_matches: dict = {}
    if any(u not in ("sadvae", "synth") for u in cfg.unseen_scorers):  # the frozen backbone's NTU-120 names
        ntu = tuple(ntu_class_names())
        trained_emb, _ = class_text_embeddings(ntu, cfg.text)
        # class names that name NTU-120 actions (the live head's matcher)
        if {"matched", "synth-matched"} & set(cfg.unseen_scorers):
            trained_match, ntu_matches = ntu_name_matches(ds.class_names, ntu, cfg.text)
    aux = None
    if cfg.aux_datasets:
        from sadvae.train.aux_classes import load_aux_classes

        aux = load_aux_classes(cfg.aux_datasets, cfg.dataset, cfg.frozen, cfg.text)
        log.info("auxiliary classes: %d from %s (%d clips)", len(aux.names), list(cfg.aux_datasets), len(aux.labels))
    per_split = []
    confusion_inputs = None
    settings = resume_settings(cfg)
    for seed in cfg.split_seeds:
        path = out / "splits" / f"seed{seed}.json"
        split = splits[seed]
        if path.exists():
            done = json.loads(path.read_text())
            if list(done.get("split", {}).get("unseen", [])) != list(split.unseen):
                raise ConfigError(
                    f"{path}: holds results of another class split (unseen {done.get('unseen_names')}); "
                    "pass a new --out folder for this split"
                )
            if list(done.get("unseen_scorers", ["sadvae"])) != list(cfg.unseen_scorers):
                raise ConfigError(
                    f"{path}: measured the unseen scorers {done.get('unseen_scorers', ['sadvae'])}, not "
                    f"{list(cfg.unseen_scorers)}; pass a new --out folder"
                )
            if list(done.get("aux_datasets", [])) != list(cfg.aux_datasets):
                raise ConfigError(
                    f"{path}: measured with auxiliary classes from {done.get('aux_datasets', [])}, not "
                    f"{list(cfg.aux_datasets)}; pass a new --out folder"
                )
            for key, default in (("novelty_distance", "centroid"), ("class_descriptions", None)):
                if done.get(key, default) != getattr(cfg, key):
                    raise ConfigError(
                        f"{path}: measured with {key} {done.get(key, default)!r}, not {getattr(cfg, key)!r}; "
                        "pass a new --out folder"
                    )
            # every other setting (backbone, GZSL rules, variants, training lengths...): files written since
            # 6 December 2026 keep them; an older file is checked on the fields above only
            diff = _differences(done["settings"], settings) if "settings" in done else []
            if diff:
                shown = "; ".join(diff[:4]) + (f"; and {len(diff) - 4} more" if len(diff) > 4 else "")
                # a run begun before the default --gzsl order changed (7 December 2026) resumes with its own order
                old = done["settings"].get("gzsl")
                same_rules = isinstance(old, list) and sorted(old) == sorted(settings.get("gzsl") or [])
                hint = f" or resume it with --gzsl {' '.join(old)}" if same_rules and len(diff) == 1 else ""
                raise ConfigError(f"{path}: measured with other settings ({shown}); pass a new --out folder{hint}")
            log.info("split seed %d: reusing %s", seed, path)
            per_split.append(done)
            continue
        sf = prepare_features(ds, split, cfg, seed)
        result = {
            "seed": seed,
            "split": {"name": split.name, "seen": split.seen, "unseen": split.unseen, "val_unseen": split.val_unseen},
            "unseen_names": [ds.class_names[c] for c in split.unseen],
            "backbone_seen_acc": sf.backbone_seen_acc,
            "backbone_seconds": sf.seconds,
            "backbone": sf.info or {"name": "stgcn (trained from scratch)"},
            "ntu_counterparts": {ds.class_names[k]: v for k, v in sf.counterparts.items()},
            "sizes": {k: int(len(v)) for k, v in sf.labels.items()},
            "unseen_scorers": list(cfg.unseen_scorers),
            "aux_datasets": list(cfg.aux_datasets),
            "novelty_distance": cfg.novelty_distance,
            "class_descriptions": cfg.class_descriptions,
            "settings": settings,
            "variants": {},
        }
        split_aux = None
        if aux is not None:
            from sadvae.train.aux_classes import aux_for_split

            split_aux = aux_for_split(aux, ds.class_names, (*split.unseen, *split.val_unseen), text_emb)
        for variant in cfg.variants:
            t = time.time()
            r = run_variant(
                sf, text_emb, variant, cfg, trained_emb=trained_emb, trained_match=trained_match, aux=split_aux
            )
            if confusion_inputs is None and variant == cfg.variants[-1] and "honest" in r:
                pall, logits, truth, feats = r["honest"]["_pred_inputs"]
                confusion_inputs = (r["models"].get("rule", r["models"]["gate"]), pall, logits, truth, feats, split)
            r["seconds"] = time.time() - t
            result["variants"][variant] = _jsonable(r)
        path.write_text(json.dumps(result, indent=1))
        per_split.append(result)
    report = aggregate(per_split, cfg)
    report.update(
        ntu_name_matches=ntu_matches,
        dataset=ds.name,
        encoder_id=encoder_id,
        num_classes=len(ds.class_names),
        # compute time of every split, including splits reused from an earlier (interrupted) run
        seconds=sum(s["backbone_seconds"] + sum(v["seconds"] for v in s["variants"].values()) for s in per_split),
        wall_seconds_this_run=time.time() - t0,
        machine=f"{platform.machine()} {platform.processor() or ''} python {platform.python_version()}".strip(),
        config=_jsonable(asdict(cfg)),
    )
    (out / "report.json").write_text(json.dumps(report, indent=1))
    (out / "report.md").write_text(render_markdown(report))
    if confusion_inputs is not None:
        _confusion_png(ds, confusion_inputs, out / "confusion.png")
    return report


def ntu_name_matches(class_names, ntu_names, text_cfg) -> tuple[np.ndarray, dict[str, list[str]]]:
    """[N, V] bool: the NTU-120 classes each class name names, by the live head's label matcher
    (:func:`sadvae.head.matching.match_labels`, its default threshold, sentence embeddings of ``text_cfg``'s
    encoder), and the matches as {class name: [NTU names]} (matched names only)."""
    from sadvae.head.matching import match_labels
    from sadvae.text import TextEncoder

    result = match_labels(list(class_names), list(ntu_names), embed=TextEncoder(text_cfg).encode)
    m = np.zeros((len(class_names), len(ntu_names)), dtype=bool)
    for i, lm in enumerate(result.matches):
        m[i, list(lm.classes)] = True
    return m, {lm.label: list(lm.class_names) for lm in result.matches if lm.classes}


def aggregate(per_split: list[dict], cfg: ExperimentConfig) -> dict:
    """Mean and standard deviation over splits of every metric, per protocol and variant."""
    table: dict = {}
    for protocol in cfg.protocols:
        for variant in cfg.variants:
            rows = [s["variants"][variant][protocol] for s in per_split if protocol in s["variants"].get(variant, {})]
            if not rows:
                continue
            table.setdefault(protocol, {})[variant] = {
                m: {"mean": float(np.mean([r[m] for r in rows])), "std": float(np.std([r[m] for r in rows]))}
                for m in METRICS
            } | {"n": len(rows)}
    # With --protocol paper every cycle is scored on the test set; the last cycle is a choice fixed in
    # advance (no selection at all), so its ZSL is an honest number too: reported for comparison.
    last: dict = {}
    for variant in cfg.variants:
        curves = [
            s["variants"][variant]["paper"]["test_zsl_curve"]
            for s in per_split
            if "paper" in s["variants"].get(variant, {})
        ]
        if curves:
            vals = [c[-1] for c in curves]
            last[variant] = {"mean": float(np.mean(vals)), "std": float(np.std(vals)), "n": len(vals)}
    # every GZSL combination of the same run (same final model, same cycle): e.g. stacking vs the old gate
    by_combination: dict = {}
    for protocol in cfg.protocols:
        for variant in cfg.variants:
            rows = [
                s["variants"][variant][protocol].get("by_combination", {})
                for s in per_split
                if protocol in s["variants"].get(variant, {})
            ]
            for name in cfg.gzsl:
                vals = [r[name] for r in rows if name in r]
                if vals:
                    by_combination.setdefault(protocol, {}).setdefault(variant, {})[name] = {
                        m: {"mean": float(np.mean([v[m] for v in vals])), "std": float(np.std([v[m] for v in vals]))}
                        for m in ("S", "U", "H", "gate_unseen_rate")
                    } | {"n": len(vals)}
    # ZSL split by whether an unseen class has an NTU-120 counterpart, pooled over splits (hits / samples)
    by_counterpart: dict = {}
    for protocol in cfg.protocols:
        for variant in cfg.variants:
            rows = [
                s["variants"][variant][protocol].get("ZSL_by_ntu_counterpart")
                for s in per_split
                if protocol in s["variants"].get(variant, {})
            ]
            rows = [r for r in rows if r]
            if rows:
                by_counterpart.setdefault(protocol, {})[variant] = {
                    g: {"correct": sum(r[g]["correct"] for r in rows), "n": sum(r[g]["n"] for r in rows)}
                    for g in ("ntu_counterpart", "no_counterpart")
                }
    # every unseen-class scorer of the same run (same final model, same cycle): ZSL and each GZSL combination
    by_scorer: dict = {}
    for protocol in cfg.protocols:
        for variant in cfg.variants:
            rows = [
                s["variants"][variant][protocol].get("by_scorer", {})
                for s in per_split
                if protocol in s["variants"].get(variant, {})
            ]
            for name in cfg.unseen_scorers:
                vals = [r[name] for r in rows if name in r]
                if not vals:
                    continue
                entry: dict = {
                    "ZSL": {
                        "mean": float(np.mean([v["ZSL"] for v in vals])),
                        "std": float(np.std([v["ZSL"] for v in vals])),
                    },
                    "n": len(vals),
                    "scorer": [v["scorer"] for v in vals],
                }
                for comb in cfg.gzsl:
                    cv = [v["by_combination"][comb] for v in vals if comb in v["by_combination"]]
                    entry[comb] = {
                        m: {"mean": float(np.mean([c[m] for c in cv])), "std": float(np.std([c[m] for c in cv]))}
                        for m in ("S", "U", "H", "gate_unseen_rate")
                    }
                by_scorer.setdefault(protocol, {}).setdefault(variant, {})[name] = entry
    seen_acc = [s["backbone_seen_acc"] for s in per_split]
    return {
        "table": table,
        "by_scorer": by_scorer,
        "zsl_by_ntu_counterpart": by_counterpart,
        "by_combination": by_combination,
        "last_cycle_zsl": last,
        "splits": per_split,
        "backbone_seen_acc": float(np.mean(seen_acc)) if seen_acc else None,
    }


def render_markdown(report: dict) -> str:
    lines = [
        f"# {report['dataset']}: zero-shot benchmark",
        "",
        f"{len(report['splits'])} seeded splits, {report['config']['num_unseen']} unseen classes of "
        f"{report['num_classes']}; text encoder `{report['encoder_id']}`; {report['seconds'] / 60:.1f} min on "
        f"{report['machine']}.",
        f"Backbone accuracy on test samples of the seen classes: {100 * report['backbone_seen_acc']:.1f}%.",
        "",
    ]
    if not report["config"].get("zsl", {}).get("relu_logits", True):
        lines += ["Zero-shot latent classifier: plain logits (`--linear-latent-logits`, no published ReLU).", ""]
    frozen = report["config"].get("frozen")
    if frozen:
        lines += [
            f"Backbone: **{frozen['name']}, frozen** (window {frozen['window']}, stride {frozen['stride']} at 30 fps), "
            "a logistic seen-class head with its L2 strength chosen on the validation split. NTU-pretrained "
            "backbone (its 120 training classes overlap the unseen classes: not zero-shot in the strict sense).",
            "",
        ]
        if frozen.get("batchnorm", "released") == "own":
            lines += [
                "BatchNorm statistics (`--batchnorm own`): re-estimated per split on the seen classes' training side "
                "(no unseen class's clip read); an `--aux-classes` set on its own training side.",
                "",
            ]
    aux_sets = report["config"].get("aux_datasets") or []
    if aux_sets:
        runs = [
            (s["seed"], v, r["aux_classes"])
            for s in report["splits"]
            for v, r in s["variants"].items()
            if r.get("aux_classes")
        ]
        detail = "; ".join(
            f"seed {seed} {v}: {'used' if a['used'] else 'not used'} (validation ZSL "
            f"{100 * a['val_zsl_best_with']:.1f} with, {100 * a['val_zsl_best_without']:.1f} without, "
            f"margin {100 * a.get('margin', 0.0):.1f}; "
            f"{len(a['classes'])} classes, left out "
            f"{', '.join(a['left_out']) or 'none'})"
            for seed, v, a in runs
        )
        lines += [
            f"Auxiliary seen classes from {', '.join(aux_sets)} (`--aux-classes`, `sadvae/train/aux_classes.py`): "
            f"SA-DVAE may train on them too, chosen per split on the validation run. {detail}.",
            "",
        ]
    if report["config"].get("class_descriptions"):
        lines += [
            f"Class text: each class's description from `{report['config']['class_descriptions']}` "
            "(`--class-descriptions`; the label matcher reads the names).",
            "",
        ]
    distance = report["config"].get("novelty_distance", "centroid")
    if distance != "centroid":
        lines += [f"Novelty rules' distance from the seen classes: `{distance}` (`--novelty-distance`).", ""]
    scorers = report["config"].get("unseen_scorers", ["sadvae"])
    lines += [
        f"Unseen-class scorer of the headline numbers: `{scorers[0]}` (measured: {', '.join(scorers)}; free numbers "
        f"chosen on the validation split by `{report['config'].get('unseen_selection', 'accuracy')}`).",
        "",
    ]
    labels = {
        "honest": "Honest protocol: cycle and every fitted threshold chosen on the validation split or on held-out "
        "windows of the final model",
        "paper": "Paper protocol (official code): best cycle chosen on the TEST set; optimistic by construction",
    }
    gzsl_names = {
        "stacking": "calibrated stacking (fitted on held-out windows of the final model)",
        "novelty": "novelty: distance to the seen classes' features (fitted on held-out windows of the final model)",
        "stacking+novelty": "stacking + novelty, both standardised on held-out windows of the final model",
        "gate": "seen/unseen gate (round 1, fitted on the validation run's backbone)",
    }
    headline = (report["config"].get("gzsl") or ["gate"])[0]
    for protocol, variants in report["table"].items():
        # which GZSL combination the S / U / H are (the first of --gzsl): until 7 December 2026 the heading spoke of
        # the gate while the numbers were the first combination's (the training audit)
        lines += [
            f"## {labels.get(protocol, protocol)}",
            "",
            f"S / U / H: `{headline}`, {gzsl_names.get(headline, headline)} (the first of `--gzsl`; `sadvae train zsl` "
            "and `sadvae eval` report the bundle's gate; every combination of the same run: the GZSL table below).",
            "",
            "| variant | ZSL | S | U | H |",
            "|---|---|---|---|---|",
        ]
        for variant, m in variants.items():
            cells = " | ".join(f"{100 * m[k]['mean']:.1f} ± {100 * m[k]['std']:.1f}" for k in METRICS)
            lines.append(f"| {variant} | {cells} |")
        lines.append("")
    for protocol, variants in report.get("by_combination", {}).items():
        lines += [
            f"## GZSL combinations, same run ({protocol} protocol)",
            "",
            "| variant | combination | S | U | H | sent to zero-shot |",
            "|---|---|---|---|---|---|",
        ]
        for variant, combos in variants.items():
            for name, m in combos.items():
                cells = " | ".join(
                    f"{100 * m[k]['mean']:.1f} ± {100 * m[k]['std']:.1f}" for k in ("S", "U", "H", "gate_unseen_rate")
                )
                lines.append(f"| {variant} | {gzsl_names.get(name, name)} | {cells} |")
        lines.append("")
    scorer_names = {
        "sadvae": "SA-DVAE (published)",
        "conse": "ConSE over the NTU-120 classifier",
        "fused": "SA-DVAE + NTU ConSE, mixed",
        "matched": "NTU classifier for labels that name NTU actions, SA-DVAE for the rest",
        "synth": "classifiers synthesised from the names out of the seen-class head",
        "synth-matched": "NTU classifier for labels that name NTU actions, synthesised classifiers for the rest",
    }
    for protocol, variants in report.get("by_scorer", {}).items():
        combos = list(report["config"]["gzsl"])
        lines += [
            f"## Unseen-class scorers, same run ({protocol} protocol; k, tau, weight chosen on the validation split)",
            "",
            "| variant | scorer | ZSL | "
            + " | ".join(f"{c} S | {c} U | {c} H" for c in combos)
            + " | chosen (k, tau, ConSE weight; synth: lambda, tau) per split |",
            "|---|---|---|" + "---|" * (3 * len(combos)) + "---|",
        ]
        for variant, scorers in variants.items():
            for name, m in scorers.items():
                cells = [f"{100 * m['ZSL']['mean']:.1f} ± {100 * m['ZSL']['std']:.1f}"]
                for c in combos:
                    cells += [f"{100 * m[c][k]['mean']:.1f} ± {100 * m[c][k]['std']:.1f}" for k in ("S", "U", "H")]
                chosen = "; ".join(
                    f"{sc['k']}, {sc['tau']:g}, {sc['weight']:g}"
                    if sc["kind"] in ("conse", "fused")
                    else f"{sc.get('lam', 0):g}, {sc['tau']:g}"
                    if sc["kind"].startswith("synth")
                    else "–"
                    for sc in m["scorer"]
                )
                lines.append(f"| {variant} | {scorer_names.get(name, name)} | {' | '.join(cells)} | {chosen} |")
        lines.append("")
    if report.get("ntu_name_matches"):
        lines += [
            "Class names that name NTU-120 actions (label matcher; the `matched` scorer): "
            + "; ".join(f"{k} = {', '.join(v)}" for k, v in report["ntu_name_matches"].items()),
            "",
        ]
    if report.get("last_cycle_zsl"):
        lines += [
            "## ZSL at the last cycle (a fixed choice, no selection)",
            "",
            "| variant | ZSL |",
            "|---|---|",
            *(f"| {v} | {100 * m['mean']:.1f} ± {100 * m['std']:.1f} |" for v, m in report["last_cycle_zsl"].items()),
            "",
        ]
    if report.get("zsl_by_ntu_counterpart"):
        lines += [
            "## ZSL by NTU-120 counterpart of the unseen class (pooled over splits: correct / samples)",
            "",
            "| protocol | variant | unseen classes with an NTU counterpart | without |",
            "|---|---|---|---|",
        ]
        for protocol, variants in report["zsl_by_ntu_counterpart"].items():
            for variant, g in variants.items():
                cells = [
                    f"{100 * g[k]['correct'] / g[k]['n']:.1f} % ({g[k]['correct']}/{g[k]['n']})" if g[k]["n"] else "–"
                    for k in ("ntu_counterpart", "no_counterpart")
                ]
                lines.append(f"| {protocol} | {variant} | {cells[0]} | {cells[1]} |")
        lines.append("")
    lines += [
        "## Splits",
        "",
        "| seed | unseen classes | with an NTU-120 counterpart | backbone | seen-class accuracy |",
        "|---|---|---|---|---|",
    ]
    for s in report["splits"]:
        cp = ", ".join(f"{k} = {v}" for k, v in s.get("ntu_counterparts", {}).items()) or "none"
        bb = s.get("backbone", {})
        name = bb.get("name", "stgcn (trained from scratch)") + (f", head C={bb['head_C']:g}" if "head_C" in bb else "")
        lines.append(
            f"| {s['seed']} | {', '.join(s['unseen_names'])} | {cp} | {name} | {100 * s['backbone_seen_acc']:.1f} |"
        )
    return "\n".join(lines) + "\n"


def _confusion_png(ds: Dataset, inputs, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    gate, pall, logits, truth, feats, split = inputs
    unseen = gate.is_unseen(pall, logits, feats)
    pred = np.where(unseen, np.asarray(split.unseen)[pall.argmax(1)], np.asarray(split.seen)[logits.argmax(1)])
    n = len(ds.class_names)
    cm = np.zeros((n, n))
    for t, p in zip(truth, pred, strict=True):
        cm[t, p] += 1
    cm = cm / np.maximum(cm.sum(1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(0.45 * n + 3, 0.45 * n + 2.5))
    ax.imshow(cm, cmap="Blues", vmin=0, vmax=1)
    names = [("* " if c in split.unseen else "") + ds.class_names[c] for c in range(n)]
    ax.set_xticks(range(n), names, rotation=90, fontsize=7)
    ax.set_yticks(range(n), names, fontsize=7)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true (* = unseen)")
    ax.set_title(f"{ds.name}: GZSL confusion, split {split.name}")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
