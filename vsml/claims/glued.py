"""Claims of chapters that feed the report through one glued dict each.

Chapters written beside this module feed the report through glued values, so a
chapter that lands later fills its rows without a change here:

* Figure 7 (slug ``robust``): ``robustness_table``, ``{vm: {configuration:
  {"acc": %, "runs": n, "examples": n, ...}}}`` with a ``reference`` entry
  (chapter 'Robustness'); check: each configuration at most
  :attr:`Tolerances.comparable_points` below the reference.
* Figure 8 (slug ``transfer``): ``glue("report_fig8", {"horizon": 2000,
  "setting": str, "tasks": {task: {"unseen": bool, "horizon": h, "vsml": acc,
  "meta_baselines": {name: acc}, "vsml_100": acc, "sgd_100": acc,
  "sgd_100_learner": name}}})``; a task that did not run is left out and
  its ``transfer_vsml_<task>_2000`` glue says why. Checks: on an unseen task
  VSML above every meta-learned baseline at the horizon; VSML at or above
  SGD after 100.
* Figures 14-16 (slug ``transfer``): ``glue("report_ablation", {"horizon": h, "unseen": [task],
  "pairs": {learner: {task: {"diff": points, "se": points}}}, "fashion": {learner: {"off": acc, "on": acc}}})``
  (with minus without random projections in meta-training, paired runs); checks: VSML's mean difference
  over unseen tasks above zero; each baseline significantly higher (beyond two standard errors) on at most
  half of them; on Fashion-MNIST VSML higher with projections and the Meta RNN's change smaller than VSML's.
* Figure 18 (slug ``omniglot``): ``glue("report_fig18", {"data": name,
  "vsml": acc, "adam": acc})``; checks: VSML above Adam; the data is Omniglot.
* Figures 20, 21 (slug ``conv``): ``glue("report_fig20", {"horizon": h,
  "datasets": {ds: {"conv": acc, "dense": acc}}})`` and
  ``glue("report_fig21", {"horizon": h, "cifar10": {"vsml": acc, "sgd":
  acc, "early": 100, "vsml_early": acc, "sgd_early": acc}, "fashion_mnist":
  {"vsml": acc, "sgd": acc}})`` (a part not run: a string saying why);
  checks: conv within :attr:`Tolerances.comparable_points` of dense per
  dataset; on CIFAR-10 VSML above SGD early ("initially faster"); on
  Fashion-MNIST VSML learns (at least twice chance).
"""
from __future__ import annotations

import re
from pathlib import Path

from ..report import Check, Claim, MissingResult, StoredChapter, find_chapter, not_run
from .common import CHANCE_10, Tolerances, _pct, beyond, book_own, se_text


# ------------------------------------------------------------------ chapters that feed the report by one dict

def _future(book_dir: Path, words: tuple[str, ...], key: str, specs, build) -> list[Claim]:
    path = find_chapter(book_dir, words)
    if path is None:
        return [not_run(*s, "the chapter is not written yet") for s in specs]
    try:
        ch = StoredChapter(path)
        ch.require_full()
        value = ch[key]
        if not isinstance(value, dict):
            raise MissingResult(f"{path.name}: {key!r} is not a dict of results")
        return build(value, ch, f"book/{path.name}")
    except (MissingResult, KeyError, TypeError) as exc:
        return [not_run(*s, f"{exc}", f"book/{path.name}") for s in specs]


