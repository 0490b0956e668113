"""TensorBoard scalars of a pre-training run, every N optimizer steps.

`keras.callbacks.TensorBoard(update_freq=N)` counts `on_train_batch_end`
calls, writes the running means Keras keeps since the epoch began, and
knows nothing of throughput; `TrainingSummaries` counts optimizer updates
and writes interval means, the learning rate and tokens per second.
"""

import collections
import glob
import os
import time

import keras
import numpy as np
import tensorflow as tf


class TrainingSummaries(keras.callbacks.Callback):
    """Writes training scalars to `log_dir/train` every `log_every` optimizer steps.

    The step is the optimizer's update count (`model.optimizer.iterations`),
    so a resumed run continues its curves where they stopped. With
    `steps_per_execution=k > 1`, `fit` calls back once per k steps; a log is
    written whenever the step has crossed a multiple of `log_every` since the
    last one, at the step reached (k=3, log_every=2: steps 3, 6, 9, ...).

    Each log holds:

    * every entry of the `logs` `fit` passes (for `ElectraPretrainer`: `loss`,
      its generator and discriminator terms, the accuracies, replaced-token
      precision / recall / fraction, ...). After each log the model's metrics
      are reset, so a value is the mean over the steps since the previous log,
      not the running mean since the epoch began: a curve of running means
      flattens as the epoch grows and hides what happened in the last interval.
      (`fit` also resets them when an epoch begins, so an interval that spans
      an epoch boundary covers only its steps in the new epoch.) Entries that
      are not metrics, such as a per-step `gradient_norm`, are the last step's.
    * `learning_rate`: the rate the *next* update will use, i.e. the schedule
      at the current `iterations` (Keras evaluates the schedule at
      `iterations` before incrementing it in `apply`, so the update that made
      step s used `schedule(s - 1)`). Under a `LossScaleOptimizer`, the inner
      optimizer's rate.
    * `tokens_per_second` (and `examples_per_second` if `examples_per_step` is
      given): wall clock over the interval since the previous log. The clock
      starts at `on_train_begin`, so the first interval includes tracing and
      compilation of the train function.

    Non-finite values are written as they are (TensorBoard plots NaN);
    stopping on them is `NonFiniteLossGuard`'s job. `write_eval` writes
    evaluation results to `log_dir/eval`, on the same step axis.

    Args:
        log_dir: TensorBoard directory; event files go to `train/` and `eval/`.
        log_every: optimizer steps between logs.
        tokens_per_step: tokens in one global batch (batch × sequence length).
        examples_per_step: sequences in one global batch; `None` skips
            `examples_per_second`.
        is_chief: `False` writes nothing (in a multi-worker run only the chief
            logs); metrics are still reset, so every worker's `logs` mean the
            same thing.

    Example:

    >>> import tempfile
    >>> log_dir = tempfile.mkdtemp()
    >>> model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    >>> model.compile(optimizer="sgd", loss="mse")
    >>> summaries = TrainingSummaries(log_dir, log_every=2, tokens_per_step=8)
    >>> _ = model.fit(np.ones((8, 2)), np.ones((8, 1)), batch_size=2, verbose=0,
    ...               callbacks=[summaries])
    >>> scalars = read_scalars(os.path.join(log_dir, "train"))
    >>> [step for step, _ in scalars["loss"]]
    [2, 4]
    >>> sorted(scalars)
    ['learning_rate', 'loss', 'tokens_per_second']
    """

    def __init__(self, log_dir, log_every, tokens_per_step, examples_per_step=None,
                 is_chief=True):
        super().__init__()
        if int(log_every) < 1:
            raise ValueError(f"TrainingSummaries(log_every={log_every}): must be >= 1.")
        self.log_dir = os.fspath(log_dir)
        self.log_every = int(log_every)
        self.tokens_per_step = tokens_per_step
        self.examples_per_step = examples_per_step
        self.is_chief = is_chief
        self._writers = {}
        self._last_step = None
        self._last_time = None
        self._reset_pending = False

    # Deliberately not `async_safe`: the metric reset must happen between two
    # train-function calls, in order with them, which Keras' async callback
    # dispatch would not guarantee.

    def on_train_begin(self, logs=None):
        self._last_step = self._step()
        self._last_time = time.perf_counter()

    def on_train_batch_begin(self, batch, logs=None):
        # The reset after a log is deferred to here, the start of the next
        # execution: done at once, the epoch-end logs `fit` builds from the
        # model's metrics (History, ModelCheckpoint monitors) would read
        # emptied metrics, i.e. zeros, whenever an epoch ends on a log step.
        if self._reset_pending:
            for metric in self.model.metrics:
                metric.reset_state()
            self._reset_pending = False

    def on_train_batch_end(self, batch, logs=None):
        step = self._step()
        if self._last_step is None:  # driven without on_train_begin
            self._last_step = step - 1
        if step // self.log_every <= self._last_step // self.log_every:
            return
        now = time.perf_counter()
        scalars = {}
        for name, value in (logs or {}).items():
            value = np.asarray(value)
            if value.size == 1 and np.issubdtype(value.dtype, np.number):
                scalars[name] = float(value.reshape(()))
        scalars["learning_rate"] = self.learning_rate()
        if self._last_time is not None and now > self._last_time:
            steps_per_second = (step - self._last_step) / (now - self._last_time)
            scalars["tokens_per_second"] = self.tokens_per_step * steps_per_second
            if self.examples_per_step is not None:
                scalars["examples_per_second"] = self.examples_per_step * steps_per_second
        self._write("train", scalars, step)
        self._last_step, self._last_time = step, now
        self._reset_pending = True

    def on_train_end(self, logs=None):
        for writer in self._writers.values():
            writer.flush()

    def write_eval(self, logs, step):
        """Writes `logs` (e.g. `model.evaluate(..., return_dict=True)`) to `log_dir/eval`.

        Args:
            logs: `{name: scalar}`.
            step: the optimizer step the evaluated weights come from.
        """
        scalars = {name: float(np.asarray(value).reshape(())) for name, value in logs.items()}
        self._write("eval", scalars, int(step))
        if "eval" in self._writers:
            self._writers["eval"].flush()  # evaluations are rare; make them visible now

    def learning_rate(self):
        """The rate the next update will use: the schedule at the current step."""
        optimizer = self.model.optimizer
        optimizer = getattr(optimizer, "inner_optimizer", optimizer)
        return float(keras.ops.convert_to_numpy(optimizer.learning_rate))

    def _step(self):
        return int(keras.ops.convert_to_numpy(self.model.optimizer.iterations))

    def _write(self, split, scalars, step):
        if not self.is_chief:
            return
        if split not in self._writers:
            # Created on first use, so a non-chief (or a run that never
            # evaluates) leaves no empty directories behind.
            self._writers[split] = tf.summary.create_file_writer(
                os.path.join(self.log_dir, split))
        with self._writers[split].as_default(step=step):
            for name, value in scalars.items():
                tf.summary.scalar(name, value)


