# %% [markdown]
# # Reproduction report
#
# COLAB_BADGE
#
# **What this chapter does:** it puts every claim of {cite}`kirsch2021vsml`
# that this book tests into one table: where the paper makes it, the paper's
# number or words, what we measured, the scale, data and device we ran at,
# and a verdict. It runs no experiment of its own; it reads what the other
# chapters and the shipped files recorded.
#
# ```{admonition} Learning objectives
# After this chapter you can
# * say which of the paper's claims this book reproduces, which only in part,
#   which not, and which it has not run yet;
# * trace every number in the table to the file it was read from;
# * state the verdict rule and apply it to a new result;
# * tell a difference of setting (scale, data, device) from a failure to
#   reproduce, and say what would decide between them.
# ```
#
# **Nothing in the table is typed.** Our numbers come from three places:
# the meta-test curves shipped beside the cloned $V_M$s
# (`vsml/pretrained/metatest_cloned_*.json`, chapter {doc}`06_cloning`);
# the values the experiment chapters glued into their text when they were
# last run in full (`book/NN_*.ipynb`, read by `vsml.report.read_glue`); and
# the GPU timings in `vsml/results/`. The paper's side is a constant in
# `vsml.claims`, each with its section or figure; where the paper gives words
# rather than a number, the row quotes them and says how we read them.
# A claim whose chapter is stored only from a smoke run, or whose data needs
# a download this build could not make, shows up as "not yet run" with the
# reason.
#
# **The verdict rule.** Each claim becomes one or more *checks*, each a
# comparison computed from the stored numbers (the table's last column lists
# them). Where the chapter stored a standard error of the difference (paired
# where the learners saw the same episodes), a comparison holds or fails only
# beyond two standard errors; in between it is *within the noise*. A check
# with no stored standard error (its text then names none) is decided by the
# sign of the measured difference alone. All
# checks pass: **reproduced**; some pass: **partly**; none pass and some
# fail: **not reproduced**; all within the noise: **within the noise**;
# nothing stored to check: **not yet run**. "Partly" covers anything from
# one check in many to all but one, so the table gives each row's count of
# checks that pass, fail and lie within the noise beside its verdict. Where the
# paper says "comparable" or "similar" we allow {glue:text}`tol` points;
# its "lacks behind a little" at convergence is at most
# {glue:text}`trail` points; its "almost always" right is at least
# {glue:text}`assoc_min` %; a learner that "learns" an unseen dataset reaches
# at least twice chance. The speed row checks the book's own target of
# {glue:text}`speed_target` s per paper-scale generation on one GPU; it
# and the rows of tasks the paper does not have (sklearn digits) are the
# book's own and are not counted as claims of the paper. The tolerances
# hold also where the paper gives exact numbers (cloning's accuracies).

# %% tags=["parameters"]
smoke = False
device = "auto"
seed = 0
num_runs = 16          # runs of the live re-check in exercise 2
book_root = ""         # a checkout of the book ("" : the one this package was installed from)

# %%
# Colab: install the book's release of the package, and fetch the stored chapters this report reads.
import sys

if "google.colab" in sys.modules:
    import subprocess

    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "vsml @ git+REPO_URL@BOOK_RELEASE"],
                   check=True)
    subprocess.run(["git", "clone", "-q", "REPO_URL", "/content/vsml-book"], check=True)
    subprocess.run(["git", "-C", "/content/vsml-book", "checkout", "-q", "BOOK_RELEASE"], check=True)
    book_root = "/content/vsml-book"

# %%
import html
from pathlib import Path

import matplotlib.pyplot as plt
from IPython.display import HTML, Markdown, display

import vsml
from vsml import claims, report
from vsml.book import chapter_setup, glue

run = chapter_setup(smoke=smoke, device=device, seed=seed,
                    cpu_only="this chapter reads stored results; its one live check is a short meta-test")
num_runs = num_runs if not run.smoke else 2
root = Path(book_root) if book_root else Path(vsml.__file__).resolve().parent.parent
if not (root / "book").is_dir():
    raise FileNotFoundError(f"no book/ folder under {root}: pass -p book_root PATH (a checkout of the book)")
print(f"reading stored results under {root}")
glue("tol", f"{claims.TOLERANCE_POINTS:g}")
glue("trail", f"{claims.FASHION_TRAIL_POINTS:g}")
glue("assoc_min", f"{claims.ASSOCIATION_MIN:g}")
glue("speed_target", f"{claims.SPEED_TARGET_S:g}")

# %% [markdown]
# ## The table

# %%
rows = claims.all_claims(root)
counts = report.count_verdicts(rows)
COLORS = {report.REPRODUCED: "#2e7d32", report.PARTLY: "#b26a00", report.NOT_REPRODUCED: "#c62828",
          report.WITHIN_NOISE: "#1565c0", report.NOT_RUN: "#616161"}


