"""Train the ST-GCN backbone on the seen classes, and extract features and seen-class logits.

Runs on one CPU/GPU, or under ``torchrun`` with DistributedDataParallel (one process per device;
gloo on CPU, nccl on CUDA). Model selection never looks at test data: the backbone kept is the one
of the last epoch of a fixed cosine schedule.
"""

from __future__ import annotations

import logging
import math
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, DistributedSampler
from tqdm import tqdm

from sadvae.data.preprocess import PreprocessConfig
from sadvae.data.record import SkeletonSequence
from sadvae.models.stgcn import STGCN, STGCNConfig
from sadvae.train.augment import AugmentConfig, augmented_window, eval_window

__all__ = ["BackboneTrainConfig", "train_backbone", "extract", "WindowDataset", "save_backbone", "load_backbone"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BackboneTrainConfig:
    """Backbone training.

    Attributes:
        preset: ST-GCN width preset ("standard" or "light").
        epochs: passes over the training windows (each sequence yields ``repeats`` windows an epoch).
        repeats: augmented windows drawn from every sequence per epoch (small datasets need several).
        batch_size: windows per step (per process under DDP).
        lr: peak AdamW learning rate (cosine decay to 0, linear warm-up over the first epoch).
        weight_decay: AdamW weight decay.
        label_smoothing: cross-entropy label smoothing.
        dropout: ST-GCN dropout.
        seed: seeds sampling, augmentation and initialisation.
        device: "cpu", "cuda", "cuda:1", ...
        workers: DataLoader worker processes.
        preprocess: window length, frame rate, persons.
        augment: augmentation strengths.
    """

    preset: str = "light"
    epochs: int = 30
    repeats: int = 4
    batch_size: int = 32
    lr: float = 3e-3
    weight_decay: float = 5e-4
    label_smoothing: float = 0.1
    dropout: float = 0.2
    seed: int = 0
    device: str = "cpu"
    workers: int = 0
    preprocess: PreprocessConfig = field(default_factory=PreprocessConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)


class WindowDataset(Dataset):
    """Windows of a list of sequences: augmented (``train=True``) or the deterministic centre window."""

    def __init__(
        self,
        seqs: list[SkeletonSequence],
        targets: np.ndarray,
        pre: PreprocessConfig,
        aug: AugmentConfig | None = None,
        repeats: int = 1,
        seed: int = 0,
    ) -> None:
        self.seqs, self.targets, self.pre, self.aug = seqs, np.asarray(targets), pre, aug
        self.repeats = repeats if aug is not None else 1
        self.seed = seed
        self.epoch = 0
        self._fixed = None if aug is not None else [eval_window(s, pre) for s in seqs]

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.seqs) * self.repeats

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        k = i % len(self.seqs)
        if self._fixed is not None:
            x = self._fixed[k]
        else:
            rng = np.random.default_rng((self.seed, self.epoch, i))
            x = augmented_window(self.seqs[k], self.pre, self.aug, rng)
        return torch.from_numpy(x), int(self.targets[k])


def _distributed() -> tuple[bool, int, int]:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    return world > 1, int(os.environ.get("RANK", "0")), world


