"""The linear expert of the real side (model version 6): a multinomial logistic regression on the
style statistics alone, fitted after the network's gradient training, on every real training image
once, and its share of the real side, fitted on predictions for sources the model never saw.

In leave-source-out, the statistics generalise to a new source better than the convolutional
features do (a linear model of them alone got 0.91 of the corpus right, the network's real head
0.89), and the two are wrong on different images. The regression is solved to its optimum by
full-batch L-BFGS: with every image counted once, the optimum scikit-learn's `LogisticRegression`
finds (L2, C = 1, on standardised statistics); reviews counted more often make the penalty
relatively stronger than scikit-learn's would be. The standardisation is folded into the layer's
weights, so the network takes the raw statistics.
"""

import numpy as np
import torch
import torch.nn.functional as F

from model.net import Parts, mix

INVERSE_REGULARISATION = 1.0
"""C of the L2 penalty, scikit-learn's default: the loss's sum against ||W||² / 2."""
SHARES = np.arange(21) / 20
"""The linear expert's shares of the real side tried when fitting it."""
DEFAULT_SHARE = 0.5
"""Its share when there are no out-of-source predictions to fit it on (no leave-source-out)."""
STEADY = 1e-4
"""A statistic whose spread over the training images is below this is not standardised (the
corpus's smallest spread is 0.013)."""


def fit_linear(
    statistics: torch.Tensor, labels: torch.Tensor, weights: torch.Tensor, classes: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """The weight (classes × features) and bias of the regression of `labels` on `statistics`,
    each image counted `weights` times (normalised to a mean of 1), for the raw statistics."""
    x = statistics.double()
    mean, std = x.mean(0), x.std(0, unbiased=False)
    # A statistic that barely varies is left unscaled: dividing by a tiny spread would give it a
    # weight so large that float32 rounding at serving time would move the logits.
    std = torch.where(std > STEADY, std, torch.ones_like(std))
    z = (x - mean) / std
    counted = (weights / weights.mean()).double()
    weight = torch.zeros(classes, x.shape[1], dtype=torch.float64, requires_grad=True)
    bias = torch.zeros(classes, dtype=torch.float64, requires_grad=True)
    penalty = 1.0 / (2.0 * INVERSE_REGULARISATION * len(x))
    optimizer = torch.optim.LBFGS(
        [weight, bias],
        max_iter=1000,
        tolerance_grad=1e-9,
        tolerance_change=1e-12,
        history_size=20,
        line_search_fn="strong_wolfe",
    )

    def objective() -> torch.Tensor:
        optimizer.zero_grad()
        per_image = F.cross_entropy(z @ weight.T + bias, labels, reduction="none")
        loss = (per_image * counted).mean() + penalty * (weight**2).sum()
        loss.backward()
        return loss

    optimizer.step(objective)
    with torch.no_grad():
        folded = weight / std
        return folded.float(), (bias - folded @ mean).float()


def fit_share(parts: Parts, labels: torch.Tensor) -> float:
    """The linear expert's share of the real side (one of SHARES) under which the network's
    mixture gives `labels` the lowest negative log-likelihood."""
    return float(min(SHARES, key=lambda share: float(F.nll_loss(mix(parts, float(share)), labels))))
