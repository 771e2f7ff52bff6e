"""Schematics of the paper's diagrams, drawn with matplotlib for the book.

Paper: Figure 1b (sub-RNNs on an A x B grid passing messages, Section 3,
Eq. 3-4), Figure 1c and Figure 2 (a neural network whose weights are tiny
LSTMs, forward and backward messages), Figure 3 (two stacked layers with
shared parameters and distinct states, Eq. 7) and Figure 4 (one sub-LSTM
cloning a weight and its SGD update, Section 3.2). Each function draws on a
given ``Axes`` and returns it; text is at least 11 pt so a figure can be
projected.
"""
from __future__ import annotations

from matplotlib.patches import Circle, FancyArrowPatch, FancyBboxPatch

FONT = 12
FWD, BWD, STATE, DIM = "tab:blue", "tab:red", "#f2e6c9", "0.55"


def _box(ax, x, y, text, w=0.5, h=0.5, color=STATE, fontsize=FONT, edge="0.2"):
    ax.add_patch(FancyBboxPatch((x - w / 2, y - h / 2), w, h, boxstyle="round,pad=0.02,rounding_size=0.08",
                                fc=color, ec=edge, lw=1.2, zorder=3))
    ax.text(x, y, text, ha="center", va="center", fontsize=fontsize, zorder=4)


def _node(ax, x, y, text="", r=0.22, color="white", edge="0.2", fontsize=FONT):
    ax.add_patch(Circle((x, y), r, fc=color, ec=edge, lw=1.2, zorder=3))
    if text:
        ax.text(x, y, text, ha="center", va="center", fontsize=fontsize, zorder=4)


def _arrow(ax, start, end, color="0.2", lw=1.3, rad=0.0, style="-|>", alpha=1.0, shrink=10):
    ax.add_patch(FancyArrowPatch(start, end, arrowstyle=style, mutation_scale=12, color=color, lw=lw,
                                 connectionstyle=f"arc3,rad={rad}", shrinkA=shrink, shrinkB=shrink,
                                 alpha=alpha, zorder=2))


def _finish(ax, xlim, ylim, title=None):
    ax.set_xlim(*xlim)
    ax.set_ylim(*ylim)
    ax.set_aspect("equal")
    ax.axis("off")
    if title:
        ax.set_title(title, fontsize=FONT + 1)
    return ax


def message_passing(ax, size: int = 3, column: int = 1):
    """Figure 1b: an ``A x B`` grid of sub-RNNs ``s_ab`` sharing ``W``; column ``column`` sums into a message.

    Rows are ``a`` (top to bottom), columns ``b``. The message of column ``b``,
    ``m_b = sum_a' f_m(s_a'b)``, is drawn for the highlighted column and feeds
    every sub-RNN of row ``a = b`` at the next tick (Eq. 3-4, ``A = B``).
    """
    if not 0 <= column < size:
        raise ValueError(f"column must be in 0..{size - 1}, got {column}")
    step = 1.0
    for a in range(size):
        for b in range(size):
            hot_col, hot_row = b == column, a == column
            color = "#cfe0f5" if hot_col else ("#f7d6d2" if hot_row else STATE)
            _box(ax, b * step, -a * step, f"$s_{{{a}{b}}}$", w=0.62, h=0.62, color=color)
    for b in range(size):
        _node(ax, b * step, -size * step, f"$\\vec m_{{{b}}}$", r=0.3, color="white" if b != column else "#cfe0f5")
        for a in range(size):
            _arrow(ax, (b * step, -a * step), (b * step, -size * step), color=FWD if b == column else DIM,
                   lw=1.4 if b == column else 0.6, alpha=1.0 if b == column else 0.6, rad=0.0 if a == size - 1 else 0.25,
                   shrink=16)
    # The message of column b enters row a = b (every sub-RNN of that row).
    row_y = -column * step
    _arrow(ax, (column * step - 0.32, -size * step), (-0.9, row_y), color=BWD, lw=1.6, rad=-0.35, shrink=4)
    _arrow(ax, (-0.9, row_y), (-0.4, row_y), color=BWD, lw=1.6, shrink=2)
    ax.text(-1.05, row_y + 0.42, f"into row $a={column}$", fontsize=FONT - 1, color=BWD, ha="center")
    ax.text((size - 1) * step / 2, 0.75, "columns $b$ $\\rightarrow$", ha="center", fontsize=FONT)
    ax.text(size * step - 0.2, -(size - 1) * step / 2, "rows $a$\n$\\downarrow$", ha="center", va="center",
            fontsize=FONT)
    ax.text(column * step + 0.5, -size * step - 0.55,
            f"$\\vec m_{{{column}}} = \\sum_{{a'}} f_{{\\vec m}}(s_{{a'{column}}})$", fontsize=FONT, color=FWD,
            ha="center")
    return _finish(ax, (-1.7, size * step + 0.4), (-size * step - 0.9, 1.1))


