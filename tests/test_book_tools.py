"""The chapter runner (vsml/book_runner.py, vsml/book.py) and the benchmark script (vsml/bench.py)."""
import nbformat
import pytest

from vsml import bench, book, book_runner

CHAPTER = '''# %% [markdown]
# # A tiny chapter
#
# COLAB_BADGE

# %% tags=["parameters"]
smoke = False
value = 1

# %%
print("repo:", "REPO_URL")
assert value != 13, "boom"
print("value is", value)
'''


@pytest.fixture
def tiny_book(tmp_path, monkeypatch):
    src = tmp_path / "book" / "src"
    src.mkdir(parents=True)
    (src / "99_tiny.py").write_text(CHAPTER)
    monkeypatch.setattr(book_runner, "SRC", src)
    monkeypatch.setattr(book_runner, "BOOK", tmp_path / "book")
    monkeypatch.setattr(book_runner, "ROOT", tmp_path)
    monkeypatch.delenv("VSML_SMOKE", raising=False)  # the test command sets it; these runs are "full" ones
    (tmp_path / "_config.yml").write_text("repository:\n  url: https://github.com/someone/somebook\n  branch: dev\n")
    return tmp_path


def test_build_notebook_fills_badge_and_repo(tiny_book):
    nb = book_runner.build_notebook(tiny_book / "book" / "src" / "99_tiny.py", tiny_book / "book" / "99_tiny.ipynb")
    assert "colab.research.google.com/github/someone/somebook/blob/dev/book/99_tiny.ipynb" in nb.cells[0].source
    assert "https://github.com/someone/somebook" in nb.cells[2].source
    assert nb.metadata["kernelspec"]["name"] == "python3"
    assert "parameters" in nb.cells[1].metadata["tags"]


def test_find_chapters(tiny_book):
    assert [p.stem for p in book_runner.find_chapters(["99"])] == ["99_tiny"]
    assert [p.stem for p in book_runner.find_chapters(["all"])] == ["99_tiny"]
    with pytest.raises(ValueError, match="known: 99_tiny"):
        book_runner.find_chapters(["42"])


def test_unknown_parameter_is_a_one_line_error(tiny_book, capsys):
    assert book_runner.parameter_names(tiny_book / "book" / "src" / "99_tiny.py") == ["smoke", "value"]
    assert book_runner.main(["run", "99", "-p", "valeu", "3"]) == 2
    err = capsys.readouterr().err
    assert err == "error: chapter 99_tiny has no parameter 'valeu'; its parameters: smoke, value\n"
    assert book_runner.main(["run", "99", "-p", "value", "[1"]) == 2
    assert capsys.readouterr().err.startswith("error: -p value: cannot read the value '[1'")
    assert not (tiny_book / "book" / "99_tiny.ipynb").exists()  # nothing ran


def test_device_flag_is_checked_before_anything_runs(tiny_book, capsys):
    assert book_runner.main(["run", "99", "--device", "tpu"]) == 2
    assert capsys.readouterr().err.startswith("error: unknown device 'tpu'")
    assert book_runner.main(["run", "99", "--device", "cpu"]) == 2  # the tiny chapter has no device parameter
    assert "has no parameter 'device'" in capsys.readouterr().err
    assert not (tiny_book / "book" / "99_tiny.ipynb").exists()


def test_run_replaces_chapter_only_on_success(tiny_book, capsys):
    stored = tiny_book / "book" / "99_tiny.ipynb"
    assert book_runner.main(["run", "99", "-p", "value", "7"]) == 0
    nb = nbformat.read(stored, as_version=4)
    outputs = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    assert "value is 7" in outputs
    assert "papermill" not in nb.metadata
    before = stored.read_bytes()
    assert book_runner.main(["run", "99", "-p", "value", "13"]) == 1   # the chapter raises
    assert stored.read_bytes() == before                        # stored notebook untouched
    assert "failed" in capsys.readouterr().err


def test_smoke_switch_wins(monkeypatch):
    monkeypatch.setenv("VSML_SMOKE", "1")
    run = book.chapter_setup(smoke=False, device="cuda:0", quiet=True)
    assert run.smoke and run.device == "cpu"
    monkeypatch.setenv("VSML_SMOKE", "0")
    assert not book.chapter_setup(smoke=False, quiet=True).smoke


def test_benchmark_rows_agree_with_reference():
    rows = bench.benchmark(pop_size=2, A=6, B=3, repeats=1, compile=False)
    assert [r["formulation"] for r in rows] == ["reference", "fast eager"] * 2
    assert all(r["max_diff"] < 1e-5 and r["mticks"] > 0 for r in rows)


