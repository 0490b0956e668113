"""The ELECTRA-vs-MLM efficiency study: plans, report, plot, and the pieces runs are made of.

No training here: the child processes are the CLIs' own tests' business, and
`python -m keras_electra.study` itself is smoke-run by hand (README).
"""

import dataclasses
import doctest
import json
import math
import os

import numpy as np
import pytest
import tensorflow as tf

from keras_electra.builders import build_pretrainer
from keras_electra.studies import efficiency, efficiency_study, jobs, report
from keras_electra.studies.efficiency import (
    PretrainPlan, budget_from_steps, flops_per_step, plan_pretraining, point_steps)
from keras_electra.studies.efficiency_study import (
    StudyOptions, check_options, check_plan, materialise_point, parse_per_task)
from tests.test_case import tiny_config


class FakeConfig:
    """Just what `flops_per_step` touches: the step's shape and `with_overrides`."""

    train_batch_size, max_seq_length = 32, 128

    def __init__(self, objective=None):
        self.objective = objective

    def with_overrides(self, values):
        return FakeConfig(values["objective"])


STUB_FLOPS = {"electra": 1500, "mlm": 1000}


def stub_flops(config, batch_size, seq_length):
    assert (batch_size, seq_length) == (32, 128)
    return STUB_FLOPS[config.objective]


def test_flops_per_step_sets_the_objective_and_the_step_shape():
    assert flops_per_step(FakeConfig(), ["electra", "mlm"], stub_flops) == STUB_FLOPS


def test_equal_flops_plan():
    plans = plan_pretraining(STUB_FLOPS, budget_flops=1_000_000, points=4)
    # 1e6 // 1500 = 666 steps, rounded down to a multiple of 4 points.
    assert plans["electra"] == PretrainPlan("electra", 1500, 664, (166, 332, 498, 664))
    assert plans["mlm"] == PretrainPlan("mlm", 1000, 1000, (250, 500, 750, 1000))
    assert plans["electra"].total_flops == 996_000
    assert plans["mlm"].total_flops == 1_000_000
    assert plans["mlm"].point_flops == (250_000, 500_000, 750_000, 1_000_000)
    assert plans["electra"].save_every == 166
    assert plans["mlm"].to_dict()["point_steps"] == [250, 500, 750, 1000]


def test_budget_in_electra_steps_gives_mlm_the_same_flops():
    budget = budget_from_steps("electra", 600, STUB_FLOPS)
    assert budget == 900_000
    plans = plan_pretraining(STUB_FLOPS, budget, points=3)
    assert (plans["electra"].steps, plans["mlm"].steps) == (600, 900)
    assert plans["electra"].total_flops == plans["mlm"].total_flops == 900_000
    assert plans["electra"].point_steps == (200, 400, 600)


def test_plan_errors():
    with pytest.raises(ValueError, match="fewer than points=4"):
        plan_pretraining(STUB_FLOPS, budget_flops=4000, points=4)  # 2 electra steps
    with pytest.raises(ValueError, match="needs 'electra' among the objectives"):
        budget_from_steps("electra", 10, {"mlm": 1000})
    with pytest.raises(ValueError, match="not a positive multiple"):
        point_steps(10, 3)


def test_real_flops_rank_electra_above_mlm_per_step():
    config = tiny_config()
    per_step = flops_per_step(config, ["electra", "mlm"])
    from keras_electra.flops import train_step_flops
    assert per_step["mlm"] == train_step_flops(
        config.with_overrides({"objective": "mlm"}), config.train_batch_size,
        config.max_seq_length)
    # The generator is extra work: an ELECTRA step costs more, so MLM gets more steps.
    assert per_step["electra"] > per_step["mlm"]


def test_parse_per_task():
    assert parse_per_task(["100", "sst2=4000"], ["sst2", "cola"], "--x") == \
        {"sst2": 4000, "cola": 100}
    assert parse_per_task([], ["sst2"], "--x") == {"sst2": None}
    with pytest.raises(ValueError, match="'rte' is not one of the tasks"):
        parse_per_task(["rte=5"], ["sst2"], "--x")
    with pytest.raises(ValueError, match="expected a number or TASK=number"):
        parse_per_task(["sst2=many"], ["sst2"], "--x")


