"""The remedy registry: one entry per remedy code, one cure per code.

A remedy is a sentence a person reads and a few lines of PyTorch for their own loop. It says
nothing about torchdoctor's YAML config: the config patch that ``repair`` applies for a remedy
code lives on the repair side (``torchdoctor.repair``), the only user of config keys.

Descriptions and snippets may hold ``{name}`` fields filled by :meth:`RemedyInfo.text` from the
finding's numbers; :attr:`RemedyInfo.defaults` gives the wording used without them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["REMEDIES", "RemedyInfo", "remedy_info"]


@dataclass(frozen=True)
class RemedyInfo:
    """One cure.

    Attributes:
        code: short identifier, e.g. ``"use_kaiming_init"``.
        description: one sentence (may hold ``{name}`` fields, see :attr:`defaults`).
        snippet: a few lines of PyTorch for a user's own loop (may hold ``{name}`` fields).
        defaults: values of the ``{name}`` fields when the finding gives none.
    """

    code: str
    description: str
    snippet: str = ""
    defaults: Mapping[str, Any] = field(default_factory=dict)

    def text(self, **values: Any) -> tuple[str, str]:
        """``(description, snippet)`` with the ``{name}`` fields filled from ``values``
        (else :attr:`defaults`); text without declared fields is returned as written, so a
        snippet may hold literal braces (``{"a": 1}``)."""
        if not self.defaults:
            return self.description, self.snippet
        fill = {**self.defaults, **values}
        return self.description.format_map(fill), self.snippet.format_map(fill)


REMEDIES: dict[str, RemedyInfo] = {}


def _add(code: str, description: str, snippet: str = "", **defaults: Any) -> None:
    if code in REMEDIES:
        raise ValueError(f"remedy code must be registered once, got a second {code!r}")
    info = RemedyInfo(code, description, snippet, defaults)
    if defaults:
        try:  # every {name} field needs a default
            info.text()
        except (KeyError, IndexError, ValueError) as exc:
            raise ValueError(f"remedy {code!r}: every {{name}} field needs a default, "
                             f"got {exc!r}") from None
    REMEDIES[code] = info


def remedy_info(code: str) -> RemedyInfo:
    """The registry entry of remedy ``code``.

    Raises:
        ValueError: unknown code (the message lists the valid ones).
    """
    if code not in REMEDIES:
        raise ValueError(f"remedy code must be one of {sorted(REMEDIES)}, got {code!r}")
    return REMEDIES[code]


_LR_SCALE = "for g in optimizer.param_groups:\n    g['lr'] *= {factor}"

# -- learning rate and optimizer -----------------------------------------------------------
_add("lower_lr_to_usual", "Lower the learning rate{of_optimizer} {target}.",
     "for g in optimizer.param_groups:\n    g['lr'] = min(g['lr'], {usual}){comment}",
     of_optimizer="", usual="1e-3", comment="  # Adam; 0.05 for SGD with momentum",
     target="to the optimizer's usual starting rate (Adam 1e-3, SGD with momentum 0.05), "
            "which it exceeds")
_add("raise_lr_to_usual", "Raise the learning rate{of_optimizer} {target}.",
     "for g in optimizer.param_groups:\n    g['lr'] = max(g['lr'], {usual}){comment}",
     of_optimizer="", usual="1e-3", comment="  # Adam; 0.05 for SGD with momentum",
     target="to the optimizer's usual starting rate (Adam 1e-3, SGD with momentum 0.05), "
            "which it is below")
_add("lower_lr", "Lower the learning rate ten-fold: a too-high rate makes the loss swing, "
     "diverge, or push units into dead zones.", _LR_SCALE, factor=0.1)
_add("lower_lr_more", "Lower the learning rate a hundred-fold: a rate far too high.",
     _LR_SCALE, factor=0.01)
_add("raise_lr", "Raise the learning rate ten-fold (a learning-rate range test finds the "
     "largest stable one, Smith 2017).",
     "for g in optimizer.param_groups:\n    g['lr'] *= 10\n"
     "# or: lrs, losses = td.optim.lr_range_test(model, loss_fn, loader)")
_add("raise_lr_more", "Raise the learning rate a hundred-fold: a rate far too low.",
     "for g in optimizer.param_groups:\n    g['lr'] *= 100\n"
     "# or: lrs, losses = td.optim.lr_range_test(model, loss_fn, loader)")
_add("use_adam", "Switch to Adam with its usual rate 1e-3: per-parameter step sizes rescue a "
     "badly scaled rate (Kingma & Ba 2015).",
     "optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)")
_add("use_lars", "Use LARS: a layer-wise rate scaled by ||w|| / ||grad w|| (You et al. 2017).",
     "optimizer = td.optim.LARS(model.parameters(), lr=0.1, momentum=0.9)")
_add("clip_gradients", "Clip the global gradient norm (to 1.0) before each optimizer step.",
     "torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)")
# -- inputs --------------------------------------------------------------------------------
_add("normalize_inputs", "Standardize the inputs to zero mean and unit variance per feature, "
     "with statistics of the training data only (LeCun et al. 1998).",
     "mean, std = x_train.mean(0), x_train.std(0) + 1e-8\nx = (x - mean) / std")
_add("minmax_inputs", "Scale the inputs to [0, 1] (min-max, training-data statistics).",
     "lo, hi = x_train.min(0), x_train.max(0)\nx = (x - lo) / (hi - lo + 1e-8)")
_add("scale_pixels", "Scale 8-bit pixels to [-1, 1]: (x - 127.5) / 127.5.",
     "x = (x.float() - 127.5) / 127.5")
_add("shuffle", "Shuffle the training data every epoch.",
     "loader = DataLoader(dataset, batch_size=64, shuffle=True)")
_add("class_weights", "Weight the loss by inverse class frequency N / (K n_k) "
     "(He & Garcia 2009).",
     "w = len(y_train) / (K * torch.bincount(y_train, minlength=K).float())\n"
     "loss_fn = nn.CrossEntropyLoss(weight=w)")
_add("resample", "Oversample rare classes with a weighted sampler.",
     "w = (1.0 / torch.bincount(y_train).float())[y_train]\n"
     "sampler = torch.utils.data.WeightedRandomSampler(w, num_samples=len(w))")
_add("deduplicate", "Remove validation rows that duplicate training rows (or split by "
     "source/group so copies stay on one side).",
     "keep = ~np.isin(row_keys(x_val), row_keys(x_train))")
_add("drop_constant", "Drop constant features (they also get std 0 under z-scoring, which "
     "must not divide by 0).", "keep = x_train.std(0) > 0\nx = x[:, keep]")
_add("reweight_covariate", "Train with importance weights min(exp(h(x)) n_s / n_t, c) from a "
     "domain classifier h (Rabanser et al. 2019).",
     "w = td.shift.importance_weights(x_train, x_target)\n"
     "loss = (w[idx] * F.cross_entropy(logits, y, reduction='none')).mean()")
_add("collect_target_data", "Label some target data and add it to training; weighting cannot "
     "create support the training data lacks.")
_add("reweight_label", "Retrain with class weights q(y)/p(y) estimated by EM with bias-corrected "
     "calibration (Alexandari et al. 2020), or correct the predictions by the priors.",
     "est = td.shift.estimate_label_shift(source_probs, y_source, target_probs)\n"
     "loss_fn = nn.CrossEntropyLoss(weight=torch.as_tensor(est.weights, dtype=torch.float32))")
# -- initialization, activations, normalization, architecture -----------------------------
_add("use_kaiming_init", "Re-initialize with He (Kaiming) init for ReLU layers (Xavier for "
     "tanh/sigmoid), which keeps the signal's scale from layer to layer (He et al. 2015).",
     "td.init.init_model(model, 'kaiming_normal')")
_add("use_xavier_init", "Use Xavier/Glorot init for sigmoid/tanh so pre-activations stay near "
     "0 (Glorot & Bengio 2010).", "td.init.init_model(model, 'xavier_normal')")
_add("random_init", "Initialize weights randomly (He/Xavier), never with a constant: identical "
     "units get identical gradients forever.", "td.init.init_model(model, 'kaiming_normal')")
_add("bias_init", "Initialize biases at 0 or slightly positive (e.g. 0.01).",
     "for m in model.modules():\n    if isinstance(m, nn.Linear):\n"
     "        nn.init.constant_(m.bias, 0.01)")
_add("use_relu_he", "Use a ReLU-family activation with He initialization (He et al. 2015).",
     "td.nn.replace_activation(model, 'relu')\ntd.init.init_model(model, 'kaiming_normal')")
_add("use_leaky_relu", "Replace ReLU by LeakyReLU, which keeps a gradient below 0 "
     "(Maas et al. 2013).", "td.nn.replace_activation(model, 'leaky_relu')")
_add("add_normalization", "Add BatchNorm after each linear/conv layer, so every layer's inputs "
     "keep a stable scale (Ioffe & Szegedy 2015).",
     "model = td.nn.convert_norm(model, 'batch')  # or build it with nn.BatchNorm1d/2d")
_add("use_layer_norm", "Replace BatchNorm by LayerNorm, which does not depend on the batch "
     "(Ba et al. 2016).", "model = td.nn.convert_norm(model, 'layer')")
_add("use_group_norm", "Replace BatchNorm by GroupNorm (32 groups for conv layers, "
     "Wu & He 2018).", "model = td.nn.convert_norm(model, 'group')")
_add("batch_of_32", "Train with batches of 32: BatchNorm needs 16 or more samples per batch "
     "(Wu & He 2018).", "loader = DataLoader(dataset, batch_size=32, shuffle=True)")
_add("shallower_network", "Use a shallower network (half the layers).")
_add("use_residual", "Use residual connections, a ResNet-style architecture (He et al. 2016).",
     "out = x + block(x)  # in forward()")
_add("bigger_model", "Use a bigger model: four times the units per layer.")
_add("much_bigger_model", "Use a much wider model (16x the units): for a layer far too narrow.")
_add("widen_layers", "Widen the hidden layers to {width}.",
     "nn.Linear(in_features, {units})  # {note}",
     width="at least 4 units per output (a power of two, at least 16)",
     units="4 * n_outputs", note="instead of a bottleneck")
# -- losses and outputs --------------------------------------------------------------------
_add("remove_output_activation", "Output raw logits: CrossEntropyLoss and BCEWithLogitsLoss "
     "apply (log-)softmax/sigmoid themselves.",
     "# drop the final nn.Softmax / nn.Sigmoid layer\nloss = F.cross_entropy(logits, y)")
_add("use_log_softmax", "With NLLLoss, end the model with log_softmax, not softmax (or use "
     "cross-entropy on logits).", "loss = F.nll_loss(F.log_softmax(logits, dim=1), y)")
_add("use_cross_entropy", "Use cross-entropy on logits for classification, not MSE.",
     "loss = F.cross_entropy(logits, y)  # y: class indices")
_add("use_bce_multilabel", "For multi-label targets (any number of labels per sample) use "
     "BCEWithLogitsLoss: one sigmoid per label, not one softmax over all of them.",
     "loss = F.binary_cross_entropy_with_logits(logits, multi_hot.float())")
_add("use_focal_loss", "Use the focal loss, which down-weights easy (majority) examples "
     "(Lin et al. 2017).", "loss = td.losses.softmax_focal_loss(logits, y, gamma=2.0)")
_add("label_smoothing", "Use label smoothing (0.1; Szegedy et al. 2016).",
     "loss = F.cross_entropy(logits, y, label_smoothing=0.1)")
# -- batches, regularization, training length ----------------------------------------------
_add("smaller_batch", "Halve the batch size: more, noisier steps per epoch.")
_add("larger_batch", "Double the batch size for less noisy gradients.")
_add("dropout", "Add dropout (p = 0.3) between hidden layers (Srivastava et al. 2014).",
     "nn.Dropout(0.3)")
_add("weight_decay", "Add L2 regularization / weight decay (5e-4).",
     "optimizer = torch.optim.SGD(model.parameters(), lr=0.05, weight_decay=5e-4)")
_add("early_stopping", "Stop at the best validation epoch (train half as long).")
_add("more_data", "Get more data or augment it.")
_add("less_regularization", "Reduce regularization: no weight decay, no dropout.")
_add("train_longer", "Train twice as long.")
# -- loop mechanics ------------------------------------------------------------------------
_add("call_eval", "Call model.eval() before evaluating (and model.train() before training).",
     "model.eval()\nwith torch.no_grad():\n    out = model(x_val)\nmodel.train()")
_add("call_zero_grad", "Call optimizer.zero_grad() once per step, before backward().",
     "optimizer.zero_grad()\nloss.backward()\noptimizer.step()")
# -- the optimizer step, loss shapes, output range ------------------------------------------
_add("call_optimizer_step", "Call optimizer.step() after loss.backward() on every step (with "
     "gradient accumulation: every k micro-batches, counted across epochs).",
     "loss.backward()\noptimizer.step()\noptimizer.zero_grad()")
_add("build_optimizer_on_model", "Build the optimizer from the parameters of the model you "
     "train, after the model is final (not before it is replaced or re-created).",
     "model = build_model()\noptimizer = torch.optim.Adam(model.parameters(), lr=1e-3)")
_add("add_param_group", "Give the optimizer every trainable parameter (add the missing "
     "parameter group{layers}); freeze layers on purpose with requires_grad_(False), which also "
     "saves their backward pass.",
     "optimizer.add_param_group({{'params': model.head.parameters(), 'lr': 1e-3}})", layers="")
_add("set_nonzero_lr", "Give every parameter group a learning rate above 0 (a group created "
     "with lr=0, or a scheduler that reached 0?).",
     "for g in optimizer.param_groups:\n    print(g['lr'])  # each must be > 0")
_add("check_loss_target", "Check what the loss compares: the target must come from the data, "
     "not from the model's own output (loss_fn(out, out.detach()) is always 0).",
     "loss = loss_fn(outputs, targets)  # targets from the batch")
_add("differentiable_path", "Keep the path from the parameters to the loss differentiable: "
     "feed the loss raw outputs (logits), not argmax/round/comparisons of them.",
     "loss = F.cross_entropy(logits, y)  # not of logits.argmax(1)")
_add("match_loss_shapes", "Give outputs and targets the same shape before the loss: (N, 1) "
     "against (N,) broadcasts to an N x N grid.",
     "loss = F.mse_loss(out.squeeze(1), y)  # (N,) against (N,)")
_add("softmax_over_classes", "Normalize over the class dimension: log_softmax(logits, dim=-1) "
     "(or drop it and use cross-entropy on the logits).",
     "return F.log_softmax(logits, dim=-1)")
_add("linear_regression_output", "End a regression with a plain linear layer (no sigmoid, tanh "
     "or ReLU), or rescale the targets into the activation's range.",
     "nn.Linear(hidden, 1)  # no output activation for regression")
# -- GANs ----------------------------------------------------------------------------------
_add("gradient_penalty", "Add a gradient penalty on the discriminator (WGAN-GP, "
     "Gulrajani et al. 2017), which keeps its gradients informative for the generator.",
     "loss_d = loss_d + td.losses.gradient_penalty(discriminator, real, fake)  # lambda 10")
_add("spectral_norm", "Wrap the discriminator's layers in spectral normalization (Miyato et al. "
     "2018): its Lipschitz constant stays near 1, so it cannot saturate and starve the generator.",
     "disc = nn.Sequential(nn.utils.parametrizations.spectral_norm(nn.Linear(2, 128)), ...)")
_add("non_saturating_loss", "Train the generator with the non-saturating loss -log D(G(z)) "
     "(Goodfellow et al. 2014) instead of log(1 - D(G(z))), which has no gradient when D wins.",
     "loss_g = F.binary_cross_entropy_with_logits(d_fake, torch.ones_like(d_fake))")
_add("pack_samples", "Let the discriminator judge packs of m samples at once (PacGAN, Lin et al. "
     "2018, m = 4): a pack of near-identical fakes is easy to tell apart, which penalizes "
     "mode collapse.",
     "d_in = x.reshape(-1, 4 * x.shape[1])  # 4 samples per discriminator input")
_add("two_timescale_rates", "Give the discriminator a larger learning rate than the generator "
     "(two time-scale update rule, Heusel et al. 2017), e.g. 4e-4 for D and 1e-4 for G.",
     "opt_d = torch.optim.Adam(D.parameters(), 4e-4, betas=(0.5, 0.999))\n"
     "opt_g = torch.optim.Adam(G.parameters(), 1e-4, betas=(0.5, 0.999))")
_add("instance_noise", "Add Gaussian noise to the discriminator's inputs, real and fake, and "
     "decay it to zero (instance noise, Sønderby et al. 2017): the two distributions overlap "
     "and D's gradient stays informative.",
     "sigma = 0.1 * max(0.0, 1 - step / total_steps)\nd_real = D(x + sigma * torch.randn_like(x))")
_add("soft_labels", "Train the discriminator on soft labels (real 0.9, one-sided label smoothing, "
     "Salimans et al. 2016) so it cannot become over-confident; keep labels within [0, 1].",
     "loss_d = F.binary_cross_entropy_with_logits(d_real, torch.full_like(d_real, 0.9)) + ...")
_add("more_d_steps", "Train the discriminator more steps per generator step (or give it a larger "
     "rate), so that it keeps telling real from fake and its gradient guides the generator.",
     "for _ in range(d_steps):  # e.g. 5 for a WGAN critic\n    ...  # one discriminator step")
_add("fewer_d_steps", "Train the discriminator fewer steps per generator step, or lower its "
     "learning rate, so that it does not overpower the generator.",
     "opt_d = torch.optim.Adam(D.parameters(), lr=lr_g, betas=(0.5, 0.999))  # no faster than G")
# -- data-parallel training -----------------------------------------------------------------
_add("sync_batch_norm", "Convert BatchNorm to SyncBatchNorm, which computes the batch "
     "statistics over the batches of all processes together (the global batch) instead of "
     "each process's small share of it (Ioffe & Szegedy 2015; Wu & He 2018).",
     "model = nn.SyncBatchNorm.convert_sync_batchnorm(model)  # before wrapping it in DDP")
