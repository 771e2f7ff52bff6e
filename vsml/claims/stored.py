"""Claims read from shipped files and from chapters this module parses itself.

Paper: Figures 5, 6, 9, 11, 17, 19 and Appendix C.2 (speed): cloning
(``vsml/pretrained/metatest_*.json``), meta learning from scratch (chapter 07),
introspection (chapter 09), short-horizon bias (chapter 08) and the GPU timing
(``vsml/results/*/bench_meta*.json``).
"""
from __future__ import annotations

import json
import re
from pathlib import Path

from ..cloning.meta_test import final_test_accuracy
from ..report import Check, Claim, MissingResult, StoredChapter, not_run
from .common import (ASSOCIATION_MIN, CHANCE_10, CLONED, NAMES, PAPER_CLONING, PAPER_ES_GENERATIONS, PAPER_GPUS,
                     SPEED_TARGET_S, Tolerances, _guard, _pct, beyond, book_own, se_text)


def _se(ch: StoredChapter, key: str) -> float | None:
    """A glued standard error, or None where the stored chapter predates it (then the sign decides)."""
    return ch.num(key) if key in ch.values else None


# ------------------------------------------------------------------ Figures 5 and 11: cloning

def _final_accuracies(pretrained_dir: Path, stem: str):
    """Per dataset: ``(dataset, stored meta-test, VSML's and SGD's test accuracy after the last step)`` read from
    ``vsml/pretrained/metatest_<stem>_<dataset>.json``; a missing file is a :class:`MissingResult`."""
    for ds in NAMES:
        path = pretrained_dir / f"metatest_{stem}_{ds}.json"
        if not path.exists():
            raise MissingResult(f"no shipped {path.name}")
        doc = json.loads(path.read_text())
        (acc, _), (acc_sgd, _) = (final_test_accuracy(doc[k]["test_accuracy"]) for k in ("vsml", "sgd"))
        yield ds, doc, acc, acc_sgd


def cloning(pretrained_dir: Path, tol: Tolerances = Tolerances()) -> list[Claim]:
    rows = []
    # Figure 5 shows both networks; Figure 11b is the deep curriculum's V_M on the deep network (Appendix B.1).
    for depth, fig in (("shallow", "Figure 5 (shallow)"), ("deep", "Figures 5, 11b (deep)")):
        claim = f"backpropagation cloned into V_M trains a {depth} network by running forward"
        paper = ", ".join(f"{NAMES[ds]} {PAPER_CLONING[depth, ds]} %" for ds in NAMES) + " (Section 4.1)"

        def build(depth=depth, fig=fig, claim=claim, paper=paper):
            ours, checks, setting = [], [], ""
            for ds, doc, acc, acc_sgd in _final_accuracies(pretrained_dir, CLONED[depth]):
                seeds = len(doc["vsml"]["test_accuracy"])
                ours.append(f"{NAMES[ds]} {_pct(acc)} (SGD {_pct(acc_sgd)})")
                checks.append(Check(f"{NAMES[ds]}: {acc:.1f} >= {PAPER_CLONING[depth, ds]} - {tol.comparable_points:g}",
                                    acc >= PAPER_CLONING[depth, ds] - tol.comparable_points))
                steps = len(doc["vsml"]["loss"][0])
                setting = (f"{'-'.join(map(str, doc['sizes']))} network, {seeds} seeds x {steps} steps of "
                           f"64 examples, test accuracy after the last step"
                           + (f" on the first {doc['test_size']:,} test images" if "test_size" in doc else "")
                           + f"; cloned on {_cloned_on(pretrained_dir, depth)}"
                           f"; meta-test on {doc['device']}")
            return [Claim(fig, claim, paper, "; ".join(ours), setting, checks,
                          f"vsml/pretrained/metatest_{CLONED[depth]}_*.json")]

        rows += _guard(fig, claim, paper, "vsml/pretrained", build)
    return rows


def figure11a(pretrained_dir: Path, tol: Tolerances = Tolerances()) -> list[Claim]:
    """The deep curriculum's V_M trains the shallow network too (Appendix B.1, Figure 11a)."""
    fig = "Figure 11a"
    claim = "the V_M of the deep curriculum also trains the shallow network, like SGD"
    paper = ("\"The final VSML RNN can be used to train both shallow (Figure 11a) and deep configurations "
             "(Figure 11b)\" (Appendix B.1; no numbers in the text)")

    def build():
        ours, checks, setting = [], [], ""
        for ds, doc, acc, acc_sgd in _final_accuracies(pretrained_dir, f"{CLONED['deep']}_net784-10"):
            ours.append(f"{NAMES[ds]} {_pct(acc)} (SGD {_pct(acc_sgd)})")
            checks.append(Check(f"{NAMES[ds]}: {acc:.1f} >= SGD {acc_sgd:.1f} - {tol.comparable_points:g}",
                                acc >= acc_sgd - tol.comparable_points))
            seeds, steps = len(doc["vsml"]["test_accuracy"]), len(doc["vsml"]["loss"][0])
            setting = (f"{'-'.join(map(str, doc['sizes']))} network, {seeds} seeds x {steps} steps of 64 examples; "
                       f"V_M {CLONED['deep']}; meta-test on {doc['device']}")
        return [Claim(fig, claim, paper, "; ".join(ours), setting, checks,
                      f"vsml/pretrained/metatest_{CLONED['deep']}_net784-10_*.json")]

    return _guard(fig, claim, paper, "vsml/pretrained", build)