def weights_as_lstms(ax, sizes=(3, 2), *, errors: bool = True, layer_labels: bool = False, title=None):
    """Figures 1c, 2 and 3: a network whose every weight ``w_ab`` is a sub-LSTM ``s_ab`` (shared ``V_M``).

    Neurons are circles; the sub-LSTM of weight ``(a, b)`` sits on the line
    from neuron ``a`` to neuron ``b``. Forward messages (blue) flow left to
    right; backward messages (red) right to left. ``x`` enters slot 1 of the
    first forward messages, ``y_hat`` is read from the last, and the error
    ``e`` enters the last backward messages (Algorithm 2).
    """
    if len(sizes) < 2 or min(sizes) < 1:
        raise ValueError(f"sizes needs at least two layer sizes >= 1, got {sizes}")
    # The sub-LSTMs of input neuron a stand in a small column next to it, one per output neuron b, each
    # wired to a and to b only: no wire runs through another weight's box.
    step = 0.62                                  # vertical distance of the boxes of one input neuron
    dx, dy = 4.6, step * max(sizes[1:]) + 0.4
    ys = [[(n - 1) / 2 * dy - i * dy for i in range(n)] for n in sizes]
    for k in range(len(sizes) - 1):
        A, B = sizes[k], sizes[k + 1]
        x0, x1 = k * dx, (k + 1) * dx
        w = 0.8 if layer_labels else 0.66
        for a in range(A):
            for b in range(B):
                bx, by = x0 + 0.38 * dx, ys[k][a] + ((B - 1) / 2 - b) * step
                ax.plot([x0, bx], [ys[k][a], by], color=DIM, lw=0.9, zorder=1)
                ax.plot([bx + w / 2, x1], [by, ys[k + 1][b]], color=DIM, lw=0.9, zorder=1)
                label = f"$s^{{({k + 1})}}_{{{a}{b}}}$" if layer_labels else f"$s_{{{a}{b}}}$"
                _box(ax, bx, by, label, w=w, h=0.5, fontsize=FONT - 1)
        mid = x0 + dx / 2
        spread = (B - 1) / 2 * step + 0.25      # how far the boxes reach above and below their neuron
        top = max(ys[k][0] + spread, ys[k + 1][0]) + 0.45
        _arrow(ax, (mid - 0.9, top), (mid + 0.9, top), color=FWD, shrink=0)
        ax.text(mid, top + 0.12, "$\\vec m$", color=FWD, ha="center", va="bottom", fontsize=FONT)
        if errors:
            bottom = min(ys[k][-1] - spread, ys[k + 1][-1]) - 0.45
            _arrow(ax, (mid + 0.9, bottom), (mid - 0.9, bottom), color=BWD, shrink=0)
            ax.text(mid, bottom - 0.12, "$\\overleftarrow{m}$", color=BWD, ha="center", va="top", fontsize=FONT)
        if layer_labels:
            ax.text(mid, top + 0.65, f"layer {k + 1}", ha="center", fontsize=FONT)
    for k, n in enumerate(sizes):
        for i in range(n):
            _node(ax, k * dx, ys[k][i])
    first, last = ys[0], ys[-1]
    for i, y in enumerate(first):
        _arrow(ax, (-1.2, y), (-0.25, y), color=FWD, shrink=0)
        ax.text(-1.3, y, f"$x_{{{i}}}$", ha="right", va="center", fontsize=FONT)
    xl = (len(sizes) - 1) * dx
    for i, y in enumerate(last):
        _arrow(ax, (xl + 0.25, y + 0.12), (xl + 1.2, y + 0.12), color=FWD, shrink=0)
        ax.text(xl + 1.3, y + 0.12, f"$\\hat y_{{{i}}}$", ha="left", va="center", fontsize=FONT)
        if errors:
            _arrow(ax, (xl + 1.2, y - 0.15), (xl + 0.25, y - 0.15), color=BWD, shrink=0)
            ax.text(xl + 1.3, y - 0.2, f"$e_{{{i}}}$", ha="left", va="center", fontsize=FONT, color=BWD)
    height = max(len(v) for v in ys) * dy / 2 + (max(sizes[1:]) - 1) / 2 * step + 1.2
    return _finish(ax, (-2.0, xl + 2.0), (-height, height + (0.5 if layer_labels else 0)), title)


