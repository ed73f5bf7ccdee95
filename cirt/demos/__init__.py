"""Chapters of ``cirt demo``: each tells one part of the story on the same workspace."""
