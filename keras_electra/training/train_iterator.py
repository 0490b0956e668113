"""Lets callbacks see (and restore) the data iterator `fit` trains from.

Keras creates the training iterator inside `fit` and hands it only to the
train function, so no callback can save its position. `TrainIteratorMixin`
wraps the train function of the model that mixes it in: the iterator is kept
as `model.train_iterator`, and functions registered with
`add_train_iterator_hook` run once per new iterator, before its first batch
is drawn (where a checkpoint restores the data position). Nothing of Keras
is patched; `host_iterators` digs out the checkpointable `tf.data`
iterators, which is the only use of TensorFlow internals here.
"""

import tensorflow as tf


class TrainIteratorMixin:
    """Mix into a `keras.Model` subclass (before `keras.Model` and other fit mixins)."""

    train_iterator = None

    def add_train_iterator_hook(self, hook):
        """Calls `hook(iterator)` for each new training iterator, before its first batch."""
        if not hasattr(self, "_train_iterator_hooks"):
            self._train_iterator_hooks = []
        self._train_iterator_hooks.append(hook)

    def remove_train_iterator_hook(self, hook):
        self._train_iterator_hooks.remove(hook)

    def make_train_function(self, force=False):
        super().make_train_function(force=force)
        function = self.train_function
        if getattr(function, "_tracks_iterator", False):
            return function

        def tracked(iterator):
            if iterator is not self.train_iterator:
                self.train_iterator = iterator
                for hook in list(getattr(self, "_train_iterator_hooks", ())):
                    hook(iterator)
            return function(iterator)

        tracked._tracks_iterator = True
        self.train_function = tracked
        return tracked


def host_iterators(iterator):
    """The checkpointable `tf.data` iterators feeding `iterator`, or `None`.

    A plain `tf.data.Iterator` (default strategy) is itself checkpointable; a
    `MirroredStrategy` iterator in `PER_REPLICA` mode without fetching to
    device (`strategies.distribute_dataset`) holds one per replica. Other
    distributed iterators (multi-device, multi-worker, TPU) cannot be saved
    by `tf.train.Checkpoint` in TF 2.21; `None` tells the caller to restore
    the position by skipping instead.
    """
    if isinstance(iterator, tf.data.Iterator) and hasattr(iterator, "_serialize_to_tensors"):
        return [iterator]
    workers = getattr(iterator, "_iterators", None)  # DistributedIterator internals
    if not workers:
        return None
    inner = [getattr(worker, "_iterator", None) for worker in workers]
    if all(isinstance(it, tf.data.Iterator) for it in inner):
        return inner
    return None