def cloning_cell(ax, title=None):
    """Figure 4: one sub-LSTM storing a weight ``w`` and bias ``b`` in its state, cloning backpropagation.

    Inputs: the pre-synaptic ``x`` (forward message) and the error ``e``
    (backward message); outputs: the post-synaptic ``y_hat = tanh(x) w + b``
    and the error ``e' = e w (1 - tanh^2 x)``; the state update is SGD's
    ``dw = -eta e tanh(x)``, ``db = -beta eta e`` (Section 3.2; beta = 1 there, chapter 06 slows the bias).
    """
    ax.add_patch(FancyBboxPatch((-2.4, -1.15), 4.8, 2.5, boxstyle="round,pad=0.05,rounding_size=0.2",
                                fc=STATE, ec="0.2", lw=1.4, zorder=1))
    ax.text(0, 0.95, "sub-LSTM $s_{ab}$ (shared $V_M$)", ha="center", fontsize=FONT)
    ax.text(0, 0.35, "keeps $w = s\\,c_0$, $b = s\\,c_1$", ha="center", fontsize=FONT)
    ax.text(0, -0.25, "$\\Delta w = -\\eta\\, e\\,\\tanh x$", ha="center", fontsize=FONT)
    ax.text(0, -0.8, "$\\Delta b = -\\beta\\eta\\, e$", ha="center", fontsize=FONT)
    _arrow(ax, (-4.6, 0.45), (-2.45, 0.45), color=FWD, shrink=0)
    ax.text(-4.7, 0.45, "$x$", ha="right", va="center", fontsize=FONT, color=FWD)
    _arrow(ax, (2.45, 0.45), (4.6, 0.45), color=FWD, shrink=0)
    ax.text(4.7, 0.45, "$\\hat y = \\tanh(x)\\,w + b$", ha="left", va="center", fontsize=FONT, color=FWD)
    _arrow(ax, (4.6, -0.55), (2.45, -0.55), color=BWD, shrink=0)
    ax.text(4.7, -0.55, "$e$", ha="left", va="center", fontsize=FONT, color=BWD)
    _arrow(ax, (-2.45, -0.55), (-4.6, -0.55), color=BWD, shrink=0)
    ax.text(-4.7, -0.55, "$e' = e\\,w\\,(1 - \\tanh^2 x)$", ha="right", va="center", fontsize=FONT, color=BWD)
    return _finish(ax, (-9.6, 9.8), (-1.5, 1.7), title)