def cell(text):
    return f"<td style='text-align:left;vertical-align:top'>{html.escape(text)}</td>"


OUTCOMES = (("pass", True, COLORS[report.REPRODUCED]), ("within the noise", None, COLORS[report.WITHIN_NOISE]),
            ("fail", False, COLORS[report.NOT_REPRODUCED]))  # a check's outcome, its name and its colour


def outcome_counts(r):
    """{outcome name: how many of the row's checks had it}, in the order of OUTCOMES."""
    return {name: sum(c.passed is outcome for c in r.checks) for name, outcome, _ in OUTCOMES}


def check_counts(r):
    """'2 pass, 1 within the noise, 1 fail' for a row with checks, '' otherwise."""
    return ", ".join(f"{v} {k}" for k, v in outcome_counts(r).items() if v)


def table_html(rows):
    head = ["paper", "claim", "the paper says", "ours", "scale, data, device", "verdict", "checks / why not run"]
    out = ["<table style='font-size:85%'><thead><tr>" + "".join(f"<th>{h}</th>" for h in head) + "</tr></thead><tbody>"]
    for r in rows:
        why = "; ".join(f"{c.mark}: {c.what}" for c in r.checks) or r.note
        out.append("<tr>" + cell(r.figure) + cell(r.claim) + cell(r.paper) + cell(r.ours or "-")
                   + cell(r.setting or "-")
                   + f"<td style='color:{COLORS[r.verdict]};font-weight:bold;vertical-align:top'>{r.verdict}"
                   + (f"<br><span style='font-weight:normal'>({check_counts(r)})</span>" if r.checks else "")
                   + "</td>"
                   + cell(why) + "</tr>")
    return "".join(out) + "</tbody></table>"


display(HTML(table_html(rows)))
n_paper = report.paper_claims(rows)
n_own = sum(not r.in_paper for r in rows)
paper_rows = [r for r in rows if r.in_paper]
counts_paper, counts_own = report.count_verdicts(paper_rows), report.count_verdicts([r for r in rows if not r.in_paper])
print(", ".join(f"{v}: {n}" for v, n in counts.items())
      + f" (of {len(rows)} rows: {n_paper} claims of the paper, {n_own} the book's own, the rest re-checks with "
        f"another V_M or task)")
print("rows on the paper's claims only: " + ", ".join(f"{v}: {n}" for v, n in counts_paper.items() if n)
      + "; the book's own rows: " + ", ".join(f"{v}: {n}" for v, n in counts_own.items() if n))
sources = {}
for r in rows:
    sources.setdefault(r.source.split(" ")[0], None)
    print(f"[{r.verdict}] {r.figure}: read from {r.source or '-'}" + (f" ({check_counts(r)})" if r.checks else ""))
print("\nthe stored chapters read, as last run:")
for src in sources:
    if src.endswith(".ipynb") and (root / src).is_file():
        run_info = report.stored_run(root / src)
        print(f"  {src}: {run_info['mode']} run of commit {run_info['commit']} on {run_info['date']}, "
              f"{run_info['device']}")

# %%
glue("n_claims", len(rows))
glue("n_paper_claims", n_paper)
glue("n_rechecked", len(rows) - n_paper - n_own)
glue("n_own", n_own)
for verdict, key in ((report.REPRODUCED, "n_yes"), (report.PARTLY, "n_partly"),
                     (report.NOT_REPRODUCED, "n_no"), (report.WITHIN_NOISE, "n_noise"), (report.NOT_RUN, "n_not_run")):
    glue(key, counts[verdict])


def figures_with(verdict):
    names = [r.figure for r in rows if r.verdict == verdict]
    return "; ".join(names) if names else "none"


glue("list_yes", figures_with(report.REPRODUCED))
glue("list_partly", figures_with(report.PARTLY))
glue("list_no", figures_with(report.NOT_REPRODUCED))
glue("list_noise", figures_with(report.WITHIN_NOISE))
glue("list_not_run", figures_with(report.NOT_RUN))
glue("paper_rows", f"{len(paper_rows)}")
for verdict, key in ((report.REPRODUCED, "yes"), (report.PARTLY, "partly"), (report.NOT_REPRODUCED, "no"),
                     (report.WITHIN_NOISE, "noise"), (report.NOT_RUN, "not_run")):
    glue(f"np_{key}", f"{counts_paper[verdict]}")
own_rows = [r for r in rows if not r.in_paper]
glue("own_rows_text", "; ".join(f"{r.figure}: {r.verdict}" for r in own_rows) if own_rows else "none")
def failing(verdict):
    """Each row with this verdict, its check counts and the checks it fails, as one line of prose."""
    chosen = [r for r in rows if r.verdict == verdict]
    return Markdown("; ".join(
        f"{r.figure} ({check_counts(r)}; fails: "
        + (", ".join(c.what for c in r.checks if c.passed is False) or "none") + ")" for r in chosen)
        if chosen else "none")


