"""`TrainingCheckpoint`: everything a run needs to continue exactly where it stopped."""

import os
import re
import shutil

import tensorflow as tf
from absl import logging

from keras_electra.training.strategies import is_chief, worker_index
from keras_electra.training.train_iterator import host_iterators

_DATA_KEY = re.compile(r"^data_(\d+)/")


class TrainingCheckpoint:
    """Model, optimizer, dropout RNG state and data position, saved together.

    A `tf.train.Checkpoint` managed by a `tf.train.CheckpointManager` in
    `directory` (`ckpt-<step>.index/.data-*`, the newest `max_to_keep`
    kept). Saving is atomic where it matters: TensorFlow writes the tensors
    under a temporary name and renames them, and only then rewrites the
    small `checkpoint` state file (itself atomically), so a process killed
    mid-save leaves the previous checkpoint as the latest.

    What makes the resume exact:

    * model and optimizer variables (Adam moments, the step counter that
      also drives the learning-rate schedule and the per-step masking and
      sampling seeds);
    * the dropout layers' seed-generator states, which Keras does not track
      as checkpoint dependencies of the model;
    * the data position: the `tf.data` iterator(s) `fit` reads from (file
      offsets, shuffle buffers), attached once `fit` has created them
      (`attach_iterator`, called through `TrainIteratorMixin`). Where the
      strategy's iterator cannot be saved (multi-worker, TPU), `restore`
      reports it and the caller skips the consumed batches instead.

    Under `MultiWorkerMirroredStrategy` every worker saves (as TensorFlow
    requires), the non-chief ones to a scratch directory that `cleanup`
    removes, and every worker restores from the chief's `directory`
    (a shared filesystem, as for any multi-worker run).

    Args:
        directory: where checkpoints live (created).
        model: a compiled `keras.Model` (its optimizer is saved too).
        max_to_keep: checkpoints kept.
        strategy: the distribution strategy (default: the current one).

    Example:

    >>> checkpoint = TrainingCheckpoint("runs/x/checkpoints", pretrainer)  # doctest: +SKIP
    >>> step = checkpoint.restore()        # 0 on a fresh directory  # doctest: +SKIP
    >>> checkpoint.save(step=1000)  # doctest: +SKIP
    """

    def __init__(self, directory, model, max_to_keep=5, strategy=None):
        strategy = strategy or tf.distribute.get_strategy()
        self.directory = directory
        self.model = model
        self.is_chief = is_chief(strategy)
        self._write_directory = directory if self.is_chief else os.path.join(
            directory, f"worker_{worker_index(strategy)}.tmp")
        self._checkpoint = tf.train.Checkpoint(**self._state())
        self._manager = tf.train.CheckpointManager(
            self._checkpoint, self._write_directory, max_to_keep=max_to_keep,
            checkpoint_name="ckpt")
        self._num_data_iterators = None
        self.restored_data_iterators = 0
        self._restored_path = None

    def _state(self):
        # Dropout seed generators: ordered by layer traversal, which the
        # builders make identical for the same config.
        rng = [generator.state for layer in self.model._flatten_layers(include_self=False)
               for generator in getattr(layer, "_seed_generators", ())]
        return {"model": self.model, "optimizer": self.model.optimizer, "rng": rng}

    @property
    def latest(self):
        """Path prefix of the newest checkpoint in `directory`, or `None`."""
        return tf.train.latest_checkpoint(self.directory)

    def restore(self, path=None):
        """Restores the newest (or the given) checkpoint; returns its optimizer step.

        Model, optimizer and RNG state are restored now; the data iterators
        when `fit` creates them (`attach_iterator`). Returns 0 when there is
        no checkpoint. `restored_data_iterators` says how many iterator
        states the checkpoint holds (0: the position must be skipped to).
        """
        path = path or self.latest
        if path is None:
            return 0
        keys = {name for name, _ in tf.train.list_variables(path)}
        self.restored_data_iterators = len(
            {match.group(1) for match in map(_DATA_KEY.match, keys) if match})
        # expect_partial: the data iterators are restored later, or never (skip).
        self._checkpoint.read(path).assert_existing_objects_matched().expect_partial()
        self._restored_path = path
        step = int(self.model.optimizer.iterations.numpy())
        logging.info("Restored %s (step %d, %d data iterator state(s)).",
                     path, step, self.restored_data_iterators)
        return step

    def forget_data_position(self):
        """Do not restore iterator states (the caller skips to the position instead)."""
        if self._restored_path is not None and self.restored_data_iterators:
            # A fresh object: the one that read the checkpoint would restore
            # the saved iterator states into the iterators attached later.
            self._checkpoint = tf.train.Checkpoint(**self._state())
            self._manager = tf.train.CheckpointManager(
                self._checkpoint, self._write_directory, max_to_keep=self._manager._max_to_keep,
                checkpoint_name="ckpt")
        self.restored_data_iterators = 0

    def attach_iterator(self, iterator):
        """Tracks `fit`'s iterator; a pending restore sets its position now."""
        iterators = host_iterators(iterator)
        if iterators is None:
            if self._num_data_iterators is None:
                logging.info("The data iterator of this strategy cannot be checkpointed; "
                             "a resumed run skips the batches already consumed.")
            self._num_data_iterators = 0
            return
        if self.restored_data_iterators and self.restored_data_iterators != len(iterators):
            raise ValueError(
                f"{self._restored_path}: the checkpoint holds {self.restored_data_iterators} "
                f"data iterator state(s) but this run reads through {len(iterators)}; resume "
                "with the same strategy and replica count.")
        for index, it in enumerate(iterators):
            setattr(self._checkpoint, f"data_{index}", it)
        self._num_data_iterators = len(iterators)

    def save(self, step):
        """Writes `ckpt-<step>`; returns its path."""
        path = self._manager.save(checkpoint_number=step)
        logging.info("Saved %s", path)
        return path

    def cleanup(self):
        """Removes a non-chief worker's scratch checkpoints."""
        if not self.is_chief:
            shutil.rmtree(self._write_directory, ignore_errors=True)