def _cloned_on(pretrained_dir: Path, depth: str) -> str:
    prov = json.loads((pretrained_dir / f"{CLONED[depth]}.json").read_text())
    return f"{CLONED[depth]}, {prov['dataset_note'].split(',')[0]}, {prov['steps']:,} steps on {prov['device']}"


# ------------------------------------------------------------------ Figure 6: meta learning from scratch

def _vm_setting(ch: StoredChapter, pretrained_dir: Path, key: str = "name_long") -> str:
    name = ch.md(key)
    prov_path = pretrained_dir / f"{name}.json"
    how = ""
    if prov_path.exists():
        p = json.loads(prov_path.read_text())
        data = p["dataset"]["name"] + (" (partial copy)" if p["dataset"].get("partial") else "")
        init = p.get("config", {}).get("init_from")
        how = (f" ({p['method'].upper()}, {p['steps']:,} steps on {p['device']}, {data}"
               + (f", continued from {init}" if init else "") + ")")
    return f"V_M {name}{how}"


def figure6(book_dir: Path, pretrained_dir: Path, tol: Tolerances = Tolerances()) -> list[Claim]:
    path = book_dir / "07_meta_learning.ipynb"
    src = f"book/{path.name}"
    specs = [
        ("Figure 6a (early)", "faster than tuned online gradient descent on MNIST, early in learning",
         "\"considerably faster\" than online gradient descent (Section 4.2)"),
        ("Figure 6a (horizon)", "still ahead of tuned online gradient descent at the 2,000-example horizon",
         "\"faster learning during meta testing compared to online gradient descent\" (Figure 6 caption), "
         "read here after 2,000 examples (our choice: the text gives no x-range for Figure 6; Figure 8's "
         "accuracies are \"after 2k steps\", Appendix B.2)"),
        ("Figure 6b", "learns Fashion-MNIST, never seen in meta-training, trailing a little at convergence",
         "\"Learning still works well\", \"lacks behind a little\" (Section 4.2)"),
        ("Figure 6c", "a Meta RNN meta-trained the same way overfits to MNIST",
         "\"a Meta RNN heavily overfits\" (Section 4.2)"),
    ]

    def build():
        ch = StoredChapter(path)
        ch.require_full()
        rows = learner_rows(ch, "long", (7, 28), "")
        if "name_long28" in ch.values:  # the same V_M fine-tuned at 28x28: its own rows, at 28x28
            rows += learner_rows(ch, "long28", (28,), f" [{ch.md('name_long28')}]")
        if "name_es" in ch.values:  # meta-trained from scratch by ES, as in the paper (at CPU scale)
            rows += learner_rows(ch, "es", (7, 28), f" [{ch.md('name_es')}]")
        return rows + [meta_rnn_row(ch)]

    def learner_rows(ch, who, resolutions, tag):
        h = {i: int(ch.num(f"h{i}")) for i in (1, 2, 3)}
        res_text = " and ".join(f"{px}x{px}" for px in resolutions)
        setting = (f"{int(ch.num('num_runs'))} runs x {h[3]:,} examples at {res_text}, {ch.md('data_note')}; "
                   f"{_vm_setting(ch, pretrained_dir, f'name_{who}')}; meta-test on {ch.run['device']}")

        def ahead(px, i, ds="m"):
            v, b = ch.num(f"{who}_{ds}{px}_h{i}"), ch.num(f"best_{ds}{px}_h{i}")
            se = _se(ch, f"se_{who}_{ds}{px}_h{i}")  # paired, over the same episodes
            what = (f"{px}x{px} @{h[i]:,}: VSML {v:.1f} > best baseline {b:.1f}"
                    + se_text(se))
            return v, b, Check(what, beyond(v - b, se))

        rows = []
        for (fig, claim, paper), idx in zip(specs[:2], ((1, 2), (3,))):
            got = [(px, i, *ahead(px, i)) for px in resolutions for i in idx]
            ours = "; ".join(f"{px}x{px} @{h[i]:,}: VSML {_pct(v)} vs {_pct(b)}" for px, i, v, b, _ in got)
            rows.append(Claim(fig + tag, claim, paper, ours + " (best tuned baseline)", setting,
                              [g[-1] for g in got], src))
        checks, ours = [], []
        for px in resolutions:
            f2, f3, b3 = ch.num(f"{who}_f{px}_h2"), ch.num(f"{who}_f{px}_h3"), ch.num(f"best_f{px}_h3")
            checks.append(Check(f"{px}x{px}: learns ({f2:.1f} -> {f3:.1f}, >= {2 * CHANCE_10:g})",
                                f3 >= f2 and f3 >= 2 * CHANCE_10))
            checks.append(Check(f"{px}x{px}: trails the best baseline by <= {tol.trail_points:g} points "
                                f"({b3 - f3:+.1f})", b3 - f3 <= tol.trail_points))
            ours.append(f"{px}x{px} @{h[3]:,}: VSML {_pct(f3)} vs {_pct(b3)}")
        fig, claim, paper = specs[2]
        rows.append(Claim(fig + tag, claim, paper, "; ".join(ours) + " (best tuned baseline)", setting, checks, src))
        return rows

    def meta_rnn_row(ch):
        h3 = int(ch.num("h3"))
        setting = (f"{int(ch.num('num_runs'))} runs x {h3:,} examples at 7x7, {ch.md('data_note')}; "
                   f"{_vm_setting(ch, pretrained_dir)}; meta-test on {ch.run['device']}")
        mr_f, best_f, d_mr, d_vs = ch.num("mr_f"), ch.num("best_f7_h3"), ch.num("drop_mr"), ch.num("drop_vs")
        return Claim(*specs[3],
                          f"Meta RNN @{h3:,}: MNIST {_pct(ch.num('mr_m'))}, Fashion-MNIST {_pct(mr_f)} (best "
                          f"baseline {_pct(best_f)}); drop {d_mr:.1f} points vs {d_vs:.1f} for VSML",
                          setting,
                          [Check(f"Meta RNN below the best baseline on Fashion-MNIST ({mr_f:.1f} < {best_f:.1f})",
                                 mr_f < best_f),
                           Check(f"its drop exceeds VSML's by over 10 points ({d_mr:.1f} > {d_vs:.1f} + 10)",
                                 d_mr > d_vs + 10)], src)

    try:
        return build()
    except MissingResult as exc:
        return [not_run(fig, claim, paper, str(exc), src) for fig, claim, paper in specs]


