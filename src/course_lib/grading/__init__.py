"""Releasing student copies and grading submissions in a sandbox."""
