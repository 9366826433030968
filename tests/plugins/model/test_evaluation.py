"""Held-out quality of the reference model against its baselines (`dataplatform.model.evaluation`)."""

from __future__ import annotations

from dataplatform.model.training import TrainedModel


def test_model_beats_the_global_mean_rmse(model: TrainedModel) -> None:
    assert model.report is not None
    assert model.report.rmse < 0.9 * model.report.rmse_global_mean


def test_model_beats_the_most_popular_hit_rate(model: TrainedModel) -> None:
    assert model.report is not None
    assert model.report.hit_rate_at_10 > 1.1 * model.report.hit_rate_at_10_most_popular


def test_model_ranks_held_out_purchases_above_most_popular(model: TrainedModel) -> None:
    assert model.report is not None
    assert model.report.percentile_rank < 0.9 * model.report.percentile_rank_most_popular
    assert model.report.beats_baselines
