"""Library side of `python -m keras_electra.study`: ELECTRA vs MLM at equal pre-training FLOPs.

`run_study(StudyOptions(...))` runs, each step skipped when its output is
already complete (a killed study resumes where it stopped):

1. one WordPiece vocabulary for every objective (`keras_electra.build_vocab`,
   unless one is given), so the fine-tuned encoders differ only in how
   they were pre-trained;
2. the equal-FLOPs plan (`keras_electra.studies.efficiency`): steps per
   objective and the checkpoint steps at `k / points` of the budget;
3. per objective one `keras_electra.pretrain` run with a checkpoint at each
   point (and only there, so none is rotated away);
4. each point's `ckpt-N` written out as a model directory of its own
   (`config.json`, `vocab.txt`, `pretrainer.weights.h5`), which is what
   `finetune --init_checkpoint` reads: `pretrainer.discriminator` is the
   encoder that is fine-tuned, for every objective;
5. per (task, objective, point) one `keras_electra.finetune` run with
   `num_seeds` seeds, plus a random-init baseline per task;
6. `results.json`, `report.md` and `study.png` (`keras_electra.studies.report`).

Layout under `output_dir`:

    vocab.txt, plan.json, timings.json, results.json, report.md, study.png
    configs/<objective>.json                 the resolved pre-training config
    pretrain/<objective>/                    a pre-training model dir (logs/, checkpoints/)
    points/<objective>_step<N>/              checkpoint N as a model dir
    finetune/<task>/<objective>_step<N>/     a finetune run (eval_results.json, finetune.log)
    finetune/<task>/random_init/             the no-pre-training baseline
"""

import dataclasses
import glob
import json
import os
import re
import shutil
from typing import Dict, Optional, Tuple

from keras_electra.atomic_io import atomic_write_text
from keras_electra.config import ElectraConfig
from keras_electra.data.tasks.glue import GLUE_TASKS
from keras_electra.studies.efficiency import budget_from_steps, flops_per_step, plan_pretraining
from keras_electra.studies.jobs import (
    CURVE_SCALARS, dev_metrics, finetune_command, load_finetune_results, module_command,
    per_seed_metric, run_logged, scalar_curve)
from keras_electra.studies.report import plot_study, render_report

# The ELECTRA run's detection and generator curves, and the MLM run's accuracy
# (`ElectraPretrainer` logs it as the discriminator-side MLM accuracy).
STUDY_CURVES = CURVE_SCALARS + ("discriminator_mlm_accuracy",)
PLAN_NAME = "plan.json"
TIMINGS_NAME = "timings.json"
BASELINE = "random_init"


@dataclasses.dataclass(frozen=True)
class StudyOptions:
    """Everything a study run needs (the `keras_electra.study` flags).

    Args:
        output_dir: where every run, the report and the plot go.
        input_files: pre-training text (comma-separated globs) or TFRecords.
        config_path: `ElectraConfig` JSON; `hparams` overrides it (JSON
            string or path).
        vocab_file: a WordPiece vocabulary; trained on `input_files` when None.
        objectives: `ElectraConfig.objective` values to compare.
        budget_flops: pre-training FLOPs per objective; or
        budget_steps: `(objective, steps)`: the budget is what `steps` steps
            of `objective` cost (exactly one of the two is set).
        points: curve points (checkpoints) per objective.
        tasks: GLUE task names; `glue_dir` holds their folders (`SST-2/`, ...).
        max_train_examples: `{task: N or None}` training examples used.
        finetune_epochs: `{task: epochs or None}` (None: finetune's default, 3).
        learning_rate: fine-tuning peak learning rate.
        num_seeds: fine-tuning seeds per point (the report uses medians).
        max_seq_length: fine-tuning sequence length.
        baseline: also fine-tune from random initialisation per task.
        log_every: pre-training steps between TensorBoard logs.
        pretrain_flags, finetune_flags: extra flags for every child run.
    """

    output_dir: str
    input_files: str
    config_path: Optional[str] = None
    hparams: Optional[str] = None
    vocab_file: Optional[str] = None
    objectives: Tuple[str, ...] = ("electra", "mlm")
    budget_flops: Optional[float] = None
    budget_steps: Optional[Tuple[str, int]] = None
    points: int = 3
    tasks: Tuple[str, ...] = ("sst2", "cola")
    glue_dir: Optional[str] = None
    max_train_examples: Dict[str, Optional[int]] = dataclasses.field(default_factory=dict)
    finetune_epochs: Dict[str, Optional[float]] = dataclasses.field(default_factory=dict)
    learning_rate: float = 3e-4
    num_seeds: int = 1
    max_seq_length: int = 64
    baseline: bool = True
    log_every: int = 100
    pretrain_flags: Tuple[str, ...] = ()
    finetune_flags: Tuple[str, ...] = ()


