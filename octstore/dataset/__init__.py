"""Many files as one: :class:`Dataset`, its manifest, and moving datasets between places."""

from octstore.dataset.dataset import Dataset

__all__ = ["Dataset"]
