"""Per-epoch cyclical loss weights of SA-DVAE training (reference section 4.2), both published variants."""

from __future__ import annotations

from dataclasses import dataclass

from sadvae.errors import ConfigError

__all__ = ["ScheduleConfig", "SCHEDULES", "schedule_weights"]


@dataclass(frozen=True)
class ScheduleConfig:
    """Per-epoch cyclical loss weights (reference section 4.2); every constant is named here.

    The "official" schedule is SynSE's 1700-iteration cycle rescaled to the epoch length L:
    beta_x = max(0, kl_slope (i - kl_x_start L/cycle) / (kl_ramp L/cycle)),
    beta_y = max(0, kl_slope (i - int(late_fraction L)) / (kl_ramp L/cycle)) from epoch
    ``text_start_epoch``, lambda_cross = cross_weight once i > int(late_fraction L).
    The "paper" schedule is 0 up to ``paper_warmup`` of the epoch, then rises linearly to the given
    beta_x / beta_y at the epoch's end, with the same lambda_cross switch and no epoch gate.

    Attributes:
        reference_cycle: iterations per cycle the official constants were written for.
        kl_x_start: skeleton KL starts at this iteration of the reference cycle (58.8%).
        kl_ramp: ramp length divisor in reference-cycle iterations.
        kl_slope: ramp height per ``kl_ramp`` iterations.
        late_fraction: start of the last part of each epoch (text KL, TC, cross-alignment).
        text_start_epoch: first epoch index (0-based) with a non-zero beta_y.
        cross_weight: lambda_cross once switched on.
        paper_warmup: fraction of each epoch with zero KL weights in the "paper" schedule.
        beta_x, beta_y: peak KL weights of the "paper" schedule (required there).
    """

    reference_cycle: int = 1700
    kl_x_start: float = 1000.0
    kl_ramp: float = 3000.0
    kl_slope: float = 0.1
    late_fraction: float = 0.8
    text_start_epoch: int = 2
    cross_weight: float = 1.0
    paper_warmup: float = 1.0 / 3.0
    beta_x: float | None = None
    beta_y: float | None = None


SCHEDULES = ("official", "paper")


def schedule_weights(
    i: int,
    num_iters: int,
    epoch: int,
    kind: str = "official",
    beta_x: float | None = None,
    beta_y: float | None = None,
    cfg: ScheduleConfig | None = None,
) -> dict[str, float]:
    """Loss weights at iteration ``i`` (restarting every epoch) of an epoch of ``num_iters`` iterations.

    Args:
        i: 0-based iteration within the epoch.
        num_iters: iterations per epoch L (``len(train_loader)``).
        epoch: 0-based epoch index.
        kind: "official" (what the published scripts run) or "paper" (the 1/3 warm-up).
        beta_x, beta_y: peak weights of the "paper" schedule (override ``cfg``'s).
        cfg: the schedule constants.

    Returns:
        ``{"beta_x", "beta_y", "lambda_cross"}``; the critic weight equals ``beta_y``.

    Raises:
        ConfigError: unknown ``kind``, ``num_iters`` < 1, or "paper" without beta_x / beta_y.
    """
    cfg = cfg or ScheduleConfig()
    if kind not in SCHEDULES:
        raise ConfigError(f"unknown schedule {kind!r}; valid schedules: {list(SCHEDULES)}")
    if num_iters < 1:
        raise ConfigError(f"num_iters must be >= 1, got {num_iters}")
    late = int(cfg.late_fraction * num_iters)
    lam = cfg.cross_weight if i > late else 0.0
    if kind == "official":
        scale = num_iters / cfg.reference_cycle
        ramp = cfg.kl_ramp * scale
        bx = max(0.0, cfg.kl_slope * (i - cfg.kl_x_start * scale) / ramp)
        by = max(0.0, cfg.kl_slope * (i - late) / ramp) if epoch >= cfg.text_start_epoch else 0.0
        return {"beta_x": bx, "beta_y": by, "lambda_cross": lam}
    peak_x = cfg.beta_x if beta_x is None else beta_x
    peak_y = cfg.beta_y if beta_y is None else beta_y
    if peak_x is None or peak_y is None:
        raise ConfigError("the 'paper' schedule needs beta_x and beta_y (arguments or ScheduleConfig fields)")
    p = i / num_iters
    ramp = 0.0 if p <= cfg.paper_warmup else (p - cfg.paper_warmup) / (1.0 - cfg.paper_warmup)
    return {"beta_x": ramp * peak_x, "beta_y": ramp * peak_y, "lambda_cross": lam}
