"""Course tooling for maintainers and instructors (not imported by the notebooks)."""
