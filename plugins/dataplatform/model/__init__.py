"""The reference recommender: a stand-in for the data scientist's model, numpy only.

It trains on the exported training snapshot (one row per rated purchase: user features, product
features, `productRating` 1..5) and publishes what the platform loads into pgvector.

**Method.** Matrix factorisation with biases, fitted by alternating least squares (ALS), with two heads
sharing the user factors p_u and product factors q_i (collective matrix factorisation, Singh & Gordon,
KDD 2008):

    rating head    rating(u, i)   ~ mu + b_u + b_i + p_u . q_i     fitted on the ratings
    purchase head  affinity(u, i) ~ c_i + p_u . q_i                fitted to 1 on rated (= bought) pairs,
                                                                   to 0 with a small weight on the others

Ratings exist only for purchases, so *which* products a customer bought is signal too: a model fitted
on rating values alone ranks unbought products poorly (it never sees them). The purchase head, weighted
like implicit-feedback ALS (Hu, Koren & Volinsky, ICDM 2008), learns from every (user, product) cell;
the rating head keeps the factors faithful to how much the customer liked what they bought, and gives
the RMSE. All unbought cells together weigh `unbought_weight` times the bought ones, and the purchase
head weighs `purchase_weight` against the rating head. Because every cell enters the loss, each ALS
half-step uses the Gram trick (one shared k x k matrix plus a correction per rating): a sweep costs
O(ratings * k^2 + (users + items) * k^3) however sparse the data, with the normal equations of
similar-sized entities stacked and solved in batches. Side feature: each product's factors are shrunk
towards the mean factors of its `productLine`, which helps products with few ratings and makes item-item
similarity aware of the category.

**Published vectors** (`dimension` = k + 1 coordinates):

    item_i = [q_i, c_i]        user_u = [p_u, 1]        user_u . item_i = affinity(u, i)

so "based on your profile" is the largest inner product (pgvector `<#>`, negative inner product), which
ranks a user's products exactly like the purchase head; "similar to what you browsed" is the cosine
between item vectors (pgvector `<=>`), i.e. products bought (and liked) by the same customers. The
user's constant last coordinate picks up the product's own affinity c_i (its appeal to everyone).

**Unseen customers.** `UserFeatureModel`: ridge regression from (country, city, creditLimit) to the
user vector, saved as JSON (vocabularies, scaler) + .npz (weights, no pickle), served with numpy alone.

**Evaluation.** A deterministic holdout (one rating from each of up to `holdout_users` users): RMSE of
the rating head against the global mean and a bias-only model; for ranking, the held-out product's rank
among the products its user has not bought (hit rate@10, mean percentile rank) against most-popular,
and with the feature model's vectors (the cold-start path; the feature model saw these users' other
ratings through their vectors, so it is slightly optimistic). The evaluated fit is then warm-started on
all ratings for `refit_iterations` sweeps and published.

Speed: well under a second on the sample (~2,500 ratings); about a minute for 1-1.6M ratings, 100k
users and 10-12k products on 2 cores. The batched products call BLAS; on a worker shared with other busy
processes, set `OPENBLAS_NUM_THREADS=1` (before numpy is imported) so OpenBLAS threads do not spin
against each other.

**Modules**, in the order the data flows:

| module | what it holds |
|---|---|
| `data` | `TrainingSet`: the snapshot's ratings with dense indices and per-entity side features |
| `solver` | the two-head ALS factorisation (`fit_factors`) and the bias-only baseline (`fit_biases`) |
| `cold_start` | `UserFeatureModel`, the user-feature model for unseen customers |
| `evaluation` | the holdout and its `EvaluationReport` |
| `training` | `TrainingParams`, `TrainedModel` and `train()`, which ties the above together |
| `publishing` | the files and `manifest.json` (`publish`), versions derived from snapshots, `publish_snapshot` |

Plain Python (numpy, pyarrow, pydantic): no Airflow import. Importing the package itself imports nothing, so a
DAG file can name it at parse time for free; the modules import numpy.
"""