def train_backbone(
    seqs: list[SkeletonSequence],
    labels: np.ndarray,
    class_ids: tuple[int, ...],
    cfg: BackboneTrainConfig,
    checkpoint: str | Path | None = None,
) -> STGCN:
    """Train an ST-GCN whose head covers ``class_ids`` (global class ids, in this order).

    Args:
        seqs: training sequences (seen classes only).
        labels: [len(seqs)] global class ids of those sequences; each must be in ``class_ids``.
        class_ids: the seen classes; head column k is class ``class_ids[k]``.
        cfg: training configuration.
        checkpoint: if given, the training state is saved there after every epoch and a run that
            finds it resumes from the next epoch, when it was saved by a run of the same sequences, classes and
            settings (else it is ignored with a warning: a rerun with another split seed reused the old weights).

    Returns:
        The trained model in eval mode on ``cfg.device`` (the unwrapped module under DDP).
    """
    dist_on, rank, world = _distributed()
    device = torch.device(cfg.device)
    if dist_on:
        import torch.distributed as dist

        if not dist.is_initialized():
            dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
        if device.type == "cuda":
            device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
    torch.manual_seed(cfg.seed)
    lookup = {c: k for k, c in enumerate(class_ids)}
    targets = np.array([lookup[int(c)] for c in labels], dtype=np.int64)
    model_cfg = STGCNConfig.from_preset(cfg.preset, len(class_ids), dropout=cfg.dropout, persons=cfg.preprocess.persons)
    model = STGCN(model_cfg).to(device)
    net: nn.Module = model
    if dist_on:
        net = nn.parallel.DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
    data = WindowDataset(seqs, targets, cfg.preprocess, cfg.augment, cfg.repeats, cfg.seed)
    sampler = DistributedSampler(data, world, rank, shuffle=True, seed=cfg.seed) if dist_on else None
    gen = torch.Generator().manual_seed(cfg.seed)
    loader = DataLoader(
        data,
        batch_size=cfg.batch_size,
        shuffle=sampler is None,
        sampler=sampler,
        generator=gen if sampler is None else None,
        num_workers=cfg.workers,
        drop_last=len(data) > cfg.batch_size * world,
        persistent_workers=False,
    )
    opt = torch.optim.AdamW(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    steps = max(1, cfg.epochs * len(loader))
    warm = max(1, len(loader))
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / warm) * 0.5 * (1 + math.cos(math.pi * min(s, steps) / steps))
    )
    loss_fn = nn.CrossEntropyLoss(label_smoothing=cfg.label_smoothing)
    start = 0
    run = _run_key(seqs, labels, class_ids, cfg)
    if checkpoint is not None and Path(checkpoint).exists():
        state = _read_state(checkpoint, device)
        if state.get("run") != run:  # another split, data or config: resuming would train on other classes
            log.warning(
                "%s is the state of another training run (split, data or settings differ): not resumed", checkpoint
            )
        else:
            model.load_state_dict(state["model"])
            opt.load_state_dict(state["optimizer"])
            sched.load_state_dict(state["scheduler"])
            start = int(state["epoch"]) + 1
            # the shuffling and dropout streams where the interrupted run left them: a resumed run draws what an
            # uninterrupted one would (a state saved before they were kept resumes with fresh streams)
            if "shuffle_rng" in state:
                gen.set_state(state["shuffle_rng"].cpu())
            if "torch_rng" in state:
                torch.set_rng_state(state["torch_rng"].cpu())
            if "cuda_rng" in state and device.type == "cuda":
                torch.cuda.set_rng_state(state["cuda_rng"].cpu(), device)
            log.info("resuming backbone training from %s at epoch %d", checkpoint, start)
    bar = tqdm(range(start, cfg.epochs), desc="backbone", unit="epoch", disable=rank != 0, leave=False)
    for epoch in bar:
        data.set_epoch(epoch)
        if sampler is not None:
            sampler.set_epoch(epoch)
        net.train()
        total, correct, loss_sum = 0, 0, 0.0
        for x, y in loader:
            x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
            logits = net(x)
            loss = loss_fn(logits, y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            loss_sum += float(loss.detach()) * len(y)
            correct += int((logits.argmax(1) == y).sum())
            total += len(y)
        bar.set_postfix(loss=f"{loss_sum / max(total, 1):.3f}", acc=f"{correct / max(total, 1):.3f}")
        if checkpoint is not None and rank == 0:
            tmp = Path(f"{checkpoint}.tmp")
            state = {"model": model.state_dict(), "optimizer": opt.state_dict(), "scheduler": sched.state_dict()}
            state |= {"shuffle_rng": gen.get_state(), "torch_rng": torch.get_rng_state()}
            if device.type == "cuda":
                state["cuda_rng"] = torch.cuda.get_rng_state(device)
            torch.save({**state, "epoch": epoch, "run": run}, tmp)
            tmp.replace(checkpoint)
    model.eval()
    return model


def _read_state(checkpoint: str | Path, device: torch.device) -> dict:
    """The per-epoch training state at ``checkpoint``; a file that cannot be read is one error naming it."""
    from sadvae.errors import CheckpointError

    problem = f"{checkpoint}: unreadable training state; delete it to start over"
    try:
        state = torch.load(checkpoint, map_location=device, weights_only=True)
    except Exception as e:  # noqa: BLE001 - a damaged file fails torch.load in many ways; the file is what is wrong
        raise CheckpointError(f"{problem} (torch.load: {type(e).__name__})") from None
    if not isinstance(state, dict):
        raise CheckpointError(f"{problem} (it holds a {type(state).__name__}, not a training state)")
    return state


def _run_key(seqs, labels, class_ids, cfg) -> str:
    """What a resumable training state must match: the sequences (source, length, class), the head's classes and
    every setting."""
    import hashlib
    import json
    from dataclasses import asdict

    payload = {
        "seqs": [[str(s.source), int(s.joints.shape[0]), int(y)] for s, y in zip(seqs, labels, strict=True)],
        "classes": [int(c) for c in class_ids],
        "cfg": json.loads(json.dumps(asdict(cfg), default=str)),
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


@torch.no_grad()
def extract(
    model: STGCN, seqs: list[SkeletonSequence], pre: PreprocessConfig, device: str = "cpu", batch_size: int = 64
) -> tuple[np.ndarray, np.ndarray]:
    """Features f_x [n, feature_dim] and seen-class logits [n, K] of the centre windows of ``seqs``."""
    model.eval().to(device)
    feats, logits = [], []
    for a in range(0, len(seqs), batch_size):
        x = torch.from_numpy(np.stack([eval_window(s, pre) for s in seqs[a : a + batch_size]])).to(device)
        f = model.forward_features(x)
        feats.append(f.cpu().numpy())
        logits.append(model.forward_head(f).cpu().numpy())
    dim = model.cfg.feature_dim
    if not feats:
        return np.zeros((0, dim), np.float32), np.zeros((0, model.cfg.num_classes), np.float32)
    return np.concatenate(feats), np.concatenate(logits)


def save_backbone(model: STGCN, path: str | Path, extra: dict | None = None) -> Path:
    """Save weights + config (loadable with ``torch.load(weights_only=True)``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save({"format_version": 1, "model": model.state_dict(), "model_cfg": asdict(model.cfg), **(extra or {})}, tmp)
    tmp.replace(path)
    return path


def load_backbone(path: str | Path, device: str = "cpu") -> tuple[STGCN, dict]:
    """Rebuild a backbone saved by :func:`save_backbone`; returns (model in eval mode, the whole checkpoint)."""
    from sadvae.errors import CheckpointError

    try:
        ckpt = torch.load(path, map_location=device, weights_only=True)
        from sadvae.models import build_backbone

        model = build_backbone(ckpt["model_cfg"])
        model.load_state_dict(ckpt["model"])
    except FileNotFoundError:
        raise CheckpointError(
            f"{path}: backbone checkpoint not found; train one with `sadvae train backbone`"
        ) from None
    except (KeyError, RuntimeError, TypeError, ValueError, EOFError) as e:
        raise CheckpointError(
            f"{path}: not a valid sadvae backbone checkpoint ({e}); re-train or re-download"
        ) from None
    return model.to(device).eval(), ckpt