def parse_per_task(values, tasks, flag, cast=int):
    """`{task: value or None}` from `["V"]` (every task) and/or `["task=V", ...]` entries.

    >>> parse_per_task(["sst2=4000"], ["sst2", "cola"], "--max_train_examples")
    {'sst2': 4000, 'cola': None}
    >>> parse_per_task(["3", "sst2=1.5"], ["sst2", "cola"], "--finetune_epochs", float)
    {'sst2': 1.5, 'cola': 3.0}
    """
    result = {task: None for task in tasks}
    for value in values or ():
        task, _, number = value.rpartition("=")
        if task and task not in result:
            raise ValueError(f"{flag}={value}: {task!r} is not one of the tasks "
                             f"({', '.join(tasks)}).")
        try:
            number = cast(number)
        except ValueError:
            raise ValueError(f"{flag}={value}: expected a number or TASK=number.") from None
        if not number > 0:
            raise ValueError(f"{flag}={value}: must be > 0.")
        for name in [task] if task else tasks:
            result[name] = number
    return result


def check_options(options):
    """One-line `ValueError`s for a bad option, before anything runs."""
    if (options.budget_flops is None) == (options.budget_steps is None):
        raise ValueError("give exactly one of --budget_flops and --budget_steps_electra.")
    if not options.objectives:
        raise ValueError("--objectives: give at least one objective.")
    if len(set(options.objectives)) != len(options.objectives):
        raise ValueError(f"--objectives={','.join(options.objectives)}: repeated objective.")
    for name in ("points", "num_seeds", "log_every"):
        if getattr(options, name) < 1:
            raise ValueError(f"--{name}={getattr(options, name)}: must be >= 1.")
    for task in options.tasks:
        if task not in GLUE_TASKS or task.startswith("mnli_"):
            raise ValueError(f"--tasks: {task!r} is not a GLUE task; expected one of "
                             f"{', '.join(t for t in GLUE_TASKS if not t.startswith('mnli_'))}.")
    if options.tasks:
        if not options.glue_dir:
            raise ValueError("--glue_dir is required to fine-tune on --tasks.")
        for task in options.tasks:
            folder = os.path.join(options.glue_dir, GLUE_TASKS[task].glue_dir)
            if not os.path.isdir(folder):
                raise ValueError(f"{folder}: no such directory (--glue_dir/{task}).")


def resolve_config(options):
    """The study's `ElectraConfig`: `config_path` + `hparams` (objective left to each run)."""
    config = ElectraConfig.from_json(options.config_path) if options.config_path \
        else ElectraConfig()
    return config.with_overrides(options.hparams)


def _log(event):
    print(json.dumps(event), flush=True)


def _read_json(path, default=None):
    if not os.path.exists(path):
        return default
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def _write_json(value, path):
    atomic_write_text(path, json.dumps(value, indent=2, sort_keys=True) + "\n")


def _record_time(options, name, seconds):
    path = os.path.join(options.output_dir, TIMINGS_NAME)
    timings = _read_json(path, {})
    timings[name] = round(seconds, 1)
    _write_json(timings, path)