def test_prose_refresh_keeps_outputs_and_refuses_changed_code(tiny_book, capsys):
    src, stored = tiny_book / "book" / "src" / "99_tiny.py", tiny_book / "book" / "99_tiny.ipynb"
    assert book_runner.main(["prose", "99"]) == 2 and "no stored notebook" in capsys.readouterr().err
    assert book_runner.main(["run", "99", "-p", "value", "7"]) == 0
    src.write_text(CHAPTER.replace("# # A tiny chapter", "# # A tiny chapter, retitled"))
    assert book_runner.stale_cells(src, stored) == ([], [0])
    assert book_runner.main(["prose", "99"]) == 0
    nb = nbformat.read(stored, as_version=4)
    assert nb.cells[0].source.startswith("# A tiny chapter, retitled")
    assert "value is 7" in "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    assert "injected-parameters" in nb.cells[2].metadata["tags"]  # papermill's -p cell kept in place
    assert book_runner.stale_cells(src, stored) == ([], [])
    src.write_text(CHAPTER.replace("# # A tiny chapter", "# # A tiny chapter, retitled")
                   .replace("# %%\nprint(", '# %% tags=["hide-input"]\nprint('))  # a tag: presentation
    assert book_runner.stale_cells(src, stored) == ([], ["code 1 metadata"])
    title_id = nbformat.read(stored, as_version=4).cells[0].id
    assert book_runner.main(["prose", "99"]) == 0
    assert "hide-input" in nbformat.read(stored, as_version=4).cells[3].metadata["tags"]
    assert nbformat.read(stored, as_version=4).cells[0].id == title_id  # unchanged text keeps its cell id
    src.write_text(CHAPTER.replace("# # A tiny chapter", "# # A tiny chapter, retitled"))  # the tag removed again
    assert book_runner.main(["prose", "99"]) == 0
    assert not nbformat.read(stored, as_version=4).cells[3].metadata.get("tags")
    assert book_runner.stale_cells(src, stored) == ([], [])
    before = stored.read_bytes()
    src.write_text(CHAPTER.replace('print("value is", value)', 'print("value:", value)'))
    assert book_runner.main(["prose", "99"]) == 2
    assert "code cells [1] differ" in capsys.readouterr().err
    assert stored.read_bytes() == before


@pytest.mark.parametrize("src", book_runner.chapters(), ids=lambda p: p.stem)
def test_stored_chapter_matches_its_source(src):
    """A stored chapter is the run of its current source: no edit since (`vsml.book run` or, text only, `prose`)."""
    stored = book_runner.BOOK / f"{src.stem}.ipynb"
    if not stored.exists():
        pytest.skip("not run yet")
    code, markdown = book_runner.stale_cells(src, stored)
    assert not code, f"code cells {code} changed since the stored run: python -m vsml.book run {src.stem[:2]}"
    assert not markdown, f"markdown cells {markdown} changed: python -m vsml.book prose {src.stem[:2]}"


def test_unknown_chapter_is_a_one_line_error(tiny_book, capsys):
    assert book_runner.main(["run", "42"]) == 2
    assert capsys.readouterr().err.startswith("error: chapter '42' matches 0 chapters")


@pytest.mark.parametrize("how", ["env", "param"])
def test_smoke_from_any_source_never_replaces_the_stored_chapter(tiny_book, monkeypatch, capsys, how):
    stored = tiny_book / "book" / "99_tiny.ipynb"
    assert book_runner.main(["run", "99", "-p", "value", "7"]) == 0
    before = stored.read_bytes()
    args = ["run", "99", "-p", "value", "8"]
    if how == "env":
        monkeypatch.setenv("VSML_SMOKE", "1")
    else:
        args += ["-p", "smoke", "True"]
    assert book_runner.main(args) == 0
    assert stored.read_bytes() == before
    assert "(smoke)" in capsys.readouterr().out
    assert (tiny_book / "_build" / "smoke" / "99_tiny.ipynb").exists()


def test_git_commit_marks_uncommitted_package_or_chapter_changes(tmp_path, monkeypatch):
    import shutil
    import subprocess

    import vsml.book

    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    run = lambda *a: subprocess.run(["git", *a], cwd=tmp_path, check=True, capture_output=True)  # noqa: E731
    run("init", "-q")
    run("config", "user.email", "t@t")
    run("config", "user.name", "t")
    (tmp_path / "vsml").mkdir()
    (tmp_path / "book" / "src").mkdir(parents=True)
    (tmp_path / "vsml" / "m.py").write_text("x = 1\n")
    for name in ("01_a.py", "02_b.py"):
        (tmp_path / "book" / "src" / name).write_text("# %%\n")
    (tmp_path / "notes.txt").write_text("a\n")
    run("add", ".")
    run("commit", "-q", "-m", "c")
    monkeypatch.setattr(vsml.book, "ROOT", tmp_path)
    monkeypatch.setenv("VSML_CHAPTER_SOURCE", str(tmp_path / "book" / "src" / "01_a.py"))
    clean = vsml.book.git_commit()
    assert clean and "+" not in clean and clean != "unknown"
    (tmp_path / "notes.txt").write_text("b\n")  # not the code that ran
    (tmp_path / "book" / "src" / "02_b.py").write_text("# another chapter\n")
    (tmp_path / "vsml" / "new_untracked.py").write_text("y = 1\n")
    assert vsml.book.git_commit() == clean
    (tmp_path / "book" / "src" / "01_a.py").write_text("# %%\nprint(1)\n")  # the running chapter
    assert vsml.book.git_commit() == clean + "+changes"
    run("checkout", "--", "book/src/01_a.py")
    (tmp_path / "vsml" / "m.py").write_text("x = 2\n")  # the package
    assert vsml.book.git_commit() == clean + "+changes"