def figure7(book_dir: Path, tol: Tolerances = Tolerances()) -> list[Claim]:
    spec = ("Figure 7", "robust to unseen input sizes, class counts and permutations",
            "\"All six configurations have not been seen during training and perform comparable to the "
            "unchanged reference\" (Figure 7; Section 4.3 adds random projections, so we test seven)")
    vm_names = {"m7": ("name_main", "7x7"), "g28": ("name_big", "28x28")}

    def build(table, ch, src):
        rows = []
        for vm, configs in table.items():
            ref = float(configs["reference"]["acc"])
            tested = {n: c for n, c in configs.items() if n not in ("reference", "summary")}
            checks = []
            for n, c in tested.items():
                k, k_ref = c.get("chance_corrected"), configs["reference"].get("chance_corrected")
                if c.get("num_classes", 10) != configs["reference"].get("num_classes", 10) and k is not None:
                    # fewer classes raise raw accuracy by chance alone: compare on the chance-corrected scale
                    checks.append(Check(f"{n}: chance-corrected {100 * k:.1f} >= reference {100 * k_ref:.1f} - "
                                        f"{tol.comparable_points:g}", 100 * (k - k_ref) >= -tol.comparable_points))
                else:
                    checks.append(Check(f"{n}: {float(c['acc']):.1f} >= reference {ref:.1f} - "
                                        f"{tol.comparable_points:g}", float(c["acc"]) >= ref - tol.comparable_points))
            worst = min(tested, key=lambda n: float(tested[n]["acc"]))
            key, px = vm_names.get(vm, (None, vm))
            name = ch.md(key) if key in ch.values else vm
            runs = configs["reference"].get("runs", "?")
            examples = int(configs["reference"].get("examples", 0))
            ours = (f"reference {_pct(ref)}, lowest of {len(tested)} configurations ({worst}) "
                    f"{_pct(float(tested[worst]['acc']))}")
            setting = (f"{runs} runs x {examples:,} examples, reference at {px}; V_M {name}; "
                       f"meta-test on {ch.run['device']}")
            rows.append(Claim(f"{spec[0]} [{px} V_M]", *spec[1:], ours, setting, checks, src))
        return rows

    return _future(book_dir, ("robust",), "robustness_table", [spec], build)


PAPER_TASKS = ("mnist", "fashion_mnist", "kmnist", "emnist", "random", "sum_sign")  # Figure 8's tasks
SPEC13 = ("Figure 13", "early in learning, VSML is a little more sample efficient than SGD on unseen tasks",
          "\"In many cases VSML's performance is similar to SGD but a little more sample efficient in the beginning "
          "of training\" (Section 4.4; Figure 13, read after 100 examples)")


def _own(row: Claim, extra: bool) -> Claim:
    """Mark a row of a task the paper does not have as the book's own (not counted as a claim of the paper)."""
    if extra:
        row.figure = row.figure.replace("]", ", the book's extra task]")
        book_own(row)
    return row


def figure8(book_dir: Path) -> list[Claim]:
    spec = ("Figure 8", "dataset transfer: VSML generalizes to unseen tasks better than other meta-learners",
            "\"VSML generalizes much better than Meta RNNs, Hebbian fast weights, and the external memory\" "
            "(Section 4.4)")

    def build(r, ch, src):
        rows = []
        # Tasks that did not run are not in the dict; the chapter glues "not run: ..." under transfer_vsml_<task>_2000.
        skipped = {m.group(1): v for k, v in ch.values.items() if isinstance(v, str)
                   for m in [re.fullmatch(r"transfer_vsml_(?!gpu_|mix_)(\w+)_2000", k)] if m}  # not other VSML learners
        tasks = {**r["tasks"], **{t: why for t, why in skipped.items() if t not in r["tasks"]}}
        setting = f"{r.get('setting', '')} meta-test on {ch.run['device']}".strip()
        early = []  # Figure 13's claim, a row per task after Figure 8's
        for task, t in tasks.items():
            fig = f"Figure 8 [{task}]"  # one claim, a row per task
            extra = task not in PAPER_TASKS  # a task of the book's own (sklearn digits): not a claim of the paper
            if not isinstance(t, dict):  # both claims of the task are then not yet run
                rows.append(_own(not_run(fig, *spec[1:], str(t), src), extra))
                early.append(_own(not_run(f"Figure 13 [{task}]", *SPEC13[1:], str(t), src), extra))
                continue
            if not t.get("unseen"):  # the claim is about unseen tasks (the seen one is context in the chapter)
                continue
            h = int(t.get("horizon", r["horizon"]))
            ses = t.get("meta_baselines_se", {})
            checks = [Check(f"@{h:,}: VSML {t['vsml']:.1f} > {name} {acc:.1f}"
                            + se_text(ses.get(name)),
                            beyond(t["vsml"] - acc, ses.get(name))) for name, acc in t["meta_baselines"].items()]
            others = ", ".join(f"{n} {_pct(a)}" for n, a in t["meta_baselines"].items())
            rows.append(_own(Claim(fig, *spec[1:], f"unseen; @{h:,}: VSML {_pct(t['vsml'])}, {others}", setting,
                                   checks, src), extra))
            sgd_name, se = t.get("sgd_100_learner", "SGD"), t.get("sgd_100_se")
            fig13 = f"Figure 13 [{task}]"
            early.append(_own(Claim(
                fig13, *SPEC13[1:], f"@100: VSML {_pct(t['vsml_100'])}, {sgd_name} {_pct(t['sgd_100'])}", setting,
                [Check(f"@100: VSML {t['vsml_100']:.1f} > {sgd_name} {t['sgd_100']:.1f}"
                       + se_text(se),
                       beyond(t["vsml_100"] - t["sgd_100"], se))], src), extra))
        return rows + early

    return _future(book_dir, ("transfer",), "report_fig8", [spec], build)


