"""`bench/turns.py`: benchmark processes that take turns, and `bench/pretrain_step.py` using it."""

import doctest
import json
import os
import subprocess
import sys
import textwrap

import pytest

from tests.test_case import REPO_ROOT

BENCH = os.path.join(REPO_ROOT, "bench")
sys.path.insert(0, BENCH)

import turns  # noqa: E402

# A toy side: "warms up" for 0.2 s, then times three turns of 0.05 s of work,
# logging each busy interval; `fail_at` fails at that turn (-1: before the
# first ready), `never` never fails.
CHILD = textwrap.dedent("""
    import json, sys, time
    sys.path.insert(0, {bench!r})
    from turns import report_timing, wait_for_turn
    name, log, fail_at = sys.argv[1], sys.argv[2], sys.argv[3]

    def busy(what, seconds):
        start = time.time()
        time.sleep(seconds)
        with open(log, "a") as f:
            f.write(f"{{name}} {{what}} {{start}} {{time.time()}}\\n")

    if fail_at == "-1":
        sys.exit("broken before warmup")
    busy("warmup", 0.2)
    for turn in range(3):
        wait_for_turn()
        if str(turn) == fail_at:
            sys.exit(f"boom at turn {{turn}}")
        busy("turn", 0.05)
        report_timing(0.05)
    print(json.dumps({{"name": name}}))
""")


def test_doctests():
    assert doctest.testmod(turns).failed == 0


def test_sides_take_turns_one_at_a_time_in_rotating_order_and_failures_stay_apart(tmp_path):
    child = tmp_path / "child.py"
    child.write_text(CHILD.format(bench=BENCH))
    log = tmp_path / "busy.log"
    commands = {name: [sys.executable, str(child), name, str(log), fail_at]
                for name, fail_at in (("a", "never"), ("b", "never"), ("c", "1"),
                                      ("d", "-1"))}
    results = turns.run_in_turns(commands, rounds=3, pause_s=0.0)

    for name in "ab":
        output, usage = results[name]
        assert json.loads(output.splitlines()[-1]) == {"name": name}
        assert usage.ru_maxrss > 0
    assert isinstance(results["c"], RuntimeError)
    assert "c side failed" in str(results["c"]) and "boom at turn 1" in str(results["c"])
    assert isinstance(results["d"], RuntimeError)
    assert "broken before warmup" in str(results["d"])

    entries = [line.split() for line in log.read_text().splitlines()]
    # Warmups one after another (each side ready before the next starts);
    # then round 1: a b c; round 2, rotated by one: b c (fails) a; round 3,
    # a and b left, rotated by two: a b.
    assert [(name, what) for name, what, *_ in entries] == [
        ("a", "warmup"), ("b", "warmup"), ("c", "warmup"),
        ("a", "turn"), ("b", "turn"), ("c", "turn"),
        ("b", "turn"), ("a", "turn"),
        ("a", "turn"), ("b", "turn")]
    intervals = sorted((float(start), float(end)) for *_, start, end in entries)
    for (_, end), (start, _) in zip(intervals, intervals[1:]):
        assert start >= end  # never two sides busy at once


@pytest.mark.slow
def test_pretrain_step_interleaves_both_sides(tmp_path):
    config = tmp_path / "micro.json"
    config.write_text(json.dumps({
        "vocab_size": 128, "embedding_size": 16, "hidden_size": 16, "num_layers": 1,
        "num_heads": 2, "intermediate_size": 32, "max_seq_length": 32,
        "max_position_embeddings": 32, "max_predictions_per_seq": 5}))
    output = subprocess.run(
        [sys.executable, "bench/pretrain_step.py", f"--config={config}", "--dtype=float32",
         "--batch_size=4", "--seq_length=32", "--steps=1", "--repeats=2", "--warmup=1",
         "--torch_compile=false", "--nomfu", "--turn_pause_s=0"],
        cwd=REPO_ROOT, capture_output=True, text=True, check=True).stdout
    record = json.loads(output.splitlines()[-1])
    assert record["interleaved"] is True
    assert len(record["keras_electra_ms_all"]) == len(record["transformers_torch_ms_all"]) == 2
    assert record["keras_electra_ms"] > 0 and record["transformers_torch_ms"] > 0
    assert record["speedup_vs_transformers"] == pytest.approx(
        record["transformers_torch_ms"] / record["keras_electra_ms"], abs=0.01)
    assert record["keras_electra_peak_rss_mb"] > 100
    assert record["transformers_torch_peak_rss_mb"] > 100
    assert "keras_electra_error" not in record and "transformers_torch_error" not in record