# ------------------------------------------------------------------ Figure 19: short-horizon bias

def figure19(book_dir: Path, pretrained_dir: Path) -> list[Claim]:
    path = book_dir / "08_short_horizon.ipynb"
    fig, claim = "Figure 19", "meta-trained on short episodes, VSML is overtaken by gradient descent in a long run"
    paper = "\"at some point gradient descent overtakes VSML\" over 12,000 examples (Appendix B.2)"

    def row(ch, tag, fig_name):
        v, b = ch.num(f"acc_m_{tag}_end"), ch.num("bestb_m_end")
        ours = (f"MNIST at the end of the run: VSML {_pct(v)}, best tuned baseline ({ch.md('bestb_m')}) {_pct(b)}; "
                f"{ch.md(f'verdict_m_{tag}')}")
        setting = (f"{int(ch.num('num_runs'))} runs on {ch.md('mnist_note')}, at 7x7; "
                   f"V_M meta-trained on {ch.md(f'how_{tag}')}; "
                   f"meta-test on {ch.run['device']}")
        # 08 words its verdict "<baseline> overtakes it after N examples" (or "no tuned baseline overtakes it ...")
        m = re.search(r"overtakes it after ([\d,]+) examples", ch.md(f"verdict_m_{tag}"))
        at, horizon = (int(m.group(1).replace(",", "")) if m else None), int(ch.num(f"hor_{tag}"))
        se = _se(ch, f"se_end_m_{tag}")
        return Claim(fig_name, claim, paper, ours, setting,
                     [Check(f"the best tuned baseline ends above VSML ({b:.1f} > {v:.1f})" + se_text(se),
                            beyond(b - v, se)),
                      Check(f"overtaken only past its meta-training horizon ({at} >= {horizon})",
                            at is not None and at >= horizon)],
                     f"book/{path.name}")

    def build():
        ch = StoredChapter(path)
        ch.require_full()
        rows = [row(ch, "short", fig)]
        for tag in ("es", "es500"):  # meta-trained by ES, the paper's method: a row each
            if f"name_{tag}" in ch.values:
                rows.append(row(ch, tag, f"{fig} [{ch.md(f'name_{tag}')}]"))
        return rows

    return _guard(fig, claim, paper, f"book/{path.name}", build)


# ------------------------------------------------------------------ Figures 9 and 17: introspection

