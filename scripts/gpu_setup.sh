# Source on the GPU machine, in the repository root, after scripts/gpu_stage.sh ran here and the call carried
# .whl and .gpu_data:   source scripts/gpu_setup.sh
# Installs the staged wheels into /tmp/site (not into the image), puts Fashion-MNIST where Debian's package
# would (vsml.data reads it there), and points vsml's data cache at .gpu_data (offline).
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
export PYTHONPATH="/tmp/site${PYTHONPATH:+:$PYTHONPATH}"
mkdir -p /usr/share/datasets/fashion-mnist && cp .gpu_data/debian_fashion_mnist/*.gz /usr/share/datasets/fashion-mnist/
export VSML_DATA="$PWD/.gpu_data" VSML_OFFLINE=1
python3 -c "import papermill, jupytext, ipykernel" && python3 -m vsml.data status | head -3