def ensure_vocab(options, config):
    """`(config, vocab_path)`: the shared vocabulary, trained once when not given.

    `config.vocab_size` becomes the vocabulary's real size (WordPiece may
    stop short of the target).
    """
    from keras_electra.data.vocab import load_vocabulary

    path = options.vocab_file or config.vocab_file or \
        os.path.join(options.output_dir, "vocab.txt")
    if not os.path.exists(path):
        seconds = run_logged(
            module_command("keras_electra.build_vocab", f"--input_files={options.input_files}",
                           f"--output={path}", f"--vocab_size={config.vocab_size}",
                           f"--lowercase={config.do_lower_case}"),
            os.path.join(options.output_dir, "build_vocab.log"))
        _record_time(options, "build_vocab", seconds)
        _log({"ran": "build_vocab", "seconds": round(seconds)})
    return config.with_overrides({"vocab_size": len(load_vocabulary(path))}), path


def make_plans(options, config, flops_fn=None):
    """`(plans, budget_flops, budget_source)` for `config` (see `efficiency`)."""
    per_step = flops_per_step(config, options.objectives, flops_fn)
    if options.budget_steps:
        objective, steps = options.budget_steps
        budget = budget_from_steps(objective, steps, per_step)
        source = f"--budget_steps_{objective}={steps} × {per_step[objective]:.4g} FLOPs/step"
    else:
        budget, source = float(options.budget_flops), "--budget_flops"
    return plan_pretraining(per_step, budget, options.points), budget, source


def check_plan(options, config, plans, budget):
    """Writes `plan.json`, or checks that an existing one (a resumed study) matches.

    A different plan on the same `output_dir` would resume pre-training runs
    with another schedule, and mix their checkpoints into one curve.
    """
    plan = {"budget_flops": budget, "config": config.to_dict(),
            "plans": {o: p.to_dict() for o, p in plans.items()}}
    path = os.path.join(options.output_dir, PLAN_NAME)
    existing = _read_json(path)
    if existing is not None:
        for objective, old in existing["plans"].items():
            new = plan["plans"].get(objective)
            if new and (new != old or existing["config"] != plan["config"]):
                raise ValueError(
                    f"{path}: {options.output_dir} holds a study with another plan or config "
                    f"({objective}: {old['steps']} steps, now {new['steps']}); use a new "
                    "--output_dir.")
        existing["plans"].update(plan["plans"])
        plan = dict(existing, budget_flops=budget)
    _write_json(plan, path)


def pretrain_dir(options, objective):
    return os.path.join(options.output_dir, "pretrain", objective)


def point_dir(options, objective, step):
    return os.path.join(options.output_dir, "points", f"{objective}_step{step}")


def _checkpoint_steps(run_dir):
    pattern = os.path.join(run_dir, "checkpoints", "ckpt-*.index")
    return sorted(int(re.search(r"ckpt-(\d+)\.index$", p).group(1)) for p in glob.glob(pattern))


def _pretraining_done(run_dir, plan):
    metrics = _read_json(os.path.join(run_dir, "metrics.json"))
    return bool(metrics) and metrics.get("step", 0) >= plan.steps


def pretrain(options, config, plan, vocab_path):
    """Runs (or resumes) one objective's pre-training; returns its seconds, or None if done."""
    run_dir = pretrain_dir(options, plan.objective)
    if _pretraining_done(run_dir, plan):
        _log({"skipped": f"pretrain/{plan.objective}", "reason": "finished"})
        return None
    config_path = os.path.join(options.output_dir, "configs", f"{plan.objective}.json")
    os.makedirs(os.path.dirname(config_path), exist_ok=True)
    config.with_overrides({"objective": plan.objective, "num_train_steps": plan.steps,
                           "vocab_file": None}).to_json(config_path)
    command = module_command(
        "keras_electra.pretrain", f"--config={config_path}",
        f"--input_files={options.input_files}", f"--vocab_file={vocab_path}",
        f"--model_dir={run_dir}", f"--num_train_steps={plan.steps}",
        f"--save_checkpoints_steps={plan.save_every}",
        f"--keep_checkpoint_max={len(plan.point_steps)}", f"--log_every={options.log_every}",
        "--verbose=2", *options.pretrain_flags)
    _log({"running": f"pretrain/{plan.objective}", "steps": plan.steps,
          "flops_per_step": plan.flops_per_step, "total_flops": plan.total_flops})
    seconds = run_logged(command, os.path.join(run_dir, "pretrain.log"))
    _record_time(options, f"pretrain/{plan.objective}", seconds)
    _log({"ran": f"pretrain/{plan.objective}", "seconds": round(seconds)})
    return seconds