def read_scalars(event_dir):
    """`{tag: [(step, value), ...]}` from the TensorBoard event files in `event_dir`.

    Reads the TF2 summary format (`tf.summary.scalar` writes a tensor per
    value) and the TF1 `simple_value` one; files are read in name order
    (which is creation order) and each tag's points sorted by step.

    Args:
        event_dir: a directory holding `events.out.tfevents.*` files, e.g.
            `log_dir/train` of a `TrainingSummaries`.

    Example:

    >>> import tempfile
    >>> event_dir = tempfile.mkdtemp()
    >>> with tf.summary.create_file_writer(event_dir).as_default():
    ...     _ = tf.summary.scalar("loss", 0.5, step=3)
    >>> read_scalars(event_dir)
    {'loss': [(3, 0.5)]}
    """
    scalars = collections.defaultdict(list)
    for path in sorted(glob.glob(os.path.join(os.fspath(event_dir), "events.out.tfevents.*"))):
        # An event file is a TFRecord file of `Event` protos; read it directly
        # (`tf.compat.v1.train.summary_iterator` does the same, with a
        # deprecation warning).
        for record in tf.data.TFRecordDataset(path):
            event = tf.compat.v1.Event.FromString(record.numpy())
            for value in event.summary.value:
                if value.HasField("tensor"):
                    number = tf.make_ndarray(value.tensor)
                    if number.size != 1 or not np.issubdtype(number.dtype, np.number):
                        continue  # not a scalar summary (text, histogram, ...)
                    number = float(number.reshape(()))
                elif value.HasField("simple_value"):
                    number = float(value.simple_value)
                else:
                    continue
                scalars[value.tag].append((int(event.step), number))
    return {tag: sorted(points, key=lambda point: point[0]) for tag, points in scalars.items()}
