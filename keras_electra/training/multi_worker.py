"""`fit`/`evaluate` under `MultiWorkerMirroredStrategy` for our models only.

Keras 3's stock `fit` fails under `MultiWorkerMirroredStrategy`
(keras-team/keras#20585), in two places:

1. `_maybe_symbolic_build` consumes a batch of the distributed iterator and
   `strategy.reduce`s the dict of `PerReplica` inputs, which the collective
   all-reduce cannot take ("PerReplica ... to a Tensor").
2. `reduce_per_replica` calls `strategy.reduce("MEAN", v, axis=0)` on the
   scalar logs under a multi-worker strategy ("Invalid reduction dimension 0
   for input with 0 dimensions").

`MultiWorkerFitMixin` replaces exactly those two steps on the model class that
mixes it in (no Keras global is patched): the model is built in its
constructor, so there is nothing to build symbolically, and the train/test
function runs `strategy.run(step)` and all-reduces each scalar log with
`axis=None`. Everything else (callbacks, epochs, the step itself) is stock
`fit`. Under any other strategy the stock functions are used.

Limitations (multi-worker only): `steps_per_execution` must be 1, and every
worker must run the same number of steps (give `fit` a repeated dataset and
`steps_per_epoch`, as Keras' multi-worker guide requires anyway).
"""

import tensorflow as tf


def is_multi_worker(strategy):
    """True for a `MultiWorkerMirroredStrategy` spanning more than one worker."""
    return (isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)
            and strategy.extended._in_multi_worker_mode())  # noqa: SLF001 (no public API)


class MultiWorkerFitMixin:
    """Mix into a `keras.Model` subclass (before `keras.Model`) to make `fit` work
    under `MultiWorkerMirroredStrategy`; the model must be built in `__init__`."""

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        if is_multi_worker(self.distribute_strategy) and self.built:
            return  # Nothing to build; Keras' version fails here (1 above).
        return super()._maybe_symbolic_build(iterator=iterator, data_batch=data_batch)

    def make_train_function(self, force=False):
        if not is_multi_worker(self.distribute_strategy):
            return super().make_train_function(force=force)
        if self.train_function is None or force:
            self.train_function = self._multi_worker_function(self.train_step)
        return self.train_function

    def make_test_function(self, force=False):
        if not is_multi_worker(self.distribute_strategy):
            return super().make_test_function(force=force)
        if self.test_function is None or force:
            self.test_function = self._multi_worker_function(self.test_step)
        return self.test_function

    def _multi_worker_function(self, step_function):
        if self.steps_per_execution != 1:
            raise ValueError(
                "steps_per_execution must be 1 under MultiWorkerMirroredStrategy, got "
                f"{self.steps_per_execution}.")
        strategy = self.distribute_strategy

        @tf.function(reduce_retracing=True)
        def one_step(data):
            outputs = strategy.run(step_function, args=(data,))
            # Scalar logs: the mean over all replicas of all workers (2 above).
            return tf.nest.map_structure(
                lambda value: strategy.reduce("MEAN", value, axis=None), outputs)

        def function(iterator):
            # `next` raises StopIteration at the end of a finite dataset, which
            # Keras' epoch loop handles as it does for its own functions.
            return one_step(next(iterator))

        return function