def introspection(book_dir: Path, pretrained_dir: Path) -> list[Claim]:
    path = book_dir / "09_introspection.ipynb"
    specs = [("Figure 9", "fast association: the second example of a class is predicted right",
              "\"almost always making the right prediction the second time\", SGD \"fails to learn quickly\" "
              "(Section 5)", "two"),
             ("Figure 17", "on 100 random MNIST images VSML still associates faster than SGD",
              "\"associate inputs with their label rather quickly compared to SGD\" (Appendix B)", "hundred")]

    def build():
        ch = StoredChapter(path)
        ch.require_full()
        setting = (f"{int(ch.num('num_runs'))} runs, MNIST test split, 7x7 and 28x28; "
                   f"{_vm_setting(ch, pretrained_dir, 'vm_name')}; "
                   f"meta-test on {ch.run['device']}")
        rows = []
        for fig, claim, paper, proto in specs:
            checks, ours = [], []
            for px in (7, 28):
                v, s, a = (ch.num(f"{n}_m_{proto}_{px}") for n in ("vsml", "sgd", "adam"))
                outcomes, ses = [], []
                for base, acc in (("sgd", s), ("adam", a)):
                    se = _se(ch, f"gapse_{base}_m_{proto}_{px}")
                    outcomes.append(beyond(v - acc, se))
                    ses.append(se)
                # above both beyond the noise: holds; below either beyond it: fails; otherwise within the noise
                passed = True if all(o is True for o in outcomes) else False if False in outcomes else None
                noise = (f" (paired standard errors {ses[0]:.1f}, {ses[1]:.1f})" if None not in ses else "")
                checks.append(Check(f"{px}x{px}: VSML {v:.1f} > SGD {s:.1f} and Adam {a:.1f}{noise}", passed))
                ours.append(f"{px}x{px}: VSML {_pct(v)}, SGD {_pct(s)}, Adam {_pct(a)}")
            if proto == "two":
                v = ch.num("vsml_m_two_7")
                checks.append(Check(f"7x7: VSML {v:.1f} >= {ASSOCIATION_MIN:g} (\"almost always\")", v >= ASSOCIATION_MIN))
            rows.append(Claim(fig, claim, paper, "; ".join(ours) + " (second-example accuracy)", setting, checks,
                              f"book/{path.name}"))
        return rows

    try:
        return build()
    except MissingResult as exc:
        return [not_run(fig, claim, paper, str(exc), f"book/{path.name}") for fig, claim, paper, _ in specs]


# ------------------------------------------------------------------ speed: one GPU against the paper's 128

def speed(results_dir: Path) -> list[Claim]:
    spec = ("Appendix C.2 [speed, the book's target]", "the paper's ES meta-training (1,024 antithetic pairs = 2,048 members x 500 examples, "
            "784x10; the paper's \"population size of 1024\" counts pairs in the authors' code) on one GPU",
            f"{PAPER_ES_GENERATIONS:,} generations \"across {PAPER_GPUS} GPUs\" (Appendix C.2)")
    rows = []
    for path in sorted(Path(results_dir).glob("*/bench_meta*.json")):
        for r in json.loads(path.read_text()):
            if r.get("config") == "paper" and r.get("method") == "es" and str(r.get("device", "")).startswith("cuda"):
                rows.append((r["sec_per_step"], r, path))
    if not rows:
        return [book_own(not_run(*spec, "no GPU timing of the paper config in vsml/results/", "vsml/results"))]
    secs, best, path = min(rows, key=lambda t: t[0])
    hours = secs * PAPER_ES_GENERATIONS / 3600
    if best.get("extrapolated", True):  # a precondition, not a check: an extrapolated timing is no measurement
        return [book_own(not_run(*spec, "the best GPU timing of the paper config was extrapolated, not measured",
                                  str(path.relative_to(path.parents[3]))))]
    checks = [Check(f"{secs:.1f} s per generation <= {SPEED_TARGET_S:g} s (the book's target)",
                    secs <= SPEED_TARGET_S)]
    device = best["device_description"].split("(", 1)[-1].split(",")[0]
    def where(r, path):
        return f"{r['sec_per_step']:.2f} s on one {r['device_description'].split('(', 1)[-1].split(',')[0]} ({path.name})"

    ours = (f"{secs:.1f} s per generation on one {device} (best of {len(rows)} timings): "
            f"{PAPER_ES_GENERATIONS:,} generations in about {hours:.0f} h; every timing, the kernel changing "
            f"between them: " + "; ".join(where(r, p) for _, r, p in sorted(rows, key=lambda t: str(t[2]))))
    setting = f"`python -m vsml.bench_meta --configs paper` on {best['device_description']}"
    # the book's own target, not a claim of the paper (which reports no time per generation)
    return [Claim(*spec, ours, setting, checks, str(path.relative_to(path.parents[3])), in_paper=False)]