def test_check_options(tmp_path):
    (tmp_path / "SST-2").mkdir()
    good = dict(output_dir=str(tmp_path / "out"), input_files="x.txt", budget_flops=1e12,
                tasks=("sst2",), glue_dir=str(tmp_path))
    check_options(StudyOptions(**good))
    with pytest.raises(ValueError, match="exactly one of --budget_flops"):
        check_options(StudyOptions(**dict(good, budget_steps=("electra", 10))))
    with pytest.raises(ValueError, match="exactly one of --budget_flops"):
        check_options(StudyOptions(**dict(good, budget_flops=None)))
    with pytest.raises(ValueError, match="CoLA: no such directory"):
        check_options(StudyOptions(**dict(good, tasks=("cola",))))
    with pytest.raises(ValueError, match="'squad' is not a GLUE task"):
        check_options(StudyOptions(**dict(good, tasks=("squad",))))
    with pytest.raises(ValueError, match="--glue_dir is required"):
        check_options(StudyOptions(**dict(good, glue_dir=None)))


def test_a_resumed_study_must_keep_its_plan(tmp_path):
    options = StudyOptions(output_dir=str(tmp_path), input_files="x.txt", budget_flops=1e6)
    config = tiny_config()
    check_plan(options, config, plan_pretraining(STUB_FLOPS, 1e6, 2), 1e6)
    check_plan(options, config, plan_pretraining(STUB_FLOPS, 1e6, 2), 1e6)  # same: fine
    with pytest.raises(ValueError, match="another plan or config"):
        check_plan(options, config, plan_pretraining(STUB_FLOPS, 2e6, 2), 2e6)
    with open(tmp_path / "plan.json") as f:
        assert json.load(f)["plans"]["mlm"]["steps"] == 1000


def test_task_flags(tmp_path):
    options = StudyOptions(output_dir="out", input_files="x", budget_flops=1.0,
                           glue_dir="glue", max_train_examples={"sst2": 4000, "cola": None},
                           finetune_epochs={"sst2": 1.0}, max_seq_length=64)
    assert efficiency_study.task_flags(options, "sst2") == [
        "--task=sst2", f"--data_dir={os.path.join('glue', 'SST-2')}", "--max_seq_length=64",
        "--num_train_epochs=1.0", "--max_train_examples=4000"]
    cola = " ".join(efficiency_study.task_flags(options, "cola"))
    assert "--max_train_examples" not in cola and "--num_train_epochs" not in cola


def test_pretrain_command_checkpoints_every_point(tmp_path, monkeypatch):
    commands = []
    monkeypatch.setattr(efficiency_study, "run_logged",
                        lambda command, log: commands.append(command) or 1.0)
    options = StudyOptions(output_dir=str(tmp_path), input_files="corpus.txt", budget_flops=1.0,
                           log_every=7, pretrain_flags=("--deterministic",))
    plan = PretrainPlan("mlm", 1000, 900, (300, 600, 900))
    efficiency_study.pretrain(options, tiny_config(), plan, "vocab.txt")
    (command,) = commands
    assert command[1:3] == ["-m", "keras_electra.pretrain"]
    for flag in ("--num_train_steps=900", "--save_checkpoints_steps=300",
                 "--keep_checkpoint_max=3", "--log_every=7", "--vocab_file=vocab.txt",
                 "--input_files=corpus.txt", "--deterministic",
                 f"--model_dir={tmp_path / 'pretrain' / 'mlm'}"):
        assert flag in command
    with open(tmp_path / "configs" / "mlm.json") as f:
        written = json.load(f)
    assert (written["objective"], written["num_train_steps"], written["vocab_file"]) == \
        ("mlm", 900, None)
    with open(tmp_path / "timings.json") as f:
        assert json.load(f) == {"pretrain/mlm": 1.0}


def test_finished_finetune_runs_are_reused_only_with_the_same_hparams(tmp_path, monkeypatch):
    monkeypatch.setattr(efficiency_study, "run_logged", lambda *args: pytest.fail("ran again"))
    options = StudyOptions(output_dir=str(tmp_path), input_files="x", budget_flops=1.0,
                           learning_rate=3e-4, max_seq_length=64,
                           max_train_examples={"sst2": 100})
    run = tmp_path / "finetune" / "sst2" / "electra_step5"
    run.mkdir(parents=True)
    seed = {"metrics": {"sst2": {"accuracy": 0.7}}}
    (run / jobs.RESULTS_NAME).write_text(json.dumps(dict(seed, per_seed=[seed], hparams={
        "learning_rate": 3e-4, "max_seq_length": 64, "max_train_examples": 100,
        "random_init": False, "num_train_epochs": 3.0})))
    results = efficiency_study.finetune(options, "sst2", "electra_step5", "unused")
    assert jobs.dev_metrics(results) == {"accuracy": 0.7}
    with pytest.raises(ValueError, match="use a new --output_dir"):
        efficiency_study.finetune(dataclasses.replace(options, learning_rate=1e-3), "sst2",
                                  "electra_step5", "unused")