def materialise_point(run_dir, step, target):
    """Writes `run_dir/checkpoints/ckpt-<step>` as a model directory at `target`.

    `finetune --init_checkpoint` reads a model directory's
    `pretrainer.weights.h5` (or its newest checkpoint); this gives each
    point of the curve a directory of its own.
    """
    from keras_electra.builders import build_pretrainer
    from keras_electra.training.checkpoints import (
        WEIGHTS_NAME, load_config, load_initial_weights, save_pretrainer)

    if os.path.exists(os.path.join(target, WEIGHTS_NAME)):
        return False
    if step not in _checkpoint_steps(run_dir):
        raise ValueError(f"{run_dir}/checkpoints: no ckpt-{step} (has "
                         f"{_checkpoint_steps(run_dir) or 'none'}); the run was not "
                         "checkpointed at the study's points (were --save_checkpoints_steps "
                         "or --steps_per_execution overridden?).")
    config = load_config(run_dir)
    pretrainer = build_pretrainer(config)
    load_initial_weights(pretrainer, config, os.path.join(run_dir, "checkpoints", f"ckpt-{step}"))
    tmp = target + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    save_pretrainer(pretrainer, config, tmp)
    os.replace(tmp, target)
    return True


def task_flags(options, task):
    """The `keras_electra.finetune` flags of one task."""
    flags = [f"--task={task}",
             f"--data_dir={os.path.join(options.glue_dir, GLUE_TASKS[task].glue_dir)}",
             f"--max_seq_length={options.max_seq_length}"]
    if options.finetune_epochs.get(task):
        flags.append(f"--num_train_epochs={options.finetune_epochs[task]}")
    if options.max_train_examples.get(task):
        flags.append(f"--max_train_examples={options.max_train_examples[task]}")
    return flags + list(options.finetune_flags)


def finetune_dir(options, task, name):
    return os.path.join(options.output_dir, "finetune", task, name)


def finetune(options, task, name, init_checkpoint, random_init=False):
    """Runs one fine-tuning (all seeds) unless its results are complete; returns them."""
    run_dir = finetune_dir(options, task, name)
    results = load_finetune_results(run_dir, options.num_seeds)
    if results is not None:
        _check_finetune_hparams(options, task, run_dir, results)
        return results
    command = finetune_command(init_checkpoint, run_dir, task_flags(options, task),
                               options.num_seeds, options.learning_rate, random_init=random_init)
    seconds = run_logged(command, os.path.join(run_dir, "finetune.log"))
    _record_time(options, f"finetune/{task}/{name}", seconds)
    _log({"ran": f"finetune/{task}/{name}", "seconds": round(seconds)})
    return load_finetune_results(run_dir, options.num_seeds)


def _check_finetune_hparams(options, task, run_dir, results):
    """A finished run reused by a resumed study must have the study's hyperparameters."""
    expected = {"learning_rate": options.learning_rate,
                "max_seq_length": options.max_seq_length,
                "max_train_examples": options.max_train_examples.get(task),
                "random_init": results["hparams"].get("random_init")}
    if options.finetune_epochs.get(task):
        expected["num_train_epochs"] = options.finetune_epochs[task]
    found = {key: results["hparams"].get(key) for key in expected}
    if found != expected:
        raise ValueError(f"{run_dir}: finished with {found}, but this study asks for "
                         f"{expected}; use a new --output_dir.")


def _score(results, metric):
    return {"median": dev_metrics(results)[metric], "per_seed": per_seed_metric(results, metric)}


