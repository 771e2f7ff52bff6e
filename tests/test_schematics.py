"""The book's schematics (vsml.schematics) draw, keep every text at 11 pt or more, and reject bad sizes."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from vsml import schematics  # noqa: E402

DRAWINGS = {
    "figure 1b": lambda ax: schematics.message_passing(ax, 3, 1),
    "figure 1c": lambda ax: schematics.weights_as_lstms(ax, (2, 2), errors=False),
    "figure 2": lambda ax: schematics.weights_as_lstms(ax, (3, 2)),
    "figure 3": lambda ax: schematics.weights_as_lstms(ax, (3, 3, 2), layer_labels=True),
    "figure 4": schematics.cloning_cell,
}


@pytest.mark.parametrize("name", DRAWINGS)
def test_schematic_draws_legible_text(name):
    fig, ax = plt.subplots()
    DRAWINGS[name](ax)
    fig.canvas.draw()
    sizes = [t.get_fontsize() for t in ax.texts]
    plt.close(fig)
    assert sizes and min(sizes) >= 11, (name, min(sizes))


def test_bad_sizes_are_one_line_errors():
    fig, ax = plt.subplots()
    with pytest.raises(ValueError, match="column must be in 0..2"):
        schematics.message_passing(ax, 3, 5)
    with pytest.raises(ValueError, match="at least two layer sizes"):
        schematics.weights_as_lstms(ax, (3,))
    plt.close(fig)