def test_materialise_point_copies_that_checkpoint(tmp_path):
    config = tiny_config()
    run_dir = tmp_path / "run"
    (run_dir / "checkpoints").mkdir(parents=True)
    tokens = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    tokens += [f"t{i}" for i in range(config.vocab_size - len(tokens))]
    (run_dir / "vocab.txt").write_text("\n".join(tokens) + "\n")
    config.to_json(str(run_dir / "config.json"))
    pretrainer = build_pretrainer(config)
    tf.train.Checkpoint(model=pretrainer).write(str(run_dir / "checkpoints" / "ckpt-4"))
    target = tmp_path / "point"
    assert materialise_point(str(run_dir), 4, str(target))
    assert not materialise_point(str(run_dir), 4, str(target))  # already there
    assert sorted(os.listdir(target)) == ["config.json", "pretrainer.weights.h5", "vocab.txt"]
    reloaded = build_pretrainer(config)
    reloaded.load_weights(str(target / "pretrainer.weights.h5"))
    for a, b in zip(pretrainer.weights, reloaded.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    with pytest.raises(ValueError, match="no ckpt-8"):
        materialise_point(str(run_dir), 8, str(tmp_path / "other"))


def test_finetune_results_and_curves(tmp_path):
    run = tmp_path / "ft"
    run.mkdir()
    results = {"metrics": {"sst2": {"accuracy": 0.8}},
               "per_seed": [{"metrics": {"sst2": {"accuracy": 0.7}}},
                            {"metrics": {"sst2": {"accuracy": 0.8}}}]}
    (run / jobs.RESULTS_NAME).write_text(json.dumps(results))
    assert jobs.load_finetune_results(str(run), num_seeds=3) is None  # one seed missing
    loaded = jobs.load_finetune_results(str(run), num_seeds=2)
    assert jobs.dev_metrics(loaded) == {"accuracy": 0.8}
    assert jobs.per_seed_metric(loaded, "accuracy") == [0.7, 0.8]

    with tf.summary.create_file_writer(str(tmp_path / "pre" / "logs" / "train")).as_default():
        for step, recall in ((10, 0.01), (20, 0.2)):
            tf.summary.scalar("replaced_recall", recall, step=step)
        tf.summary.scalar("generator_accuracy", 0.3, step=20)
    names, rows = jobs.scalar_curve(str(tmp_path / "pre"))
    assert names == ["replaced_recall", "generator_accuracy"]
    assert [r[0] for r in rows] == [10, 20]
    assert rows[1][1] == pytest.approx(0.2) and math.isnan(rows[0][2])


def test_run_logged_quotes_the_log_of_a_failed_run(tmp_path):
    log = tmp_path / "x.log"
    command = jobs.module_command("no_such_module_here")
    with pytest.raises(RuntimeError, match="No module named no_such_module_here"):
        jobs.run_logged(command, str(log))


def _point(step, flops, score, seeds=None):
    return {"step": step, "flops": flops, "median": score, "per_seed": seeds or [score]}


def fake_study(recalls=(0.01, 0.02, 0.01)):
    columns = list(efficiency_study.STUDY_CURVES)
    rows = [[100 * (i + 1), r, 0.5, 0.6, 0.3 + 0.01 * i, math.nan]
            for i, r in enumerate(recalls)]
    return {
        "budget_flops": 3e12,
        "budget_source": "--budget_flops",
        "setup": {"config": "`configs/electra_tiny.json`"},
        "plans": {
            "electra": PretrainPlan("electra", 1e10, 300, (150, 300)).to_dict(),
            "mlm": PretrainPlan("mlm", 9e9, 332, (166, 332)).to_dict(),
        },
        "pretrain_seconds": {"electra": 600.0, "mlm": None},
        "finetune": {"seeds": 1},
        "tasks": {
            "sst2": {"name": "SST-2", "metric": "accuracy",
                     "baseline": {"median": 0.79, "per_seed": [0.79]},
                     "points": {"electra": [_point(150, 1.5e12, 0.70), _point(300, 3e12, 0.80)],
                                "mlm": [_point(166, 1.494e12, 0.72),
                                        _point(332, 2.988e12, 0.75)]}},
            "cola": {"name": "CoLA", "metric": "mcc", "baseline": None,
                     "points": {"electra": [_point(150, 1.5e12, 0.0), _point(300, 3e12, 0.02)],
                                "mlm": [_point(166, 1.494e12, 0.0),
                                        _point(332, 2.988e12, 0.05)]}},
        },
        "curves": {"electra": {"names": columns[:4], "columns": columns, "rows": rows},
                   "mlm": {"names": ["discriminator_mlm_accuracy"], "columns": columns,
                           "rows": [[100, math.nan, math.nan, math.nan, math.nan, 0.4]]}},
    }


def test_report_states_the_verdict_per_task_and_the_plateau():
    text = report.render_report(fake_study())
    assert ("**SST-2** (accuracy, 3e+12 FLOPs each): ELECTRA is above MLM at equal FLOPs, "
            "0.8000 vs 0.7500 (+0.0500). Random init scores 0.7900: ELECTRA beats it.") in text
    assert ("**CoLA** (mcc, 3e+12 FLOPs each): ELECTRA is below MLM at equal FLOPs, "
            "0.0200 vs 0.0500 (-0.0300).") in text
    assert "against the paper's direction" in text
    assert "ended in the all-original plateau: its replaced-token recall was 0.010 at step 300" \
        in text and "(peak 0.020 at step 200)" in text
    assert "One fine-tuning seed per point" in text
    # The plan, the table, the curve and the plot.
    assert "| ELECTRA | 1e+10 | 300 | 3e+12 | 150, 300 | 10.0 min |" in text
    assert "| MLM | 9e+09 | 332 | 2.99e+12 | 166, 332 | — |" in text
    assert "| SST-2 | accuracy | ELECTRA | 0.50 | 150 | 1.5e+12 | 0.7000 | 0.7000 |" in text
    assert "| SST-2 | accuracy | random init | 0 | 0 | 0 | 0.7900 | 0.7900 |" in text
    assert "| 200 | 0.0200 | 0.5000 | 0.6000 | 0.3100 |" in text
    assert "## MLM pre-training" in text and "| step | MLM accuracy |" in text
    assert "| 100 | 0.4000 |" in text
    assert "![dev score against pre-training FLOPs](study.png)" in text


def test_report_says_when_fine_tuning_cannot_tell_the_encoders_apart():
    study = fake_study()
    for point in [p for ps in study["tasks"]["sst2"]["points"].values() for p in ps]:
        point["median"] = 0.5092
    study["tasks"]["sst2"]["baseline"]["median"] = 0.5092
    text = report.render_report(study)
    assert "ELECTRA and MLM tie at equal FLOPs, 0.5092 vs 0.5092 (+0.0000)" in text
    assert "Every run of this task scored the same" in text
    assert text.count("Every run of this task scored the same") == 1  # not CoLA


def test_report_when_electra_wins_after_leaving_the_plateau():
    study = fake_study(recalls=(0.01, 0.12, 0.3))
    study["tasks"]["cola"]["points"]["electra"][-1]["median"] = 0.1
    text = report.render_report(study)
    assert "ELECTRA is above MLM at equal FLOPs on every task: the paper's direction." in text
    assert "out of the all-original plateau from step 200 of 300 on (67% of its budget" in text


def test_report_when_electra_loses_after_leaving_the_plateau_early():
    study = fake_study(recalls=(0.2, 0.3, 0.3))
    for point in study["tasks"]["sst2"]["points"]["mlm"]:
        point["per_seed"] = [0.7, 0.9]
    for point in study["tasks"]["sst2"]["points"]["electra"]:
        point["per_seed"] = [0.75, 0.85]
    text = report.render_report(study)
    assert "the plateau does not explain it" in text
    assert "On SST-2 the per-seed ranges of the two objectives overlap" in text


def test_plot_is_written(tmp_path):
    path = tmp_path / "study.png"
    report.plot_study(fake_study(), str(path))
    data = path.read_bytes()
    assert data.startswith(b"\x89PNG") and len(data) > 10_000
    assert os.listdir(tmp_path) == ["study.png"]  # no temporary file left


def test_docstring_examples():
    for module in (efficiency, report, efficiency_study, jobs):
        assert doctest.testmod(module).failed == 0
