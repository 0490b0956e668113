"""Equal-compute pre-training plans: how many steps each objective gets for a FLOPs budget.

The paper's Figure 1 compares objectives at equal pre-training compute, not
equal steps: an ELECTRA step runs a generator next to the discriminator, so
it costs more than an MLM step of the same encoder, and MLM gets more steps.
Compute is counted analytically (`keras_electra.flops.train_step_flops`:
matmul FLOPs, forward and backward), so the plan is the same on any machine:

    steps(objective) = budget_flops // train_step_flops(config with objective, batch, seq)

rounded down to a multiple of the number of curve points, so that one run
per objective is checkpointed at `points` equally spaced fractions of its
budget (`k / points`, k = 1..points); each checkpoint is one point of the
score-vs-FLOPs curve. The rounding drops fewer than `points` steps (the plan
reports the FLOPs each objective really gets).

    per_step = flops_per_step(config, ["electra", "mlm"])
    plans = plan_pretraining(per_step, budget_flops=5e13, points=3)
    plans["mlm"].steps, plans["mlm"].point_steps, plans["mlm"].point_flops
"""

import dataclasses
from typing import Tuple


@dataclasses.dataclass(frozen=True)
class PretrainPlan:
    """One objective's share of an equal-FLOPs study.

    Args:
        objective: an `ElectraConfig.objective` ("electra", "mlm", ...).
        flops_per_step: analytic matmul FLOPs of one optimizer step.
        steps: optimizer steps of the run (a multiple of `len(point_steps)`).
        point_steps: the steps checkpointed as points of the curve, ascending,
            the last equal to `steps`.

    Example:

    >>> plan = PretrainPlan("mlm", flops_per_step=10, steps=6, point_steps=(2, 4, 6))
    >>> plan.total_flops, plan.point_flops, plan.save_every
    (60, (20, 40, 60), 2)
    """

    objective: str
    flops_per_step: int
    steps: int
    point_steps: Tuple[int, ...]

    @property
    def total_flops(self):
        return self.flops_per_step * self.steps

    @property
    def point_flops(self):
        return tuple(self.flops_per_step * step for step in self.point_steps)

    @property
    def save_every(self):
        """Checkpoint interval that lands a checkpoint on every point."""
        return self.point_steps[0]

    def to_dict(self):
        return {"objective": self.objective, "flops_per_step": self.flops_per_step,
                "steps": self.steps, "point_steps": list(self.point_steps),
                "total_flops": self.total_flops, "point_flops": list(self.point_flops)}


def flops_per_step(config, objectives, flops_fn=None):
    """`{objective: FLOPs of one pre-training step}` of `config` under each objective.

    Args:
        config: the study's `ElectraConfig`; its `train_batch_size` and
            `max_seq_length` are the step's shape.
        objectives: `ElectraConfig.objective` values.
        flops_fn: `(config, batch_size, seq_length) -> FLOPs`; default
            `keras_electra.flops.train_step_flops` (a stub in tests).
    """
    if flops_fn is None:
        from keras_electra.flops import train_step_flops as flops_fn
    return {objective: int(flops_fn(config.with_overrides({"objective": objective}),
                                    config.train_batch_size, config.max_seq_length))
            for objective in objectives}


def point_steps(steps, points):
    """The `points` equally spaced checkpoint steps of a `steps`-step run.

    >>> point_steps(300, 3)
    (100, 200, 300)
    """
    if points < 1 or steps % points:
        raise ValueError(f"steps={steps} is not a positive multiple of points={points}.")
    return tuple(steps * k // points for k in range(1, points + 1))


def budget_from_steps(objective, steps, per_step):
    """The FLOPs budget that `steps` steps of `objective` cost (`--budget_steps_<objective>`).

    >>> budget_from_steps("electra", 100, {"electra": 15, "mlm": 10})
    1500
    """
    if objective not in per_step:
        raise ValueError(f"a budget in {objective} steps needs {objective!r} among the "
                         f"objectives ({', '.join(per_step)}).")
    if steps < 1:
        raise ValueError(f"budget of {steps} {objective} steps: must be >= 1.")
    return steps * per_step[objective]


def plan_pretraining(per_step, budget_flops, points):
    """`{objective: PretrainPlan}` giving every objective the same FLOPs budget.

    Args:
        per_step: `{objective: FLOPs per step}` (`flops_per_step`).
        budget_flops: pre-training FLOPs per objective.
        points: curve points per objective (checkpoints at `k / points` of
            the budget).

    Raises:
        ValueError: if the budget buys an objective fewer than `points` steps.
    """
    if points < 1:
        raise ValueError(f"points={points}: must be >= 1.")
    if not budget_flops > 0:
        raise ValueError(f"budget_flops={budget_flops}: must be > 0.")
    plans = {}
    for objective, flops in per_step.items():
        steps = int(budget_flops // flops) // points * points
        if steps < points:
            raise ValueError(
                f"budget of {budget_flops:.3g} FLOPs buys {int(budget_flops // flops)} "
                f"{objective} steps at {flops:.3g} FLOPs per step, fewer than points={points}.")
        plans[objective] = PretrainPlan(objective, flops, steps, point_steps(steps, points))
    return plans
