collect_ignore_glob = ["fixtures/*"]

# Test files whose tests share a module fixture that grades or builds something once (tens of
# seconds): `graded` (test_grading), `attacked` (test_grading_attacks), `released`
# (test_release), `gradescope` (test_autograder). Add a file here when you give it one.
SHARED_FIXTURE_FILES = frozenset(
    {"test_grading.py", "test_grading_attacks.py", "test_release.py", "test_autograder.py"}
)


def pytest_xdist_make_scheduler(config, log):
    """`pytest -n N` (make unit, test-full-path, test-colab): each file above is one unit of
    work, run by one worker; every other test is a unit of its own, sent to whichever worker
    is free. xdist's default (`--dist load`) hands out fixed batches: the tests of one file
    landed on both workers (one then waited on the other's fixture, 35-50 s) and the twelve
    generated labs on one worker while the other sat idle (60 s). `--dist loadgroup` would do
    this with marks, but pytest 9.2 ignores them (pytest-xdist issue 1386)."""
    if config.getvalue("dist") != "load":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class SharedFixtureScheduling(LoadScopeScheduling):
        # LoadScopeScheduling sends the units with the most tests first (the files above),
        # then the single tests in collection order.
        def _split_scope(self, nodeid: str) -> str:
            path = nodeid.split("::", 1)[0]
            return path if path.rsplit("/", 1)[-1] in SHARED_FIXTURE_FILES else nodeid

    return SharedFixtureScheduling(config, log)
