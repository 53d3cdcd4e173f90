"""``scorematch.provenance``: the code fingerprint follows the source files (and only them); the git state of a
folder outside a checkout is unknown rather than an error."""

from scorematch.provenance import PACKAGE, code_fingerprint, git_state


def test_fingerprint_follows_the_source_files(tmp_path):
    def tree(name: str, extra: dict[str, str]) -> str:
        root = tmp_path / name
        (root / "sub").mkdir(parents=True)
        for rel, text in {"a.py": "x = 1\n", "sub/b.py": "y = 2\n", **extra}.items():
            (root / rel).write_text(text)
        return code_fingerprint(root)

    before = tree("one", {})
    assert len(before) == 16 and code_fingerprint(str(tmp_path / "one")) == before
    assert tree("two", {"notes.txt": "not code"}) == before  # the names and bytes of code files only
    assert tree("three", {"sub/b.py": "y = 3\n"}) != before
    assert tree("four", {"c.py": ""}) != before
    assert code_fingerprint(tmp_path / "one", ["a.py"]) != before  # the files named only


def test_the_default_is_the_package():
    assert code_fingerprint() == code_fingerprint(PACKAGE)
    assert (PACKAGE / "provenance.py").is_file()


def test_git_state_outside_a_checkout_is_unknown(tmp_path):
    assert git_state(tmp_path) == {"commit": None, "dirty": None}
    state = git_state()
    assert set(state) == {"commit", "dirty"}