glue("partly_detail", failing(report.PARTLY))
glue("no_detail", failing(report.NOT_REPRODUCED))

# %% tags=["hide-input"]
fig, ax = plt.subplots(figsize=(10, 0.42 * len(rows) + 1.4))
labels = [r.figure for r in rows][::-1]
for i, r in enumerate(rows[::-1]):
    total = len(r.checks)
    if total:
        n, left = outcome_counts(r), 0.0
        for name, _, color in OUTCOMES:  # one segment per outcome, its width the share of the row's checks
            ax.barh(i, n[name] / total, left=left, color=color)
            left += n[name] / total
        ax.text(1.02, i, f"{r.verdict} ({n['pass']}/{total})", va="center", fontsize=11, color=COLORS[r.verdict])
    else:
        ax.text(0.02, i, report.NOT_RUN, va="center", color=COLORS[report.NOT_RUN], fontsize=11)
ax.set_yticks(range(len(rows)), labels)
ax.set_xlim(0, 1.45)
ax.set_xticks([0, 0.25, 0.5, 0.75, 1])
ax.set_xlabel("share of the row's checks")
fig.legend(handles=[plt.Rectangle((0, 0), 1, 1, color=c) for _, _, c in OUTCOMES],
           labels=[f"check: {name}" for name, _, _ in OUTCOMES], loc="lower center", ncol=3, frameon=False)
fig.tight_layout(rect=(0, 0.05, 1, 1))
glue("fig_verdicts", fig)
plt.close(fig)

# %% [markdown]
# ```{glue:figure} fig_verdicts
# :name: fig-11-verdicts
#
# Every row of the table, in the table's order: the share of its checks
# that pass (green), lie within the noise (blue) and fail (red), with the
# row's verdict and its count of passing checks at the right. Rows with
# nothing stored to check are marked "not yet run".
# ```
#
# ## What we found
#
# The table has {glue:text}`n_claims` rows: {glue:text}`n_paper_claims`
# claims of the paper, {glue:text}`n_own` rows of the book's own (a speed
# target, an extra task), and {glue:text}`n_rechecked` more rows that check a
# claim again with another $V_M$ or on another task (tagged in brackets,
# counted as rows below). Of the {glue:text}`n_claims` rows,
# {glue:text}`n_yes` are reproduced ({glue:text}`list_yes`),
# {glue:text}`n_partly` partly ({glue:text}`list_partly`), {glue:text}`n_no`
# not reproduced ({glue:text}`list_no`), {glue:text}`n_noise` within the
# noise ({glue:text}`list_noise`), and {glue:text}`n_not_run` not yet run
# ({glue:text}`list_not_run`); {numref}`fig-11-verdicts` shows how far each
# one got.
#
# Counting only the {glue:text}`paper_rows` rows on the paper's claims
# (leaving out the book's own: {glue:text}`own_rows_text`):
# {glue:text}`np_yes` reproduced, {glue:text}`np_partly` partly,
# {glue:text}`np_no` not reproduced, {glue:text}`np_noise` within the
# noise and {glue:text}`np_not_run` not yet run.
#
# **What the failures are.** Not reproduced, with the checks that fail:
# {glue:md}`no_detail`.
#
# Partly reproduced, with the checks that fail: {glue:md}`partly_detail`.
# A "partly" whose passing check is a weak one (a learner that "learns" at
# twice chance, say) says little: read the failing checks first, and the
# chapter behind the row for what its numbers mean.
#
# **Where our setting differs from the paper's** (the "scale, data, device"
# column says it per row):
# * *Meta-training.* The paper meta-trained by evolution strategies "across
#   128 GPUs"; most of our shipped $V_M$s were meta-trained by BPTT, two
#   (`mnist_es`, `mnist_es500`) by ES with a small population, most of them on
#   two CPU cores, on 7x7-pooled MNIST. `mnist_bptt` saw only a partial copy
#   of MNIST, and the $V_M$s continued from it inherit that start (each row's
#   setting names the $V_M$ and what it continued from). A claim we could not reproduce at this
#   scale is not thereby refuted: the chapters that make the claim say what
#   would close the gap.
# * *Runs.* The paper averages 128 seeds (Figure 6) or 32 (Figures 7, 8); our
#   chapters use fewer where a CPU sets the budget, and report standard
#   errors.
# * *Cloning.* Our cloned networks are *mean* MLPs with a logit gain and a
#   slowed bias step, chosen by a sweep of exact backprop (the paper gives no
#   such constants); their meta-test curves are shorter than the paper's and
#   are scored on the first part of the official test set (the row's setting
#   and chapter {doc}`06_cloning` give the numbers).
#
# ## Exercises
#
# **1. Apply the rule.** A later run of the dataset-transfer chapter finds
# VSML above all three meta-learned baselines on KMNIST after the horizon,
# each beyond two standard errors, and below SGD after the first hundred
# examples by less than two. What are the verdicts of the two KMNIST rows
# (Figure 8 and Figure 13), and what would you have to change to call both
# reproduced?
#
# ```{admonition} Solution
# :class: dropdown
# Figure 8 [kmnist]: three checks, all pass: **reproduced**. Figure 13
# [kmnist]: one check, within the noise: **within the noise**. Only a result changes a verdict: a better $V_M$, or a run at the
# paper's scale. Changing the rule after seeing the result (a looser
# threshold, dropping the early check) would make the table say what we want
# rather than what we measured; that is why the rule and its thresholds are
# stated before the table, and why exercise 3 asks how sensitive the table is
# to them instead.
# ```
#
# **2. Re-check one number (runs code).** The Figure 6 rows read chapter
# {doc}`07_meta_learning`'s glued accuracy of the long-horizon $V_M$ after the
# first horizon at 7x7. Meta-test that $V_M$ again on fresh MNIST test
# episodes and compare.
#
# ```{admonition} Solution
# :class: dropdown
# The hidden cell below runs it with its own seed and fewer runs than the
# chapter, and prints the difference from the stored mean in units of the
# live run's standard error (the stored mean has a smaller one of its own,
# printed in chapter 07's table). A difference within about two of them is
# what "the number is reproducible" means for a mean over random episodes;
# a larger one would say the chapter's stored number is stale or wrong.
# ```