def figures14_16(book_dir: Path) -> list[Claim]:
    spec15 = ("Figures 14, 15", "random input projections in meta-training help VSML generalize; the baselines gain "
              "no significant generalization from them",
              "\"When not randomly projecting inputs (Figure 14), generalization of VSML is slightly reduced\"; "
              "\"the Meta RNN, Hebbian fast weights, and external memory baselines do not increase their "
              "generalization significantly\" (Appendix B)")
    spec16 = ("Figure 16", "on MNIST meta-training, projections slightly improve VSML on Fashion-MNIST; limited "
              "effect on the Meta RNN",
              "\"The Fashion MNIST performance (out of distribution) is slightly improved for VSML while the "
              "effect on the Meta RNN is limited\" (Appendix B)")

    def build(r, ch, src):
        pairs, unseen, h = r["pairs"], list(r["unseen"]), int(r["horizon"])
        setting = f"{r.get('setting', '')} meta-test on {ch.run['device']}".strip()
        checks15, ours15 = [], []
        for label, per in pairs.items():
            diffs = [per[t] for t in unseen if t in per]
            if not diffs:
                continue
            mean = sum(d["diff"] for d in diffs) / len(diffs)
            mean_se = sum(d["se"] ** 2 for d in diffs) ** 0.5 / len(diffs)  # the tasks' runs are independent
            significant = sum(d["diff"] > 2 * d["se"] for d in diffs)
            ours15.append(f"{label} {mean:+.1f} ({significant} of {len(diffs)} significant)")
            if label.startswith("VSML"):
                checks15.append(Check(f"{label}: with minus without, mean over unseen tasks {mean:+.1f} > 0 "
                                      f"(standard error {mean_se:.1f})", beyond(mean, mean_se)))
            else:
                checks15.append(Check(f"{label}: significantly higher with projections on {significant} of "
                                      f"{len(diffs)} unseen tasks (at most half)", significant <= len(diffs) / 2))
        rows = [Claim(*spec15, f"@{h:,}, with minus without projections, points: " + "; ".join(ours15),
                      setting, checks15, src)]
        fashion = r.get("fashion", {})
        if "VSML" in fashion and "Meta RNN" in fashion:
            v, m = fashion["VSML"], fashion["Meta RNN"]
            gain_v, gain_m = v["on"] - v["off"], m["on"] - m["off"]
            se_v = pairs.get("VSML", {}).get("fashion_mnist", {}).get("se")
            se_m = pairs.get("Meta RNN", {}).get("fashion_mnist", {}).get("se")
            # "limited": no change beyond the noise, or no larger than VSML's (a large drop is not limited)
            limited = abs(gain_m) <= max(2 * se_m if se_m is not None else 0.0, abs(gain_v))
            checks16 = [Check(f"VSML on Fashion-MNIST: with {v['on']:.1f} > without {v['off']:.1f}"
                              + se_text(se_v),
                              beyond(gain_v, se_v)),
                        Check(f"Meta RNN's change {gain_m:+.1f} limited: within two standard errors of zero or no "
                              f"larger than VSML's {gain_v:+.1f}", limited)]
            rows.append(Claim(*spec16, f"@{h:,} on Fashion-MNIST, without / with projections: VSML "
                                       f"{_pct(v['off'])} / {_pct(v['on'])}, Meta RNN {_pct(m['off'])} / "
                                       f"{_pct(m['on'])}", setting, checks16, src))
        else:
            rows.append(not_run(*spec16, "Fashion-MNIST or a VSML / Meta RNN pair did not run", src))
        return rows

    return _future(book_dir, ("transfer",), "report_ablation", [spec15, spec16], build)