def collect_results(options, plans, budget, budget_source, config, scores):
    """The study dict `keras_electra.studies.report` renders (see its docstring)."""
    from keras_electra.training.run_finetuning import default_num_train_epochs

    timings = _read_json(os.path.join(options.output_dir, TIMINGS_NAME), {})
    curves = {}
    for objective in plans:
        names, rows = scalar_curve(pretrain_dir(options, objective), STUDY_CURVES)
        curves[objective] = {"names": names, "columns": list(STUDY_CURVES),
                             "rows": [list(row) for row in rows]}
    return {
        "budget_flops": budget,
        "budget_source": budget_source,
        "setup": {
            "config": f"`{options.config_path or 'ElectraConfig()'}`"
                      + (f" with `--hparams={options.hparams}`" if options.hparams else ""),
            "model": f"hidden {config.hidden_size} × {config.num_layers} layers, embedding "
                     f"{config.embedding_size}, vocab {config.vocab_size}, generator width "
                     f"{config.generator_width}, temperature {config.temperature}, "
                     f"lr {config.learning_rate}, warmup {config.num_warmup_steps} steps",
            "pre-training step": f"batch {config.train_batch_size} × "
                                 f"{config.max_seq_length} tokens",
            "corpus": f"`{options.input_files}`",
            "curve points": f"{options.points} checkpoints of one run per objective, at equal "
                            "fractions of its budget; the learning rate decays to 0 at the "
                            "full budget, so earlier points are not annealed",
        },
        "plans": {o: p.to_dict() for o, p in plans.items()},
        "pretrain_seconds": {o: timings.get(f"pretrain/{o}") for o in plans},
        "finetune": {
            "tasks": ", ".join(options.tasks),
            "learning rate": options.learning_rate,
            "epochs": ", ".join(
                f"{t}: {options.finetune_epochs.get(t) or default_num_train_epochs(t):g}"
                for t in options.tasks),
            "max train examples": ", ".join(f"{t}: {options.max_train_examples.get(t) or 'all'}"
                                            for t in options.tasks),
            "max_seq_length": options.max_seq_length,
            "seeds": f"{options.num_seeds} (score = median over seeds)",
        },
        "tasks": scores,
        "curves": curves,
    }


def run_study(options, flops_fn=None):
    """Runs every step of the study (see the module docstring); returns the study dict."""
    check_options(options)
    os.makedirs(options.output_dir, exist_ok=True)
    config = resolve_config(options)
    for objective in options.objectives:  # an unknown objective fails before any run
        config.with_overrides({"objective": objective})
    config, vocab_path = ensure_vocab(options, config)
    plans, budget, budget_source = make_plans(options, config, flops_fn)
    check_plan(options, config, plans, budget)
    for plan in plans.values():
        _log({"plan": plan.objective, "flops_per_step": plan.flops_per_step,
              "steps": plan.steps, "point_steps": list(plan.point_steps),
              "total_flops": plan.total_flops})

    for plan in plans.values():
        pretrain(options, config, plan, vocab_path)
        for step in plan.point_steps:
            materialise_point(pretrain_dir(options, plan.objective), step,
                              point_dir(options, plan.objective, step))

    scores = {}
    for task in options.tasks:
        metric = GLUE_TASKS[task].metrics[0]
        entry = {"name": GLUE_TASKS[task].glue_dir, "metric": metric, "baseline": None,
                 "points": {}}
        for plan in plans.values():
            entry["points"][plan.objective] = []
            for step, flops in zip(plan.point_steps, plan.point_flops):
                name = f"{plan.objective}_step{step}"
                results = finetune(options, task, name,
                                   point_dir(options, plan.objective, step))
                entry["points"][plan.objective].append(
                    {"step": step, "flops": flops, **_score(results, metric)})
        if options.baseline:
            first = next(iter(plans.values()))
            results = finetune(options, task, BASELINE,
                               point_dir(options, first.objective, first.steps),
                               random_init=True)
            entry["baseline"] = _score(results, metric)
        scores[task] = entry

    study = collect_results(options, plans, budget, budget_source, config, scores)
    _write_json(study, os.path.join(options.output_dir, "results.json"))
    atomic_write_text(os.path.join(options.output_dir, "report.md"), render_report(study))
    plot_study(study, os.path.join(options.output_dir, "study.png"))
    _log({"report": os.path.join(options.output_dir, "report.md"),
          "plot": os.path.join(options.output_dir, "study.png")})
    return study
