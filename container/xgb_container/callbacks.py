"""Training callbacks that keep their meaning when training resumes from a checkpoint."""

from __future__ import annotations

import xgboost as xgb


class RoundPrinter(xgb.callback.EvaluationMonitor):
    """XGBoost's per-round metric lines (``[12]\\ttrain-auc:...``), numbered from the
    first round of the job even when training resumed from a checkpoint."""

    def before_training(self, model: xgb.Booster) -> xgb.Booster:
        self.offset = model.num_boosted_rounds()
        return super().before_training(model)

    def after_iteration(self, model: xgb.Booster, epoch: int, evals_log: dict) -> bool:
        return super().after_iteration(model, epoch + self.offset, evals_log)


class EarlyStop(xgb.callback.EarlyStopping):
    """XGBoost's early stopping, picking up its progress from a resumed booster.

    The best score and iteration live in the booster's attributes (and so in every
    checkpoint); the rounds without improvement follow from them.
    """

    def before_training(self, model: xgb.Booster) -> xgb.Booster:
        model = super().before_training(model)
        self.resumed = resumed_state(model)
        return model

    def after_iteration(self, model: xgb.Booster, epoch: int, evals_log: dict) -> bool:
        if self.resumed and not self.stopping_history:
            score, best_iteration, done = self.resumed
            data = self.data or list(evals_log)[-1]
            metric = self.metric_name or list(evals_log[data])[-1]
            self.stopping_history = {data: {metric: [score]}}
            self.best_scores = {data: {metric: [score]}}
            self.current_rounds = done - 1 - best_iteration
        return super().after_iteration(model, epoch, evals_log)


def resumed_state(model: xgb.Booster) -> tuple[float, int, int] | None:
    """(best score, best iteration, rounds done) of a booster that already has rounds."""
    score, iteration = model.attr("best_score"), model.attr("best_iteration")
    if not model.num_boosted_rounds() or score is None or iteration is None:
        return None
    return float(score), int(iteration), model.num_boosted_rounds()