def figure18(book_dir: Path) -> list[Claim]:
    spec = ("Figure 18", "5-way 1-shot Omniglot: VSML learns faster than SGD with Adam",
            "VSML \"learns significantly faster on Omniglot compared to SGD with Adam\" (Appendix B.2)")

    def build(r, ch, src):
        ours = f"{r['data']}: VSML {_pct(r['vsml'])}, Adam {_pct(r['adam'])}"
        setting = f"{r.get('setting', '')} meta-test on {ch.run['device']}".strip()
        if str(r["data"]).lower() != "omniglot":  # a stand-in cannot reproduce a claim about Omniglot
            return [Claim(*spec, ours, setting, [], src,
                          note="not run on Omniglot (needs a download); the chapter's stand-in is shown in 'ours'")]
        checks = [Check(f"VSML {r['vsml']:.1f} > Adam {r['adam']:.1f}", r["vsml"] > r["adam"])]
        return [Claim(*spec, ours, setting, checks, src)]

    return _future(book_dir, ("omniglot", "few_shot"), "report_fig18", [spec], build)


def figures20_21(book_dir: Path, tol: Tolerances = Tolerances()) -> list[Claim]:
    spec20 = ("Figure 20", "a convolutional VSML performs like the dense one",
              "\"it performs similar to the fully connected architecture\" (Appendix B.2)")
    spec21 = ("Figure 21", "conv VSML meta-trained on CIFAR-10 learns CIFAR-10 faster than SGD, and Fashion-MNIST",
              "\"initially faster compared to SGD while still generalizing to Fashion MNIST\" (Appendix B.2)")

    def build20(r, ch, src, spec=spec20):
        checks, ours = [], []
        for ds, v in r["datasets"].items():
            checks.append(Check(f"{ds}: |conv {v['conv']:.1f} - dense {v['dense']:.1f}| <= {tol.comparable_points:g}",
                                abs(v["conv"] - v["dense"]) <= tol.comparable_points))
            ours.append(f"{ds}: conv {_pct(v['conv'])}, dense {_pct(v['dense'])}")
        return [Claim(*spec, f"@{int(r['horizon']):,}: " + "; ".join(ours),
                      f"{r.get('setting', '')} meta-test on {ch.run['device']}".strip(), checks, src)]

    def build21(r, ch, src):
        if not isinstance(r.get("cifar10"), dict):
            return [not_run(*spec21, str(r.get("cifar10", "CIFAR-10 not run")), src)]
        c, f = r["cifar10"], r["fashion_mnist"]
        h = int(c.get("early", r["horizon"]))  # "initially faster": early, where the chapter stored it
        v, s = c.get("vsml_early", c["vsml"]), c.get("sgd_early", c["sgd"])
        se, f_se = c.get("early_diff_se"), f.get("vsml_se")  # absent in results stored before they were glued
        checks = [Check(f"CIFAR-10 @{h:,}: VSML {v:.1f} > SGD {s:.1f}" + se_text(se), beyond(v - s, se)),
                  Check(f"Fashion-MNIST: VSML {f['vsml']:.1f} > {2 * CHANCE_10:g}"
                        + (f" (standard error {f_se:.1f})" if f_se is not None else ""),
                        beyond(f["vsml"] - 2 * CHANCE_10, f_se))]
        start = f", its unchanged start {_pct(f['start'])}" if "start" in f else ""
        return [Claim(*spec21, f"CIFAR-10 @{h:,}: VSML {_pct(v)}, SGD {_pct(s)}; @{int(r['horizon']):,}: CIFAR-10 "
                      f"VSML {_pct(c['vsml'])}, SGD {_pct(c['sgd'])}; Fashion-MNIST VSML {_pct(f['vsml'])}{start}",
                      f"{r.get('setting', '')} meta-test on {ch.run['device']}".strip(), checks, src)]

    # The same pair continued on long episodes (chapter 15 glues it where that pair is shipped): a re-check row.
    spec20_long = ("Figure 20 [long episodes]", *spec20[1:])
    return (_future(book_dir, ("conv", "cnn"), "report_fig20", [spec20], build20)
            + _future(book_dir, ("conv", "cnn"), "report_fig20_long", [spec20_long],
                      lambda r, ch, src: build20(r, ch, src, spec20_long))
            + _future(book_dir, ("conv", "cnn"), "report_fig21", [spec21], build21))
