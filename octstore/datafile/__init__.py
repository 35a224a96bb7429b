"""The user's file: :class:`Datafile`, and what it needs to open, read in parts and name files."""

from octstore.datafile.datafile import Datafile

__all__ = ["Datafile"]
