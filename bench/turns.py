"""Benchmark processes that take turns: one timing of each side per round, never two at once.

This machine is shared: a slow spell of a minute or two (another tenant's
job) can land on one side of a comparison and not the other when the sides
run one after the other. `bench/pretrain_step.py` starts every side in a
process of its own, lets each warm up, then hands out turns: in each round
every side times `--steps` steps while the others wait, blocked on a pipe.
A slow spell then falls on the sides alike and the ratio of the medians
keeps its meaning; each side's peak RSS is still its own process's.

The protocol, on the child's stdin and stdout (one line each):

* the child prints `turn:ready` and blocks until the driver writes `go`;
* it runs its timed steps and prints `turn:timing <seconds per step>`;
* after its last timing it prints its result (its last stdout line) and exits.

Child side:

    wait_for_turn()          # blocks until the driver says go
    start = time.perf_counter()
    run_steps(n)
    report_timing((time.perf_counter() - start) / n)

Driver side, `TurnTaker`:

>>> import sys
>>> child = ("from turns import wait_for_turn, report_timing\\n"
...          "for t in (0.5, 0.25):\\n"
...          "    wait_for_turn()\\n"
...          "    report_timing(t)\\n"
...          "print('{\\"done\\": true}')")
>>> taker = TurnTaker([sys.executable, "-c", child], name="toy", env={"PYTHONPATH": HERE})
>>> taker.wait_ready()
>>> first = taker.take_turn()
>>> taker.wait_ready()
>>> first, taker.take_turn()
(0.5, 0.25)
>>> output, usage = taker.finish()
>>> output.splitlines()[-1]
'{"done": true}'
"""

import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
READY = "turn:ready"
TIMING = "turn:timing "


def wait_for_turn(stdin=None, stdout=None):
    """Child: says it is ready, then blocks until the driver writes `go`."""
    stdin, stdout = stdin or sys.stdin, stdout or sys.stdout
    print(READY, file=stdout, flush=True)
    line = stdin.readline()
    if line.strip() != "go":
        raise SystemExit(f"turns: expected 'go' on stdin, got {line.strip()!r}")


def report_timing(seconds, stdout=None):
    """Child: one timing (seconds per step) back to the driver."""
    print(f"{TIMING}{seconds!r}", file=stdout or sys.stdout, flush=True)


class TurnTaker:
    """Drives one benchmark child process through its turns.

    A child that takes none is run to its end by `finish` alone.

    The child's stderr goes to a temporary file (a pipe nobody reads could
    fill and block it); its tail is in the error when the child fails.

    Args:
        command: the child's command line.
        name: the side's name, for errors.
        env: its environment (default: this process's).
    """

    def __init__(self, command, name, env=None):
        self.name = name
        self._err = tempfile.TemporaryFile("w+")
        self._process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                         stderr=self._err, env=env, text=True)
        self._output = []

    def wait_ready(self):
        """Reads the child's stdout up to its `turn:ready` line."""
        self._read_until(lambda line: line == READY, "turn:ready")

    def take_turn(self):
        """Lets the ready child run one timing; returns its seconds per step.

        Call `wait_ready` before the next turn (a child past its last timing
        prints its result instead: `finish`)."""
        self._process.stdin.write("go\n")
        self._process.stdin.flush()
        line = self._read_until(lambda line: line.startswith(TIMING), "turn:timing")
        return float(line[len(TIMING):])

    def finish(self):
        """Waits for the child to exit; returns (its stdout, its `resource` usage).

        The usage is `wait4`'s: the child's own peak RSS is `ru_maxrss` (KiB on Linux)."""
        self._process.stdin.close()
        self._output.extend(line.rstrip("\n") for line in self._process.stdout)
        _, status, usage = os.wait4(self._process.pid, 0)
        self._process.returncode = os.waitstatus_to_exitcode(status)
        if self._process.returncode:
            self._fail(f"exit {self._process.returncode}")
        self._err.close()
        return "\n".join(self._output), usage

    def kill(self):
        """Stops the child (after another side failed, or on an error)."""
        if self._process.poll() is None:
            self._process.kill()
            self._process.wait()
        self._err.close()

    def _read_until(self, wanted, what):
        for line in self._process.stdout:
            line = line.rstrip("\n")
            if wanted(line):
                return line
            self._output.append(line)
        self._process.wait()
        self._fail(f"exit {self._process.returncode} before its {what!r} line")

    def _fail(self, why):
        self._err.seek(0)
        errors = self._err.read()
        self.kill()
        raise RuntimeError(f"{self.name} side failed ({why}): {errors[-3000:]}")


def run_in_turns(commands, rounds, pause_s=1.0, env=None):
    """Runs each child's timings in turns; returns {name: (stdout, usage) or RuntimeError}.

    The children start one at a time, each warmed up (ready) before the next
    starts, so no warmup slows another's. Then `rounds` rounds: every live
    child takes one turn, after `pause_s` idle seconds (the previous child's
    worker threads stop spinning), the order rotating by one each round so
    no side always follows the same one. A child that fails is dropped with
    its error; the others go on.

    Args:
        commands: {name: command line}, in the order of the first round.
        rounds: turns per child (its timings).
        pause_s: idle seconds before each turn.
        env: the children's environment.
    """
    takers, results = {}, {}
    for name, command in commands.items():
        taker = TurnTaker(command, name, env)
        try:
            taker.wait_ready()
            takers[name] = taker
        except RuntimeError as e:
            results[name] = e
    try:
        for round_ in range(rounds):
            live = [name for name in takers if name not in results]
            shift = round_ % len(live) if live else 0
            for name in live[shift:] + live[:shift]:
                time.sleep(pause_s)
                try:
                    takers[name].take_turn()
                    if round_ < rounds - 1:
                        takers[name].wait_ready()
                except RuntimeError as e:
                    results[name] = e
        for name, taker in takers.items():
            if name not in results:
                try:
                    results[name] = taker.finish()
                except RuntimeError as e:
                    results[name] = e
    finally:
        for taker in takers.values():
            taker.kill()
    return {name: results[name] for name in commands}