# %% tags=["hide-cell"]
import torch

from vsml import data, horizon, meta
from vsml.evaluate import meta_test
from vsml.tasks import online_episodes

ch07 = report.StoredChapter(root / "book" / "07_meta_learning.ipynb")
try:
    h1, stored = int(ch07.num("h1")), ch07.num("long_m7_h1")
except report.MissingResult as exc:
    h1, stored = None, None
    print(f"chapter 07 has no stored value to compare with: {exc}")
if h1 is not None:
    h1 = h1 if not run.smoke else 5
    params, prov = meta.load_pretrained("mnist_bptt_long")
    x, y = online_episodes(data.load("mnist", "test"), num_runs, h1, seed=4242 + seed, image_size=7)
    res = meta_test("vsml", x, y, 10, params=params, vsml_config=meta.VSMLConfig.from_dict(prov["model_config"]),
                    seed=seed)
    mean, sem = horizon.at(res["cum_acc"], [h1])[h1]
    print(f"live: {100 * mean:.1f} +- {100 * sem:.1f} % after {h1} examples ({num_runs} runs, 7x7); "
          f"chapter 07 stored {stored:.1f} % ({ch07.run['mode']} run): the difference is "
          + (f"{(100 * mean - stored) / (100 * sem):+.1f} live standard errors" if sem > 0 else
             "not measurable in standard errors here (the live runs all agree)"))

# %% [markdown]
# **3. How much do the thresholds decide? (runs code)** Double the
# tolerances, the one for "comparable" (cloning, Figure 7, Figure 20) and the one for
# "trails a little" (Figure 6b), then halve them, and recompute the table's
# verdicts each time. Which rows change?
#
# ```{admonition} Solution
# :class: dropdown
# The hidden cell below does it. Rows far from their thresholds keep their
# verdict; a row that flips is one whose verdict rests on the exact
# threshold, in either direction, and the honest report of it is the
# measured number beside the paper's, which the table gives. Loosening only
# would show just the rows that could look better.
# ```

# %% tags=["hide-cell"]
saved, saved_trail = claims.TOLERANCE_POINTS, claims.FASHION_TRAIL_POINTS
for factor in (2, 0.5):
    other = claims.all_claims(root, claims.Tolerances(comparable_points=factor * saved,
                                                      trail_points=factor * saved_trail))
    changed = [(a.figure, a.verdict, b.verdict) for a, b in zip(rows, other) if a.verdict != b.verdict]
    print(f"tolerances {saved:g} -> {factor * saved:g} (comparable) and {saved_trail:g} -> {factor * saved_trail:g} "
          f"points (trails a little): {len(changed)} verdict(s) change")
    for figure, before, after in changed:
        print(f"  {figure}: {before} -> {after}")

# %% [markdown]
# ## Conclusion
#
# The table is the book's answer to "does it reproduce?", computed each time
# the book is built from what the chapters last measured, so it cannot drift
# from them. A row changes only when a chapter is re-run (on a GPU, with more
# runs, with the data that needs a download); `vsml.claims.glued` documents
# what each chapter that feeds it must glue.
#
# ## References
#
# ```{bibliography}
# :filter: docname in docnames
# ```
